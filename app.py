"""The dashboard's entry point: ``streamlit run app.py``.

Sets up navigation, the sidebar every page shares (active data set, user
picker, content policy) and the URL state, then runs the chosen page. Opens on
the embedded synthetic demo data, so a fresh machine needs no download.

Every page's own path opens it, the default page's included: Streamlit serves
the default page at ``/`` and gives it no path of its own, so Recommendations
is registered twice, as the default and as a hidden page at
``/recommendations`` (the path links and ``?page=`` use).

Every page also gets "Save this view" in the sidebar: the URL's query parameters
are the view's full state, so they are what a review session stores
(:mod:`recengine.reviews`); the Review page reopens a view through its link, with
``?view=<id>`` added so the reopened page can say whether the data or the model
changed since.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from recengine.links import data_labels, same_data
from recengine.reviews import (
    DEFAULT_SESSION,
    MAX_NOTE,
    MAX_SESSION,
    MAX_TITLE,
    VIEW_PARAM,
    Active,
    ReviewStore,
    list_figures,
)
from recengine.safe_text import markdown_text
from ui import state

if TYPE_CHECKING:
    from streamlit.navigation.page import StreamlitPage

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
    ("pages/10_Feedback_loops.py", "Feedback loops", ":material/loop:", "feedback-loops"),
]
REVIEW = [("pages/11_Review.py", "Review", ":material/rate_review:", "review")]
PAGE_APPLIED = "_page_param_applied"
#: the default page's internal name: Streamlit serves it at "/" and hashes this name, which
#: must differ from the hidden alias's "recommendations"
HOME = "home"
#: the sidebar's "Save this view" fields; the Review page reads and sets REVIEW_SESSION too
REVIEW_SESSION, VIEW_TITLE, VIEW_NOTE = "review_session", "review_title", "review_note"
#: the sidebar's expanders, drawn only while open (their keys say whether they are)
SAVE_OPEN, POLICY_OPEN = "save_view_open", "policy_open"
LAST_SAVED = "_review_last_saved"  # what the last save stored, shown until the next one
SAVE_ERROR = "_review_save_error"  # why the last save failed, shown once
OPENED_NOTICES = "_review_opened_notices"  # what a reopened view says, shown once


def build_pages() -> dict[str, list]:
    """The navigation, plus the default page's hidden alias at its own path."""
    sections: dict[str, list] = {}
    for section, entries in (("Explore", EXPLORE), ("Audit", AUDIT), ("Review", REVIEW)):
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


def open_saved_view() -> int | None:
    """A saved view's link (``?view=<id>``): the URL becomes the session's settings again.

    Links are read once per session (:func:`ui.state.apply_link`); a view reopened
    in the same session, from the Review page, must be read afresh, page included.
    Returns the view's id (None: the URL is no saved view's link).
    """
    raw = st.query_params.get(VIEW_PARAM)
    if raw is None:
        return None
    del st.query_params[VIEW_PARAM]  # not part of the view: saving it again must not keep it
    st.session_state.pop(state.LINK_APPLIED, None)
    st.session_state.pop(PAGE_APPLIED, None)
    try:
        return int(raw)
    except ValueError:
        return None


def active() -> Active:
    """What the app shows now, for comparing with a saved view."""
    data, _ = state.get_dataset()
    return Active(source=data.source, fingerprint=data.fingerprint, model_key=state.model_key())


def note_opened_view(view_id: int) -> None:
    """Say which saved view was opened, and whether its data or model changed since."""
    try:
        view = ReviewStore().view(view_id)
    except (OSError, sqlite3.Error) as exc:
        st.session_state[OPENED_NOTICES] = [("warning", f"The review database could not be "
                                                        f"read ({exc}).")]
        return
    if view is None:
        return
    notices = [("info", f"Opened the saved view \"{view.title}\" (review session "
                        f"{view.session}, saved {view.saved_text()}).")]
    data, _ = state.get_dataset()
    if not view.data or same_data(view.data, data, state.data_choice()):
        # (a view whose data could not be loaded: the link's own notice says why)
        notices += [("warning", change) for change in view.changes(active())]
    st.session_state[OPENED_NOTICES] = notices


def _who() -> str:
    if st.session_state.get(state.MODE) == state.MODES[1]:
        return "new visitor"
    return f"user {state.selected_user()}"


def _save_view(page_title: str, path: str) -> None:
    """The Save button: the URL as it is now (the view on screen), its title, note and stamps.

    Runs as the button's callback, before the page is drawn again, so the URL and
    the last list are still those of the view the reviewer saw.
    """
    ss = st.session_state
    data, _ = state.get_dataset()
    who = _who()
    figures = {"page": page_title, "shown for": who, "data": data.name}
    policy = state.current_policy()
    if not policy.is_empty:
        figures["content policy"] = policy.describe()
    last = ss.get(state.LAST_LIST)
    if path == EXPLORE[0][3] and last and last[0] == f"{data.source}|{who}":
        figures.update(list_figures(last[1]))
    title = (ss.get(VIEW_TITLE) or "").strip() or f"{page_title}, {who}"
    session = (ss.get(REVIEW_SESSION) or "").strip() or DEFAULT_SESSION
    try:
        ReviewStore().save_view(title=title, note=ss.get(VIEW_NOTE) or "", session=session,
                                params=st.query_params.to_dict(),
                                fingerprint=data.fingerprint, model_key=state.model_key(),
                                figures=figures)
    except (OSError, sqlite3.Error, ValueError, TypeError) as exc:
        ss[SAVE_ERROR] = f"The view could not be saved: {exc}"
        return
    ss[VIEW_TITLE] = ss[VIEW_NOTE] = ""
    ss[LAST_SAVED] = (f"Last saved: \"{title}\", in review session {session} (the Review "
                      "page lists it).")


def save_view_form(page: StreamlitPage) -> None:
    """The sidebar's "Save this view": title, note, review session and Save.

    In the sidebar, so every page (audits included) can be saved the same way;
    in a form, so a title typed and Save pressed arrive in one run.
    """
    ss = st.session_state
    ss[REVIEW_SESSION] = ss.get(REVIEW_SESSION) or DEFAULT_SESSION  # kept across page switches
    with st.sidebar.expander("Save this view", icon=":material/bookmark_add:", key=SAVE_OPEN,
                             on_change="rerun") as box:
        if not box.open:  # drawn only when opened: a first visit's browser builds less
            return
        with st.form("save_view", border=False):
            st.text_input("Title", key=VIEW_TITLE, max_chars=MAX_TITLE,
                          placeholder=f"{page.title}, {_who()}")
            st.text_area("Note", key=VIEW_NOTE, max_chars=MAX_NOTE, height=90)
            st.text_input("Review session", key=REVIEW_SESSION, max_chars=MAX_SESSION,
                          help="Views are grouped by session on the Review page.")
            st.form_submit_button("Save", key="review_save", icon=":material/bookmark:",
                                  on_click=_save_view,
                                  args=(page.title, page_path(page)))
        error = ss.pop(SAVE_ERROR, None)
        if error is not None:
            st.error(markdown_text(error), icon=":material/error:")
        elif ss.get(LAST_SAVED):
            st.caption(":material/bookmark_added: " + markdown_text(ss[LAST_SAVED]))


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
    with side.expander("Content policy", icon=":material/shield:", key=POLICY_OPEN,
                       on_change="rerun") as box:
        if not box.open:  # its settings live on in session state (state.prepare_session)
            side.caption(markdown_text(state.current_policy().describe()))
            return
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
opened = open_saved_view()
state.apply_link()  # read the link before a ?page= switch, which starts a fresh URL
if opened is not None:
    note_opened_view(opened)
apply_page_param(SECTIONS, page)
sidebar()
save_view_form(page)
state.sync_url(page_path(page))
for notice in state.pop_link_notices():
    st.warning(markdown_text(notice), icon=":material/link_off:")
for kind, notice in st.session_state.pop(OPENED_NOTICES, None) or []:
    (st.info if kind == "info" else st.warning)(markdown_text(notice),
                                                icon=":material/bookmark:")
page.run()
