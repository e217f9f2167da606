"""Top-k for a known user or a new visitor, each item with the sources that found it.

The viewer's own controls sit above the list (EU DSA Art. 27 and 38): the
objective, hidden retrieval sources, a list not based on profiling, more
variety, and "not interested" on any item. Every control is an engine-side
function (:func:`recengine.controls.apply_controls`); this page only draws them,
shows what the last change did to the list, and keeps them in the link.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from recengine.controls import (
    GENRE_PENALTY,
    MAX_K,
    NI_MODES,
    ControlledResult,
    ViewerControls,
    apply_controls,
)
from recengine.counterfactual import (
    CounterfactualConfig,
    counterfactual_frame,
    explain_list,
    score_breakdown,
)
from recengine.objectives import BASE_OBJECTIVES, OBJECTIVES, PLAIN
from recengine.results import RankedItem
from recengine.safe_text import markdown_text, safe_csv
from recengine.scoring import UserProfile
from ui import state, widgets
from ui.explain_view import render_why

OBJECTIVE_WORDS = {"served": "Served order (learned ranking stage)",
                   "rating": "Predicted rating", "engagement": "Expected watch time",
                   "profit": "Expected revenue to the service",
                   "blend": "A blend of the three (set the weights)"}
NI_WORDS = {"seeds": "drop what led to it", "genre": "fewer of its genres"}
NI_HELP = ("**drop what led to it**: the items you watched that found it no longer count as "
           "evidence here; what only they found goes, the rest lose those hits. **fewer of "
           f"its genres**: everything sharing its genres loses {GENRE_PENALTY:.0%} of the "
           "list's score range per such item.")
#: session keys of the page's lazy expanders (their bodies run only while open)
HISTORY, FILTERED, CONTROLS = "history_open", "filtered_open", "controls_open"
WHY_SERVED = ("This explains the served list (the learned ranking stage, with your content "
              "policy and hidden sources); your other controls are not part of it, so an item "
              "only they brought here has no explanation.")

st.title("Recommendations")
st.caption("Retrieval finds candidates (similar to what you watched, often watched with it "
           "by others, top in your genres, popular in your region or overall); the two-tower "
           "model and a ranking stage trained on what people watched next order them. Every "
           "badge says which source found the item and on what evidence.")

data, _ = state.get_dataset()
engine = state.get_engine()
policy = state.current_policy()
titles = dict(zip(data.items["item_id"].tolist(), data.items["title"].tolist(), strict=True))

left, right = st.columns([3, 1])
mode = left.radio("Recommend for", list(state.MODES), horizontal=True, key=state.MODE)
k = int(right.number_input("How many", min_value=1, max_value=MAX_K, key=state.K))
visitor = mode == state.MODES[1]


def _plain(value) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def user_panel(user_id: int) -> None:
    row = data.users.iloc[int(data.user_index(user_id)[0])]
    facts = [f"{c} {_plain(row[c])} {state.simulated_label('users.' + c)}".strip()
             for c in ("age", "gender", "occupation", "region")
             if c in row.index and pd.notna(row[c])]
    st.subheader(f"User {user_id}")
    if facts:
        st.caption(" · ".join(markdown_text(f) for f in facts))
    rated = data.interactions[data.interactions["user_id"] == user_id]
    lo, hi = data.rating_scale
    with widgets.lazy_expander(f"What user {user_id} rated ({len(rated)} ratings, newest "
                               "first)", key=HISTORY) as history:
        if not history.open:
            return
        recent = rated.sort_values("timestamp", ascending=False).head(20)
        recent = recent.assign(title=data.items["title"].to_numpy()[recent["i"].to_numpy()])
        widgets.show_table(recent, ["timestamp", "title", "rating", "item_id"], wide=("title",),
                           names={"rating": f"Rating ({lo:g}-{hi:g} stars)"})
        if state.simulated_label("interactions.timestamp"):
            st.caption("Ratings and their dates are simulated on this data.")


def visitor_form() -> UserProfile:
    """A new visitor describes themselves: demographics, genres, a few rated items."""
    st.subheader("A new visitor")
    cols = st.columns(3)
    if data.has_column("users", "age"):
        lo, hi, _ = state.VISITOR_AGE
        cols[0].number_input(f"Age {state.simulated_label('users.age')}", lo, hi,
                             key=state.V_AGE)
    for col, name, key in ((cols[1], "gender", state.V_GENDER),
                           (cols[2], "region", state.V_REGION)):
        if data.has_column("users", name):
            values = sorted(data.users[name].dropna().astype(str).unique())
            col.selectbox(f"{name.title()} {state.simulated_label('users.' + name)}",
                          [state.NOT_GIVEN] + values, key=key)
    st.multiselect("Genres you enjoy", data.genre_names, key=state.V_GENRES)
    chosen = st.multiselect("Items you have seen", list(titles), key=state.V_ITEMS,
                            format_func=lambda i: titles[i],
                            help="Rate each one below; a like is the top of the scale.")
    lo, hi = data.rating_scale
    for item_id in chosen:
        key = f"{state.V_RATING}{item_id}"
        st.session_state.setdefault(key, float(hi))
        st.slider(titles[item_id], float(lo), float(hi), step=0.5 if hi - lo > 2 else 0.1,
                  key=key)
    return state.visitor_profile()


def settle_controls() -> None:
    """Drop control values this engine cannot honour, before the list reads them.

    A link or an earlier model may name a source this engine has no longer, or a
    region it does not know; the controls panel would show them, so they are
    settled before the list is made, not when the panel is drawn (after it).
    """
    sources = list(engine.config.retrieval.sources)
    if any(s not in sources for s in st.session_state.get(state.C_HIDE) or ()):
        st.session_state[state.C_HIDE] = [
            s for s in st.session_state[state.C_HIDE] if s in sources]
    if st.session_state.get(state.C_NON_PROFILING) and engine.index.region_names:
        regions = [state.WHOLE_CATALOGUE, *engine.index.region_names]
        if st.session_state.get(state.C_REGION) not in regions:
            st.session_state[state.C_REGION] = state.WHOLE_CATALOGUE


def controls_panel(controls: ViewerControls) -> None:
    """The viewer's controls; their values live in session state and in the link.

    Closed at first when every control is at its default, with the settings in
    one line under it: its ten widgets were a sixth of a first visit's work in
    the browser. Open when a link or an earlier change set any of them.
    """
    st.session_state.setdefault(CONTROLS, not controls.is_default)
    with widgets.lazy_expander("Your controls: what this list is based on", key=CONTROLS,
                               icon=":material/tune:") as box:
        if box.open:
            draw_controls()
    if not box.open:
        st.caption(markdown_text(controls.describe()))


def draw_controls() -> None:
    """The panel's widgets, drawn into the open expander."""
    a, b = st.columns(2)
    a.selectbox("Order by", OBJECTIVES, key=state.C_OBJECTIVE,
                format_func=OBJECTIVE_WORDS.get,
                help="What the list maximises. The served order is what users get.")
    if st.session_state.get(state.C_OBJECTIVE) == "blend":
        for col, name in zip(a.columns(3), BASE_OBJECTIVES, strict=True):
            col.slider(PLAIN[name], 0.0, 1.0, step=0.05, key=state.C_WEIGHTS[name])
    a.slider("Show me something different", 0.0, 1.0, step=0.1, key=state.C_DIVERSITY,
             help="0 keeps the order. Higher values trade each next item's score "
                  "against how alike it is (cosine of the item vectors) to the items "
                  "above it; the cost in mean predicted rating is shown.")
    b.multiselect("Hide these sources", list(engine.config.retrieval.sources),
                  key=state.C_HIDE, disabled=visitor,
                  help="A hidden source proposes nothing and feeds no ranking feature "
                       "(known users only)." if not visitor else
                  "Hiding a source applies to known users' lists only.")
    b.toggle("A list not based on profiling", key=state.C_NON_PROFILING,
             help="Popular in the whole catalogue or in the region you pick: nothing "
                  "about you is used (EU DSA Art. 38).")
    if st.session_state.get(state.C_NON_PROFILING) and engine.index.region_names:
        b.selectbox("Popular in", [state.WHOLE_CATALOGUE, *engine.index.region_names],
                    key=state.C_REGION)
    b.radio("Not interested means", NI_MODES, key=state.C_NI_MODE, horizontal=True,
            format_func=NI_WORDS.get, help=NI_HELP)
    dismissed = st.session_state.get(state.C_NI) or []
    if dismissed:
        names = ", ".join(markdown_text(titles.get(i, f"item {i}")) for i in dismissed)
        st.caption(f"Marked not interested: {names}")
        st.button("Undo not interested", key="ni_undo", on_click=state.clear_not_interested,
                  icon=":material/undo:")


def not_interested(item_id: int) -> None:
    """Mark an item, and open the controls, where its Undo is."""
    state.add_not_interested(item_id)
    st.session_state[CONTROLS] = True


def item_controls(item: RankedItem) -> None:
    """The item's own control: "Not interested"."""
    st.button("Not interested", key=f"ni_{item.item_id}", on_click=not_interested,
              args=(item.item_id,), icon=":material/thumb_down:",
              help="Removes it and down-weights what it stood for (see Your controls).")


def item_why(item: RankedItem, result: ControlledResult, user_id: int | None) -> None:
    """Inside the open "Why this item is here": what of the person's put it here.

    Drawn only when opened: the answer reruns the served pipeline (policy and
    hidden sources included, tens of ms per item), and a page that computed it
    for all ten items on every open made concurrent first visits slow. For a
    list other controls reordered it explains the served list, and says so. A
    visitor's list, or one not based on profiling, has no history of theirs to
    take away: its score's parts only.
    """
    if user_id is None or result.non_profiling:
        if item.contributions:
            widgets.score_parts(score_breakdown(item, result.intercept))
        else:
            st.caption("This list reads nothing about you. "
                       + markdown_text(result.ordering_rule) + ".")
        return
    c = result.controls
    served = c.objective == "served" and not c.not_interested and c.diversity <= 0
    if not served:
        st.caption(WHY_SERVED)
    render_why(engine, user_id, item.item_id, k, policy, c.hidden_sources,
               item=item if served else None,
               intercept=result.intercept if served else None,
               model_key=state.model_key())


def filtered_panel(result: ControlledResult, policy) -> None:
    """What the content policy caught for this list, and the rule that caught each."""
    st.caption(markdown_text(policy.describe()))
    if result.filtered:
        st.caption(f"{len(result.displaced)} of these would otherwise have been in this "
                   f"list; the rest were caught deeper in the retrieval pool.")
        widgets.show_table(widgets.filtered_frame(result), wide=("title", "rule"))
    else:
        st.write("No candidate was caught by the policy.")


def genre_note(result: ControlledResult, genres: list[str]) -> tuple[str, bool]:
    """How many listed items are in the visitor's genres, why not more, and whether the
    list buries them (fewer than half in the genres)."""
    chosen = set(genres)
    n = len(result.items)
    inside = sum(bool(chosen & set(it.genres.split("|"))) for it in result.items)
    by_source = sum(any(h.source == "genre" for h in it.sources) for it in result.items)
    names = ", ".join(genres)
    text = (f"{inside} of these {n} items are in the genres you picked ({names}); the top "
            f"lists of your genres found {by_source} of them.")
    if inside >= max(1, n // 2):
        return text, False
    served = result.controls.objective == "served"
    why = ("The served order's ranking stage places them (the rule above): for a visitor "
           "with few ratings it weighs mostly how many people watched an item, so popular "
           "items from other genres outrank your genres' top items. " if served else
           "The order you chose above decides the rank, not the genres. ")
    return (text + " " + why + "To see more of your genres, rate a few items you have seen "
            "or try another order under Your controls."), True


def show(result: ControlledResult, who: str, user_id: int | None,
         visitor_genres: list[str] | None = None) -> None:
    diff = state.list_change(f"{data.source}|{who}", result)
    if diff is not None:
        st.info("**What the last change did:** " + markdown_text(diff.describe()),
                icon=":material/compare_arrows:")
    for note in result.notes:
        st.info(markdown_text(note), icon=":material/info:")
    if not result.items:
        st.warning("Nothing to recommend: no candidate survived retrieval and the policy.")
    else:
        badge = (":blue-badge[:material/public: not based on profiling] "
                 if result.non_profiling else "")
        st.markdown(f"{badge}**How this list is ordered.** "
                    f"{markdown_text(result.ordering_rule)}.")
    if visitor_genres:
        note, buried = genre_note(result, visitor_genres)
        if buried:
            st.info(markdown_text(note), icon=":material/category:")
        else:
            st.caption(markdown_text(note))
    if result.dismissal is not None:
        st.caption(markdown_text(result.dismissal.describe(titles)))
    if result.diversity is not None:
        st.caption(markdown_text(result.diversity.describe()))
    for item in result.items:
        widgets.render_ranked_item(item, data.rating_scale, result.score_meaning,
                                   result.intercept, extra=lambda item=item: item_controls(item),
                                   why=lambda item=item: item_why(item, result, user_id))
    with widgets.lazy_expander(f"Filtered or demoted by the content policy "
                               f"({len(result.filtered)})", key=FILTERED,
                               icon=":material/shield:") as caught:
        if caught.open:
            filtered_panel(result, policy)
    if result.skipped_sources:
        st.caption("Skipped sources: " + "; ".join(
            markdown_text(f"{name} ({why})") for name, why in result.skipped_sources.items()))
    link = urlencode(state.current_link("recommendations").to_params())
    frame = widgets.download_frame(result, {"recommended_for": who, "data": data.source,
                                            "model": state.model_key(),
                                            "policy": policy.describe(),
                                            "ordering_rule": result.ordering_rule,
                                            "link": "?" + link})
    def csv_bytes() -> bytes:
        """Made on click: the list, plus each item's verified counterfactual for a known user."""
        out = frame
        if user_id is not None:
            explained = explain_list(engine, user_id, CounterfactualConfig(k=len(result.items)),
                                     policy)
            out = frame.merge(counterfactual_frame(explained), on="item_id", how="left")
        return safe_csv(out).encode()

    st.download_button("Download as CSV", csv_bytes,
                       file_name=f"recommendations_{who.replace(' ', '_')}.csv",
                       mime="text/csv", icon=":material/download:",
                       help="with each item's counterfactual (what of yours put it here), "
                            "verified by a rerun of the pipeline, for a known user")


if visitor:
    profile = visitor_form()
    uid = None
    who = "new visitor"
else:
    profile = None
    uid = state.selected_user()
    user_panel(uid)
    who = f"user {uid}"
# the controls sit above the list but are drawn after it, into this slot: a first visit's
# browser then builds the list first (the controls' widgets are the heavier part), while
# the list reads the controls' values from session state, where they already are
controls_slot = st.container()
settle_controls()
controls, problems = state.viewer_controls()
for problem in problems:
    st.warning(problem, icon=":material/warning:")
objectives = state.get_objectives() if controls.objective != "served" else None
show(apply_controls(engine, uid, k, controls, policy, objectives, profile=profile), who, uid,
     list(profile.genres) if profile is not None else None)
with controls_slot:
    controls_panel(controls)
