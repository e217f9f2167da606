"""The two-tower model: its architecture, how it trained, and how well it ranks."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from ui import state, widgets

#: evaluated on open below this size; a button above it, so the page never blocks
AUTO_EVAL_INTERACTIONS = 100_000
AUTO_EVAL_ITEMS = 3_000

st.title("Model")
data, _ = state.get_dataset()
bundle = state.get_bundle()
meta = bundle.metadata


def layer_table(tower) -> pd.DataFrame:
    rows = []
    for layer in tower.layers:
        try:
            shape = str(tuple(layer.output.shape))
        except (AttributeError, ValueError):
            shape = "?"
        rows.append({"layer": layer.name, "type": type(layer).__name__, "output shape": shape,
                     "parameters": layer.count_params() if layer.built else 0})
    return pd.DataFrame(rows)


st.subheader("Architecture")
st.caption("Two networks map user features and item features to 32-d vectors v_u and v_m, "
           "both L2-normalised; the score is v_u·v_m.")
cols = st.columns(2)
for col, (name, tower) in zip(cols, (("User tower", bundle.user_tower),
                                     ("Item tower", bundle.item_tower)), strict=True):
    col.markdown(f"**{name}** · {tower.count_params():,} parameters")
    col.dataframe(layer_table(tower), hide_index=True)

st.subheader("Training")
history = meta.get("history", {})
if history:
    # one row per (series, epoch): series may have different lengths (e.g. logged at end)
    long = pd.DataFrame([{"epoch": e, "series": name, "value": v}
                         for name, values in history.items() if isinstance(values, list)
                         for e, v in enumerate(values, start=1)])
    fig = px.line(long, x="epoch", y="value", color="series", markers=True,
                  color_discrete_sequence=widgets.PALETTE)
    widgets.style_figure(fig, "Loss per epoch (train and validation)", "epoch", "loss")
    fig.update_xaxes(dtick=1)
    st.plotly_chart(fig, key="model_curves")
c1, c2, c3 = st.columns(3)
c1.metric("epochs run", meta.get("epochs_run", len(history.get("loss", []))))
c2.metric("best epoch", meta.get("metrics", {}).get("best_epoch", "-"))
c3.metric("training time", f"{meta.get('train_seconds', 0):.1f} s")
st.caption(f"Trained on the protocol's train split ({meta.get('train_interactions', '?'):,} "
           f"ratings) of {meta.get('data_name', data.name)} · model {state.model_key()}")


def metrics_table(result: dict) -> pd.DataFrame:
    k = result.get("k", 10)
    cols = [f"recall@{k}", f"ndcg@{k}", f"coverage@{k}", f"recall@{k}_vs_ease", "rmse", "mae"]
    systems = {n: m for n, m in result.items() if n not in ("split", "k")}
    return pd.DataFrame([{"system": n, **{c: m.get(c) for c in cols}}
                         for n, m in systems.items()])


def metrics_chart(table: pd.DataFrame, key: str) -> None:
    ranked = table.dropna(subset=["recall@10"]).melt(
        "system", value_vars=["recall@10", "ndcg@10"], var_name="metric")
    fig = px.bar(ranked, x="system", y="value", color="metric", barmode="group",
                 color_discrete_sequence=widgets.PALETTE)
    widgets.style_figure(fig, "Top-10 quality on the held-out test split", "system",
                         "value (higher is better)")
    st.plotly_chart(fig, key=key)


st.subheader("Evaluation (the offline protocol, beside the baselines)")
small = len(data.interactions) <= AUTO_EVAL_INTERACTIONS and data.n_items <= AUTO_EVAL_ITEMS
flag = f"eval_requested:{state.model_key()}"
if not small and not st.session_state.get(flag):
    st.caption("This data is large: the evaluation (EASE, item-kNN, the pipeline...) takes a "
               "while, so it runs on request.")
    if st.button("Run evaluation", icon=":material/play_arrow:"):
        st.session_state[flag] = True
if small or st.session_state.get(flag):
    with st.spinner("Evaluating the model and the baselines on the test split…"):
        result = state.evaluation()
    s = result["split"]
    st.caption(f"Per-user temporal split: {s['train']:,} train / {s['test']:,} test ratings; "
               f"{s['users_with_relevant']:,} users with a relevant (>= 4) test item.")
    table = metrics_table(result)
    st.dataframe(table, hide_index=True, column_config={
        c: st.column_config.NumberColumn(format="%.4f") for c in table.columns if c != "system"})
    metrics_chart(table, "model_eval_chart")
    st.caption("two_tower ranks the whole catalogue; pipeline is what users get (retrieval, then "
               "ranking). recall@10_vs_ease is the ratio to EASE from the same run.")

st.subheader("Data set")
summary = data.summary()
st.dataframe(pd.DataFrame({"value": [str(v) for v in summary.values()]},
                          index=list(summary)), column_config={"_index": "field"})

st.subheader("Collaborative filtering beside the two-tower model")
try:
    import recengine.cf  # noqa: F401
    has_cf = True
except ImportError:
    has_cf = False
if not has_cf:
    st.info("Collaborative filtering is not available yet.")
else:
    cf_flag = f"cf_requested:{data.fingerprint}"
    st.caption("Collaborative filtering learns item vectors x(i) from ratings alone: no genres, "
               "no demographics, so it cannot place a new item.")
    if not st.session_state.get(cf_flag) and st.button("Train collaborative filtering and "
                                                       "compare", icon=":material/compare:"):
        st.session_state[cf_flag] = True
    if st.session_state.get(cf_flag):
        with st.spinner("Training collaborative filtering and evaluating both…"):
            compared = state.evaluation(with_cf=True)
            cf = state.cf_model()
        table = metrics_table(compared)
        st.dataframe(table, hide_index=True, column_config={
            c: st.column_config.NumberColumn(format="%.4f") for c in table.columns
            if c != "system"})
        metrics_chart(table, "model_cf_chart")
        engine = state.get_engine()
        ids = data.items["item_id"].tolist()
        titles = dict(zip(ids, data.items["title"].tolist(), strict=True))
        item_id = st.selectbox("Related items of", ids, key="cf_item",
                               format_func=lambda i: titles[i])
        left, right = st.columns(2)
        left.markdown("**Two-tower** (nearest v_m)")
        left.dataframe(engine.similar_items(item_id, 10), hide_index=True)
        idx, dist = cf.related_items(int(data.item_index(item_id)[0]), 10)
        right.markdown("**Collaborative filtering** (nearest x(i))")
        right.dataframe(pd.DataFrame({"item_id": data.items["item_id"].to_numpy()[idx],
                                      "title": data.items["title"].to_numpy()[idx],
                                      "distance": dist}), hide_index=True)
