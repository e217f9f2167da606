"""An item's nearest items by squared distance of ``v_m``, and a 2-D map of all items."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from recengine.safe_text import html_text, markdown_text
from ui import plain, state, widgets

st.title("Similar items")
st.caption("Items whose learned vectors v_m are closest (smallest squared distance), as the "
           "similar-items source of retrieval uses them.", help=plain.JARGON["vector"])

data, _ = state.get_dataset()
engine = state.get_engine()
ids = data.items["item_id"].tolist()
titles = dict(zip(ids, data.items["title"].tolist(), strict=True))
left, right = st.columns([3, 1])
item_id = left.selectbox("Item", ids, key="similar_item", format_func=lambda i: titles[i])
n = right.number_input("Neighbours", min_value=1, max_value=50, value=10, key="similar_n")

row = data.items.iloc[int(data.item_index(item_id)[0])]
st.caption(markdown_text(row['genres'].replace('|', ', ') or 'no genre')
           + (f" · {int(row['year'])}" if np.isfinite(row["year"]) else "")
           + f" · item {item_id}")
near = engine.similar_items(item_id, int(n))
widgets.show_table(near.assign(genres=near["genres"].str.replace("|", ", ")),
                   ["title", "genres", "distance", "item_id"], wide=("title",))
st.caption("Squared distance between the two items' learned vectors: 0 is the same "
           "position, smaller is more alike (the vectors have length 1, so the most "
           "different two items can be is 4).")

chosen = int(data.item_index(item_id)[0])
neighbours = data.item_index(near["item_id"].to_numpy()).tolist()
proj = state.item_projection([chosen] + neighbours)
names = np.array([html_text(t) for t in data.items["title"].to_numpy()[proj.indices]],
                 dtype=object)
role = np.full(len(proj.indices), "other items", dtype=object)
role[np.isin(proj.indices, neighbours)] = "neighbours"
role[proj.indices == chosen] = "chosen item"
fig = go.Figure()
for label, colour, size in (("other items", widgets.MUTED, 5),
                            ("neighbours", widgets.NEIGHBOUR, 10),
                            ("chosen item", widgets.HIGHLIGHT, 16)):
    mask = role == label
    fig.add_trace(go.Scattergl(
        x=proj.coords[mask, 0], y=proj.coords[mask, 1], mode="markers", name=label,
        text=names[mask], hovertemplate="%{text}<extra></extra>",
        marker=dict(color=colour, size=size,
                    symbol={"chosen item": "star", "neighbours": "diamond"}.get(label, "circle"),
                    line=dict(width=0.5, color="white"))))
ex = proj.explained
widgets.style_figure(fig, f"Item vectors on their first two principal components "
                          f"({len(proj.indices):,} of {data.n_items:,} items)",
                     f"component 1 ({ex[0]:.0%} of variance)",
                     f"component 2 ({ex[1]:.0%} of variance)", height=520)
st.plotly_chart(fig, key="similar_map")
st.caption("A 2-D projection loses most of the 32 dimensions: neighbours in the table can "
           "look far apart here. The table's distances are the real ones.")
