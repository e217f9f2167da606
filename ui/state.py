"""The one shared-state API every page uses: data, model, engine, user, policy, URL.

Why one module: pages (this team's and the audit pages) must agree on which
data set, model and user are active, and a page opened from a link must show
the same view. Heavy objects live in process-wide caches (``st.cache_resource``),
so a second browser tab or a page switch never retrains; per-visitor choices
live in ``st.session_state`` and are mirrored in the URL's query parameters.

Data switching is transactional: a new source becomes active only once it has
loaded, validated and trained; until then the previous data and engine stay.

Links: the URL carries every setting that changes what the Recommendations page
shows (:class:`recengine.links.LinkSettings` names and serialises them). A
session's first run reads the link into session state (:func:`apply_link`);
every run writes the session's settings back (:func:`sync_url`), so the
address bar is always a link to what is on screen. Settings live under their
own session keys and are kept alive across page switches
(:func:`prepare_session`), because Streamlit forgets the state of widgets a
page did not draw.
"""

from __future__ import annotations

import gc
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import streamlit as st

from recengine.bundle import ModelBundle
from recengine.config import TrainConfig
from recengine.controls import DEFAULT_K, MAX_K, ListDiff, ViewerControls, list_diff
from recengine.data import load_csv_bundle, load_with_fallback
from recengine.data.sources import DEFAULT_SPEC
from recengine.engine import Engine
from recengine.links import (
    LINK_KEYS,
    LinkSettings,
    check_link,
    link_data_problem,
    parse_link,
    same_data,
)
from recengine.model_store import (
    ModelStore,
    demo_train_config,
    evaluate_bundle,
    evaluate_with_cf,
    train_cf_model,
)
from recengine.objectives import BASE_OBJECTIVES, DEFAULT_WEIGHTS, ObjectiveSet
from recengine.policy import ContentPolicy
from recengine.projection import Projection, pca_2d
from recengine.results import RecommendationResult
from recengine.schema import DataError, Dataset
from recengine.scoring import UserProfile
from recengine.serving import serving_engine
from recengine.subject import Subject
from ui.widgets import PALETTE, data_error_text

__all__ = [
    "PALETTE", "add_not_interested", "apply_link", "clear_not_interested", "current_link",
    "current_page_param", "current_policy", "data_choice", "default_policy", "demo_mode",
    "demo_refusal", "get_bundle",
    "get_dataset", "get_engine", "list_change", "model_key", "pop_link_notices",
    "prepare_session", "selected_user", "set_selected_user", "simulated_label", "switch_data",
    "sync_url", "train_config", "viewer_controls", "visitor_profile",
]

ENV_DATA = "RECENGINE_DATA"
#: hosted demo mode (docs/deploy.md): ``RECENGINE_DEMO=1`` or the Streamlit secret ``demo``
ENV_DEMO = "RECENGINE_DEMO"
DEMO_UPLOAD_MB = 20  # all files of one upload together (server.maxUploadSize is per file)
DEMO_UPLOAD_FILES = 3  # items.csv, interactions.csv, users.csv
DEMO_SYNTHETIC_MAX = 5_000  # users and items of a synthetic data set made in the demo
DEMO_SYNTHETIC_RATINGS = 250_000  # users x mean ratings per user
#: the data sets a demo visitor may pick besides the synthetic ones (named, fixed URLs)
DEMO_KNOWN = {"download:ml-latest-small": "MovieLens latest-small (download, about 1 MB)",
              "download:ml-100k": "MovieLens 100K (download, about 5 MB)"}
DEMO_NO_PATHS = ("this names a folder or file on the server, and the hosted demo reads none. "
                 "Use the synthetic data, one of the known data sets, or upload a CSV bundle "
                 f"(up to {DEMO_UPLOAD_MB} MB).")
DATA_CHOICE = "data_choice"  # session: the spec (or upload source) of the active data
PREVIOUS_CHOICE = "previous_data_choice"
DATA_NOTICE = "data_error"  # session: why the last switch was refused (shown once)
USER = "user"
POLICY_LABELS, POLICY_GENRES, POLICY_ACTION = "policy_labels", "policy_genres", "policy_action"
# the Recommendations page's settings (widget keys unless noted)
MODE, K = "rec_mode", "rec_k"
MODES = ("Existing user", "New visitor")
V_GENRES, V_ITEMS, V_RATING = "visitor_genres", "visitor_items", "visitor_rating_"
V_AGE, V_GENDER, V_REGION = "visitor_age", "visitor_gender", "visitor_region"
NOT_GIVEN = "(not given)"
C_OBJECTIVE, C_HIDE, C_NI_MODE = "ctl_objective", "ctl_hide", "ctl_ni_mode"
C_WEIGHTS = {o: f"ctl_w_{o}" for o in BASE_OBJECTIVES}
C_NI = "ctl_not_interested"  # not a widget: the item ids marked not interested
C_NON_PROFILING, C_REGION, C_DIVERSITY = "ctl_non_profiling", "ctl_region", "ctl_diversity"
WHOLE_CATALOGUE = "(whole catalogue)"
VISITOR_AGE = (10, 100, 30)  # the age input's bounds and default
#: every setting's default; the keys are kept alive across page switches
DEFAULTS: dict[str, object] = {
    MODE: MODES[0], K: DEFAULT_K, POLICY_LABELS: [], POLICY_GENRES: [], POLICY_ACTION: "remove",
    C_OBJECTIVE: "served", **{key: DEFAULT_WEIGHTS[o] for o, key in C_WEIGHTS.items()},
    C_HIDE: [], C_NI: [], C_NI_MODE: "seeds", C_NON_PROFILING: False, C_REGION: WHOLE_CATALOGUE,
    C_DIVERSITY: 0.0, V_GENRES: [], V_ITEMS: [], V_AGE: VISITOR_AGE[2], V_GENDER: NOT_GIVEN,
    V_REGION: NOT_GIVEN,
}
#: settings that name things in one data set (ids, genres, labels, regions): reset on a switch
DATA_SPECIFIC = (POLICY_LABELS, POLICY_GENRES, C_NI, C_REGION, V_GENRES, V_ITEMS, V_GENDER,
                 V_REGION)
RESET_PENDING = "_data_settings_reset"
LINK_APPLIED, LINK_NOTICES = "_link_applied", "_link_notices"
LINK_DATA = "_link_data"  # the data spec a link asked for, while it loads and trains
LAST_LIST = "_last_list"
#: loaded data sets / trained models kept in memory at once (the active and the previous)
KEEP = 2


# ----- process-wide caches -------------------------------------------------------------------
@dataclass
class _Registry:
    datasets: OrderedDict = field(default_factory=OrderedDict)  # spec -> (Dataset, notice)
    bundles: OrderedDict = field(default_factory=OrderedDict)  # key -> ModelBundle
    engines: OrderedDict = field(default_factory=OrderedDict)  # key -> Engine
    locks: dict = field(default_factory=dict)
    guard: threading.Lock = field(default_factory=threading.Lock)

    def lock(self, key: str) -> threading.Lock:
        with self.guard:
            return self.locks.setdefault(key, threading.Lock())

    def put(self, table: OrderedDict, key: str, value) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > KEEP:
            table.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _registry() -> _Registry:
    return _Registry()


def default_spec() -> str:
    """The data the app opens on: ``$RECENGINE_DATA`` or the embedded synthetic demo."""
    return os.environ.get(ENV_DATA, DEFAULT_SPEC)


def demo_mode() -> bool:
    """Whether this server is a hosted demo (``$RECENGINE_DEMO``, else the secret ``demo``).

    The environment variable wins when set (``0``/``false`` turns the demo off).
    """
    env = os.environ.get(ENV_DEMO, "").strip().lower()
    if env:
        return env not in ("0", "false", "no", "off")
    try:
        if not st.secrets.load_if_toml_exists():
            return False
        value = st.secrets.get("demo", False)
    except Exception:  # noqa: BLE001 - unreadable secrets: not a demo
        return False
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def demo_refusal(source: str | dict[str, bytes]) -> str | None:
    """Why the hosted demo will not load ``source`` (None: allowed, or not a demo).

    Allowed: the server's start-up data, synthetic data up to
    :data:`DEMO_SYNTHETIC_MAX` users and items, the known downloads
    (:data:`DEMO_KNOWN`) and uploads of at most :data:`DEMO_UPLOAD_MB` MB. Refused:
    anything naming a path on the server (folders, ``csv:``), by the Data page or a link.
    """
    if not demo_mode():
        return None
    if isinstance(source, dict):
        total = sum(len(body) for body in source.values())
        if len(source) > DEMO_UPLOAD_FILES:
            return (f"{len(source)} files were uploaded; a CSV bundle has at most "
                    f"{DEMO_UPLOAD_FILES} (items.csv, interactions.csv, users.csv).")
        if total > DEMO_UPLOAD_MB * 1024 * 1024:
            return (f"the upload is {total / 1024 / 1024:.1f} MB; the hosted demo takes up to "
                    f"{DEMO_UPLOAD_MB} MB in all.")
        return None
    spec = str(source).strip()
    if spec == default_spec() or spec in DEMO_KNOWN:
        return None
    scheme, _, argument = spec.partition(":")
    if scheme == "synthetic":
        from recengine.data.sources import parse_synthetic

        try:
            cfg = parse_synthetic(argument)
        except (ValueError, TypeError):
            return None  # the loader explains a malformed spec
        if (max(cfg.n_users, cfg.n_items) > DEMO_SYNTHETIC_MAX or cfg.oversample > 16
                or cfg.n_users * cfg.ratings_per_user > DEMO_SYNTHETIC_RATINGS):
            return (f"the hosted demo makes synthetic data of up to {DEMO_SYNTHETIC_MAX:,} "
                    f"users and {DEMO_SYNTHETIC_MAX:,} items ({DEMO_SYNTHETIC_RATINGS:,} "
                    "ratings); run the app yourself for larger sets.")
        return None
    if scheme == "download":
        return f"the hosted demo downloads only {', '.join(DEMO_KNOWN)}."
    return DEMO_NO_PATHS


def train_config() -> TrainConfig:
    """The training config of the app's models (``$RECENGINE_TRAIN`` can shrink it)."""
    return demo_train_config()


def data_choice() -> str:
    """The active data set's spec (session state ``data_choice``)."""
    if DATA_CHOICE not in st.session_state:
        st.session_state[DATA_CHOICE] = default_spec()
    return st.session_state[DATA_CHOICE]


# ----- data ----------------------------------------------------------------------------------
def _load(spec: str) -> tuple[Dataset, str | None]:
    reg = _registry()
    if spec in reg.datasets:
        reg.datasets.move_to_end(spec)
        return reg.datasets[spec]
    with reg.lock("data:" + spec):
        if spec not in reg.datasets:
            with st.spinner(f"Loading data set {spec}…"):
                reg.put(reg.datasets, spec, load_with_fallback(spec))
    return reg.datasets[spec]


def get_dataset() -> tuple[Dataset, str | None]:
    """The active Dataset and the fallback notice (None unless a download fell back)."""
    spec = data_choice()
    try:
        return _load(spec)
    except (DataError, ValueError, OSError) as exc:
        if spec == DEFAULT_SPEC:
            raise
        # a broken start-up source (e.g. $RECENGINE_DATA): show why, serve the demo
        st.session_state[DATA_CHOICE] = DEFAULT_SPEC
        data, _ = _load(DEFAULT_SPEC)
        return data, f"Could not load {spec} ({exc}); showing the synthetic demo data instead."


def switch_data(source: str | dict[str, bytes]) -> tuple[Dataset | None, str | None]:
    """Make ``source`` (a spec, or uploaded CSV bytes by file name) the active data.

    Returns (dataset, None) on success; (None, plain-words error) when it fails
    to load or validate, and then the previous data stays active.
    """
    refusal = demo_refusal(source)
    if refusal is not None:
        return None, f"**Not in the hosted demo:** {refusal}"
    try:
        if isinstance(source, dict):
            data, notice = load_csv_bundle(source), None
            reg = _registry()
            reg.put(reg.datasets, data.source, (data, None))
            spec = data.source
        else:
            spec = source.strip()
            data, notice = _load(spec)
    except (DataError, ValueError, OSError, KeyError) as exc:
        return None, data_error_text(exc)
    if data.n_items < 2 or len(data.interactions) == 0:
        return None, ("**The data could not be used:** it needs at least 2 items and one "
                      "rating to train a model.")
    previous = data_choice()
    if spec != previous:
        st.session_state[PREVIOUS_CHOICE] = previous
        st.session_state[DATA_CHOICE] = spec
        st.session_state.pop(USER, None)
        # ids, genres and regions of the old data mean nothing (or someone else) here
        st.session_state[RESET_PENDING] = True
    return data, notice


def pop_data_notice() -> str | None:
    """Why the last data switch was rolled back (shown once, then forgotten)."""
    return st.session_state.pop(DATA_NOTICE, None)


def simulated_label(column: str) -> str:
    """``"(simulated)"`` when the column (``"items.price"`` or ``"price"``) is simulated."""
    data, _ = get_dataset()
    names = set(data.simulated)
    if column in names or any(s.split(".", 1)[-1] == column for s in names):
        return "(simulated)"
    return ""


# ----- model and engine ----------------------------------------------------------------------
def model_key() -> str:
    """Names the active model: data fingerprint + config hash (+ where it is stored)."""
    data, _ = get_dataset()
    return ModelStore().key(data, train_config())


def _progress_callback(bar):
    def report(event: dict) -> None:
        epochs, steps = max(1, event["epochs"]), max(1, event["steps"])
        done = min(1.0, ((event["epoch"] - 1) + event["step"] / steps) / epochs)
        text = (f"Training the model (first run only): epoch {event['epoch']}/{epochs}, "
                f"step {event['step']}/{steps}, loss {event.get('loss', float('nan')):.3f}")
        if "val_loss" in event:
            text += f", validation loss {event['val_loss']:.3f}"
        bar.progress(done, text=text)

    return report


def _train_or_load(data: Dataset, cfg: TrainConfig) -> ModelBundle:
    store = ModelStore()
    with st.spinner("Loading the saved model…"):
        bundle = store.load(data, cfg)
    if bundle is not None:
        return bundle
    bar = st.progress(0.0, text="Training the model for this data (first run only)…")
    try:
        return store.get_or_train(data, cfg, progress=_progress_callback(bar))
    finally:
        bar.empty()


def _roll_back(exc: Exception) -> None:
    """Training on new data failed: return to the previous data and say why."""
    previous = st.session_state.pop(PREVIOUS_CHOICE, None)
    if previous is None or previous == data_choice():
        raise exc
    st.session_state[DATA_CHOICE] = previous
    st.session_state[DATA_NOTICE] = ("**A model could not be trained on the new data; the "
                                     f"previous data set stays active.** ({exc})")
    # a user or items chosen for the new data (by a link, say) must not carry over
    st.session_state.pop(USER, None)
    st.session_state[RESET_PENDING] = True
    wanted = st.session_state.pop(LINK_DATA, None)
    if wanted is not None:  # the Data page shows DATA_NOTICE; a link's reader needs it here
        st.session_state.setdefault(LINK_NOTICES, []).append(
            f"This link is for the data set {wanted}, but a model could not be trained on it "
            f"({exc}); the previous data set stays active, without the link's settings.")
    st.rerun()


def _model_slot() -> str:
    """The cache key of the active model: where it is stored plus its data and config."""
    return f"{ModelStore().root}|{model_key()}"


def _registry_once(table: OrderedDict, name: str, key: str, build):
    """``table[key]``, built once per process even when several sessions ask at once."""
    reg = _registry()
    if key not in table:
        with reg.lock(f"{name}:{key}"):
            if key not in table:
                reg.put(table, key, build())
    return table[key]


def get_bundle() -> ModelBundle:
    """The trained model for the active data (trained once, then loaded from disk)."""
    data, _ = get_dataset()

    def build() -> ModelBundle:
        try:
            return _train_or_load(data, train_config())
        except Exception as exc:  # noqa: BLE001 - any failure: keep the old data
            _roll_back(exc)
            raise

    return _registry_once(_registry().bundles, "model", _model_slot(), build)


def get_engine() -> Engine:
    """The serving engine for the active data and model (built once per model)."""
    data, _ = get_dataset()
    bundle = get_bundle()

    def build() -> Engine:
        with st.spinner("Preparing retrieval (similar items, top lists)…"):
            engine = serving_engine(data, bundle)
        # Streamlit clears the Keras session after every run, and that runs a full
        # gc.collect(): with TensorFlow loaded it dominated each rerun (~0.2 s).
        # Freezing the long-lived heap (modules, model, engine) keeps it out of
        # every later collection.
        gc.collect()
        gc.freeze()
        return engine

    engine = _registry_once(_registry().engines, "engine", _model_slot(), build)
    st.session_state.pop(PREVIOUS_CHOICE, None)  # the new data is good: no way back needed
    st.session_state.pop(LINK_DATA, None)
    return engine


# ----- evaluations and projections (cached: the same model gives the same figures) -----------
@st.cache_data(show_spinner=False, max_entries=8)
def _evaluation(key: str, with_cf: bool, _data: Dataset, _bundle: ModelBundle) -> dict:
    if with_cf:
        return evaluate_with_cf(_data, _bundle)
    return evaluate_bundle(_data, _bundle)


def evaluation(with_cf: bool = False) -> dict:
    """The protocol's figures for the active model beside the baselines (cached per model)."""
    data, _ = get_dataset()
    return _evaluation(model_key(), with_cf, data, get_bundle())


def evaluation_cached(with_cf: bool = False) -> bool:
    """Whether :func:`evaluation` would answer from the cache (no waiting)."""
    return st.session_state.get(f"evaluated:{model_key()}:{with_cf}", False)


def mark_evaluated(with_cf: bool = False) -> None:
    st.session_state[f"evaluated:{model_key()}:{with_cf}"] = True


@st.cache_resource(show_spinner=False, max_entries=2)
def _cf_model(key: str, _data: Dataset):
    return train_cf_model(_data)


def cf_model():
    """Collaborative filtering on the active data's train split (trained once, cached)."""
    data, _ = get_dataset()
    return _cf_model(data.fingerprint, data)


@st.cache_data(show_spinner=False, max_entries=32)
def _projection(key: str, include: tuple[int, ...], _vectors) -> Projection:
    return pca_2d(_vectors, include=list(include))


def item_projection(include: list[int] | None = None) -> Projection:
    """2-D PCA map of the active model's item vectors; ``include`` rows always drawn."""
    return _projection(model_key(), tuple(sorted(include or [])), get_bundle().item_vectors)


# ----- the user, shared by every page and the URL --------------------------------------------
def _valid_user(data: Dataset, user_id) -> int | None:
    try:
        uid = int(user_id)
        data.user_index(uid)
    except (TypeError, ValueError, KeyError):
        return None
    return uid


def selected_user() -> int:
    """The user every page shows (a link's ``?user=`` is read once, by :func:`apply_link`)."""
    data, _ = get_dataset()
    uid = _valid_user(data, st.session_state.get(USER))
    if uid is None:
        uid = int(data.users["user_id"].iloc[0])
    st.session_state[USER] = uid
    return uid


def set_selected_user(user_id: int) -> None:
    st.session_state[USER] = int(user_id)
    st.query_params["user"] = str(int(user_id))


def current_page_param() -> str | None:
    """The page named in the URL (``?page=``), so a shared link opens the same view."""
    return st.query_params.get("page")


# ----- settings in session state, links in the URL -------------------------------------------
def prepare_session() -> None:
    """Every run, before any widget: defaults, a pending data reset, settings kept alive.

    Re-assigning a widget's key at the top of a run keeps its value when the
    page that draws it is not shown (Streamlit's documented idiom), so the link
    written from another page still carries the Recommendations settings.
    """
    ss = st.session_state
    if ss.pop(RESET_PENDING, False):
        _reset_data_settings()
    for key, value in DEFAULTS.items():
        if key not in ss:
            ss[key] = list(value) if isinstance(value, list) else value
        else:
            ss[key] = ss[key]
    for key in [k for k in ss if str(k).startswith(V_RATING)]:
        ss[key] = ss[key]


def _reset_data_settings() -> None:
    """Forget what names things in the previous data: its ids mean other items and people."""
    ss = st.session_state
    for key in DATA_SPECIFIC:
        value = DEFAULTS[key]
        ss[key] = list(value) if isinstance(value, list) else value
    for key in [k for k in ss if str(k).startswith(V_RATING)]:
        del ss[key]
    ss.pop(LAST_LIST, None)


def apply_link() -> None:
    """On a session's first run: the URL's settings become the session's (see the module).

    A link for other data loads it when the loader knows the spec; when it
    cannot, the link's user, visitor and settings are not applied at all (user
    7 of other data is someone else) and a notice says so plainly. Values this
    data lacks are dropped one by one, each with a notice.
    """
    if st.session_state.get(LINK_APPLIED):
        return
    st.session_state[LINK_APPLIED] = True
    settings, notices = parse_link(st.query_params.to_dict())
    data, _ = get_dataset()
    if settings.data and not same_data(settings.data, data, data_choice()):
        wanted = settings.data
        problem = link_data_problem(wanted)
        new = None
        if problem is None:
            new, message = switch_data(wanted)
            if new is None:
                problem = message.replace("**", "").rstrip(".")
            elif not same_data(wanted, new):  # e.g. a download fell back to the demo data
                problem = message or "another data set was loaded instead"
        if problem is not None:
            shown, _ = get_dataset()
            who = f" user {settings.user}" if settings.user is not None else ""
            notices.insert(0, f"This link is for the data set {wanted}, which cannot be "
                              f"loaded here: {problem}. Showing {shown.name} ({shown.source}) "
                              f"instead, without the link's{who} settings: the same number "
                              "here would be a different person.")
            st.session_state[LINK_NOTICES] = notices
            return
        _reset_data_settings()
        st.session_state.pop(RESET_PENDING, None)
        st.session_state[LINK_DATA] = wanted
        data = new
    settings, more = check_link(settings, data)
    notices += more
    notices += _apply_settings(settings, data)
    st.session_state[LINK_NOTICES] = notices


def _apply_settings(s: LinkSettings, data: Dataset) -> list[str]:
    """Write checked link settings into the session keys the widgets read."""
    ss, notes = st.session_state, []
    if s.user is not None:
        ss[USER] = int(s.user)
    ss[K] = int(min(max(s.k, 1), MAX_K))
    ss[POLICY_LABELS], ss[POLICY_GENRES] = list(s.block_labels), list(s.block_genres)
    ss[POLICY_ACTION] = s.block_action
    c = s.controls
    ss[C_OBJECTIVE] = c.objective
    for o, w in c.weight_map.items():
        ss[C_WEIGHTS[o]] = float(w)
    ss[C_NI], ss[C_NI_MODE] = list(c.not_interested), c.not_interested_mode
    ss[C_HIDE] = sorted(c.hidden_sources)
    ss[C_NON_PROFILING] = c.non_profiling
    ss[C_REGION] = c.region if c.region is not None else WHOLE_CATALOGUE
    ss[C_DIVERSITY] = float(c.diversity)
    ss[MODE] = MODES[1] if s.visitor is not None else MODES[0]
    if s.visitor is not None:
        v = s.visitor
        ss[V_GENRES] = list(v.genres)
        ss[V_ITEMS] = [int(i) for i in v.ratings]
        for i, r in v.ratings.items():
            ss[f"{V_RATING}{int(i)}"] = float(r)
        age = v.demographics.get("age")
        if age is not None:
            lo, hi, _ = VISITOR_AGE
            if lo <= float(age) <= hi:
                ss[V_AGE] = int(round(float(age)))
            else:
                notes.append(f"Ignored from the link: visitor age {age} (use {lo}-{hi}).")
        ss[V_GENDER] = str(v.demographics.get("gender", NOT_GIVEN))
        ss[V_REGION] = str(v.demographics.get("region", NOT_GIVEN))
    return notes


def pop_link_notices() -> list[str]:
    """What the link's parsing ignored and why (shown once, then forgotten)."""
    return st.session_state.pop(LINK_NOTICES, None) or []


def viewer_controls() -> tuple[ViewerControls, list[str]]:
    """The session's viewer controls, and a note for any setting that had to be reset."""
    ss, notes = st.session_state, []
    weights = tuple(float(ss.get(C_WEIGHTS[o], DEFAULT_WEIGHTS[o])) for o in BASE_OBJECTIVES)
    if sum(weights) <= 0:
        notes.append("All blend weights are zero: the default blend is used.")
        weights = tuple(float(DEFAULT_WEIGHTS[o]) for o in BASE_OBJECTIVES)
    region = ss.get(C_REGION)
    controls = ViewerControls(
        not_interested=tuple(ss.get(C_NI) or ()),
        not_interested_mode=ss.get(C_NI_MODE) or "seeds",
        hidden_sources=frozenset(ss.get(C_HIDE) or ()),
        objective=ss.get(C_OBJECTIVE) or "served", weights=weights,
        non_profiling=bool(ss.get(C_NON_PROFILING)),
        region=None if region in (None, WHOLE_CATALOGUE) else str(region),
        diversity=float(ss.get(C_DIVERSITY) or 0.0))
    return controls, notes


def visitor_profile() -> UserProfile:
    """The new visitor the session describes (the same the visitor form shows)."""
    data, _ = get_dataset()
    ss = st.session_state
    hi = float(data.rating_scale[1])
    ratings = {int(i): float(ss.get(f"{V_RATING}{int(i)}", hi)) for i in ss.get(V_ITEMS) or ()}
    demographics: dict[str, object] = {}
    if data.has_column("users", "age"):
        demographics["age"] = ss.get(V_AGE, VISITOR_AGE[2])
    for name, key in (("gender", V_GENDER), ("region", V_REGION)):
        value = ss.get(key, NOT_GIVEN)
        if data.has_column("users", name) and value != NOT_GIVEN:
            demographics[name] = value
    return UserProfile(ratings=ratings, genres=list(ss.get(V_GENRES) or ()),
                       demographics=demographics)


def current_link(page: str | None) -> LinkSettings:
    """The session's settings as a link: what :func:`sync_url` writes."""
    data, _ = get_dataset()
    ss = st.session_state
    controls, _ = viewer_controls()
    policy = current_policy()
    return LinkSettings(
        page=page, data=data.source, user=selected_user(),
        visitor=visitor_profile() if ss.get(MODE) == MODES[1] else None,
        k=int(ss.get(K) or DEFAULT_K), block_labels=tuple(policy.blocked_labels),
        block_genres=tuple(policy.blocked_genres), block_action=policy.action,
        controls=controls)


def sync_url(page: str) -> None:
    """Write the session's settings into the URL (every run: links always match)."""
    params = current_link(page).to_params()
    qp = st.query_params
    for key in LINK_KEYS:
        if key in params:
            if qp.get(key) != params[key]:
                qp[key] = params[key]
        elif key in qp:
            del qp[key]


def add_not_interested(item_id: int) -> None:
    """Button callback: mark an item not interested (kept for the session and in the link)."""
    ids = [int(i) for i in st.session_state.get(C_NI) or ()]
    if int(item_id) not in ids:
        st.session_state[C_NI] = [*ids, int(item_id)]


def clear_not_interested() -> None:
    """Button callback: undo every "not interested" of this session (and of the link)."""
    st.session_state[C_NI] = []


def list_change(who: str, result: RecommendationResult) -> ListDiff | None:
    """What the last change did to the list shown to ``who`` (None before any change).

    The previous list is kept in session state; the diff stays on screen until
    the list changes again, and is forgotten when the person or data changes.
    """
    previous = st.session_state.get(LAST_LIST)
    diff = None
    if previous is not None and previous[0] == who:
        _, before, diff = previous
        if [(i.item_id, i.rank) for i in before.items] != \
                [(i.item_id, i.rank) for i in result.items]:
            diff = list_diff(before, result)
    st.session_state[LAST_LIST] = (who, result, diff)
    return diff


# ----- the content policy --------------------------------------------------------------------
def default_policy() -> ContentPolicy:
    """No rules: nothing filtered (the sidebar adds rules for this session)."""
    return ContentPolicy()


def current_policy() -> ContentPolicy:
    """The policy set in the sidebar for this session (blocked labels and genres)."""
    labels = tuple(st.session_state.get(POLICY_LABELS) or ())
    genres = tuple(st.session_state.get(POLICY_GENRES) or ())
    action = st.session_state.get(POLICY_ACTION) or "remove"
    if not labels and not genres:
        return default_policy()
    return ContentPolicy(blocked_labels=labels, blocked_genres=genres, action=action)


@st.cache_resource(show_spinner=False, max_entries=2)
def _subject(key: str, _data: Dataset, _bundle: ModelBundle, _engine: Engine) -> Subject:
    return Subject.build(_data, _bundle, served=_engine)


def get_subject() -> Subject:
    """The system being audited: the served engine the pages show and its train-only twin.

    Built once per model from the same bundle ``python -m audits report`` loads,
    so the app's audits and the terminal's agree number for number.
    """
    data, _ = get_dataset()
    return _subject(_model_slot(), data, get_bundle(), get_engine())


def get_objectives() -> ObjectiveSet:
    """The served order and its alternatives for the active model (one for every page)."""
    return get_subject().objectives
