"""The served order against predicted rating, engagement, profit and a blend.

A view only: every figure comes from :mod:`audits.objectives`, :mod:`audits.tradeoff`
and :mod:`audits.compare`; heavy work is cached by its inputs.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from audits.compare import compare_user
from audits.objectives import ObjectiveAuditConfig, audit_objectives
from audits.tradeoff import tradeoff_sweep
from recengine.objectives import DEFAULT_WEIGHTS, OBJECTIVES, SERVED
from ui import plain, state, widgets
from ui.widgets import style_figure


@st.cache_data(show_spinner=False, max_entries=16)
def _audit(key: str, n_users: int, k: int, weights: tuple, policy: str, _objectives, _policy):
    cfg = ObjectiveAuditConfig(n_users=n_users, k=k, weights=dict(weights))
    return audit_objectives(_objectives, cfg, _policy)


@st.cache_data(show_spinner=False, max_entries=16)
def _sweep(key: str, n_users: int, k: int, steps: int, policy: str, _objectives, _policy):
    return tradeoff_sweep(_objectives, ObjectiveAuditConfig(n_users=n_users, k=k), steps,
                          _policy)


@st.cache_data(show_spinner=False, max_entries=64)
def _compare(key: str, user: int, k: int, weights: tuple, policy: str, _objectives, _policy):
    return compare_user(_objectives, user, k, _policy, dict(weights))


st.title("Objectives")
st.caption("The objective is a choice. The **served** list is what users get (the learned "
           "ranking stage); predicted rating, expected watch time, expected profit and a blend "
           "you set are alternatives, each ordering the very same candidates.")
key = state.model_key()
objectives = state.get_objectives()
policy = state.current_policy()
sim = objectives.simulated_columns
sim_note = " (simulated)" if sim else ""
if sim:
    st.info("Simulated business columns: " + ", ".join(plain.name(c) for c in sim) + ". "
            "Watch minutes, profit, "
            "flagged and sponsored figures describe the mechanism, not the real world.",
            icon=":material/science:")
st.markdown(f"**Served order.** {objectives.engine.served_objective.rule}.")

with st.expander("Blend weights and sample", expanded=True, icon=":material/tune:"):
    c1, c2, c3 = st.columns(3)
    w_r = c1.slider("Predicted rating", 0.0, 1.0, DEFAULT_WEIGHTS["rating"], 0.05,
                    key="obj_w_rating")
    w_e = c2.slider("Engagement", 0.0, 1.0, DEFAULT_WEIGHTS["engagement"], 0.05,
                    key="obj_w_engagement")
    w_p = c3.slider("Profit", 0.0, 1.0, DEFAULT_WEIGHTS["profit"], 0.05, key="obj_w_profit")
    c4, c5 = st.columns(2)
    n_users = int(c4.number_input("Users sampled", 10, 5000, 100, 10, key="obj_users"))
    k = int(c5.number_input("List length (K)", 1, 50, 10, key="obj_k"))
weights = (("rating", w_r), ("engagement", w_e), ("profit", w_p))
if w_r + w_e + w_p <= 0:
    st.warning("All blend weights are zero: the blend uses the default weights.")
    weights = tuple(DEFAULT_WEIGHTS.items())
st.caption(f"Each blend component is scaled to [0, 1] over a user's candidates. "
           f"{objectives.watch.describe()}. {policy.describe()}",
           help="P(watch): the chance a user watches an item, read from the model's score "
                "through a logistic (sigmoid) curve fitted on watched and random "
                "user-item pairs; expected watch time = P(watch) x the item's minutes.")

with st.spinner("Ranking the sampled users under every objective…"):
    audit = _audit(key, n_users, k, weights, repr(policy), objectives, policy)

st.subheader("What each objective shows, against the served list")
MAIN = ["objective", "mean_predicted_rating", "expected_watch_minutes", "expected_profit",
        "flagged_share", "overlap_with_served"]
MORE = ["objective", "sponsored_share", "long_tail_share", "exposure_gini",
        "intra_list_diversity", "coverage"]
metrics = audit.metrics.reset_index()
widgets.show_table(metrics, MAIN)
st.caption(f"{len(audit.users)} users, top {k}; watch time and revenue are expected values per "
           f"shown slot, revenue in the currency units of the item prices{sim_note}. "
           + plain.ARROWS)
with st.expander("More figures: sponsored, long tail, exposure, variety, coverage"):
    widgets.show_table(metrics, MORE)
    st.markdown("\n".join(f"- {plain.JARGON[j]}" for j in
                          ("jaccard", "gini", "long tail", "diversity")))
if audit.simulated:
    st.caption("Rests on simulated columns: " + "; ".join(
        f"{plain.name(fig)} ({', '.join(plain.name(c) for c in cols)})"
        for fig, cols in audit.simulated.items())
        + ".")
with st.expander("Each objective's ordering rule"):
    for name, rule in audit.rules.items():
        st.markdown(f"- **{name}**: {rule}")
fig = px.imshow(audit.overlap, text_auto=".2f", color_continuous_scale="Cividis",
                zmin=0, zmax=1)
st.plotly_chart(style_figure(fig, "List overlap between objectives (mean Jaccard: 1 = the "
                             "same items, 0 = none in common)", "objective", "objective", 360))

st.subheader("Trade-off: user value against profit and engagement")
steps = st.select_slider("Grid steps per weight", [3, 4, 5, 6], 5, key="obj_steps")
with st.spinner("Sweeping blend weights…"):
    sweep = _sweep(key, n_users, k, int(steps), repr(policy), objectives, policy)
labels = [SERVED if s == SERVED else f"r {a:.2f} / e {b:.2f} / p {c:.2f}"
          for s, a, b, c in sweep[["setting", "w_rating", "w_engagement", "w_profit"]].to_numpy()]
sweep = sweep.assign(weights=labels)
left, right = st.columns(2)
for col, (ycol, front, label) in zip(
        (left, right),
        (("expected_profit", "pareto_rating_profit",
          f"{plain.label('expected_profit')}{sim_note}"),
         ("expected_watch_minutes", "pareto_rating_engagement",
          f"{plain.label('expected_watch_minutes')}{sim_note}")), strict=True):
    kind = [SERVED if s == SERVED else ("Pareto front" if f else "dominated")
            for s, f in zip(sweep["setting"], sweep[front], strict=True)]
    frame = sweep.assign(front=kind)
    fig = px.scatter(frame, x="mean_predicted_rating", y=ycol, color="front", symbol="front",
                     hover_name="weights", color_discrete_sequence=state.PALETTE,
                     category_orders={"front": [SERVED, "Pareto front", "dominated"]})
    on_front = frame[frame[front]].sort_values("mean_predicted_rating")
    fig.add_scatter(x=on_front["mean_predicted_rating"], y=on_front[ycol], mode="lines",
                    line=dict(color=state.PALETTE[1], dash="dot"), name="front",
                    showlegend=False)
    col.plotly_chart(style_figure(fig, f"Predicted rating vs {label.split(' (')[0].lower()}",
                                  "mean predicted rating (stars; the value to users)", label))
st.caption("Each point is one blend weight setting, plus the served order; the dotted line "
           "joins the blends no other blend beats on both axes."
           + (" Profit and watch minutes are simulated." if sim else ""))
with st.expander("Sweep table"):
    widgets.show_table(sweep, ["weights", "mean_predicted_rating", "expected_watch_minutes",
                               "expected_profit", "pareto_rating_profit",
                               "pareto_rating_engagement", "pareto"], wide=("weights",))
    st.caption("Weights: r = predicted rating, e = expected watch time, p = expected revenue. "
               + plain.JARGON["pareto"])

st.subheader("One user: the served list beside each alternative")
user = state.selected_user()
st.caption(f"User {user} (the sidebar's user; kept in the link as ?user=).")
cmp = _compare(key, int(user), k, weights, repr(policy), objectives, policy)
others = [o for o in OBJECTIVES if o != SERVED]
other = st.selectbox("Compare the served list with", others, key="obj_compare",
                     format_func=lambda o: f"{o}: {audit.rules.get(o, '')}"[:90])
left, right = st.columns(2)
for col, name in ((left, SERVED), (right, other)):
    col.markdown(f"**{name}**" + (" (what users get)" if name == SERVED else ""))
    widgets.show_table(cmp.lists[name], ["rank", "title", "predicted_rating"],
                       names={"predicted_rating": "Predicted (stars)"}, narrow=("rank",),
                       where=col)
st.markdown(f"**What {other} promoted or dropped relative to the served list, and why**"
            + sim_note)
changes = cmp.changes
mine = changes[changes["objective"] == other] if len(changes) else changes
if len(mine):
    widgets.show_table(mine, ["change", "title", "reason"], wide=("reason",),
                       narrow=("change",))
else:
    st.write(f"The {other} list holds the same items as the served one.")
with st.expander("All five lists side by side, and every change"):
    side = pd.DataFrame({"rank": cmp.lists[SERVED]["rank"].to_numpy()})
    for name in OBJECTIVES:
        titles = cmp.lists[name]["title"].to_numpy()
        side[name] = pd.Series(titles).reindex(range(len(side))).to_numpy()
    widgets.show_table(side, names={o: o for o in OBJECTIVES}, narrow=("rank",))
    if len(changes):
        widgets.show_table(changes, ["objective", "change", "title", "reason", "item_id"],
                           wide=("reason",))
