"""Strings from user data shown and exported safely: as text, never as markup or formulas.

Titles, genres, labels, demographics and region names come from files a user
supplied. Shown through Markdown (Streamlit's ``st.markdown``, captions,
badges, the model card) a title such as ``![r](http://host/x.png)`` would load
an external image and ``[x](javascript:...)`` would render a link; in a chart
label HTML tags would render; opened from a CSV in a spreadsheet, a cell such as
``=HYPERLINK(...)`` would run. Each function here neutralises one of those, and
every page, export and report calls them rather than escaping by hand.
"""

from __future__ import annotations

import csv
import html

import pandas as pd

#: characters Markdown (CommonMark plus Streamlit's extensions) gives a meaning to
MARKDOWN_SPECIALS = "\\`*_{}[]()<>#+-.!|$~:"
#: OWASP CSV injection: a cell starting with one of these is read as a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def markdown_text(value) -> str:
    """``value`` as literal text inside Markdown: every special character escaped.

    Line breaks become spaces, so a value cannot start a heading, list or table
    row of its own.
    """
    out = str(value).replace("\r", " ").replace("\n", " ")
    return "".join("\\" + ch if ch in MARKDOWN_SPECIALS else ch for ch in out)


def html_text(value) -> str:
    """``value`` as literal text inside HTML-capable labels (plotly hover and tick text)."""
    return html.escape(str(value), quote=True)


def neutralise_formula(value):
    """A text cell that a spreadsheet would run as a formula, prefixed with ``'``.

    Non-text values pass unchanged: a number is never a formula.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells (and column names) cannot run as spreadsheet formulas."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise_formula)
    out.columns = [neutralise_formula(str(c)) for c in out.columns]
    return out


def safe_csv(frame: pd.DataFrame) -> str:
    """CSV text of ``frame`` following OWASP's CSV-injection advice (see the module).

    Every text cell is quoted: a bare carriage return inside an unquoted cell
    (which pandas' minimal quoting leaves unquoted) would split the row.
    """
    return spreadsheet_safe(frame).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC)
