"""What a user is told, and the model card: ordering rule, filters, evaluation, audits, limits.

A view only: the statement comes from :mod:`audits.transparency`, the report from
:mod:`audits.report` (the same builder, on the same Subject, as ``python -m audits report``).
"""

from __future__ import annotations

import streamlit as st

from audits.report import ReportConfig, build_report
from audits.transparency import contribution_frame, explain_result, order_is_truthful, statement
from recengine.objectives import DEFAULT_WEIGHTS, OBJECTIVES, SERVED
from recengine.safe_text import markdown_text
from ui import plain, state, widgets


@st.cache_data(show_spinner=False, max_entries=8)
def _report(key: str, objective: str, weights: tuple, policy: str, n_users: int,
            protocol: bool, _subject, _policy):
    cfg = ReportConfig(n_users=n_users, objective=objective, weights=dict(weights),
                       policy=_policy, include_protocol=protocol, n_boot=300)
    card = build_report(_subject, cfg)
    return card.to_markdown(), card.to_json()


st.title("Transparency report")
subject = state.get_subject()
engine = subject.served
key = state.model_key()
objectives = subject.objectives
policy = state.current_policy()
data = engine.data

st.subheader("What the user is told")
c1, c2 = st.columns([1, 2])
objective = c1.selectbox("Ordering", OBJECTIVES, key="tr_objective",
                         help="served: what users get; the others show what an alternative "
                              "would say")
weights = tuple((name, st.session_state.get(f"obj_w_{name}", w))
                for name, w in DEFAULT_WEIGHTS.items())
if sum(w for _, w in weights) <= 0:
    weights = tuple(DEFAULT_WEIGHTS.items())
user = state.selected_user()
c2.markdown(f"**User {user}** · {markdown_text(policy.describe())}")
result = engine.recommend(user, 10, policy, objectives.objective(objective, dict(weights)))
sponsored = data.items["item_id"].to_numpy()[objectives.business.sponsored].tolist()
if objective != SERVED:
    st.warning(f"This is an alternative ({objective}), not the list users are served.")
st.info(markdown_text(statement(result, policy, sponsored)), icon=":material/info:")
if not order_is_truthful(result):
    st.error("The list is not in the order its rule states.")
if "sponsored_bid" in objectives.business.simulated:
    st.caption("Sponsorship is simulated on this data.")
told = explain_result(result, sponsored)
score_col = result.score_meaning or "score"  # explain_result names it so
paid = int(told["sponsored"].sum())
st.markdown(f"**Sponsored items in this list: {paid} of {len(told)}**"
            + (" (marked in the table)" if paid else " (none is a paid placement)"))
main = ["rank", "title", "sponsored", "why"]
if told["demoted_by"].fillna("").astype(str).str.len().gt(0).any():
    main.append("demoted_by")
widgets.show_table(told.assign(demoted_by=told["demoted_by"].replace("", None)), main,
                   wide=("why",), narrow=("rank", "sponsored"))
with st.expander("Score, predicted rating and item id of each item"):
    widgets.show_table(told, ["rank", "title", score_col, "predicted_rating", "item_id"],
                       names={score_col: f"Score: {score_col}"}, wide=("title",))
    if "log-odds" in str(score_col):
        st.caption(plain.JARGON["log-odds"])
parts = contribution_frame(result)
if len(parts):
    with st.expander("Each item's score, split exactly into the ranking stage's features"):
        st.caption(f"weight x standardised value per feature; with the intercept "
                   f"{result.intercept:+.3f} they sum to the item's score. Columns are the "
                   "list's ranks (hover a header for the title).")
        wide = parts.pivot_table(index="meaning", columns="rank", values="contribution")
        titles = dict(zip(parts["rank"], parts["title"], strict=False))
        shown = wide.reset_index().rename(columns={"meaning": "feature"})
        shown.columns = [str(c) for c in shown.columns]
        ranks = [c for c in shown.columns if c != "feature"]
        shown, config = plain.table(shown, names={"feature": "Ranking feature",
                                                  **{r: f"#{r}" for r in ranks}},
                                    wide=("feature",))
        for r in ranks:
            config[f"#{r}"] = st.column_config.NumberColumn(
                f"#{r}", help=f"rank {r}: {titles.get(int(r), '')}", format="%.3f")
        st.dataframe(shown, hide_index=True, column_config=config, placeholder="-")

st.subheader("Model card")
c1, c2 = st.columns(2)
n_users = int(c1.number_input("Users sampled for the audits", 10, 5000, 100, 10,
                              key="tr_users"))
protocol = c2.checkbox("Include the offline evaluation beside baselines (slower)", True,
                       key="tr_protocol")
with st.spinner("Running every audit for the report…"):
    markdown, js = _report(key, objective, weights, repr(policy), n_users, protocol, subject,
                           policy)
d1, d2 = st.columns(2)
d1.download_button("Download the report (Markdown)", markdown, "model_card.md",
                   "text/markdown", icon=":material/download:", key="tr_md")
d2.download_button("Download the report (JSON)", js, "model_card.json", "application/json",
                   icon=":material/data_object:", key="tr_json")
with st.container(border=True):
    st.markdown(markdown)
