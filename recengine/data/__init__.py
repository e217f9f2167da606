"""Data sources: every loader returns a :class:`recengine.schema.Dataset`."""

from .movielens_latest import load_movielens_latest

__all__ = ["load_movielens_latest"]
