"""The system being audited: one object, built one way, for every page, audit and report.

A :class:`Subject` holds the served pipeline (retrieval, content policy,
ranking stage, rating head, as users get it) and its protocol twin (the same
bundle reading the train split only), plus the business objectives the audits
compare with the served order. The app's pages, ``python -m audits report`` and
the bench scripts all build it with :meth:`Subject.build` or
:meth:`Subject.load`, so they describe the same lists and agree number for
number on the same bundle and data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .bundle import ModelBundle
from .engine import Engine, EngineConfig
from .objectives import ObjectiveSet, objective_set
from .schema import Dataset
from .serving import load_for_data, protocol_engine, serving_engine
from .split import Split, temporal_split


@dataclass
class Subject:
    """The served pipeline, its train-only twin, and the objectives compared with it."""

    data: Dataset
    bundle: ModelBundle
    served: Engine
    protocol: Engine
    split: Split
    objectives: ObjectiveSet

    @classmethod
    def build(cls, data: Dataset, bundle: ModelBundle, config: EngineConfig | None = None,
              served: Engine | None = None, seed: int = 0) -> Subject:
        """Both engines from one bundle (``served`` reuses an already built serving engine)."""
        split = temporal_split(data.interactions)
        served = served or serving_engine(data, bundle, config)
        protocol = protocol_engine(data, bundle, split.train, config or served.config)
        return cls(served.data, bundle, served, protocol, split, objective_set(served, seed))

    @classmethod
    def load(cls, path: str | Path, data: Dataset | None = None,
             config: EngineConfig | None = None) -> Subject:
        data, bundle = load_for_data(path, data)
        return cls.build(data, bundle, config)


__all__ = ["Subject"]
