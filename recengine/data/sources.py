"""One string names a data set: the CLI flag, the app's picker and model bundles.

A spec is ``scheme`` or ``scheme:argument``. Every loader sets
``Dataset.source`` to a spec that reloads the same data, so a saved model can
say exactly which data it was trained on and the CLI can load it again.
"""

from __future__ import annotations

from dataclasses import fields

from ..business import attach_business
from ..schema import Dataset
from .csv_bundle import load_csv_bundle
from .download import KNOWN, DownloadError, download_movielens
from .movielens_100k import load_movielens_100k
from .movielens_latest import load_movielens_latest
from .synthetic import SyntheticConfig, make_synthetic

SCHEMES = {
    "synthetic": "synthetic[:users=600,items=1500,seed=0,...] (any SyntheticConfig field)",
    "movielens-latest": "movielens-latest:PATH (a ml-latest-small folder)",
    "movielens-100k": "movielens-100k:PATH (a ml-100k folder)",
    "csv": "csv:PATH[#scale=LO-HI] (a CSV bundle folder, see docs/csv_bundle.md)",
    "download": "download:ml-latest-small or download:ml-100k (cached after the first time)",
}
DEFAULT_SPEC = "synthetic"
#: short names accepted in synthetic specs
_ALIASES = {"users": "n_users", "items": "n_items", "factors": "n_factors",
            "ratings": "ratings_per_user"}


def parse_synthetic(argument: str) -> SyntheticConfig:
    """``"users=600,items=1500,seed=0"`` -> SyntheticConfig (types from the dataclass)."""
    types = {f.name: f.type for f in fields(SyntheticConfig)}
    values: dict[str, int | float] = {}
    for part in filter(None, (p.strip() for p in argument.split(","))):
        key, sep, value = part.partition("=")
        key = _ALIASES.get(key.strip(), key.strip())
        if not sep or key not in types:
            raise ValueError(f"bad synthetic option {part!r}; use key=value with keys from "
                             f"{sorted(types) + sorted(_ALIASES)}")
        kind = int if types[key] in (int, "int") else float
        try:
            values[key] = kind(value.strip())
        except ValueError as exc:
            raise ValueError(f"synthetic option {key} needs a number, got {value!r}") from exc
    return SyntheticConfig(**values)


def _csv(argument: str) -> Dataset:
    path, sep, scale = argument.rpartition("#scale=")
    if not sep:
        return load_csv_bundle(argument)
    lo, _, hi = scale.partition("-")
    try:
        rating_scale = (float(lo), float(hi))
    except ValueError as exc:
        raise ValueError(f"bad scale {scale!r}: write #scale=LO-HI, e.g. #scale=1-5") from exc
    return load_csv_bundle(path, rating_scale=rating_scale)


def load_source(spec: str) -> Dataset:
    """The Dataset a spec names; ``Dataset.source`` reloads it (see :data:`SCHEMES`).

    Business columns the data lacks (all of them on MovieLens) are simulated and
    attached here, once, marked simulated (:func:`recengine.business.attach_business`).
    """
    return attach_business(_load(spec))


def _load(spec: str) -> Dataset:
    scheme, _, argument = spec.strip().partition(":")
    if scheme == "synthetic":
        return make_synthetic(parse_synthetic(argument))
    if scheme not in SCHEMES:
        raise ValueError(f"unknown data source {spec!r}; valid: "
                         + "; ".join(SCHEMES.values()))
    if not argument:
        raise ValueError(f"{scheme!r} needs an argument: {SCHEMES[scheme]}")
    if scheme == "movielens-latest":
        return load_movielens_latest(argument)
    if scheme == "movielens-100k":
        return load_movielens_100k(argument)
    if scheme == "csv":
        return _csv(argument)
    if argument not in KNOWN:
        raise ValueError(f"unknown download {argument!r}; valid: {sorted(KNOWN)}")
    folder = download_movielens(argument)
    data = (load_movielens_100k(folder) if argument == "ml-100k"
            else load_movielens_latest(folder))
    data.source = spec.strip()
    return data


def load_with_fallback(spec: str) -> tuple[Dataset, str | None]:
    """Load ``spec``; without network, the synthetic demo data and a notice saying so.

    Only a failed download falls back: bad data (DataError) or a checksum
    mismatch still raise, because quietly showing other data would hide them.
    """
    try:
        return load_source(spec), None
    except DownloadError:
        what = spec.partition(":")[2] or spec
        notice = (f"No network: could not download {what}; showing the synthetic demo data "
                  "instead.")
        return load_source(DEFAULT_SPEC), notice


def describe_sources() -> str:
    """The valid specs, one a line (for CLI help and error messages)."""
    return "\n".join(SCHEMES.values())


__all__ = ["SCHEMES", "DEFAULT_SPEC", "load_source", "load_with_fallback", "parse_synthetic",
           "describe_sources"]
