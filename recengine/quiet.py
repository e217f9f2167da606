"""Keep TensorFlow's start-up chatter out of terminals and server logs.

``import recengine`` calls :func:`install` before anything loads TensorFlow, so
``python -m recengine ...``, ``streamlit run app.py`` and the bench scripts start
quietly. Three kinds of noise, three switches; each one can be turned back on:

* C++ log lines (``I0000 ...``, ``W0000 ...``, ``E0000 ... use_unbounded_threadpool``,
  the latter an ERROR-level line from tf.data's MapDataset op that Keras builds for
  ``Model.predict`` and ``fit``, harmless): ``TF_CPP_MIN_LOG_LEVEL`` defaults to 3
  (fatal only). TensorFlow turns C++ failures into Python exceptions, which still
  show. Set ``TF_CPP_MIN_LOG_LEVEL=0`` before starting to see every C++ line.
* the two lines TensorFlow's C++ side prints while it is being imported, before that
  setting applies (absl's "All log messages before absl::InitializeLog() ..." and the
  oneDNN notice): the import of ``tensorflow`` runs with the process's stderr
  (file descriptor 2) captured, and every captured line except those is written back.
  ``RECENGINE_TF_NOISE=1`` turns this, and the next switch, off.
* the Python ``tensorflow`` logger's "... triggered tf.function retracing" warnings
  (Keras compiles one predict function per sub-model, which is expected here): a filter
  drops those records only; every other TensorFlow warning still shows.
"""

from __future__ import annotations

import importlib.abc
import logging
import os
import sys
import tempfile
from contextlib import contextmanager

#: the environment switch that keeps every TensorFlow line (for debugging)
ENV_NOISE = "RECENGINE_TF_NOISE"
#: substrings of the lines dropped from stderr while TensorFlow imports
IMPORT_NOISE = ("All log messages before absl::InitializeLog() is called",
                "oneDNN custom operations are on",
                "use_unbounded_threadpool")
#: substrings of the ``tensorflow`` logger's records that are dropped
LOGGER_NOISE = ("triggered tf.function retracing",)


class _RetracingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot format is not ours to drop
            return True
        return not any(s in text for s in LOGGER_NOISE)


_FILTER = _RetracingFilter()


def is_noise(line: str) -> bool:
    """Whether a stderr line is TensorFlow start-up noise this module removes."""
    return any(s in line for s in IMPORT_NOISE)


@contextmanager
def _stderr_without_noise():
    """Capture file descriptor 2 (C++ writes there directly); replay all but the noise."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError, AttributeError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines = tmp.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not is_noise(line))
            if kept:
                os.write(2, kept.encode("utf-8", "replace"))


class _QuietLoader(importlib.abc.Loader):
    """Runs the real loader of ``tensorflow`` with stderr filtered, then steps aside."""

    def __init__(self, loader) -> None:
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        try:
            with _stderr_without_noise():
                self.loader.exec_module(module)
        finally:  # the module keeps its own loader: nothing else sees this wrapper
            module.__loader__ = self.loader
            if getattr(module, "__spec__", None) is not None:
                module.__spec__.loader = self.loader


class _TensorFlowFinder(importlib.abc.MetaPathFinder):
    """Wraps the first import of ``tensorflow`` (whoever imports it: Keras, us)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        _remove_finder()  # once: the next finders answer, this one only wraps their loader
        spec = None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None)
            if find is not None and (spec := find(fullname, path, target)) is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _QuietLoader(spec.loader)
        return spec


_FINDER = _TensorFlowFinder()


def _remove_finder() -> None:
    try:
        sys.meta_path.remove(_FINDER)
    except ValueError:
        pass


def install() -> None:
    """Set the switches above (idempotent; a no-op with ``RECENGINE_TF_NOISE=1``)."""
    if os.environ.get(ENV_NOISE, "") not in ("", "0"):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    tf_logger = logging.getLogger("tensorflow")
    if _FILTER not in tf_logger.filters:
        tf_logger.addFilter(_FILTER)
    if "tensorflow" not in sys.modules and _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
