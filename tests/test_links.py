"""Links that reproduce what is on screen: the URL codec, and the app opened from a link.

The codec (:mod:`recengine.links`) round-trips every setting and ignores a
bad value with a notice rather than failing; the app opened from a link (data,
content policy, viewer controls) shows the list the engine computes in-process
from the same data, model store and settings.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from streamlit.testing.v1 import AppTest

from recengine.controls import ViewerControls, apply_controls
from recengine.data import load_source
from recengine.links import (
    LINK_KEYS,
    LinkSettings,
    canonical_spec,
    check_link,
    link_data_problem,
    parse_link,
    same_data,
)
from recengine.model_store import ModelStore, demo_train_config
from recengine.policy import ContentPolicy
from recengine.safe_text import markdown_text
from recengine.scoring import UserProfile
from recengine.serving import serving_engine
from recengine.subject import Subject
from tests.conftest import APP_DATA

APP = str(Path(__file__).resolve().parents[1] / "app.py")
RANKED = re.compile(r"^\*\*(\d+)\. (.+?)\*\*")


def everything() -> LinkSettings:
    """A link with every setting away from its default (names with a comma and a %)."""
    return LinkSettings(
        page="recommendations", data="synthetic:n_users=120,n_items=200", user=7, k=8,
        block_labels=("graphic_violence", "odd, label"), block_genres=("Horror", "100% Sci-Fi"),
        block_action="demote",
        controls=ViewerControls(not_interested=(12, 40), not_interested_mode="genre",
                                hidden_sources=frozenset({"region", "cowatched"}),
                                objective="blend", weights=(0.2, 0.5, 0.3), non_profiling=True,
                                region="Japan", diversity=0.35))


def test_every_setting_round_trips():
    link = everything()
    params = link.to_params()
    parsed, notices = parse_link(params)
    assert notices == []
    assert parsed == link
    # through a real query string as well (what the browser's address bar holds)
    again, notices = parse_link(dict(parse_qsl(urlencode(params))))
    assert again == link and notices == []


def test_a_visitor_round_trips():
    link = LinkSettings(user=1, visitor=UserProfile(
        ratings={5: 4.5, 17: 1.0}, genres=["Comedy", "Drama"],
        demographics={"age": 31, "gender": "F", "region": "Japan"}))
    params = link.to_params()
    assert params["mode"] == "visitor" and params["v_items"] == "5:4.5,17:1"
    parsed, notices = parse_link(params)
    assert parsed == link and notices == []


def test_defaults_keep_the_link_short():
    link = LinkSettings(page="pipeline", data="synthetic", user=3)
    assert link.to_params() == {"page": "pipeline", "data": "synthetic", "user": "3"}
    assert parse_link(link.to_params()) == (link, [])


@pytest.mark.parametrize("key,value", [
    ("k", "0"), ("k", "many"), ("user", "me"), ("obj", "clicks"), ("w", "rating:-1"),
    ("w", "0,0,0"), ("diversity", "2"), ("diversity", "nan"), ("ni_mode", "later"),
    ("hide", "gossip"), ("non_profiling", "yes"), ("block_action", "hide"),
    ("mode", "robot"), ("not_interested", "x1"), ("v_age", "-4"),
])
def test_a_bad_value_is_ignored_with_a_notice(key, value):
    params = {"user": "3", "k": "5", key: value}
    if key.startswith("v_"):
        params["mode"] = "visitor"
    parsed, notices = parse_link(params)
    assert len(notices) == 1 and notices[0].startswith(f"Ignored {key}=")
    defaults = LinkSettings()
    assert parsed.controls == defaults.controls
    assert parsed.k == (5 if key != "k" else defaults.k)
    assert parsed.user == (3 if key != "user" else None)


@settings(max_examples=200, deadline=None)
@given(hs.dictionaries(hs.sampled_from(LINK_KEYS), hs.text(max_size=30)))
def test_parsing_never_fails(params):
    parsed, notices = parse_link(params)
    assert isinstance(parsed, LinkSettings) and isinstance(notices, list)
    parse_link(parsed.to_params())  # and what it yields serialises again


def test_values_the_data_lacks_are_dropped_with_notices():
    data = load_source(APP_DATA)
    link = LinkSettings(user=99999, block_genres=("Horror", "Polka"),
                        controls=ViewerControls(not_interested=(3, 123456), region="Atlantis"),
                        visitor=UserProfile(ratings={3: 4.0, 5: 99.0, 777777: 3.0},
                                            genres=["Comedy", "Polka"],
                                            demographics={"gender": "Q"}))
    checked, notices = check_link(link, data)
    assert checked.user is None and checked.block_genres == ("Horror",)
    assert checked.controls.not_interested == (3,) and checked.controls.region is None
    assert checked.visitor.ratings == {3: 4.0} and checked.visitor.genres == ["Comedy"]
    assert checked.visitor.demographics == {}
    assert len(notices) == 7
    assert check_link(LinkSettings(user=1), data) == (LinkSettings(user=1), [])


def test_data_specs():
    data = load_source(APP_DATA)
    assert canonical_spec("synthetic:users=120,items=200") == data.source
    assert same_data("synthetic:users=120,items=200", data)
    assert not same_data("synthetic:users=121,items=200", data)
    assert link_data_problem("csv-upload:0123456789ab") is not None
    assert link_data_problem("gopher:thing") is not None
    assert link_data_problem("synthetic:colours=3") is not None
    assert link_data_problem("synthetic:users=80") is None


# ----- the app opened from a link ------------------------------------------------------------
def open_link(params: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.query_params.update(params)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown_titles(at: AppTest) -> list[str]:
    return [m.group(2) for el in at.markdown if (m := RANKED.match(el.value))]


@pytest.fixture(scope="module")
def in_process(app_env):
    """The app's data and model, loaded here from the same model store folder."""
    open_link({})  # the first open trains the tiny model (once per session) and stores it
    data = load_source(APP_DATA)
    bundle = ModelStore().load(data, demo_train_config())
    assert bundle is not None, "the app stored its model where ModelStore looks"
    engine = serving_engine(data, bundle)
    return data, engine, Subject.build(data, bundle, served=engine).objectives


def expected_titles(engine, result) -> list[str]:
    return [markdown_text(it.title) for it in result.items]


def test_a_link_with_data_policy_and_controls_shows_the_engines_list(in_process):
    data, engine, objectives = in_process
    uid = 4
    served = engine.recommend(uid, 10)
    dislike = served.items[0].item_id
    genre = next(g for g in data.genre_names
                 if any(g in it.genres.split("|") for it in served.items[1:]))
    link = LinkSettings(page="recommendations", data="synthetic:users=120,items=200", user=uid,
                        k=8, block_genres=(genre,), block_action="demote",
                        controls=ViewerControls(not_interested=(dislike,),
                                                hidden_sources=frozenset({"region"}),
                                                objective="blend", weights=(0.5, 0.3, 0.2),
                                                diversity=0.3))
    at = open_link(link.to_params())
    policy = ContentPolicy(blocked_genres=(genre,), action="demote")
    want = apply_controls(engine, uid, 8, link.controls, policy, objectives)
    assert shown_titles(at) == expected_titles(engine, want)
    assert markdown_text(served.items[0].title) not in shown_titles(at)
    assert at.sidebar.selectbox(key="user_picker").value == uid
    assert not at.warning, [w.value for w in at.warning]
    # the URL still is this link (the data spec in the form its loader writes)
    expected = {**link.to_params(), "data": data.source}
    assert {k: at.query_params[k] for k in at.query_params if k in LINK_KEYS} == expected


def test_a_non_profiling_link_shows_the_regions_top_list(in_process):
    data, engine, _ = in_process
    region = engine.index.region_names[1]
    lists = []
    for uid in (2, 9):
        at = open_link({"user": str(uid), "non_profiling": "1", "region": region, "k": "6"})
        lists.append(shown_titles(at))
        assert any("not based on profiling" in el.value for el in at.markdown)
    code = engine.index.region_code(region)
    top = engine.index.catalogue.titles[engine.index.top_in_region[code][:6]]
    assert lists[0] == lists[1] == [markdown_text(t) for t in top]


def test_bad_link_values_show_notices_and_the_rest_applies(in_process):
    _, engine, _ = in_process
    at = open_link({"user": "6", "k": "zero", "diversity": "9", "block_genres": "Polka",
                    "obj": "clicks", "w": "a:b", "hide": "gossip", "ni_mode": "?",
                    "not_interested": "x,99999", "region": "Atlantis", "block_action": "??",
                    "non_profiling": "maybe", "page": "nowhere", "data": "synthetic:users=120,"
                    "items=200"})
    warnings = " ".join(w.value for w in at.warning)  # Markdown-escaped: "_" is "\\_"
    for key in ("k=", "diversity=", "Polka", "obj=", "w=", "hide=", "ni\\_mode=",
                "not\\_interested=", "99999", "Atlantis", "block\\_action=",
                "non\\_profiling="):
        assert key in warnings, key
    assert shown_titles(at) == expected_titles(engine, engine.recommend(6, 10))


def test_a_link_for_data_that_cannot_be_loaded_shows_no_one_under_its_number(in_process):
    data, engine, _ = in_process
    at = open_link({"data": "csv-upload:0123456789ab", "user": "7", "not_interested": "3"})
    warnings = " ".join(w.value for w in at.warning)
    assert "cannot be loaded here" in warnings and "different person" in warnings
    first = int(data.users["user_id"].iloc[0])
    assert at.sidebar.selectbox(key="user_picker").value == first
    assert shown_titles(at) == expected_titles(engine, engine.recommend(first, 10))
    assert at.query_params["data"] == data.source and at.query_params["user"] == str(first)


def test_a_link_for_other_known_data_loads_it(in_process):
    at = open_link({"data": "synthetic:users=60,items=90,seed=3", "user": "5", "k": "4"})
    assert "synthetic:n_users=60,n_items=90,seed=3" == at.query_params["data"]
    assert at.sidebar.selectbox(key="user_picker").value == 5
    assert len(shown_titles(at)) == 4
    assert not at.warning, [w.value for w in at.warning]


def test_not_interested_clicked_is_in_the_link_and_the_link_reproduces_it(in_process):
    at = open_link({"user": "3"})
    before = shown_titles(at)
    item_id = int(next(b.key for b in at.button if b.key and b.key.startswith("ni_")
                       and b.key != "ni_undo")[3:])
    at.button(key=f"ni_{item_id}").click().run()
    assert not at.exception
    after = shown_titles(at)
    assert before[0] not in after and len(after) == 10
    assert at.query_params["not_interested"] == str(item_id)
    assert any("What the last change did" in el.value and " left" in el.value
               for el in at.info)
    fresh = open_link({k: at.query_params[k] for k in at.query_params})
    assert shown_titles(fresh) == after


def test_a_visitor_link_shows_the_visitors_list(in_process):
    data, engine, _ = in_process
    lo, hi = data.rating_scale
    items = data.items["item_id"].tolist()
    profile = UserProfile(ratings={items[4]: float(hi), items[9]: float(lo)},
                          genres=[data.genre_names[2]],
                          demographics={"age": 40, "gender": str(data.users["gender"].iloc[0]),
                                        "region": str(data.users["region"].iloc[0])})
    link = LinkSettings(user=2, visitor=profile, k=6)
    at = open_link(link.to_params())
    assert at.radio(key="rec_mode").value == "New visitor"
    want = engine.recommend_new_user(profile, 6)
    assert shown_titles(at) == expected_titles(engine, want)
    assert at.query_params["v_items"] == link.to_params()["v_items"]
