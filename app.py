"""The dashboard's entry point: ``streamlit run app.py``.

Sets up navigation, the sidebar every page shares (active data set, user
picker, content policy) and the URL state, then runs the chosen page. Opens on
the embedded synthetic demo data, so a fresh machine needs no download.

Every page's own path opens it, the default page's included: Streamlit serves
the default page at ``/`` and gives it no path of its own, so Recommendations
is registered twice, as the default and as a hidden page at
``/recommendations`` (the path links and ``?page=`` use).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from recengine.links import data_labels
from recengine.safe_text import markdown_text
from ui import state

ROOT = Path(__file__).resolve().parent
#: (file, title, icon, url path); pages whose file is missing are left out
EXPLORE = [
    ("pages/1_Recommendations.py", "Recommendations", ":material/recommend:", "recommendations"),
    ("pages/2_Similar_items.py", "Similar items", ":material/hub:", "similar-items"),
    ("pages/3_Pipeline.py", "Pipeline", ":material/filter_alt:", "pipeline"),
    ("pages/4_Model.py", "Model", ":material/model_training:", "model"),
    ("pages/5_Data.py", "Data", ":material/dataset:", "data"),
]
AUDIT = [
    ("pages/6_Objectives.py", "Objectives", ":material/target:", "objectives"),
    ("pages/7_Content_filtering.py", "Content filtering", ":material/shield:",
     "content-filtering"),
    ("pages/8_Bias_and_fairness.py", "Bias and fairness", ":material/balance:",
     "bias-and-fairness"),
    ("pages/9_Transparency_report.py", "Transparency report", ":material/description:",
     "transparency-report"),
]
PAGE_APPLIED = "_page_param_applied"
#: the default page's internal name: Streamlit serves it at "/" and hashes this name, which
#: must differ from the hidden alias's "recommendations"
HOME = "home"


def build_pages() -> dict[str, list]:
    """The navigation, plus the default page's hidden alias at its own path."""
    sections: dict[str, list] = {}
    for section, entries in (("Explore", EXPLORE), ("Audit", AUDIT)):
        pages = [st.Page(file, title=title, icon=icon,
                         url_path=HOME if file == EXPLORE[0][0] else url,
                         default=(file == EXPLORE[0][0]))
                 for file, title, icon, url in entries if (ROOT / file).exists()]
        if section == "Explore" and pages and pages[0].url_path == "":
            file, title, icon, url = EXPLORE[0]
            pages.append(st.Page(file, title=title, icon=icon, url_path=url,
                                 visibility="hidden"))
        if pages:
            sections[section] = pages
    return sections


def page_path(page) -> str:
    """A page's name in links; the default page's own url_path is empty."""
    return page.url_path or EXPLORE[0][3]


def apply_page_param(sections: dict[str, list], current) -> None:
    """Once per session: a link's ``?page=`` opens that page."""
    if st.session_state.get(PAGE_APPLIED):
        return
    st.session_state[PAGE_APPLIED] = True
    wanted = state.current_page_param()
    if not wanted or wanted == page_path(current):
        return
    for page in (p for pages in sections.values() for p in pages):
        if page_path(page) == wanted:
            st.switch_page(page)


def _on_user_change() -> None:
    state.set_selected_user(st.session_state["user_picker"])


def sidebar() -> None:
    data, notice = state.get_dataset()
    side = st.sidebar
    side.markdown(f"**Data:** {markdown_text(data.name)}")
    side.caption(f"{data.n_users:,} users · {data.n_items:,} items · "
                 f"{len(data.interactions):,} ratings")
    if data.simulated:
        side.badge("simulated data", icon=":material/science:", color="orange",
                   help="Columns generated, not observed: " + ", ".join(sorted(data.simulated)))
    if notice:
        side.warning(notice, icon=":material/cloud_off:")
    ids = data.users["user_id"].tolist()
    st.session_state["user_picker"] = state.selected_user()
    side.selectbox("User", ids, key="user_picker", on_change=_on_user_change,
                   format_func=lambda u: f"user {u}",
                   help="The user every page shows; it is kept in the link (?user=).")
    with side.expander("Content policy", icon=":material/shield:"):
        if data.has_column("items", "labels"):
            st.multiselect("Block content labels", data_labels(data), key=state.POLICY_LABELS)
        st.multiselect("Block genres", data.genre_names, key=state.POLICY_GENRES)
        st.radio("Blocked items are", ["remove", "demote"], key=state.POLICY_ACTION,
                 horizontal=True, format_func={"remove": "removed",
                                               "demote": "moved to the bottom"}.get)
        st.caption(markdown_text(state.current_policy().describe()))


st.set_page_config(page_title="recengine: recommendations that explain themselves",
                   page_icon=":material/recommend:", layout="wide")
SECTIONS = build_pages()
page = st.navigation(SECTIONS)
state.prepare_session()
state.apply_link()  # read the link before a ?page= switch, which starts a fresh URL
apply_page_param(SECTIONS, page)
sidebar()
state.sync_url(page_path(page))
for notice in state.pop_link_notices():
    st.warning(markdown_text(notice), icon=":material/link_off:")
page.run()
