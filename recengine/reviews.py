"""Review sessions: views of the dashboard saved with a note, in a small SQLite database.

A reviewer walks through the dashboard, saves what they see ("user 7 gets only
thrillers once engagement weighs 0.6"), and later reopens, annotates and
exports those views for a write-up. A view is its link (the URL query
parameters that :meth:`recengine.links.LinkSettings.to_params` writes, which
reproduce the page), plus the title and note, when it was saved, and which
data (fingerprint) and model (store key) it showed: the list behind a link
changes when either does, so the store keeps both and :meth:`SavedView.changes`
says so.

Why SQLite from the standard library: several people (browser sessions, and so
several server threads or processes) save at once into one file, and
nothing may be lost. Every call opens its own connection and writes in one
``BEGIN IMMEDIATE`` transaction; the database runs in WAL mode with a busy
timeout, so writers queue rather than fail and readers never block them. SQL is
parameterised only: titles and notes are data, stored and returned verbatim,
and escaped only where they are shown (:func:`recengine.safe_text.markdown_text`
for Markdown, :func:`recengine.safe_text.safe_csv` for CSV).

No Streamlit here: the sidebar (``app.py``) and the Review page only draw.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

import pandas as pd

from .links import canonical_spec
from .results import RecommendationResult
from .safe_text import markdown_text, safe_csv

ENV_REVIEWS = "RECENGINE_REVIEWS"
#: next to the model store's default folder (``.cache/recengine/models``)
DEFAULT_PATH = Path(".cache/recengine/reviews.sqlite")
DEFAULT_SESSION = "default"
#: the query parameter a reopened view's link carries: which saved view it is, so the
#: page it opens can say whether the data or the model changed since it was saved
VIEW_PARAM = "view"
MAX_TITLE, MAX_NOTE, MAX_SESSION = 200, 10_000, 100
#: seconds a writer waits for another's transaction before giving up
BUSY_TIMEOUT_S = 30.0
SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS views (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session     TEXT NOT NULL,
    title       TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    saved_at    TEXT NOT NULL,             -- UTC, ISO 8601
    params      TEXT NOT NULL,             -- JSON object: the view's query parameters
    fingerprint TEXT NOT NULL,             -- the data set's fingerprint when saved
    model_key   TEXT NOT NULL,             -- the model store's key when saved
    figures     TEXT NOT NULL DEFAULT '{}' -- JSON object: key figures shown when saved
);
CREATE INDEX IF NOT EXISTS views_by_session ON views (session, id);
"""
_COLUMNS = "id, session, title, note, saved_at, params, fingerprint, model_key, figures"
#: a page's url path as the app names them; anything else links to the root with ?page=
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def default_path() -> Path:
    """``$RECENGINE_REVIEWS`` if set, else ``.cache/recengine/reviews.sqlite``."""
    return Path(os.environ.get(ENV_REVIEWS, str(DEFAULT_PATH))).expanduser()


def now_utc() -> str:
    """The time as stored: UTC, ISO 8601, to the second (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def link_base(base_url: str) -> str:
    """A base URL made safe to put in a Markdown link: percent-encoded, ending in ``/``.

    Empty means relative to the app's root page (``./``), which is what a link
    drawn on one of the app's own pages needs.
    """
    base = base_url.strip()
    if not base:
        return "./"
    base = quote(base, safe=":/%@-._~")  # no spaces, brackets, quotes, ?, # or <>
    return base if base.endswith("/") else base + "/"


@dataclass(frozen=True)
class Active:
    """What the app shows now, to compare a saved view with: data spec and fingerprint, model."""

    source: str
    fingerprint: str
    model_key: str


@dataclass(frozen=True)
class SavedView:
    """One saved view, as stored (every text verbatim: escape it where it is shown)."""

    id: int
    session: str
    title: str
    note: str
    saved_at: str
    params: dict[str, str]
    fingerprint: str
    model_key: str
    figures: dict[str, str] = field(default_factory=dict)

    @property
    def page(self) -> str | None:
        return self.params.get("page")

    @property
    def user(self) -> str | None:
        return self.params.get("user")

    @property
    def data(self) -> str | None:
        return self.params.get("data")

    def link_params(self) -> dict[str, str]:
        """The query parameters that reopen this view: its own, plus which view it is."""
        return {**self.params, VIEW_PARAM: str(self.id)}

    def link(self, base_url: str = "") -> str:
        """The URL that reopens the view: ``<base>/<page>?<params>&view=<id>``.

        Every parameter is percent-encoded (:func:`urllib.parse.urlencode`), so
        a hostile value cannot close a Markdown link or add one.
        """
        page = self.page or ""
        path = page if _SLUG.fullmatch(page) else ""
        return f"{link_base(base_url)}{path}?{urlencode(self.link_params())}"

    def changes(self, active: Active) -> list[str]:
        """What differs from when it was saved, in plain words (empty: nothing).

        A view of another data set than the active one is not "changed": opening
        it loads its data, and the page it opens compares again. The model's key
        contains the data's fingerprint, so changed data also means a changed
        model; that is said once, as the data.
        """
        if self.data and active.source and \
                canonical_spec(self.data) != canonical_spec(active.source):
            return [f"Saved on another data set ({self.data}); opening it loads that data "
                    "and says there whether it changed."]
        if active.fingerprint != self.fingerprint:
            return [f"The data changed since this view was saved (fingerprint "
                    f"{self.fingerprint[:12]} then, {active.fingerprint[:12]} now): the same "
                    "link may show a different list."]
        if active.model_key != self.model_key:
            return [f"The model changed since this view was saved ({self.model_key} then, "
                    f"{active.model_key} now: other training settings): the same link may "
                    "show a different list."]
        return []

    def saved_text(self) -> str:
        """When it was saved, for people: ``2025-05-01 14:03 UTC``."""
        try:
            when = datetime.fromisoformat(self.saved_at).astimezone(UTC)
        except ValueError:
            return self.saved_at
        return when.strftime("%Y-%m-%d %H:%M UTC")


def list_figures(result: RecommendationResult, limit: int = 5) -> dict[str, str]:
    """The key figures of a list on screen, stored with its view.

    Why store them at all: the link reproduces the list only while the data and
    model stay the same; the export must still say what the reviewer saw.
    """
    top = "; ".join(f"{it.rank}. {it.title}" for it in result.items[:limit])
    figures = {"items shown": str(len(result.items))}
    if top:
        figures["top items"] = top
    if result.ordering_rule:
        figures["ordering"] = result.ordering_rule
    if result.filtered:
        figures["caught by the content policy"] = str(len(result.filtered))
    return figures


def _text(value: object, what: str, limit: int) -> str:
    """A title, note or session name checked: text (never SQL or markup), not too long."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be text, not {type(value).__name__}")
    if len(value) > limit:
        raise ValueError(f"{what} is longer than {limit} characters")
    return value


def _string_map(values: Mapping[str, object] | None, what: str) -> dict[str, str]:
    """A mapping stored as a JSON object of strings (a repeated query key: its last value)."""
    out: dict[str, str] = {}
    for key, value in (values or {}).items():
        if isinstance(value, (list, tuple)):
            value = value[-1] if value else ""
        out[str(key)] = str(value)
    if len(json.dumps(out)) > 100_000:
        raise ValueError(f"{what} are too large to store")
    return out


def _session_name(session: str) -> str:
    name = _text(session, "The review session's name", MAX_SESSION).strip()
    return name or DEFAULT_SESSION


class ReviewStore:
    """Saved views in one SQLite file (see the module for why and how it stays consistent)."""

    def __init__(self, path: str | Path | None = None, timeout: float = BUSY_TIMEOUT_S):
        self.path = Path(path) if path is not None else default_path()
        self.timeout = timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn:
            # persistent in the file: readers and one writer at a time never block each other
            conn.execute("PRAGMA journal_mode=WAL")
        with self._transaction() as conn:
            # statement by statement: executescript would commit the transaction on its own
            for statement in filter(str.strip, SCHEMA.split(";")):
                conn.execute(statement)
            if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # ----- connections ------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        """A fresh connection: autocommit mode, so transactions are exactly the explicit ones."""
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        conn.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL mode, and quick
        return conn

    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One connection, one transaction: committed on success, rolled back on error.

        A writer takes the write lock up front (``BEGIN IMMEDIATE``): a deferred
        transaction that read first could not wait for another writer and would
        fail instead.
        """
        with closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # ----- writing ----------------------------------------------------------------------------
    def save_view(self, *, title: str, params: Mapping[str, object], fingerprint: str,
                  model_key: str, note: str = "", session: str = DEFAULT_SESSION,
                  figures: Mapping[str, object] | None = None,
                  saved_at: str | None = None) -> int:
        """Store a view; returns its id (unique, increasing, never reused)."""
        row = (_session_name(session), _text(title, "The title", MAX_TITLE),
               _text(note, "The note", MAX_NOTE), saved_at or now_utc(),
               json.dumps({k: v for k, v in _string_map(params, "The view's parameters")
                           .items() if k != VIEW_PARAM}, sort_keys=True),
               str(fingerprint), str(model_key),
               json.dumps(_string_map(figures, "The key figures")))
        with self._transaction() as conn:
            cur = conn.execute("INSERT INTO views (session, title, note, saved_at, params, "
                               "fingerprint, model_key, figures) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               row)
            return int(cur.lastrowid)

    def update_note(self, view_id: int, note: str) -> bool:
        """Replace a view's note; False when the view no longer exists."""
        note = _text(note, "The note", MAX_NOTE)
        with self._transaction() as conn:
            cur = conn.execute("UPDATE views SET note = ? WHERE id = ?", (note, int(view_id)))
            return cur.rowcount > 0

    def delete_view(self, view_id: int) -> bool:
        """Delete a view; False when it was already gone."""
        with self._transaction() as conn:
            return conn.execute("DELETE FROM views WHERE id = ?", (int(view_id),)).rowcount > 0

    # ----- reading ----------------------------------------------------------------------------
    def view(self, view_id: int) -> SavedView | None:
        """One view by id (None when there is none)."""
        with self._transaction(write=False) as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM views WHERE id = ?",
                               (int(view_id),)).fetchone()
        return _view(row) if row else None

    def views(self, session: str = DEFAULT_SESSION) -> list[SavedView]:
        """A session's views in the order they were saved."""
        with self._transaction(write=False) as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM views WHERE session = ? ORDER BY id",
                                (_session_name(session),)).fetchall()
        return [_view(row) for row in rows]

    def sessions(self) -> list[str]:
        """Every session with at least one view, the most recently saved into first."""
        with self._transaction(write=False) as conn:
            rows = conn.execute("SELECT session FROM views GROUP BY session "
                                "ORDER BY MAX(id) DESC").fetchall()
        return [row[0] for row in rows]

    # ----- exports ----------------------------------------------------------------------------
    def export_markdown(self, session: str = DEFAULT_SESSION, base_url: str = "",
                        active: Active | None = None) -> str:
        """The session as a Markdown document: per view its title, time, key figures, link, note.

        Every stored text is escaped (:func:`markdown_text`), so a title such as
        ``![x](http://evil)`` reads as itself; the only links are the views' own.
        Given what is ``active`` now, views whose data or model changed say so.
        """
        views = self.views(session)
        lines = [f"# Review session: {markdown_text(_session_name(session))}", "",
                 f"Exported {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {len(views)} saved "
                 f"view{'s' if len(views) != 1 else ''}.", ""]
        for n, view in enumerate(views, 1):
            lines += [f"## {n}\\. {markdown_text(view.title)}", "",
                      f"- **Open:** [{markdown_text(view.page or 'the view')} for user "
                      f"{markdown_text(view.user or '-')}]({view.link(base_url)})",
                      f"- **Saved:** {markdown_text(view.saved_text())}",
                      f"- **Data:** {markdown_text(view.data or '-')} (fingerprint "
                      f"{markdown_text(view.fingerprint[:12])}); **model:** "
                      f"{markdown_text(view.model_key)}"]
            lines += [f"- **{markdown_text(name)}:** {markdown_text(value)}"
                      for name, value in view.figures.items()]
            if active is not None:
                lines += [f"- **Changed:** {markdown_text(change)}"
                          for change in view.changes(active)]
            lines.append("")
            if view.note.strip():
                lines += ["**Note:**", ""]
                lines += [f"> {_note_line(line)}  " for line in view.note.splitlines()]
                lines.append("")
        return "\n".join(lines).rstrip() + "\n"

    def export_csv(self, session: str = DEFAULT_SESSION, base_url: str = "") -> str:
        """The session as CSV, one row per view, safe to open in a spreadsheet."""
        rows = [{"id": v.id, "session": v.session, "saved_at": v.saved_at, "title": v.title,
                 "note": v.note, "page": v.page or "", "user": v.user or "",
                 "data": v.data or "", "fingerprint": v.fingerprint, "model_key": v.model_key,
                 "figures": "; ".join(f"{k}: {x}" for k, x in v.figures.items()),
                 "link": v.link(base_url)} for v in self.views(session)]
        columns = ["id", "session", "saved_at", "title", "note", "page", "user", "data",
                   "fingerprint", "model_key", "figures", "link"]
        return safe_csv(pd.DataFrame(rows, columns=columns))


def _note_line(line: str) -> str:
    """One line of a note as literal Markdown text (``=`` too: a line of them is a heading)."""
    return markdown_text(line).replace("=", "\\=")


def _view(row: tuple) -> SavedView:
    vid, session, title, note, saved_at, params, fingerprint, model_key, figures = row
    return SavedView(id=int(vid), session=session, title=title, note=note, saved_at=saved_at,
                     params=_loads(params), fingerprint=fingerprint, model_key=model_key,
                     figures=_loads(figures))


def _loads(text: str) -> dict[str, str]:
    """A stored JSON object of strings (anything else, e.g. edited by hand: empty)."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
