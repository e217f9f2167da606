"""Plain words on every page, the hosted demo's rules, and a quiet start (issue 15).

Every page (1-9) is opened with Streamlit's AppTest on the small app data
(tests/conftest.py) and every table it draws is read as a visitor sees it: the
header (a column_config label where one is set), the cells and the placeholder
for a missing value.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.factories import open_app_page

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGES = ["pages/1_Recommendations.py", "pages/2_Similar_items.py", "pages/3_Pipeline.py",
         "pages/4_Model.py", "pages/5_Data.py", "pages/6_Objectives.py",
         "pages/7_Content_filtering.py", "pages/8_Bias_and_fairness.py",
         "pages/9_Transparency_report.py"]
#: what TensorFlow prints at start-up that a terminal must not show
NOISE = ("oneDNN", "absl::InitializeLog", "use_unbounded_threadpool", "retracing",
         "I0000 ", "W0000 ", "E0000 ")


@pytest.fixture(autouse=True)
def small_app_env(app_env):
    return app_env


def open_page(page: str, /, **query):
    return open_app_page(page, **query)


def open_history(at):
    """Open the Recommendations page's rating history (drawn only while open)."""
    at.session_state["history_open"] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown_headers(el) -> list[str]:
    """The headers a visitor reads: column_config labels, else the column names."""
    config = json.loads(el.proto.columns or "{}")
    frame = el.value
    heads = [config.get(str(c), {}).get("label") or str(c) for c in frame.columns]
    if not config.get("_index", {}).get("hidden") and frame.index.name is not None:
        heads.append(str(frame.index.name))
    return heads


def problems(el) -> list[str]:
    """What in one shown table is not plain: snake_case or @ headers, None, long floats."""
    out = []
    frame: pd.DataFrame = el.value
    for head in shown_headers(el):
        if "_" in head or "@" in head:
            out.append(f"header {head!r}")
    placeholder = el.proto.placeholder
    for col in frame.columns:
        s = frame[col]
        if s.isna().any() and placeholder in ("", "None"):
            out.append(f"{col!r}: a missing value renders as 'None'")
        if pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
            bad = [v for v in s if isinstance(v, str) and v.strip() == "None"]
            if bad:
                out.append(f"{col!r}: a cell reads 'None'")
            floats = [v for v in s if isinstance(v, float)]
        elif pd.api.types.is_float_dtype(s):
            floats = s.dropna().tolist()
        else:
            floats = []
        long = [v for v in floats if math.isfinite(v) and abs(v - round(v, 4)) > 1e-9]
        if long:
            out.append(f"{col!r}: {long[0]!r} has more than 4 decimals")
    return out


@pytest.mark.parametrize("page", PAGES)
def test_every_table_on_every_page_is_in_plain_words(page):
    at = open_page(page)
    if page == PAGES[0]:
        at = open_history(at)
    assert at.dataframe, f"{page} shows at least one table"
    found = {f"table {i}": p for i, el in enumerate(at.dataframe) if (p := problems(el))}
    assert not found, found


def test_a_shape_or_a_timestamp_never_reaches_a_table():
    at = open_page(PAGES[3])
    cells = " ".join(str(v) for el in at.dataframe for v in el.value.to_numpy().ravel())
    assert "(None," not in cells and "batch x" in cells, "shapes read 'batch x 32'"
    at = open_history(open_page(PAGES[0]))
    history = at.dataframe[0].value
    rated_on = next(c for c in history.columns if c.startswith("Rated on"))
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in history[rated_on])


def test_a_visitor_is_told_how_many_items_are_in_the_chosen_genres():
    at = open_page(PAGES[0])
    at.radio(key="rec_mode").set_value("New visitor").run()
    genre = at.multiselect(key="visitor_genres").options[0]
    at.multiselect(key="visitor_genres").select(genre).run()
    assert not at.exception
    notes = [el.value for el in [*at.caption, *at.info] if "in the genres you picked" in el.value]
    assert notes, "the page says how many listed items are in the visitor's genres"
    m = re.match(r"(\d+) of these (\d+) items", notes[0])
    assert m and int(m.group(2)) == 10
    if int(m.group(1)) < 5:
        assert "ranking stage" in notes[0], "a list that buries the genres says why"


def test_the_pipeline_trade_off_says_where_it_comes_from_and_measures_on_demand():
    at = open_page(PAGES[2])
    info = " ".join(el.value for el in at.info)
    assert "Not the data on screen" in info or "No retrieval-size measurement" in info
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Measured on the data on screen" in el.value for el in at.info)
    chart = next(el for el in at.get("plotly_chart")
                 if "pipeline_tradeoff" in str(el.proto.id))
    layout = json.loads(chart.proto.spec)["layout"]
    assert layout["yaxis"]["range"][0] == 0, "the share axis starts at zero"
    assert layout["xaxis"].get("rangemode") == "tozero"
    table = at.dataframe[-2].value  # the default columns; the expander holds every column
    assert len(table) >= 2 and not any("_" in c for c in table.columns)


# ----- the hosted demo -------------------------------------------------------------------
@pytest.fixture
def demo(monkeypatch):
    monkeypatch.setenv("RECENGINE_DEMO", "1")


def test_demo_mode_offers_no_server_folders_and_refuses_a_path(demo):
    at = open_page(PAGES[4])
    kinds = at.radio(key="data_kind").options
    assert not any("folder" in k.lower() for k in kinds), kinds
    assert "hosted demo" in " ".join(el.value for el in at.info)
    assert at.number_input(key="syn_users").max == 5_000, "synthetic data has a size cap"
    at.radio(key="data_kind").set_value("A known data set").run()
    known = at.selectbox(key="known_spec").options
    assert all("/" not in k for k in known), known
    # a link naming a server path is refused in plain words; the data stays
    at = open_page(PAGES[0], data="movielens-latest:/etc", user="3", page="data")
    assert at.title[0].value == "Data"
    warned = " ".join(el.value for el in at.warning)
    assert "Not in the hosted demo" in warned and "hosted demo reads none" in warned
    assert "synthetic" in at.sidebar.markdown[0].value


def test_demo_mode_caps_uploads(demo):
    at = open_page(PAGES[4])
    before = at.sidebar.markdown[0].value
    at.radio(key="data_kind").set_value("Upload a CSV bundle").run()
    body = b"item_id,title,genres\n" + b"1,A,Drama\n" * (2_200_000)  # about 21 MB
    at.file_uploader[0].set_value([("items.csv", body, "text/csv"),
                                   ("interactions.csv", b"user_id,item_id,rating,timestamp\n",
                                    "text/csv")])
    at.run()
    at.button[0].click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "Not in the hosted demo" in errors and "20 MB" in errors
    assert at.sidebar.markdown[0].value == before, "the previous data stays"


def test_the_server_caps_each_upload():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] <= 20


def test_the_server_does_not_watch_source_files():
    """A new session's watcher walks every imported module on the event loop, which
    delayed every visitor arriving at the same time; nothing reruns on save anyway."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"
    assert config["server"]["runOnSave"] is False


def test_the_model_is_trained_once_per_process_and_shared(monkeypatch, tmp_path):
    """Two visitors at once on an empty model folder: one training, one model object."""
    from recengine.model_store import ModelStore
    from ui import state

    monkeypatch.setenv("RECENGINE_HOME", str(tmp_path))  # nothing saved: it must train
    trained = []
    real = ModelStore.get_or_train

    def counting(self, *args, **kwargs):
        trained.append(threading.get_ident())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ModelStore, "get_or_train", counting)
    sessions = [AppTest.from_file(APP, default_timeout=300) for _ in range(2)]
    threads = [threading.Thread(target=s.run) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in sessions:
        assert not s.exception, [e.value for e in s.exception]
        assert s.title[0].value == "Recommendations"
    assert len(trained) == 1, "the second visitor waited for the first one's model"
    models = [b for key, b in state._registry().bundles.items() if str(tmp_path) in key]
    assert len(models) == 1


# ----- a quiet start ---------------------------------------------------------------------
def _quiet_env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "RECENGINE_TF_NOISE")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_the_cli_starts_without_tensorflow_noise(tmp_path):
    cmd = [sys.executable, "-m", "recengine", "train", "--data", "synthetic:users=60,items=120",
           "--out", str(tmp_path / "model"), "--epochs", "1"]
    run = subprocess.run(cmd, cwd=ROOT, env=_quiet_env(), capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    noisy = [line for line in run.stderr.splitlines() if any(n in line for n in NOISE)]
    assert not noisy, noisy
    assert "saved" in run.stdout


def test_the_import_filter_keeps_every_other_line():
    script = ("import os\nfrom recengine import quiet\n"
              "with quiet._stderr_without_noise():\n"
              "    os.write(2, b'I0000 port.cc] oneDNN custom operations are on.\\n')\n"
              "    os.write(2, b'a real problem\\n')\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=_quiet_env(),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "a real problem" in run.stderr and "oneDNN" not in run.stderr
