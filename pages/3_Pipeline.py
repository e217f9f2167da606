"""Retrieval then ranking, made visible: the candidate funnel and how sources overlap."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from recengine.evaluation.tradeoff import (
    DEFAULT_TABLE,
    TradeoffSetting,
    default_settings,
    load_tradeoff_table,
    sweep_retrieval,
)
from recengine.split import temporal_split
from ui import plain, state, widgets

STAGE_NAMES = {"merged": "merged, duplicates dropped", "after_watched": "already rated removed",
               "after_policy": "after the content policy", "returned": "returned (ranked top k)"}

FULL = "full catalogue (no retrieval)"


@st.cache_data(show_spinner=False, max_entries=64)
def _sweep_one(key: str, index: int, _settings: list[TradeoffSetting], _data, _bundle):
    """One row of the sweep (the last index: the whole catalogue), cached per model."""
    split = temporal_split(_data.interactions)
    if index < len(_settings):
        return sweep_retrieval(_data, _bundle, split, [_settings[index]], full_catalogue=False)
    return sweep_retrieval(_data, _bundle, split, [], full_catalogue=True)


def computed_tradeoff(key: str, settings: list[TradeoffSetting]) -> pd.DataFrame:
    """The sweep on the data on screen, one setting at a time under a progress bar."""
    data, _ = state.get_dataset()
    bundle = state.get_bundle()
    bar = st.progress(0.0, text="Measuring retrieval settings…")
    rows = []
    for i in range(len(settings) + 1):
        name = settings[i].name if i < len(settings) else FULL
        bar.progress(i / (len(settings) + 1),
                     text=f"Measuring {plain.setting(name)} ({i + 1} of {len(settings) + 1})")
        rows.append(_sweep_one(key, i, settings, data, bundle))
    bar.empty()
    st.session_state.setdefault(f"pipeline_sweep:{key}:at", datetime.now().strftime("%H:%M"))
    return pd.concat(rows, ignore_index=True)


def stored_tradeoff() -> tuple[pd.DataFrame | None, dict]:
    """The bench's table (bench/results/retrieval_tradeoff.csv) and its provenance."""
    meta_path = DEFAULT_TABLE.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        meta = {}
    return load_tradeoff_table(), meta


def stored_words(meta: dict) -> str:
    """Which data set, date and machine the stored table comes from, in words."""
    spec = str(meta.get("data", "an unrecorded data set"))
    scheme, _, arg = spec.partition(":")
    name = f"{arg.rstrip('/').rsplit('/', 1)[-1]} ({scheme})" if arg else spec
    when = meta.get("date", "an unrecorded date")
    machine = meta.get("machine", "")
    note = f" {str(meta['note']).capitalize()}." if meta.get("note") else ""
    return (f"Not the data on screen: measured offline on **{name}** on {when}"
            + (f" ({machine})" if machine else "") + " by bench/retrieval_tradeoff.py."
            + note + " Press the button above to measure it on this data set.")


def tradeoff_figure(table: pd.DataFrame) -> None:
    """Found by retrieval and final Recall@10 against retrieval size, both from zero."""
    rows = table[table["setting"] != FULL]
    long = pd.concat([
        pd.DataFrame({"setting": rows["setting"].map(plain.setting),
                      "candidates": rows["candidates_mean"],
                      "share": 100 * rows[col], "figure": words})
        for col, words in (("candidate_recall", "liked test items found by retrieval"),
                           ("recall@10", "liked test items in the final top 10"))])
    fig = px.scatter(long, x="candidates", y="share", color="figure", symbol="figure",
                     hover_name="setting", color_discrete_sequence=widgets.PALETTE,
                     category_orders={"figure": ["liked test items found by retrieval",
                                                 "liked test items in the final top 10"]})
    widgets.style_figure(fig, "More candidates: what retrieval finds, and what reaches the "
                              "top 10", "candidates retrieved per user (items)",
                         "share of each user's liked test items (%)")
    fig.update_xaxes(rangemode="tozero")
    fig.update_yaxes(range=[0, max(5.0, float(long["share"].max()) * 1.15)])
    st.plotly_chart(fig, key="pipeline_tradeoff")
    full = table[table["setting"] == FULL]
    if len(full):
        st.caption(f"For reference, ranking the whole catalogue with the two-tower model alone "
                   f"puts {100 * float(full['recall@10'].iloc[0]):.1f}% of liked test items "
                   "in the top 10.")


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
st.caption("Each setting widens or narrows retrieval on the same model, then measures how "
           "many of each user's liked test items retrieval found at all, and how many made "
           "the final top 10 after ranking (the protocol's temporal split).",
           help=plain.JARGON["candidate recall"])
key = state.model_key()
flag = f"pipeline_sweep:{key}"
settings = default_settings(data.has_regions)
if st.button("Measure it on this data set", icon=":material/play_arrow:",
             disabled=st.session_state.get(flag, False),
             help=f"{len(settings)} retrieval settings plus the whole catalogue, every user "
                  "of this data once; takes a while on a large data set."):
    st.session_state[flag] = True
if st.session_state.get(flag):
    table = computed_tradeoff(key, settings)
    where = (f"Measured on the data on screen ({data.name}, {data.n_users:,} users, "
             f"{data.n_items:,} items) with the active model, on this server "
             f"at {st.session_state.get(flag + ':at', '')}.")
else:
    table, meta = stored_tradeoff()
    where = stored_words(meta)
if table is None or len(table) == 0:
    st.info("No retrieval-size measurement is stored yet: measure it on this data above, "
            "or run bench/retrieval_tradeoff.py.", icon=":material/hourglass_empty:")
else:
    st.info(where, icon=":material/event_note:")
    tradeoff_figure(table)
    main = ["setting", "candidates_mean", "candidate_recall", "recall@10", "latency_p50_ms"]
    widgets.show_table(table.assign(setting=table["setting"].map(plain.setting)),
                       [c for c in main if c in table.columns], medium=("setting",),
                       names={"candidates_mean": "Candidates per user",
                              "candidate_recall": "Found by retrieval (%) ↑",
                              "recall@10": "In the top 10 (%) ↑",
                              "latency_p50_ms": "Median time (ms) ↓"})
    st.caption("Percentages are of each user's liked test items (rated 4 or more), averaged "
               "over users; the time is one user's request, median, on the machine that "
               "measured it, so it varies with its load. " + plain.ARROWS)
    with st.expander("Every column of the measurement"):
        widgets.show_table(table.assign(setting=table["setting"].map(plain.setting)),
                           wide=("setting",))
