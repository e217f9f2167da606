"""Popularity bias, genre calibration, diversity, and accuracy and exposure by group.

A view only: figures come from :mod:`audits.bias`: exposure on the served lists,
accuracy under the protocol (temporal split, train-only history and vectors).
"""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from audits.bias import BiasAuditConfig, audit_bias
from recengine.objectives import OBJECTIVES, SERVED
from recengine.safe_text import html_text, markdown_text
from ui import state
from ui.widgets import style_figure


@st.cache_data(show_spinner=False, max_entries=16)
def _audit(key: str, objective: str, policy: str, n_users: int, k: int, n_boot: int,
           _subject, _policy):
    active = None if objective == SERVED else _subject.objectives.objective(objective)
    return audit_bias(_subject, BiasAuditConfig(n_users=n_users, k=k, n_boot=n_boot),
                      objective=active, policy=_policy)


st.title("Bias and fairness")
st.caption("Whom does the recommender serve well, and what does it show? Popularity bias, "
           "calibration to each user's tastes, diversity, and gaps between user groups.")
subject = state.get_subject()
key = state.model_key()
policy = state.current_policy()
data, _ = state.get_dataset()

c1, c2, c3, c4 = st.columns(4)
objective = c1.selectbox("Ordering", OBJECTIVES, key="bias_objective",
                         help="served: the list users get; the others are alternatives")
n_users = int(c2.number_input("Users sampled", 10, 5000, 200, 10, key="bias_users"))
k = int(c3.number_input("List length (K)", 1, 50, 10, key="bias_k"))
n_boot = int(c4.number_input("Bootstrap resamples", 100, 5000, 300, 100, key="bias_boot"))
with st.spinner("Ranking and measuring…"):
    audit = _audit(key, objective, repr(policy), n_users, k, n_boot, subject, policy)
s = audit.summary
sim_groups = [c for c in ("users.gender", "users.age", "users.occupation", "users.region")
              if c in data.simulated]

st.subheader("Popularity bias and the long tail (served lists)")
m1, m2, m3, m4 = st.columns(4)
m1.metric("Mean popularity shown / in history", f"x{s['popularity_lift']:.2f}")
m2.metric("Long-tail share shown", f"{s['long_tail_share']:.1%}",
          delta=f"{100 * (s['long_tail_share'] - s['history_long_tail_share']):+.1f} "
                "points vs history")
m3.metric("Coverage", f"{s['coverage']:.1%}")
m4.metric("Intra-list diversity", f"{s['intra_list_diversity']:.3f}")
pu = audit.per_user
fig = px.scatter(pu, x="history_popularity", y="rec_popularity", hover_name="user_id",
                 color_discrete_sequence=state.PALETTE)
top = float(max(pu["history_popularity"].max(), pu["rec_popularity"].max()))
fig.add_scatter(x=[0, top], y=[0, top], mode="lines", name="same as history",
                line=dict(color=state.PALETTE[3], dash="dot"))
st.plotly_chart(style_figure(fig, "Popularity of what each user is shown vs what they watched",
                             "mean train popularity of the user's history",
                             "mean train popularity of the recommendations"))
st.caption("Points above the dotted line: the user is shown more popular items than they "
           f"watch. Long tail: items outside the top {audit.config.head_share:.0%} by train "
           "popularity.")

st.subheader("Calibration to each user's genres")
fig = px.histogram(pu.dropna(subset=["calibration_kl"]), x="calibration_kl", nbins=30,
                   color_discrete_sequence=state.PALETTE)
st.plotly_chart(style_figure(fig, "Genre miscalibration per user (KL, history vs list)",
                             "KL(history genres || recommended genres), smoothed",
                             "users"))
st.caption(f"Mean {s['calibration_kl']:.3f}; 0 means the list mirrors the user's genre mix.")

st.subheader("Accuracy and exposure by group")
st.metric(f"Recall@{k} under the protocol", f"{s[f'recall@{k}']:.3f}",
          help=f"{s['users_with_relevant']} users with a relevant test item")
st.caption(f"RMSE {s['rmse']:.3f} over {s['test_ratings']} test ratings. "
           "Intervals: users resampled within groups; the gap interval is simultaneous over "
           "every pair of groups, and Holm's correction runs across every column and metric.")
if sim_groups:
    st.info("Group columns are simulated: " + ", ".join(sim_groups) + ".",
            icon=":material/science:")
if audit.groups.empty:
    st.write("The data records no user groups (gender, age, occupation, region).")
else:
    g1, g2 = st.columns(2)
    column = g1.selectbox("Group by", list(dict.fromkeys(audit.groups["group_column"])),
                          key="bias_group")
    metric = g2.selectbox("Metric", list(dict.fromkeys(audit.groups["metric"])),
                          key="bias_metric")
    sel = audit.groups[(audit.groups["group_column"] == column)
                       & (audit.groups["metric"] == metric)]
    shown = sel[~sel["too_few"]].assign(group=lambda f: f["group"].map(html_text))
    fig = px.bar(shown, x="group", y="value", hover_data=["n_users"],
                 color_discrete_sequence=state.PALETTE,
                 error_y=shown["ci_high"] - shown["value"],
                 error_y_minus=shown["value"] - shown["ci_low"])
    sim_note = " (simulated groups)" if sim_groups else ""
    st.plotly_chart(style_figure(fig, f"{metric} by {column}, 95% interval{sim_note}",
                                 column, metric))
    st.dataframe(sel, hide_index=True)
    few = sel[sel["too_few"]]["group"].tolist()
    if few:
        st.caption(f"Too few users to compare (under {audit.config.min_group_size}): "
                   + ", ".join(markdown_text(g) for g in few) + ".")
    st.markdown("**Gaps between groups** (largest minus smallest group; an interval that "
                "includes 0, or a Holm-adjusted p above 0.05, is not distinguishable from "
                "noise)")
    st.dataframe(audit.gaps, hide_index=True)
for note in audit.notes:
    st.caption(note)
