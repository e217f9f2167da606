"""The content policy audited: flagged items reaching users with and without it.

A view only: figures come from :mod:`audits.content_filter`, which measures
(rather than assumes) whether engagement amplifies flagged items.
"""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from audits.content_filter import audit_content_filter, block_every_label, label_names
from audits.objectives import ObjectiveAuditConfig
from recengine.policy import ContentPolicy
from recengine.safe_text import markdown_text, safe_csv
from ui import plain, state, widgets
from ui.widgets import style_figure


@st.cache_data(show_spinner=False, max_entries=16)
def _audit(key: str, policy: str, n_users: int, k: int, _objectives, _policy):
    return audit_content_filter(_objectives, _policy, ObjectiveAuditConfig(n_users=n_users, k=k))


st.title("Content filtering")
st.caption("Maximising engagement can amplify harmful content because it engages. Does it "
           "here? And what does filtering cost each objective?")
key = state.model_key()
objectives = state.get_objectives()
biz = objectives.business
labels = label_names(biz.labels)
labels_sim = "labels" in biz.simulated
if labels_sim:
    st.info("Content labels are simulated (" + biz.provenance["labels"] + "): the figures "
            "show the mechanism, not real content. The policy filters these same labels.",
            icon=":material/science:")

sidebar_policy = state.current_policy()
choices = ["Every label blocked", "The sidebar's policy", "Edit a policy here"]
source = st.radio("Policy to compare with no policy", choices, horizontal=True,
                  key="cf_source")
if source == "Edit a policy here":
    c1, c2, c3 = st.columns([2, 2, 1])
    blocked = c1.multiselect("Block content labels", labels, default=labels[:1],
                             key="cf_labels")
    data, _ = state.get_dataset()
    genres = c2.multiselect("Block genres", data.genre_names, key="cf_genres")
    action = c3.radio("Blocked items are", ["remove", "demote"], key="cf_action")
    policy = ContentPolicy(blocked_labels=tuple(blocked), blocked_genres=tuple(genres),
                           action=action)
elif source == "The sidebar's policy":
    policy = sidebar_policy
else:
    policy = block_every_label(objectives)
st.markdown(f"**Policy:** {markdown_text(policy.describe())}")
if policy.is_empty:
    st.warning("This policy has no rules, so with and without are the same list.")
c1, c2 = st.columns(2)
n_users = int(c1.number_input("Users sampled", 10, 5000, 100, 10, key="cf_users"))
k = int(c2.number_input("List length (K)", 1, 50, 10, key="cf_k"))

with st.spinner("Ranking with and without the policy…"):
    audit = _audit(key, repr(policy), n_users, k, objectives, policy)

amp = audit.amplification
st.subheader("Does engagement amplify flagged items?" + (" (simulated labels)"
                                                          if labels_sim else ""))
m1, m2, m3, m4 = st.columns(4)
m1.metric("Flagged share of the catalogue", f"{amp.catalogue_share:.1%}",
          help="items carrying any content label, as a share of all items")
m2.metric("Shown in the served lists", f"{amp.shares['served']:.1%}",
          help="share of shown slots holding a flagged item, without any policy")
m3.metric("Shown if ranked by engagement", f"{amp.shares['engagement']:.1%}",
          delta=f"x{amp.ratio_vs_served():.2f} vs served", delta_color="inverse",
          help="the same share if lists were ordered by expected watch time; the delta is "
               "how many times the served share it is (lower is better)")
m4.metric("Among retrieved candidates", f"{amp.candidate_share:.1%}",
          help="share of retrieved candidates (before ranking) that are flagged")
counts = audit.counts
st.markdown(f"**What users would have seen:** in the served top {counts['k']} of "
            f"{counts['users']} users, the policy emptied **{counts['shown_slots_removed']}** "
            f"shown slots and demoted **{counts['shown_slots_demoted']}**; in all it caught "
            f"{counts['candidates_caught']} candidates in the retrieval pools, most of which "
            "would never have been shown.")
comp = audit.comparison
fig = px.bar(comp.assign(flagged_share=100 * comp["flagged_share"]), x="objective",
             y="flagged_share", color="policy", barmode="group",
             color_discrete_sequence=state.PALETTE,
             category_orders={"policy": ["without", "with"]},
             labels={"policy": "policy", "flagged_share": plain.label("flagged_share")})
fig.add_hline(y=100 * amp.catalogue_share, line_dash="dot", annotation_text="catalogue share")
st.plotly_chart(style_figure(fig, "Share of shown slots holding a flagged item, with and "
                             "without the policy" + (" (simulated labels)" if labels_sim
                                                     else ""),
                             "objective", "flagged items (% of shown slots, lower is "
                                          "better)"))
st.caption(f"{len(audit.users)} users, top {k}. The dotted line is the flagged share of the "
           "whole catalogue.")

st.subheader("With vs without the policy")
widgets.show_table(comp, ["objective", "policy", "flagged_share", "users_with_flagged_share",
                          "mean_predicted_rating"])
st.caption(plain.ARROWS + " What the policy costs in watch time and revenue is below.")
with st.expander("Counts, watch time and revenue, with and without"):
    widgets.show_table(comp, ["objective", "policy", "flagged_slots", "flagged_items",
                              "users_with_flagged", "expected_watch_minutes",
                              "expected_profit"])
    st.caption("Watch time and revenue are expected values per shown slot; revenue in the "
               "currency units of the item prices.")
st.markdown("**What the policy costs each objective, in its own terms**")
cost = audit.cost.assign(measure=audit.cost["measure"].map(plain.label))
widgets.show_table(cost, wide=("measure",))
st.caption("Lost = without minus with, in the measure's own unit; a negative loss is a gain.")
if audit.simulated:
    st.caption("Watch minutes and profit rest on simulated columns: "
               + ", ".join(plain.name(c) for c in audit.simulated) + ".")

st.subheader("Every candidate removed or demoted, with its rule")
if audit.actions.empty:
    st.write("The policy acted on nothing for these users.")
else:
    actions = audit.actions.assign(rule=audit.actions["rule"].map(plain.rule))
    grouped = actions.groupby(["rule", "action"]).size().rename("items").reset_index()
    widgets.show_table(grouped, names={"items": "Candidates caught"}, wide=("rule",))
    shown_cols = [c for c in actions.columns if c.startswith("shown_without_")]
    served_col = "shown_without_served"
    widgets.show_table(actions, ["user_id", "title", "action", "rule", served_col]
                       if served_col in actions.columns else None, wide=("title",),
                       names={served_col: "Would be in the served top list"})
    with st.expander("Would each objective have shown it without the policy?"):
        widgets.show_table(actions, ["user_id", "title", *shown_cols],
                           names={c: c.removeprefix("shown_without_") for c in shown_cols},
                           wide=("title",))
        st.caption("A tick: the item would have been in that objective's top list for that "
                   "user without the policy.")
    st.download_button("Download the actions (CSV)", safe_csv(audit.actions),
                       "policy_actions.csv", "text/csv", icon=":material/download:")
