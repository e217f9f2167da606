"""Feedback loops, simulated: what the system does over rounds when it learns from its own logs.

A view only: the simulation is :mod:`audits.simulation` (users choose by the
synthetic data's planted tastes; the system is the served pipeline learning
from what it logged). It needs planted truth, so on real data the page offers
a synthetic data set of the same size instead. Results are cached by their
settings; every figure on this page is simulated and says so.
"""

from __future__ import annotations

from collections import OrderedDict

import plotly.graph_objects as go
import streamlit as st

from audits.simulation import ORACLE, SimulationConfig, World, run_study, study_arms
from audits.simulation_config import MITIGATIONS
from audits.simulation_metrics import MEASURES, OUTCOMES
from audits.simulation_summary import OWN_TERMS, cost_table, summarise
from audits.simulation_world import NoGroundTruth
from recengine.data import load_source
from recengine.data.synthetic import SyntheticConfig
from recengine.model_store import ModelStore, config_hash
from recengine.objectives import BASE_OBJECTIVES, DEFAULT_WEIGHTS, OBJECTIVES, PLAIN
from recengine.safe_text import markdown_text
from ui import state
from ui.widgets import PALETTE, style_figure

SIM = " (simulated)"
KEEP_RESULTS = 16
STAND_IN = "fl_stand_in"  # session: spec of the synthetic stand-in for real data
ARM_STYLE = {"unmitigated": (PALETTE[3], "solid"), "mitigated": (PALETTE[0], "solid"),
             ORACLE: ("#777777", "dot")}


@st.cache_resource(show_spinner=False, max_entries=1)
def _results() -> OrderedDict:
    """Studies by their settings, shared by every session (oldest dropped first)."""
    return OrderedDict()


@st.cache_resource(show_spinner=False, max_entries=2)
def _active_world(key: str, _data, _bundle, _train_config) -> World:
    return World.from_data(_data, _bundle, _train_config)


@st.cache_resource(show_spinner=False, max_entries=1)
def _stand_ins() -> dict:
    """Worlds of synthetic stand-ins for real data, by spec and training config."""
    return {}


def stand_in_world(spec: str, train_config) -> World:
    """The stand-in's world: its model loaded from, or trained into, the app's model store."""
    worlds, key = _stand_ins(), f"{spec}|{config_hash(train_config)}"
    if key not in worlds:
        data = load_source(spec)
        bar = st.progress(0.0, text="Preparing a model for the synthetic stand-in…")

        def report(event: dict) -> None:
            done = ((event["epoch"] - 1) + event["step"] / max(event["steps"], 1)) / max(
                event["epochs"], 1)
            bar.progress(min(done, 1.0), text=f"Training on the synthetic stand-in (first run "
                                              f"only): epoch {event['epoch']}/{event['epochs']}")

        try:
            bundle = ModelStore().get_or_train(data, train_config, progress=report)
        finally:
            bar.empty()
        worlds[key] = World.from_data(data, bundle, train_config)
    return worlds[key]


def world_for_page() -> World | None:
    """The active synthetic data's world, or the stand-in the visitor asked for, or None."""
    data, _ = state.get_dataset()
    cfg = state.train_config()
    why = f"**{markdown_text(data.name)}** has none: it is not synthetic"
    if (data.source or "").partition(":")[0] == "synthetic":
        try:
            return _active_world(state.model_key(), data, state.get_bundle(), cfg)
        except NoGroundTruth as exc:
            why = markdown_text(exc)
    st.info("The simulator needs planted truth (what each user really likes, which "
            f"advertiser harms them), and {why}. It can run on a synthetic data set of the "
            f"same size ({data.n_users:,} users, {data.n_items:,} items) instead.",
            icon=":material/science:")
    spec = SyntheticConfig(n_users=max(data.n_users, 1), n_items=max(data.n_items, 2)).spec()
    if st.button("Use a synthetic data set of the same size", key="fl_use_synthetic"):
        st.session_state[STAND_IN] = spec
    if st.session_state.get(STAND_IN) != spec:
        return None
    return stand_in_world(spec, cfg)


def band_chart(bands, measure: str, arms: list[str]) -> go.Figure:
    """One measure per round: a line per arm with its shaded 95% interval over seeds."""
    fig = go.Figure()
    for arm in arms:
        b = bands[(bands["arm"] == arm) & (bands["measure"] == measure)]
        colour, dash = ARM_STYLE.get(arm, (PALETTE[2], "dash"))
        x = b["round"].tolist()
        fig.add_trace(go.Scatter(x=x + x[::-1], y=b["high"].tolist() + b["low"].tolist()[::-1],
                                 fill="toself", fillcolor=colour, opacity=0.15,
                                 line=dict(width=0), hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(x=x, y=b["mean"], name=arm, mode="lines+markers",
                                 line=dict(color=colour, dash=dash)))
    return style_figure(fig, MEASURES.get(measure, OUTCOMES.get(measure, measure)) + SIM,
                        "round", measure, height=320)


st.title("Feedback loops")
st.caption("Two loops of the course, simulated: an advertiser that profits more bids more and "
           "gets more traffic; engagement maximisation shows more of what engages, harmful "
           "or not. Simulated users choose from each round's lists by planted tastes; the "
           "system learns only from what it logged, then serves the next round.")
world = world_for_page()
if world is None:
    st.stop()
syn = world.synthetic
st.info(f"Every figure on this page is simulated, on synthetic data "
        f"({markdown_text(world.data.source)}) with planted truth.", icon=":material/science:")

c1, c2, c3, c4 = st.columns(4)
objective = c1.selectbox("Objective", OBJECTIVES, index=OBJECTIVES.index("blend"),
                         format_func=lambda o: f"{o}: {PLAIN.get(o, 'a blend you set')}",
                         key="fl_objective")
rounds = int(c2.number_input("Rounds", 1, 50, 10, key="fl_rounds"))
seeds = int(c3.number_input("Seeds", 1, 10, 3, key="fl_seeds"))
n_users = int(c4.number_input("Users simulated", 1, world.data.n_users,
                              min(200, world.data.n_users), key="fl_users"))
weights = tuple(float(DEFAULT_WEIGHTS[o]) for o in BASE_OBJECTIVES)
if objective == "blend":
    cols = st.columns(3)
    weights = tuple(cols[j].slider(f"Blend weight: {o}", 0.0, 1.0, 1.0 if o != "rating" else 0.0,
                                   0.05, key=f"fl_w_{o}") for j, o in enumerate(BASE_OBJECTIVES))
    if sum(weights) <= 0:
        st.error("Give at least one blend weight a positive value.")
        st.stop()

left, right = st.columns(2)
with left:
    st.markdown("**Loops**")
    bid_loop = st.checkbox("Bids → traffic → bids: advertisers raise bids with profit",
                           True, key="fl_bid_loop")
    engagement_loop = st.checkbox("Engagement → exposure: the engagement estimate learns "
                                  "from what was shown", True, key="fl_engagement_loop")
    with st.expander("What is planted", icon=":material/science:"):
        exploitative = st.checkbox("Advertiser 0 is exploitative (high margin, lower true "
                                   "satisfaction)", True, key="fl_exploitative")
        boost = st.slider("Extra pull of flagged items (the data plants "
                          f"{syn.harm_engagement_boost:g})", 0.0, 3.0,
                          float(syn.harm_engagement_boost), 0.1, key="fl_boost")
    with st.expander("What the system learns", icon=":material/school:"):
        st.caption("Every round: the statistics the pipeline reads (top lists, popularity, "
                   "co-watch counts, user and item features, P(watch)), the engagement "
                   "estimate and the bids, when their loops are on.")
        retrain = int(st.number_input("Also retrain towers and ranking stage from scratch "
                                      "every R rounds (0: never; slow)", 0, 50, 0,
                                      key="fl_retrain"))
with right:
    st.markdown("**Mitigations**")
    refuse = st.checkbox(MITIGATIONS["refuse"], True, key="fl_refuse")
    content = st.checkbox(MITIGATIONS["filter"], True, key="fl_filter")
    diversity = st.slider("Diversity (MMR strength, 0: off)", 0.0, 1.0, 0.0, 0.05,
                          key="fl_diversity")
    exploration = st.slider("Exploration (share of slots to random candidates, 0: off)",
                            0.0, 1.0, 0.0, 0.1, key="fl_exploration")

cfg = SimulationConfig(rounds=rounds, n_users=n_users, objective=objective, weights=weights,
                       bid_loop=bid_loop, exploitative=exploitative,
                       engagement_loop=engagement_loop, boost=boost,
                       refuse_exploitative=refuse, content_filter=content,
                       diversity=diversity, exploration=exploration, retrain_every=retrain)
arms = study_arms(cfg)
key = (world.data.fingerprint, repr(sorted((a, repr(c)) for a, c in arms.items())), seeds)
results = _results()
st.caption(f"{len(arms)} arm{'s' if len(arms) > 1 else ''} ({', '.join(arms)}) and the "
           f"oracle, {seeds} seed{'s' if seeds > 1 else ''} each, {rounds} rounds of "
           f"{n_users} users.")
if key not in results:
    if not st.button("Run the simulation", type="primary", icon=":material/play_arrow:",
                     key="fl_run"):
        st.stop()
    bar = st.progress(0.0, text="Simulating…")
    study = run_study(world, arms, list(range(seeds)),
                      progress=lambda f, t: bar.progress(min(f, 1.0), text=t + SIM))
    bar.empty()
    results[key] = study
    while len(results) > KEEP_RESULTS:
        results.popitem(last=False)
study = results[key]
results.move_to_end(key)

st.subheader("What happened" + SIM)
st.markdown("\n".join(f"- {markdown_text(s)}" for s in summarise(study, objective)))
st.markdown("**What the system learned each round:**")
st.markdown("\n".join(f"- {markdown_text(s)}" for s in study.run("unmitigated").learned))

bands = study.bands()
shown = [a for a in ("unmitigated", "mitigated", ORACLE) if a in study.arms]
names = list(MEASURES)
for start in range(0, len(names), 2):
    cols = st.columns(2)
    for col, measure in zip(cols, names[start:start + 2], strict=False):
        col.plotly_chart(band_chart(bands, measure, shown), key=f"fl_chart_{measure}")
st.caption("Lines: mean over seeds; shaded: 95% interval over seeds. The oracle recommends "
           "each user's most satisfying unseen items by planted truth.")

st.subheader("What each mitigation cost, in the objective's own terms" + SIM)
costs = cost_table(study, objective)
if costs.empty:
    st.write("No mitigation is on: nothing to compare.")
else:
    st.dataframe(costs, hide_index=True)
with st.expander("Business outcomes per round" + SIM, icon=":material/payments:"):
    for measure in OWN_TERMS[objective]:
        st.plotly_chart(band_chart(bands, measure, shown), key=f"fl_outcome_{measure}")
