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
from ui import plain, state, widgets
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
m1.metric("Mean popularity shown / in history", f"x{s['popularity_lift']:.2f}",
          help=plain.explain("popularity_lift") + "; popularity = ratings in the train split. "
               "Above 1: users are shown more popular items than they watch.")
m2.metric("Long-tail share shown", f"{s['long_tail_share']:.1%}",
          delta=f"{plain.points(s['long_tail_share'] - s['history_long_tail_share'])} "
                "vs history",
          help=plain.JARGON["long tail"] + " The delta is the difference from the long-tail "
               "share of what they watched, in percentage points.")
m3.metric("Coverage", f"{s['coverage']:.1%}", help=plain.explain("coverage"))
m4.metric("Intra-list diversity", f"{s['intra_list_diversity']:.3f}",
          help=plain.JARGON["diversity"])
pu = audit.per_user
fig = px.scatter(pu, x="history_popularity", y="rec_popularity", hover_name="user_id",
                 color_discrete_sequence=state.PALETTE)
top = float(max(pu["history_popularity"].max(), pu["rec_popularity"].max()))
fig.add_scatter(x=[0, top], y=[0, top], mode="lines", name="same as history",
                line=dict(color=state.PALETTE[3], dash="dot"))
st.plotly_chart(style_figure(fig, "Popularity of what each user is shown vs what they watched",
                             "what the user watched: mean ratings per item (train split)",
                             "what they are shown: mean ratings per item"))
st.caption("Points above the dotted line: the user is shown more popular items than they "
           f"watch. Long tail: items outside the top {audit.config.head_share:.0%} by train "
           "popularity.")

st.subheader("Calibration to each user's genres")
fig = px.histogram(pu.dropna(subset=["calibration_kl"]), x="calibration_kl", nbins=30,
                   color_discrete_sequence=state.PALETTE)
st.plotly_chart(style_figure(fig, "Genre miscalibration per user (KL, history vs list)",
                             "genre miscalibration, KL (0 = the list has the genre mix the "
                             "user watches; lower is better)", "users"))
st.caption(f"Mean {s['calibration_kl']:.3f}. {plain.JARGON['kl']} Smoothed so that a genre "
           "the list misses entirely still gives a finite figure.")

st.subheader("Accuracy and exposure by group")
st.metric(f"Recall@{k} under the protocol", f"{s[f'recall@{k}']:.3f}",
          help=f"{plain.JARGON['recall']} {s['users_with_relevant']} users with a liked "
               "test item; 0-1, higher is better.")
st.caption(f"RMSE {s['rmse']:.3f} stars over {s['test_ratings']} test ratings "
           "(lower is better). Intervals: users resampled within groups (bootstrap); the gap "
           "interval is simultaneous over every pair of groups, and Holm's correction runs "
           "across every column and metric.", help=plain.JARGON["bootstrap"] + " "
           + plain.JARGON["holm"])
if sim_groups:
    st.info("Group columns are simulated: " + ", ".join(plain.name(c) for c in sim_groups) + ".",
            icon=":material/science:")
if audit.groups.empty:
    st.write("The data records no user groups (gender, age, occupation, region).")
else:
    g1, g2 = st.columns(2)
    column = g1.selectbox("Group by", list(dict.fromkeys(audit.groups["group_column"])),
                          key="bias_group", format_func=plain.label)
    metric = g2.selectbox("Metric", list(dict.fromkeys(audit.groups["metric"])),
                          key="bias_metric", format_func=plain.raw_label,
                          help="Recall and RMSE under the protocol; long tail and popularity "
                               "of the served lists")
    sel = audit.groups[(audit.groups["group_column"] == column)
                       & (audit.groups["metric"] == metric)]
    shown = sel[~sel["too_few"]].assign(group=lambda f: f["group"].map(html_text))
    fig = px.bar(shown, x="group", y="value", hover_data=["n_users"],
                 color_discrete_sequence=state.PALETTE,
                 error_y=shown["ci_high"] - shown["value"],
                 error_y_minus=shown["value"] - shown["ci_low"])
    sim_note = " (simulated groups)" if sim_groups else ""
    st.plotly_chart(style_figure(fig, f"{plain.raw_label(metric)} by {plain.label(column)}, "
                                      f"95% interval{sim_note}", plain.label(column),
                                 plain.raw_label(metric)))
    value_name = plain.raw_label(metric)
    widgets.show_table(sel, ["group", "value", "ci_low", "ci_high", "n_users", "too_few"],
                       names={"value": value_name}, medium=("group",))
    few = sel[sel["too_few"]]["group"].tolist()
    if few:
        st.caption(f"Too few users to compare (under {audit.config.min_group_size}): "
                   + ", ".join(markdown_text(g) for g in few) + ".")
    st.markdown("**Gaps between groups** (largest minus smallest group; an interval that "
                "includes 0, or a Holm-adjusted p above 0.05, is not distinguishable from "
                "noise)")
    gaps = audit.gaps.assign(metric=audit.gaps["metric"].map(plain.raw_label),
                             group_column=audit.gaps["group_column"].map(plain.label))
    widgets.show_table(gaps, ["group_column", "metric", "gap", "ci_low", "ci_high", "p_holm",
                              "distinguishable"], wide=("metric",))
    with st.expander("Every column of the gaps"):
        widgets.show_table(gaps, wide=("metric",))
for note in audit.notes:
    st.caption(note)
