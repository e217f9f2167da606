""""What of mine put this here?": one recommended item's counterfactual, drawn.

Presentation only: :func:`recengine.counterfactual.explain_item` finds and
verifies the explanation and :func:`recengine.counterfactual.score_breakdown`
splits the score; this module caches them and turns them into Streamlit
elements. Every title comes from user data, so it is escaped before it enters
Markdown. The Recommendations page calls :func:`render_why` inside each item's
expander, for every item of the list, so it must never raise: anything that
goes wrong is shown as a short note instead.
"""

from __future__ import annotations

import streamlit as st

from recengine.counterfactual import (
    Counterfactual,
    CounterfactualConfig,
    ScoreBreakdown,
    explain_item,
    score_breakdown,
)
from recengine.engine import Engine
from recengine.policy import ContentPolicy
from recengine.results import RankedItem
from recengine.safe_text import markdown_text as _md
from ui.widgets import score_parts


@st.cache_data(show_spinner=False, max_entries=512)
def _why(key: tuple, _engine: Engine, _policy: ContentPolicy | None,
         _item: RankedItem | None, _intercept: float | None
         ) -> tuple[Counterfactual, ScoreBreakdown] | str:
    """The explanation and breakdown of one listed item, or why there is none (cached by key).

    ``key`` is (engine identity, user, item, k, repr(policy), hidden sources):
    everything the answer depends on. The engine, policy and the page's own
    item are not hashed (they are large or not hashable); the key stands for them.
    """
    _, user_id, item_id, k, _, hidden = key
    try:
        cf = explain_item(_engine, user_id, item_id, CounterfactualConfig(k=k), _policy,
                          frozenset(hidden))
        item, intercept = _item, _intercept
        if item is None:
            u = int(_engine.data.user_index(user_id)[0])
            result = _engine.rank(_engine.candidates_at(u, _policy, frozenset(hidden)), k)
            item = next(it for it in result.items if it.item_id == item_id)
            intercept = result.intercept
        return cf, score_breakdown(item, intercept, _engine.reranker)
    except (KeyError, ValueError, StopIteration) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        return f"No explanation for this item: {msg}"


def render_why(engine: Engine, user_id: int, item_id: int, k: int,
               policy: ContentPolicy | None = None,
               hidden_sources: frozenset[str] = frozenset(), *,
               item: RankedItem | None = None, intercept: float | None = None,
               model_key: str | None = None) -> None:
    """Draw why ``item_id`` is in the user's top ``k``: what of theirs put it there, and its score.

    ``policy`` and ``hidden_sources`` must be the ones the list was served with
    (the explanation reruns that very pipeline). ``item`` and ``intercept``,
    when the page has them, are the listed item and its result's intercept
    (saves one ranking). ``model_key`` names the active model in the cache key;
    without it the engine's identity does (a new engine is a new key).
    """
    try:
        key = (model_key or f"engine:{id(engine)}", int(user_id), int(item_id), int(k),
               repr(policy), tuple(sorted(hidden_sources)))
        with st.spinner("Rerunning your list without some of your ratings..."):
            answer = _why(key, engine, policy, item, intercept)
        if isinstance(answer, str):
            st.caption(_md(answer))
            return
        _draw(*answer)
    except Exception as exc:  # the page draws every item: one failure must not break it
        st.caption(_md(f"No explanation for this item ({type(exc).__name__}: {exc})."))


def _draw(cf: Counterfactual, breakdown: ScoreBreakdown) -> None:
    if cf.verified:
        st.markdown(f"**{_md(cf.message)}**")
        st.markdown("\n".join(f"- {_md(title)} :gray[(item {item_id})]"
                              for item_id, title in cf.removed))
        if cf.replacement is not None:
            st.markdown(f"In its place: **{_md(cf.replacement[1])}** "
                        f":gray[(item {cf.replacement[0]})]")
        fewer = " Removing fewer of them keeps it in your list." if cf.minimal else ""
        st.caption(f"Checked by rerunning the whole pipeline without them: retrieval, your "
                   f"profile, the ranking stage ({cf.tried} reruns, "
                   f"{cf.seconds * 1000:.0f} ms).{fewer}")
    elif cf.found:
        st.warning(_md(cf.message))
    else:
        st.markdown(_md(cf.message))
        st.caption("It is here for reasons no small change to your history removes: "
                   "see its score and sources below.")
    score_parts(breakdown)
    if breakdown.sources:
        st.markdown("**Found by**")
        st.markdown("\n".join(f"- {_md(s.words)}" + (f" :gray[({_md(s.evidence)})]"
                                                       if s.evidence else "")
                              for s in breakdown.sources))


__all__ = ["render_why"]
