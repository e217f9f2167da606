"""Links that reproduce what the Recommendations page shows, as URL query parameters.

A stakeholder forwards a view and the recipient must see the same thing, so
:class:`LinkSettings` holds every setting that decides the list (data set, user
or visitor, k, objective and weights, content policy, viewer controls),
serialises it compactly (:meth:`LinkSettings.to_params`) and parses it
defensively (:func:`parse_link`: a bad value is ignored with a notice, never a
crash); :func:`check_link` drops what the loaded data lacks, and
:func:`same_data` / :func:`link_data_problem` keep a link for other data from
showing another person under the same number.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .controls import DEFAULT_K, MAX_K, NI_MODES, ViewerControls
from .data.sources import SCHEMES, parse_synthetic
from .objectives import BASE_OBJECTIVES, DEFAULT_BLEND, OBJECTIVES
from .policy import ACTIONS, ContentPolicy
from .ranking import SERVED
from .retrieval import SOURCES
from .schema import Dataset
from .scoring import UserProfile

# ----- links -----------------------------------------------------------------------------------
#: every query parameter a link may carry (anything else in a URL is left alone)
LINK_KEYS = ("page", "data", "user", "mode", "k", "v_genres", "v_items", "v_age", "v_gender",
             "v_region", "block_labels", "block_genres", "block_action", "obj", "w",
             "not_interested", "ni_mode", "hide", "non_profiling", "region", "diversity")
VISITOR = "visitor"
_DEMOGRAPHICS = ("age", "gender", "region")


@dataclass
class LinkSettings:
    """Everything that decides what the Recommendations page shows (see :data:`LINK_KEYS`)."""

    page: str | None = None
    data: str | None = None  # the data set's spec (``Dataset.source``)
    user: int | None = None
    visitor: UserProfile | None = None  # set: the page shows a new visitor's list
    k: int = DEFAULT_K
    block_labels: tuple[str, ...] = ()
    block_genres: tuple[str, ...] = ()
    block_action: str = "remove"
    controls: ViewerControls = field(default_factory=ViewerControls)

    def policy(self) -> ContentPolicy:
        if not self.block_labels and not self.block_genres:
            return ContentPolicy()
        return ContentPolicy(blocked_labels=self.block_labels, blocked_genres=self.block_genres,
                             action=self.block_action)

    def to_params(self) -> dict[str, str]:
        """Query parameters, defaults left out: comma lists, ``id:rating`` pairs."""
        p: dict[str, str] = {}
        if self.page:
            p["page"] = self.page
        if self.data:
            p["data"] = self.data
        if self.user is not None:
            p["user"] = str(int(self.user))
        if self.visitor is not None:
            p["mode"] = VISITOR
            if self.visitor.genres:
                p["v_genres"] = _join(self.visitor.genres)
            if self.visitor.ratings:
                p["v_items"] = ",".join(f"{int(i)}:{_num(r)}"
                                        for i, r in self.visitor.ratings.items())
            for name in _DEMOGRAPHICS:
                value = self.visitor.demographics.get(name)
                if value is not None:
                    p[f"v_{name}"] = _num(value) if name == "age" else str(value)
        if self.k != DEFAULT_K:
            p["k"] = str(int(self.k))
        if self.block_labels:
            p["block_labels"] = _join(self.block_labels)
        if self.block_genres:
            p["block_genres"] = _join(self.block_genres)
        if self.block_action != "remove" and (self.block_labels or self.block_genres):
            p["block_action"] = self.block_action
        c = self.controls
        if c.objective != SERVED:
            p["obj"] = c.objective
        if c.weights != DEFAULT_BLEND:
            p["w"] = ",".join(f"{o}:{_num(w)}" for o, w in c.weight_map.items())
        if c.not_interested:
            p["not_interested"] = ",".join(str(i) for i in c.not_interested)
        if c.not_interested_mode != "seeds":
            p["ni_mode"] = c.not_interested_mode
        if c.hidden_sources:
            p["hide"] = ",".join(sorted(c.hidden_sources))
        if c.non_profiling:
            p["non_profiling"] = "1"
        if c.region is not None:
            p["region"] = c.region
        if c.diversity > 0:
            p["diversity"] = _num(c.diversity)
        return p


def _num(x) -> str:
    """A number as short text: 5 not 5.0, 0.35 not 0.35000000000000003."""
    x = float(x)
    return str(int(x)) if x.is_integer() else f"{x:.6g}"


def _join(names: Sequence[str]) -> str:
    """Names as a comma list; a comma or ``%`` inside a name is percent-escaped."""
    return ",".join(str(n).replace("%", "%25").replace(",", "%2C") for n in names)


def _split(value: str) -> list[str]:
    return [part.replace("%2C", ",").replace("%25", "%")
            for part in value.split(",") if part.strip()]


def _last(value) -> str:
    """One value per key: the last, as a browser's repeated parameter would win."""
    if isinstance(value, (list, tuple)):
        return str(value[-1]) if value else ""
    return str(value)


def parse_link(params: Mapping[str, object]) -> tuple[LinkSettings, list[str]]:
    """Query parameters -> settings; a bad value is ignored and named in a notice.

    Never raises on what a URL holds: each parameter is read on its own, so
    one bad value costs only itself. Values are checked for form here; whether
    a genre, item or region exists in the data is :func:`check_link`'s job.
    """
    raw = {k: _last(v) for k, v in params.items() if k in LINK_KEYS}
    notes: list[str] = []

    def bad(key: str, why: str) -> None:
        shown = raw[key] if len(raw[key]) <= 60 else raw[key][:57] + "..."
        notes.append(f"Ignored {key}={shown!r} from the link: {why}.")

    def integer(key: str, lo: int, hi: int | None = None) -> int | None:
        if key not in raw:
            return None
        try:
            value = int(raw[key].strip())
        except ValueError:
            bad(key, "not a whole number")
            return None
        if value < lo or (hi is not None and value > hi):
            bad(key, f"must be between {lo} and {hi}" if hi is not None else f"must be >= {lo}")
            return None
        return value

    def number(key: str, lo: float, hi: float, text: str | None = None) -> float | None:
        text = raw.get(key) if text is None else text
        if text is None:
            return None
        try:
            value = float(text)
        except ValueError:
            bad(key, "not a number")
            return None
        if not (math.isfinite(value) and lo <= value <= hi):
            bad(key, f"must be between {lo:g} and {hi:g}")
            return None
        return value

    def choice(key: str, options: Sequence[str]) -> str | None:
        if key not in raw:
            return None
        if raw[key] not in options:
            bad(key, f"use one of {', '.join(options)}")
            return None
        return raw[key]

    s = LinkSettings()
    s.page = raw.get("page") or None
    s.data = raw.get("data", "").strip() or None
    s.user = integer("user", -(2 ** 63))
    s.k = integer("k", 1, MAX_K) or DEFAULT_K
    if choice("mode", (VISITOR, "user")) == VISITOR:
        s.visitor = _parse_visitor(raw, bad, number)
    s.block_labels = tuple(_split(raw.get("block_labels", "")))
    s.block_genres = tuple(_split(raw.get("block_genres", "")))
    s.block_action = choice("block_action", ACTIONS) or "remove"
    fields_: dict[str, object] = {}
    if (obj := choice("obj", OBJECTIVES)) is not None:
        fields_["objective"] = obj
    if "w" in raw:
        weights = _parse_weights(raw["w"])
        if weights is None:
            bad("w", "write rating:W,engagement:W,profit:W with non-negative numbers, "
                     "not all zero")
        else:
            fields_["weights"] = weights
    if "not_interested" in raw:
        ids, wrong = [], []
        for part in raw["not_interested"].split(","):
            try:
                ids.append(int(part.strip()))
            except ValueError:
                wrong.append(part)
        if wrong:
            bad("not_interested", f"not item ids: {', '.join(wrong[:5])}")
        fields_["not_interested"] = tuple(ids)
    if (mode := choice("ni_mode", NI_MODES)) is not None:
        fields_["not_interested_mode"] = mode
    if "hide" in raw:
        names = _split(raw["hide"])
        unknown = [n for n in names if n not in SOURCES]
        if unknown:
            bad("hide", f"unknown source(s) {', '.join(unknown)}; sources are "
                        f"{', '.join(SOURCES)}")
        fields_["hidden_sources"] = frozenset(n for n in names if n in SOURCES)
    if (flag := choice("non_profiling", ("0", "1"))) is not None:
        fields_["non_profiling"] = flag == "1"
    if raw.get("region"):
        fields_["region"] = raw["region"]
    if (div := number("diversity", 0.0, 1.0)) is not None:
        fields_["diversity"] = div
    s.controls = ViewerControls(**fields_)
    return s, notes


def _parse_weights(text: str) -> tuple[float, float, float] | None:
    """``rating:0.6,engagement:0.2,profit:0.2`` (or three numbers in that order)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        if all(":" in p for p in parts):
            named = {name.strip(): float(v) for name, _, v in (p.partition(":") for p in parts)}
            if set(named) - set(BASE_OBJECTIVES):
                return None
            values = tuple(named.get(o, 0.0) for o in BASE_OBJECTIVES)
        elif len(parts) == len(BASE_OBJECTIVES):
            values = tuple(float(p) for p in parts)
        else:
            return None
    except ValueError:
        return None
    if not all(math.isfinite(v) and v >= 0 for v in values) or sum(values) <= 0:
        return None
    return values


def _parse_visitor(raw: dict[str, str], bad, number) -> UserProfile:
    """A visitor's genres, ``id:rating`` pairs and demographics (bad pairs noted, skipped)."""
    profile = UserProfile(genres=_split(raw.get("v_genres", "")))
    if "v_items" in raw:
        wrong = []
        for part in raw["v_items"].split(","):
            item, sep, rating = part.partition(":")
            try:
                value = float(rating) if sep else math.nan
                if not math.isfinite(value):
                    raise ValueError(part)
                profile.ratings[int(item.strip())] = value
            except ValueError:
                wrong.append(part)
        if wrong:
            bad("v_items", f"write item_id:rating pairs; could not read {', '.join(wrong[:5])}")
    if (age := number("v_age", 0, 150)) is not None:
        profile.demographics["age"] = int(age) if age.is_integer() else age
    for name in ("gender", "region"):
        if raw.get(f"v_{name}"):
            profile.demographics[name] = raw[f"v_{name}"]
    return profile


def data_labels(data: Dataset) -> list[str]:
    """The content labels the data's items carry (what the policy can block)."""
    if not data.has_column("items", "labels"):
        return []
    return sorted({t for v in data.items["labels"].fillna("") for t in str(v).split("|") if t})


def check_link(settings: LinkSettings, data: Dataset) -> tuple[LinkSettings, list[str]]:
    """Drop what this data set lacks (users, items, genres, labels, regions), with notices."""
    notes: list[str] = []
    s = dataclasses.replace(settings)
    genres, labels = set(data.genre_names), set(data_labels(data))
    item_ids = set(data.items["item_id"].tolist())
    regions = (set(data.users["region"].dropna().astype(str)) if data.has_regions else set())

    def keep(values, known: set, what: str) -> tuple:
        unknown = [v for v in values if v not in known]
        if unknown:
            notes.append(f"Ignored from the link: {what} not in this data set "
                         f"({', '.join(str(u) for u in unknown[:5])}).")
        return tuple(v for v in values if v in known)

    if s.user is not None and s.user not in set(data.users["user_id"].tolist()):
        notes.append(f"Ignored from the link: user {s.user} is not in this data set.")
        s.user = None
    s.block_labels = keep(s.block_labels, labels, "content label(s)")
    s.block_genres = keep(s.block_genres, genres, "genre(s)")
    c = s.controls
    ni = keep(c.not_interested, item_ids, "not-interested item id(s)")
    region = c.region
    if region is not None and region not in regions:
        notes.append(f"Ignored from the link: region {region} is not in this data set; the "
                     "non-profiling list covers the whole catalogue.")
        region = None
    s.controls = dataclasses.replace(c, not_interested=ni, region=region)
    if s.visitor is not None:
        v = s.visitor
        lo, hi = data.rating_scale
        rated = {i: r for i, r in v.ratings.items() if i in item_ids and lo <= r <= hi}
        if len(rated) < len(v.ratings):
            notes.append("Ignored from the link: visitor ratings of unknown items or outside "
                         f"the {lo:g}-{hi:g} scale.")
        demo = {}
        for name, value in v.demographics.items():
            if not data.has_column("users", name):
                notes.append(f"Ignored from the link: this data set has no {name}.")
            elif name != "age" and value not in set(data.users[name].dropna().astype(str)):
                notes.append(f"Ignored from the link: {name} {value} is not in this data set.")
            else:
                demo[name] = value
        s.visitor = UserProfile(ratings=rated, genres=list(keep(v.genres, genres, "genre(s)")),
                                demographics=demo)
    return s, notes


def canonical_spec(spec: str) -> str:
    """A data spec in the form its loader writes back (``Dataset.source``), where known.

    ``synthetic:users=120`` and ``synthetic:n_users=120`` name the same data.
    """
    spec = spec.strip()
    scheme, _, argument = spec.partition(":")
    if scheme == "synthetic":
        try:
            return parse_synthetic(argument).spec()
        except (ValueError, TypeError):
            return spec
    return spec


def same_data(spec: str, data: Dataset, *also: str) -> bool:
    """Whether ``spec`` names ``data`` (its source, or one of the specs it was loaded as)."""
    wanted = canonical_spec(spec)
    return wanted in {canonical_spec(s) for s in (data.source, *also) if s}


def link_data_problem(spec: str) -> str | None:
    """Why a link's data spec cannot be loaded at all (None: the loader can try it)."""
    scheme, _, argument = spec.strip().partition(":")
    if scheme == "csv-upload":
        return "it was uploaded from files in another session; upload them on the Data page"
    if scheme not in SCHEMES:
        return f"{scheme!r} is not a known kind of data source"
    if scheme == "synthetic":
        try:
            parse_synthetic(argument)
        except (ValueError, TypeError) as exc:
            return str(exc)
    return None
