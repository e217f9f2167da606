"""Choose the data: synthetic demo, MovieLens folders, an uploaded CSV bundle, a download.

A new source becomes active only once it has loaded, passed validation and a
model has trained on it; until then the previous data and model stay active.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from recengine.data.synthetic import SyntheticConfig
from recengine.safe_text import markdown_text
from ui import state

st.title("Data")
notice = state.pop_data_notice()
if notice:
    st.error(notice, icon=":material/error:")

data, fallback = state.get_dataset()
st.markdown(f"**Active:** {markdown_text(data.name)} · {markdown_text(data.source)}")
if fallback:
    st.warning(fallback, icon=":material/cloud_off:")

KINDS = ["Synthetic demo", "MovieLens latest (folder)", "MovieLens 100K (folder)",
         "Upload a CSV bundle", "Download MovieLens"]
kind = st.radio("Source", KINDS, key="data_kind", horizontal=True)

spec: str | None = None
files: dict[str, bytes] | None = None
if kind == KINDS[0]:
    default = SyntheticConfig()
    c1, c2, c3 = st.columns(3)
    users = c1.number_input("Users", 10, 200_000, default.n_users, step=100, key="syn_users")
    items = c2.number_input("Items", 10, 1_000_000, default.n_items, step=100, key="syn_items")
    seed = c3.number_input("Seed", 0, 10_000, default.seed, key="syn_seed")
    spec = SyntheticConfig(n_users=int(users), n_items=int(items), seed=int(seed)).spec()
elif kind in KINDS[1:3]:
    scheme = "movielens-latest" if kind == KINDS[1] else "movielens-100k"
    hint = "ml-latest-small (ratings.csv, movies.csv)" if scheme == "movielens-latest" \
        else "ml-100k (u.data, u.item, u.user)"
    path = st.text_input(f"Folder of {hint}", key=f"path_{scheme}")
    spec = f"{scheme}:{path.strip()}" if path.strip() else None
elif kind == KINDS[3]:
    st.caption("items.csv (item_id, title, genres, optional year, labels, price...), "
               "interactions.csv (user_id, item_id, rating, timestamp) and optionally "
               "users.csv (user_id, age, gender, region...). See docs/csv_bundle.md.")
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
c4.metric("density", f"{summary['density']:.2%}")
if data.simulated:
    st.warning("Simulated columns (generated, not observed): "
               + ", ".join(sorted(data.simulated)), icon=":material/science:")
if summary["license"]:
    st.caption(f"Licence: {markdown_text(summary['license'])}")
for note in summary["notes"]:
    st.caption(f"Note: {markdown_text(note)}")


def labelled(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Column headers marked "(simulated)" where the values are generated."""
    return frame.rename(columns={c: f"{c} {state.simulated_label(f'{table}.{c}')}".strip()
                                 for c in frame.columns})


for table in ("items", "users", "interactions"):
    frame = getattr(data, table)
    with st.expander(f"{table} ({len(frame):,} rows, first 100 shown)"):
        st.dataframe(labelled(frame.head(100), table), hide_index=True)
