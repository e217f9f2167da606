"""Review sessions: the views saved with "Save this view", reopened, annotated, exported.

A view only: the views live in :class:`recengine.reviews.ReviewStore` (SQLite),
and a view is reopened through its own link, so it shows what the link shows to
anyone. Each view says when its data or model changed since it was saved: then
the same link may show a different list, and its stored key figures say what
the reviewer saw.
"""

from __future__ import annotations

import re
import sqlite3
from urllib.parse import urljoin

import streamlit as st

from recengine.reviews import DEFAULT_SESSION, MAX_NOTE, Active, ReviewStore, SavedView
from recengine.safe_text import markdown_text
from ui import state

#: app.py's sidebar field: the session "Save this view" saves into; this page follows it
REVIEW_SESSION = "review_session"
PICK = "review_pick"
NOTES_SEEN = "_review_notes_seen"  # view id -> the note as last read from or written to the db
MESSAGE = "_review_message"  # (kind, text) of the last action, shown once


def _say(kind: str, text: str) -> None:
    st.session_state[MESSAGE] = (kind, text)


def _pick_session() -> None:
    st.session_state[REVIEW_SESSION] = st.session_state[PICK]


def _open(view_id: int) -> None:
    """One click: the URL becomes the view's link; app.py applies it and opens its page."""
    try:
        view = ReviewStore().view(view_id)
    except (OSError, sqlite3.Error) as exc:
        _say("error", f"The review database could not be read: {exc}")
        return
    if view is None:
        _say("warning", "That view was deleted (perhaps in another session).")
        return
    st.query_params.from_dict(view.link_params())


def _save_note(view_id: int, key: str) -> None:
    note = st.session_state.get(key) or ""
    try:
        found = ReviewStore().update_note(view_id, note)
    except (OSError, sqlite3.Error, ValueError) as exc:
        _say("error", f"The note could not be saved: {exc}")
        return
    st.session_state.setdefault(NOTES_SEEN, {})[view_id] = note
    if found:
        st.toast("Note saved.", icon=":material/check:")
    else:
        _say("warning", "That view was deleted (perhaps in another session); its note is lost.")


def _delete(view_id: int, title: str) -> None:
    try:
        ReviewStore().delete_view(view_id)
    except (OSError, sqlite3.Error) as exc:
        _say("error", f"The view could not be deleted: {exc}")
        return
    _say("success", f"Deleted \"{title}\".")


def note_field(view: SavedView) -> None:
    """The note, editable and saved on change; a note changed elsewhere is shown as it is now."""
    key = f"review_note_{view.id}"
    seen = st.session_state.setdefault(NOTES_SEEN, {})
    if seen.get(view.id) != view.note:  # first shown, or edited in another session since
        st.session_state[key] = view.note
        seen[view.id] = view.note
    st.text_area("Note", key=key, max_chars=MAX_NOTE, height=80, on_change=_save_note,
                 args=(view.id, key), help="Saved when you leave the field.")


def show_view(n: int, view: SavedView, current: Active) -> None:
    with st.container(border=True, key=f"review_view_{view.id}"):
        text, actions = st.columns([4, 1])
        text.markdown(f"**{n}\\. {markdown_text(view.title)}**")
        text.caption(f"Saved {markdown_text(view.saved_text())} · model "
                     f"{markdown_text(view.model_key)}")
        for change in view.changes(current):
            text.warning(markdown_text(change), icon=":material/update:")
        if view.figures:
            text.markdown("\n".join(f"- **{markdown_text(name)}:** {markdown_text(value)}"
                                    for name, value in view.figures.items()))
        actions.button("Open", key=f"review_open_{view.id}", type="primary",
                       icon=":material/open_in_browser:", on_click=_open, args=(view.id,),
                       help="Opens the page as it was saved: data, user, list length, "
                            "objective and weights, content policy and your controls.")
        actions.link_button("New tab", view.link(), type="tertiary",
                            icon=":material/open_in_new:", help="The view's own link.")
        actions.button("Delete", key=f"review_delete_{view.id}", type="tertiary",
                       icon=":material/delete:", on_click=_delete, args=(view.id, view.title))
        note_field(view)


def file_stem(session: str) -> str:
    """A session's name as a safe file name."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", session).strip("_")[:60] or "session"


st.title("Review")
st.caption("Views saved with **Save this view** (in the sidebar of every page), grouped in "
           "review sessions: reopen each with one click, keep a note on it, and export the "
           "session for a write-up.")
try:
    store = ReviewStore()
    sessions = store.sessions()
except (OSError, sqlite3.Error) as exc:
    st.error(f"The review database could not be opened: {markdown_text(exc)}. Set "
             "RECENGINE\\_REVIEWS to a writable file.", icon=":material/error:")
    st.stop()

current_session = (st.session_state.get(REVIEW_SESSION) or "").strip() or DEFAULT_SESSION
options = [current_session, *(s for s in sessions if s != current_session)]
st.session_state[PICK] = current_session
st.selectbox("Review session", options, key=PICK, on_change=_pick_session,
             help="The sidebar's Save this view saves into this session.")
st.caption(f"Stored in {markdown_text(store.path.resolve())} (SQLite).")
message = st.session_state.pop(MESSAGE, None)
if message is not None:
    kind, text = message
    {"success": st.success, "warning": st.warning}.get(kind, st.error)(markdown_text(text))

views = store.views(current_session)
data, _ = state.get_dataset()
current = Active(source=data.source, fingerprint=data.fingerprint, model_key=state.model_key())
if not views:
    st.info("No view saved in this session yet: on any page, open **Save this view** in the "
            "sidebar, give it a title and press Save.", icon=":material/bookmark_add:")
    st.stop()

url = st.context.url  # this page's address: its folder is the app's root
base_url = urljoin(url, "./") if url else ""
stem = file_stem(current_session)
c1, c2, _ = st.columns([1, 1, 3])
c1.download_button("Export as Markdown", store.export_markdown(current_session, base_url,
                                                                 current),
                   f"review_{stem}.md", "text/markdown", on_click="ignore",
                   icon=":material/description:")
c2.download_button("Export as CSV", store.export_csv(current_session, base_url),
                   f"review_{stem}.csv", "text/csv", on_click="ignore",
                   icon=":material/download:")
stale = sum(bool(view.changes(current)) for view in views)
st.markdown(f"**{len(views)} saved view{'s' if len(views) != 1 else ''}**"
            + (f"; {stale} saved on other data or another model than now." if stale else "."))
for n, view in enumerate(views, 1):
    show_view(n, view, current)
