"""What a user is told, and the model card: objective, filters, evaluation, audits, limits.

A view only: the statement comes from :mod:`audits.transparency`, the report from
:mod:`audits.report` (the same builder as ``python -m audits report``).
"""

from __future__ import annotations

import streamlit as st

from audits.objectives import OBJECTIVES
from audits.report import ReportConfig, build_report
from audits.transparency import explain_result, statement
from ui import state


@st.cache_data(show_spinner=False, max_entries=8)
def _report(key: str, objective: str, weights: tuple, policy: str, n_users: int,
            protocol: bool, _engine, _policy):
    cfg = ReportConfig(n_users=n_users, objective=objective, weights=dict(weights),
                       policy=_policy, include_protocol=protocol, n_boot=300)
    card = build_report(_engine, cfg)
    return card.to_markdown(), card.to_json()


st.title("Transparency report")
engine = state.get_engine()
key = state.model_key()
model = state.get_objective_model()
policy = state.current_policy()
data, _ = state.get_dataset()

st.subheader("What the user is told")
c1, c2 = st.columns([1, 2])
objective = c1.selectbox("Objective in use", OBJECTIVES, key="tr_objective")
weights = (("rating", st.session_state.get("obj_w_rating", 0.6)),
           ("engagement", st.session_state.get("obj_w_engagement", 0.2)),
           ("profit", st.session_state.get("obj_w_profit", 0.2)))
if sum(w for _, w in weights) <= 0:
    weights = (("rating", 0.6), ("engagement", 0.2), ("profit", 0.2))
user = state.selected_user()
c2.markdown(f"**User {user}** · {policy.describe()}")
result = engine.recommend(user, 10, policy, model.objective(objective, dict(weights)))
sponsored = data.items["item_id"].to_numpy()[model.business.sponsored].tolist()
st.info(statement(result, policy, dict(weights), sponsored), icon=":material/info:")
if "sponsored_bid" in model.business.simulated or "items.sponsored_bid" in data.simulated:
    st.caption("Sponsorship is simulated on this data.")
st.dataframe(explain_result(result, sponsored), hide_index=True)

st.subheader("Model card")
c1, c2 = st.columns(2)
n_users = int(c1.number_input("Users sampled for the audits", 10, 5000, 100, 10,
                              key="tr_users"))
protocol = c2.checkbox("Include the offline evaluation beside baselines (slower)", True,
                       key="tr_protocol")
with st.spinner("Running every audit for the report…"):
    markdown, js = _report(key, objective, weights, repr(policy), n_users, protocol, engine,
                           policy)
d1, d2 = st.columns(2)
d1.download_button("Download the report (Markdown)", markdown, "model_card.md",
                   "text/markdown", icon=":material/download:", key="tr_md")
d2.download_button("Download the report (JSON)", js, "model_card.json", "application/json",
                   icon=":material/data_object:", key="tr_json")
with st.container(border=True):
    st.markdown(markdown)
