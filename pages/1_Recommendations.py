"""Top-k for a known user or a new visitor, each item with the sources that found it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from recengine.results import RecommendationResult
from recengine.safe_text import markdown_text, safe_csv
from recengine.scoring import UserProfile
from ui import state, widgets

st.title("Recommendations")
st.caption("Retrieval finds candidates (similar to what you watched, often watched with it "
           "by others, top in your genres, popular in your region or overall); the two-tower "
           "model and a ranking stage trained on what people watched next order them. Every "
           "badge says which source found the item and on what evidence.")

data, _ = state.get_dataset()
engine = state.get_engine()
policy = state.current_policy()

left, right = st.columns([3, 1])
mode = left.radio("Recommend for", ["Existing user", "New visitor"], horizontal=True,
                  key="rec_mode")
k = right.number_input("How many", min_value=1, max_value=50, value=10, key="rec_k")


def _plain(value) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def user_panel(user_id: int) -> None:
    row = data.users.iloc[int(data.user_index(user_id)[0])]
    facts = [f"{c} {_plain(row[c])} {state.simulated_label('users.' + c)}".strip()
             for c in ("age", "gender", "occupation", "region")
             if c in row.index and pd.notna(row[c])]
    st.subheader(f"User {user_id}")
    if facts:
        st.caption(" · ".join(markdown_text(f) for f in facts))
    rated = data.interactions[data.interactions["user_id"] == user_id]
    with st.expander(f"What user {user_id} rated ({len(rated)} ratings, newest first)"):
        recent = rated.sort_values("timestamp", ascending=False).head(20)
        recent = recent.assign(title=data.items["title"].to_numpy()[recent["i"].to_numpy()])
        st.dataframe(recent[["item_id", "title", "rating", "timestamp"]], hide_index=True)


def visitor_profile() -> UserProfile:
    """A new visitor describes themselves: demographics, genres, a few rated items."""
    st.subheader("A new visitor")
    demographics: dict[str, object] = {}
    cols = st.columns(3)
    if data.has_column("users", "age"):
        demographics["age"] = cols[0].number_input(
            f"Age {state.simulated_label('users.age')}", 10, 100, 30, key="visitor_age")
    for col, name in ((cols[1], "gender"), (cols[2], "region")):
        if data.has_column("users", name):
            values = sorted(data.users[name].dropna().astype(str).unique())
            choice = col.selectbox(f"{name.title()} {state.simulated_label('users.' + name)}",
                                   ["(not given)"] + values, key=f"visitor_{name}")
            if choice != "(not given)":
                demographics[name] = choice
    genres = st.multiselect("Genres you enjoy", data.genre_names, key="visitor_genres")
    titles = dict(zip(data.items["item_id"].tolist(), data.items["title"].tolist(),
                      strict=True))
    chosen = st.multiselect("Items you have seen", list(titles), key="visitor_items",
                            format_func=lambda i: titles[i],
                            help="Rate each one below; a like is the top of the scale.")
    lo, hi = data.rating_scale
    ratings = {}
    for item_id in chosen:
        ratings[int(item_id)] = st.slider(titles[item_id], float(lo), float(hi), float(hi),
                                          step=0.5 if hi - lo > 2 else 0.1,
                                          key=f"visitor_rating_{item_id}")
    return UserProfile(ratings=ratings, genres=genres, demographics=demographics)


def show(result: RecommendationResult, who: str) -> None:
    for note in result.notes:
        st.info(note, icon=":material/info:")
    if not result.items:
        st.warning("Nothing to recommend: no candidate survived retrieval and the policy.")
    else:
        st.markdown(f"**How this list is ordered.** {result.ordering_rule}.")
    for item in result.items:
        widgets.render_ranked_item(item, data.rating_scale, result.score_meaning,
                                   result.intercept)
    with st.expander(f"Filtered or demoted by the content policy ({len(result.filtered)})",
                     icon=":material/shield:"):
        st.caption(markdown_text(policy.describe()))
        if result.filtered:
            st.caption(f"{len(result.displaced)} of these would otherwise have been in this "
                       f"list; the rest were caught deeper in the retrieval pool.")
            st.dataframe(widgets.filtered_frame(result), hide_index=True)
        else:
            st.write("No candidate was caught by the policy.")
    if result.skipped_sources:
        st.caption("Skipped sources: " + "; ".join(
            f"{name} ({why})" for name, why in result.skipped_sources.items()))
    frame = widgets.download_frame(result, {"recommended_for": who, "data": data.source,
                                            "model": state.model_key(),
                                            "policy": policy.describe()})
    st.download_button("Download as CSV", safe_csv(frame).encode(),
                       file_name=f"recommendations_{who.replace(' ', '_')}.csv",
                       mime="text/csv", icon=":material/download:")


if mode == "New visitor":
    profile = visitor_profile()
    show(engine.recommend_new_user(profile, k=int(k), policy=policy), "new visitor")
else:
    uid = state.selected_user()
    user_panel(uid)
    show(engine.recommend(uid, k=int(k), policy=policy), f"user {uid}")
