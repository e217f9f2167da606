"""The two-tower model: its architecture, how it trained, and how well it ranks."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from ui import plain, state, widgets

#: evaluated on open below this size; a button above it, so the page never blocks
AUTO_EVAL_INTERACTIONS = 100_000
AUTO_EVAL_ITEMS = 3_000

st.title("Model")
data, _ = state.get_dataset()
bundle = state.get_bundle()
meta = bundle.metadata


def shape_words(shape) -> str:
    """A Keras output shape for people: ``(None, 256)`` -> ``batch x 256``."""
    return " x ".join("batch" if d is None else f"{d:,}" for d in tuple(shape))


def layer_table(tower) -> pd.DataFrame:
    rows = []
    for layer in tower.layers:
        try:
            shape = shape_words(layer.output.shape)
        except (AttributeError, ValueError, TypeError):
            shape = "unknown"
        rows.append({"layer": layer.name, "type": type(layer).__name__, "output shape": shape,
                     "parameters": layer.count_params() if layer.built else 0})
    return pd.DataFrame(rows)


st.subheader("Architecture")
st.caption("Two networks map user features and item features to 32-d vectors v_u and v_m, "
           "both L2-normalised; the score is v_u·v_m.")
towers = (("User tower", bundle.user_tower), ("Item tower", bundle.item_tower))
cols = st.columns(2)
for col, (name, tower) in zip(cols, towers, strict=True):
    col.metric(name, f"{tower.count_params():,} parameters",
               help=f"{len(tower.layers)} layers; the weights learned from the train split")
with st.expander("Layer by layer (for engineers)", icon=":material/code:"):
    st.caption("\"batch\" is the number of users or items fed at once.")
    cols = st.columns(2)
    for col, (name, tower) in zip(cols, towers, strict=True):
        col.markdown(f"**{name}**")
        widgets.show_table(layer_table(tower), where=col)

st.subheader("Training")
history = meta.get("history", {})
if history:
    # one row per (series, epoch): series may have different lengths (e.g. logged at end)
    long = pd.DataFrame([{"epoch": e, "series": plain.LOSSES.get(name, plain.label(name)),
                          "value": v}
                         for name, values in history.items() if isinstance(values, list)
                         for e, v in enumerate(values, start=1)])
    order = sorted(long["series"].unique(), key=lambda x: (not x.startswith("train"), x))
    fig = px.line(long, x="epoch", y="value", color="series", markers=True,
                  color_discrete_sequence=widgets.PALETTE, category_orders={"series": order})
    widgets.style_figure(fig, "Loss per epoch (train and validation)", "epoch",
                         "loss (lower is better)")
    fig.update_yaxes(rangemode="tozero")
    fig.update_xaxes(dtick=1)
    st.plotly_chart(fig, key="model_curves")
c1, c2, c3 = st.columns(3)
c1.metric("epochs run", meta.get("epochs_run", len(history.get("loss", []))))
c2.metric("best epoch", meta.get("metrics", {}).get("best_epoch", "-"))
c3.metric("training time", f"{meta.get('train_seconds', 0):.1f} s",
          help="wall-clock seconds on the machine that trained it")
st.caption(f"Trained on the protocol's train split ({meta.get('train_interactions', '?'):,} "
           f"ratings) of {meta.get('data_name', data.name)} · model {state.model_key()}")


def metrics_table(result: dict) -> pd.DataFrame:
    k = result.get("k", 10)
    cols = [f"recall@{k}", f"ndcg@{k}", f"coverage@{k}", f"recall@{k}_vs_ease", "rmse", "mae"]
    systems = {n: m for n, m in result.items() if n not in ("split", "k")}
    return pd.DataFrame([{"system": plain.system(n),
                          **{c: (float(m[c]) if m.get(c) is not None else float("nan"))
                             for c in cols}}
                         for n, m in systems.items()])


def show_metrics(table: pd.DataFrame) -> None:
    short = {"recall@10": "Recall, top 10 (%) ↑", "ndcg@10": "NDCG, top 10 ↑",
             "coverage@10": "Coverage, top 10 (%) ↑", "rmse": "RMSE (stars) ↓",
             "mae": "MAE (stars) ↓"}
    widgets.show_table(table, ["system", *short], names=short, medium=("system",))
    st.caption("Recall: % of each user's liked test items in their top 10; NDCG: the same, "
               "weighted by rank, 0-1; coverage: % of the catalogue in anyone's top 10; RMSE "
               "and MAE: rating errors in stars. \"-\": the system does not make that kind of "
               "prediction (ranking baselines predict no rating; the rating baseline ranks "
               "nothing). " + plain.ARROWS)
    with st.expander("What these figures mean, and each system against EASE"):
        widgets.show_table(table, ["system", "recall@10_vs_ease"], medium=("system",))
        st.markdown("\n".join(f"- {plain.JARGON[j]}" for j in
                              ("recall", "ndcg", "coverage@", "rmse", "mae", "ease",
                               "itemknn")))


def metrics_chart(table: pd.DataFrame, key: str) -> None:
    shown = table.dropna(subset=["recall@10"])
    names = {"recall@10": "Recall, top 10 (% of liked test items)",
             "coverage@10": "Coverage, top 10 (% of the catalogue)"}
    ranked = pd.concat([
        pd.DataFrame({"system": shown["system"], "figure": words, "value": 100 * shown[col]})
        for col, words in names.items()])
    fig = px.bar(ranked, x="system", y="value", color="figure", barmode="group",
                 color_discrete_sequence=widgets.PALETTE,
                 category_orders={"figure": list(names.values())})
    widgets.style_figure(fig, "Top-10 quality on the held-out test split", "system",
                         "% (higher is better)")
    fig.update_yaxes(rangemode="tozero")
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
    show_metrics(table)
    metrics_chart(table, "model_eval_chart")
    st.caption("The two-tower model ranks the whole catalogue; the pipeline is what users get "
               "(retrieval, then the ranking stage). \"vs EASE\" is the ratio to EASE's "
               "recall in the same run.")

st.subheader("Data set")
widgets.show_table(plain.summary_frame(data.summary()), wide=("value",))

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
        show_metrics(table)
        metrics_chart(table, "model_cf_chart")
        engine = state.get_engine()
        ids = data.items["item_id"].tolist()
        titles = dict(zip(ids, data.items["title"].tolist(), strict=True))
        item_id = st.selectbox("Related items of", ids, key="cf_item",
                               format_func=lambda i: titles[i])
        left, right = st.columns(2)
        left.markdown("**Two-tower** (nearest v_m)")
        widgets.show_table(engine.similar_items(item_id, 10), ["title", "distance", "item_id"],
                           wide=("title",), where=left)
        idx, dist = cf.related_items(int(data.item_index(item_id)[0]), 10)
        right.markdown("**Collaborative filtering** (nearest x(i))")
        widgets.show_table(pd.DataFrame({"item_id": data.items["item_id"].to_numpy()[idx],
                                         "title": data.items["title"].to_numpy()[idx],
                                         "distance": dist}), ["title", "distance", "item_id"],
                           wide=("title",), where=right)
        st.caption("Squared distances: smaller is more alike; the two models' vectors live in "
                   "different spaces, so compare the lists, not the numbers across them.")
