"""Choose the data: synthetic demo, MovieLens folders, an uploaded CSV bundle, a download.

A new source becomes active only once it has loaded, passed validation and a
model has trained on it; until then the previous data and model stay active.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from recengine.data.synthetic import SyntheticConfig
from recengine.safe_text import markdown_text
from ui import plain, state, widgets

st.title("Data")
notice = state.pop_data_notice()
if notice:
    st.error(notice, icon=":material/error:")

data, fallback = state.get_dataset()
st.markdown(f"**Active:** {markdown_text(data.name)} · {markdown_text(data.source)}")
if fallback:
    st.warning(fallback, icon=":material/cloud_off:")

DEMO = state.demo_mode()
SYNTHETIC, LATEST, ML100K = "Synthetic demo", "MovieLens latest (folder)", "MovieLens 100K (folder)"
UPLOAD, DOWNLOAD, KNOWN = "Upload a CSV bundle", "Download MovieLens", "A known data set"
KINDS = [SYNTHETIC, LATEST, ML100K, UPLOAD, DOWNLOAD]
if DEMO:  # a hosted demo reads no server paths: synthetic, known sets, capped uploads
    KINDS = [SYNTHETIC, KNOWN, UPLOAD]
    st.info("This is a hosted demo: it reads no folders on the server. Pick the synthetic "
            f"data, a known data set, or upload a CSV bundle of up to {state.DEMO_UPLOAD_MB} "
            "MB.", icon=":material/public:")
kind = st.radio("Source", KINDS, key="data_kind", horizontal=True)

spec: str | None = None
files: dict[str, bytes] | None = None
if kind == SYNTHETIC:
    default = SyntheticConfig()
    most_users, most_items = ((state.DEMO_SYNTHETIC_MAX, state.DEMO_SYNTHETIC_MAX) if DEMO
                              else (200_000, 1_000_000))
    c1, c2, c3 = st.columns(3)
    users = c1.number_input("Users", 10, most_users, default.n_users, step=100, key="syn_users")
    items = c2.number_input("Items", 10, most_items, default.n_items, step=100, key="syn_items")
    seed = c3.number_input("Seed", 0, 10_000, default.seed, key="syn_seed",
                           help="the same seed makes the same data")
    spec = SyntheticConfig(n_users=int(users), n_items=int(items), seed=int(seed)).spec()
elif kind == KNOWN:
    known = {state.default_spec(): f"The data this server starts with ({state.default_spec()})",
             **state.DEMO_KNOWN}
    spec = st.selectbox("Data set", list(known), format_func=known.get, key="known_spec")
    st.caption("Downloads come from GroupLens once, checked against their SHA-256; without a "
               "network the synthetic demo is used and a notice says so.")
elif kind in (LATEST, ML100K):
    scheme = "movielens-latest" if kind == LATEST else "movielens-100k"
    hint = "ml-latest-small (ratings.csv, movies.csv)" if scheme == "movielens-latest" \
        else "ml-100k (u.data, u.item, u.user)"
    path = st.text_input(f"Folder of {hint}", key=f"path_{scheme}")
    spec = f"{scheme}:{path.strip()}" if path.strip() else None
elif kind == UPLOAD:
    st.caption("items.csv (item_id, title, genres, optional year, labels, price...), "
               "interactions.csv (user_id, item_id, rating, timestamp) and optionally "
               "users.csv (user_id, age, gender, region...). See docs/csv_bundle.md."
               + (f" Up to {state.DEMO_UPLOAD_MB} MB in all." if DEMO else ""))
    uploaded = st.file_uploader("CSV files", type="csv", accept_multiple_files=True,
                                key="csv_upload")
    if uploaded:
        files = {f.name: f.getvalue() for f in uploaded}
else:
    name = st.selectbox("Data set", ["ml-latest-small", "ml-100k"], key="download_name")
    spec = f"download:{name}"
    st.caption("Downloaded once from GroupLens and checked against its SHA-256; without a "
               "network the synthetic demo is used and a notice says so.")

if st.button("Use this data", type="primary", disabled=spec is None and files is None,
             icon=":material/check:"):
    new, message = state.switch_data(files if files is not None else spec)
    if new is None:
        st.error(message, icon=":material/error:")
        st.caption("The previous data set and model stay active.")
    else:
        if message:
            st.warning(message, icon=":material/cloud_off:")
        state.get_engine()  # train (with progress) now; rolls back if it cannot
        st.rerun()

st.subheader("Active data set")
data, _ = state.get_dataset()
summary = data.summary()
c1, c2, c3, c4 = st.columns(4)
c1.metric("users", f"{summary['users']:,}")
c2.metric("items", f"{summary['items']:,}")
c3.metric("ratings", f"{summary['interactions']:,}")
c4.metric("density", f"{summary['density']:.2%}",
          help="the share of all user-item pairs that have a rating")
if data.simulated:
    st.warning("Simulated columns (generated, not observed): "
               + ", ".join(plain.name(c) for c in sorted(data.simulated)),
               icon=":material/science:")
if summary["license"]:
    st.caption(f"Licence: {markdown_text(summary['license'])}")
for note in summary["notes"]:
    st.caption(f"Note: {markdown_text(note)}")


#: the dense row numbers the loaders add for the model, not data a reader needs
INTERNAL = {"u", "i"}


def preview(frame: pd.DataFrame, table: str) -> None:
    """The first rows with readable headers, marked "(simulated)" where generated."""
    cols = [c for c in frame.columns if c not in INTERNAL]
    names = {c: plain.label(c, state.simulated_label(f"{table}.{c}").strip("()"))
             for c in cols}
    rows = frame.head(100)
    if "genres" in rows.columns:
        rows = rows.assign(genres=rows["genres"].str.replace("|", ", "))
    widgets.show_table(rows, cols, names=names, wide=("title",))


for table in ("items", "users", "interactions"):
    frame = getattr(data, table)
    words = {"interactions": "ratings"}.get(table, table)
    with st.expander(f"{words.capitalize()} ({len(frame):,} rows, first 100 shown)"):
        preview(frame, table)
