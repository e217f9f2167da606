"""The one shared-state API every page uses: data, model, engine, user, policy, URL.

Why one module: pages (this team's and the audit pages) must agree on which
data set, model and user are active, and a page opened from a link must show
the same view. Heavy objects live in process-wide caches (``st.cache_resource``),
so a second browser tab or a page switch never retrains; per-visitor choices
live in ``st.session_state`` and are mirrored in the URL's query parameters.

Data switching is transactional: a new source becomes active only once it has
loaded, validated and trained; until then the previous data and engine stay.
"""

from __future__ import annotations

import gc
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import streamlit as st

from recengine.bundle import ModelBundle
from recengine.config import TrainConfig
from recengine.data import load_csv_bundle, load_with_fallback
from recengine.data.sources import DEFAULT_SPEC
from recengine.engine import Engine
from recengine.model_store import (
    ModelStore,
    demo_train_config,
    evaluate_bundle,
    evaluate_with_cf,
    train_cf_model,
)
from recengine.objectives import ObjectiveSet
from recengine.policy import ContentPolicy
from recengine.projection import Projection, pca_2d
from recengine.schema import DataError, Dataset
from recengine.serving import serving_engine
from recengine.subject import Subject
from ui.widgets import PALETTE, data_error_text

__all__ = [
    "PALETTE", "current_page_param", "current_policy", "data_choice", "default_policy",
    "get_bundle", "get_dataset", "get_engine", "model_key", "selected_user",
    "set_selected_user", "simulated_label", "switch_data", "train_config",
]

ENV_DATA = "RECENGINE_DATA"
DATA_CHOICE = "data_choice"  # session: the spec (or upload source) of the active data
PREVIOUS_CHOICE = "previous_data_choice"
DATA_NOTICE = "data_error"  # session: why the last switch was refused (shown once)
USER = "user"
POLICY_LABELS, POLICY_GENRES, POLICY_ACTION = "policy_labels", "policy_genres", "policy_action"
#: loaded data sets / trained models kept in memory at once (the active and the previous)
KEEP = 2


# ----- process-wide caches -------------------------------------------------------------------
@dataclass
class _Registry:
    datasets: OrderedDict = field(default_factory=OrderedDict)  # spec -> (Dataset, notice)
    bundles: OrderedDict = field(default_factory=OrderedDict)  # key -> ModelBundle
    engines: OrderedDict = field(default_factory=OrderedDict)  # key -> Engine
    locks: dict = field(default_factory=dict)
    guard: threading.Lock = field(default_factory=threading.Lock)

    def lock(self, key: str) -> threading.Lock:
        with self.guard:
            return self.locks.setdefault(key, threading.Lock())

    def put(self, table: OrderedDict, key: str, value) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > KEEP:
            table.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _registry() -> _Registry:
    return _Registry()


def default_spec() -> str:
    """The data the app opens on: ``$RECENGINE_DATA`` or the embedded synthetic demo."""
    return os.environ.get(ENV_DATA, DEFAULT_SPEC)


def train_config() -> TrainConfig:
    """The training config of the app's models (``$RECENGINE_TRAIN`` can shrink it)."""
    return demo_train_config()


def data_choice() -> str:
    """The active data set's spec (session state ``data_choice``)."""
    if DATA_CHOICE not in st.session_state:
        st.session_state[DATA_CHOICE] = default_spec()
    return st.session_state[DATA_CHOICE]


# ----- data ----------------------------------------------------------------------------------
def _load(spec: str) -> tuple[Dataset, str | None]:
    reg = _registry()
    if spec in reg.datasets:
        reg.datasets.move_to_end(spec)
        return reg.datasets[spec]
    with reg.lock("data:" + spec):
        if spec not in reg.datasets:
            with st.spinner(f"Loading data set {spec}…"):
                reg.put(reg.datasets, spec, load_with_fallback(spec))
    return reg.datasets[spec]


def get_dataset() -> tuple[Dataset, str | None]:
    """The active Dataset and the fallback notice (None unless a download fell back)."""
    spec = data_choice()
    try:
        return _load(spec)
    except (DataError, ValueError, OSError) as exc:
        if spec == DEFAULT_SPEC:
            raise
        # a broken start-up source (e.g. $RECENGINE_DATA): show why, serve the demo
        st.session_state[DATA_CHOICE] = DEFAULT_SPEC
        data, _ = _load(DEFAULT_SPEC)
        return data, f"Could not load {spec} ({exc}); showing the synthetic demo data instead."


def switch_data(source: str | dict[str, bytes]) -> tuple[Dataset | None, str | None]:
    """Make ``source`` (a spec, or uploaded CSV bytes by file name) the active data.

    Returns (dataset, None) on success; (None, plain-words error) when it fails
    to load or validate, and then the previous data stays active.
    """
    try:
        if isinstance(source, dict):
            data, notice = load_csv_bundle(source), None
            reg = _registry()
            reg.put(reg.datasets, data.source, (data, None))
            spec = data.source
        else:
            spec = source.strip()
            data, notice = _load(spec)
    except (DataError, ValueError, OSError, KeyError) as exc:
        return None, data_error_text(exc)
    if data.n_items < 2 or len(data.interactions) == 0:
        return None, ("**The data could not be used:** it needs at least 2 items and one "
                      "rating to train a model.")
    previous = data_choice()
    if spec != previous:
        st.session_state[PREVIOUS_CHOICE] = previous
        st.session_state[DATA_CHOICE] = spec
        st.session_state.pop(USER, None)
    return data, notice


def pop_data_notice() -> str | None:
    """Why the last data switch was rolled back (shown once, then forgotten)."""
    return st.session_state.pop(DATA_NOTICE, None)


def simulated_label(column: str) -> str:
    """``"(simulated)"`` when the column (``"items.price"`` or ``"price"``) is simulated."""
    data, _ = get_dataset()
    names = set(data.simulated)
    if column in names or any(s.split(".", 1)[-1] == column for s in names):
        return "(simulated)"
    return ""


# ----- model and engine ----------------------------------------------------------------------
def model_key() -> str:
    """Names the active model: data fingerprint + config hash (+ where it is stored)."""
    data, _ = get_dataset()
    return ModelStore().key(data, train_config())


def _progress_callback(bar):
    def report(event: dict) -> None:
        epochs, steps = max(1, event["epochs"]), max(1, event["steps"])
        done = min(1.0, ((event["epoch"] - 1) + event["step"] / steps) / epochs)
        text = (f"Training the model (first run only): epoch {event['epoch']}/{epochs}, "
                f"step {event['step']}/{steps}, loss {event.get('loss', float('nan')):.3f}")
        if "val_loss" in event:
            text += f", validation loss {event['val_loss']:.3f}"
        bar.progress(done, text=text)

    return report


def _train_or_load(data: Dataset, cfg: TrainConfig) -> ModelBundle:
    store = ModelStore()
    with st.spinner("Loading the saved model…"):
        bundle = store.load(data, cfg)
    if bundle is not None:
        return bundle
    bar = st.progress(0.0, text="Training the model for this data (first run only)…")
    try:
        return store.get_or_train(data, cfg, progress=_progress_callback(bar))
    finally:
        bar.empty()


def _roll_back(exc: Exception) -> None:
    """Training on new data failed: return to the previous data and say why."""
    previous = st.session_state.pop(PREVIOUS_CHOICE, None)
    if previous is None or previous == data_choice():
        raise exc
    st.session_state[DATA_CHOICE] = previous
    st.session_state[DATA_NOTICE] = ("**A model could not be trained on the new data; the "
                                     f"previous data set stays active.** ({exc})")
    st.rerun()


def _model_slot() -> str:
    """The cache key of the active model: where it is stored plus its data and config."""
    return f"{ModelStore().root}|{model_key()}"


def _registry_once(table: OrderedDict, name: str, key: str, build):
    """``table[key]``, built once per process even when several sessions ask at once."""
    reg = _registry()
    if key not in table:
        with reg.lock(f"{name}:{key}"):
            if key not in table:
                reg.put(table, key, build())
    return table[key]


def get_bundle() -> ModelBundle:
    """The trained model for the active data (trained once, then loaded from disk)."""
    data, _ = get_dataset()

    def build() -> ModelBundle:
        try:
            return _train_or_load(data, train_config())
        except Exception as exc:  # noqa: BLE001 - any failure: keep the old data
            _roll_back(exc)
            raise

    return _registry_once(_registry().bundles, "model", _model_slot(), build)


def get_engine() -> Engine:
    """The serving engine for the active data and model (built once per model)."""
    data, _ = get_dataset()
    bundle = get_bundle()

    def build() -> Engine:
        with st.spinner("Preparing retrieval (similar items, top lists)…"):
            engine = serving_engine(data, bundle)
        # Streamlit clears the Keras session after every run, and that runs a full
        # gc.collect(): with TensorFlow loaded it dominated each rerun (~0.2 s).
        # Freezing the long-lived heap (modules, model, engine) keeps it out of
        # every later collection.
        gc.collect()
        gc.freeze()
        return engine

    engine = _registry_once(_registry().engines, "engine", _model_slot(), build)
    st.session_state.pop(PREVIOUS_CHOICE, None)  # the new data is good: no way back needed
    return engine


# ----- evaluations and projections (cached: the same model gives the same figures) -----------
@st.cache_data(show_spinner=False, max_entries=8)
def _evaluation(key: str, with_cf: bool, _data: Dataset, _bundle: ModelBundle) -> dict:
    if with_cf:
        return evaluate_with_cf(_data, _bundle)
    return evaluate_bundle(_data, _bundle)


def evaluation(with_cf: bool = False) -> dict:
    """The protocol's figures for the active model beside the baselines (cached per model)."""
    data, _ = get_dataset()
    return _evaluation(model_key(), with_cf, data, get_bundle())


def evaluation_cached(with_cf: bool = False) -> bool:
    """Whether :func:`evaluation` would answer from the cache (no waiting)."""
    return st.session_state.get(f"evaluated:{model_key()}:{with_cf}", False)


def mark_evaluated(with_cf: bool = False) -> None:
    st.session_state[f"evaluated:{model_key()}:{with_cf}"] = True


@st.cache_resource(show_spinner=False, max_entries=2)
def _cf_model(key: str, _data: Dataset):
    return train_cf_model(_data)


def cf_model():
    """Collaborative filtering on the active data's train split (trained once, cached)."""
    data, _ = get_dataset()
    return _cf_model(data.fingerprint, data)


@st.cache_data(show_spinner=False, max_entries=32)
def _projection(key: str, include: tuple[int, ...], _vectors) -> Projection:
    return pca_2d(_vectors, include=list(include))


def item_projection(include: list[int] | None = None) -> Projection:
    """2-D PCA map of the active model's item vectors; ``include`` rows always drawn."""
    return _projection(model_key(), tuple(sorted(include or [])), get_bundle().item_vectors)


# ----- the user, shared by every page and the URL --------------------------------------------
def _valid_user(data: Dataset, user_id) -> int | None:
    try:
        uid = int(user_id)
        data.user_index(uid)
    except (TypeError, ValueError, KeyError):
        return None
    return uid


def selected_user() -> int:
    """The user every page shows; on a session's first run, the URL's ``?user=`` wins."""
    data, _ = get_dataset()
    uid = _valid_user(data, st.session_state.get(USER))
    if uid is None:
        uid = _valid_user(data, st.query_params.get("user"))
    if uid is None:
        uid = int(data.users["user_id"].iloc[0])
    st.session_state[USER] = uid
    return uid


def set_selected_user(user_id: int) -> None:
    st.session_state[USER] = int(user_id)
    st.query_params["user"] = str(int(user_id))


def current_page_param() -> str | None:
    """The page named in the URL (``?page=``), so a shared link opens the same view."""
    return st.query_params.get("page")


def sync_url(page: str) -> None:
    """Write the active page and user into the URL (every run: links always match)."""
    if st.query_params.get("page") != page:
        st.query_params["page"] = page
    user = str(selected_user())
    if st.query_params.get("user") != user:
        st.query_params["user"] = user


# ----- the content policy --------------------------------------------------------------------
def default_policy() -> ContentPolicy:
    """No rules: nothing filtered (the sidebar adds rules for this session)."""
    return ContentPolicy()


def current_policy() -> ContentPolicy:
    """The policy set in the sidebar for this session (blocked labels and genres)."""
    labels = tuple(st.session_state.get(POLICY_LABELS) or ())
    genres = tuple(st.session_state.get(POLICY_GENRES) or ())
    action = st.session_state.get(POLICY_ACTION) or "remove"
    if not labels and not genres:
        return default_policy()
    return ContentPolicy(blocked_labels=labels, blocked_genres=genres, action=action)


@st.cache_resource(show_spinner=False, max_entries=2)
def _subject(key: str, _data: Dataset, _bundle: ModelBundle, _engine: Engine) -> Subject:
    return Subject.build(_data, _bundle, served=_engine)


def get_subject() -> Subject:
    """The system being audited: the served engine the pages show and its train-only twin.

    Built once per model from the same bundle ``python -m audits report`` loads,
    so the app's audits and the terminal's agree number for number.
    """
    data, _ = get_dataset()
    return _subject(_model_slot(), data, get_bundle(), get_engine())


def get_objectives() -> ObjectiveSet:
    """The served order and its alternatives for the active model (one for every page)."""
    return get_subject().objectives
