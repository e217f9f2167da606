"""Retrieval then ranking, made visible: the candidate funnel and how sources overlap."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from ui import state, widgets

STAGE_NAMES = {"merged": "merged, duplicates dropped", "after_watched": "already rated removed",
               "after_policy": "after the content policy", "returned": "returned (ranked top k)"}

st.title("Pipeline")
data, _ = state.get_dataset()
engine = state.get_engine()
policy = state.current_policy()
uid = state.selected_user()
cfg = engine.config.retrieval
st.caption(f"For user {uid}: retrieval takes the {cfg.similar_per_item} most similar items and "
           f"the {cfg.cowatched_per_item} most often watched with each of the last "
           f"{cfg.last_watched} watched, the top {cfg.genre_top} in each of the {cfg.n_genres} "
           f"most watched genres and the top {cfg.region_top} in the user's region (or overall "
           "where no region is known); the model and the ranking stage order what is left.")

result = engine.recommend(uid, k=10, policy=policy)
counts = result.stage_counts
sources = {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("source:")}
stages = [(STAGE_NAMES.get(k, k), v) for k, v in counts.items() if not k.startswith("source:")]

left, right = st.columns(2)
with left:
    fig = go.Figure(go.Bar(x=list(sources.values()), y=list(sources), orientation="h",
                           marker_color=widgets.PALETTE[:len(sources)],
                           text=list(sources.values()), textposition="auto"))
    widgets.style_figure(fig, "Candidates found by each source", "candidates", "source")
    fig.update_yaxes(autorange="reversed")
    st.plotly_chart(fig, key="pipeline_sources")
with right:
    fig = go.Figure(go.Funnel(y=[s for s, _ in stages], x=[v for _, v in stages],
                              marker_color=widgets.PALETTE[0], textinfo="value+percent initial"))
    widgets.style_figure(fig, "Candidate funnel", "candidates", "stage")
    st.plotly_chart(fig, key="pipeline_funnel")
for name, why in result.skipped_sources.items():
    st.info(f"Source {name} skipped: {why}", icon=":material/info:")

st.subheader("Which sources found the same candidates")
everything = engine.recommend(uid, k=max(1, counts.get("after_policy", 1)), policy=policy)
overlap = widgets.source_overlap(everything)
fig = px.bar(overlap, x="items", y="sources", orientation="h", color="n_sources",
             color_continuous_scale=[widgets.PALETTE[5], widgets.PALETTE[0]], text="items")
widgets.style_figure(fig, f"Source combinations among all {len(everything.items)} ranked "
                          "candidates", "candidates", "found by")
fig.update_yaxes(autorange="reversed")
fig.update_coloraxes(showscale=False)
st.plotly_chart(fig, key="pipeline_overlap")
st.caption("Candidates found by several sources are supported by several kinds of evidence; "
           "breadth matters more than precision at this stage.")

st.subheader("How much to retrieve: the offline trade-off")
try:
    from recengine.evaluation.tradeoff import load_tradeoff_table
except ImportError:
    load_tradeoff_table = None
table = load_tradeoff_table() if load_tradeoff_table else None
if table is None or len(table) == 0:
    st.info("The retrieval-size experiment is not available yet (run its bench script to "
            "produce the table).", icon=":material/hourglass_empty:")
else:
    quality = next((c for c in ("recall@10", "ndcg@10", "candidate_recall")
                    if c in table.columns), None)
    cost = next((c for c in ("latency_p50_ms", "candidates", "n_candidates")
                 if c in table.columns), None)
    if quality and cost:
        colour = "similar_per_item" if "similar_per_item" in table.columns else None
        fig = px.scatter(table, x=cost, y=quality,
                         color=table[colour].astype(str) if colour else None,
                         hover_data=list(table.columns), color_discrete_sequence=widgets.PALETTE)
        widgets.style_figure(fig, f"More retrieval: {quality} against {cost}",
                             cost.replace("_", " "), quality)
        if colour:
            fig.update_layout(legend_title_text="similar per item")
        st.plotly_chart(fig, key="pipeline_tradeoff")
    st.dataframe(table, hide_index=True)
