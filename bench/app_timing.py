"""How fast the dashboard is for a visitor: cold start, page switches, user changes, memory.

Targets (../shared/TARGETS.md): first recommendations on screen <= 60 s after
``streamlit run app.py`` with no saved model and <= 10 s with one (embedded
default data, CPU); changing the user or the page p50 <= 300 ms; peak resident
memory <= 1.5 GB for the hosted demo.

Cold start is measured end to end: a real ``streamlit run`` server and headless
Chromium (/usr/bin/chromium), from launching the process to the first
recommendation badge in the page. Run 1 has an empty model folder (trains);
run 2 reuses it (loads). Peak RSS is the server's VmHWM after every page has
been opened once. Page switch and user change are AppTest script runs
(server-side time; the browser adds its rendering on top).

    python bench/app_timing.py [--repeats 20] [--skip-browser]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGES = ["", "similar-items", "pipeline", "model", "data"]
#: the audit pages, toured when their files exist (they load their own models and tables)
AUDIT_PAGES = {"pages/6_Objectives.py": "objectives",
               "pages/7_Content_filtering.py": "content-filtering",
               "pages/8_Bias_and_fairness.py": "bias-and-fairness",
               "pages/9_Transparency_report.py": "transparency-report"}
READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm_hwm_mb(pid: int) -> float:
    """Peak resident memory of a process (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def serve_and_open(home: str, visit_all: bool) -> dict:
    """Launch the app, time the first recommendations in a browser, optionally tour pages."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("RECENGINE_DATA", "RECENGINE_TRAIN")}
    env["RECENGINE_HOME"] = home
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py",
                             "--server.headless", "true", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    out: dict = {}
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - start > 120:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        out["server_ready_s"] = time.perf_counter() - start
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page()
            page.goto(url + "/")
            page.get_by_text("because you watched").first.wait_for(timeout=300_000)
            out["first_recommendations_s"] = time.perf_counter() - start
            if visit_all:
                tour = PAGES + [u for f, u in AUDIT_PAGES.items() if (ROOT / f).exists()]
                for path in tour:
                    page.goto(f"{url}/{path}")
                    page.wait_for_selector(READY, timeout=300_000)
                    page.wait_for_timeout(300)
                    page.wait_for_selector(READY, timeout=300_000)
            browser.close()
            out["pages_toured"] = len(tour) if visit_all else 1
        out["peak_rss_mb"] = vm_hwm_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return out


def percentiles(samples: list[float]) -> str:
    ms = sorted(1000 * s for s in samples)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
    return f"p50 {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   (n={len(ms)})"


def apptest_interactions(home: str, repeats: int) -> dict[str, list[float]]:
    """Server-side time of a page switch and of a user change (model already saved)."""
    from streamlit.testing.v1 import AppTest

    os.environ["RECENGINE_HOME"] = home
    os.environ.pop("RECENGINE_DATA", None)
    os.environ.pop("RECENGINE_TRAIN", None)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600).run()
    pages = ["pages/2_Similar_items.py", "pages/3_Pipeline.py", "pages/1_Recommendations.py"]
    for page in pages:  # warm every page once (caches, projections)
        at.switch_page(page).run()
    switch, change = [], []
    from recengine.data import load_source

    users = load_source("synthetic").users["user_id"].tolist()
    for r in range(repeats):
        t = time.perf_counter()
        at.switch_page(pages[r % len(pages)]).run()
        switch.append(time.perf_counter() - t)
    at.switch_page("pages/1_Recommendations.py").run()
    for r in range(repeats):
        t = time.perf_counter()
        at.sidebar.selectbox(key="user_picker").select(int(users[(r + 1) % len(users)])).run()
        change.append(time.perf_counter() - t)
    if at.exception:
        raise RuntimeError([e.value for e in at.exception])
    return {"page switch": switch, "user change": change}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--skip-browser", action="store_true",
                        help="only the AppTest interaction timings")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="recengine-bench-") as home:
        if not args.skip_browser:
            cold = serve_and_open(home, visit_all=False)
            warm = serve_and_open(home, visit_all=True)
            print("cold start (embedded synthetic default, demo training config)")
            c, w = cold["first_recommendations_s"], warm["first_recommendations_s"]
            print(f"  no saved model : first recommendations {c:6.1f} s"
                  f"  (target <= 60 s; server up after {cold['server_ready_s']:.1f} s)")
            print(f"  saved model    : first recommendations {w:6.1f} s"
                  f"  (target <= 10 s; server up after {warm['server_ready_s']:.1f} s)")
            print(f"  ratio no-model / saved: {c / w:.1f}x")
            print(f"peak resident memory of the server after {warm['pages_toured']} pages: "
                  f"{warm['peak_rss_mb']:.0f} MB (target <= 1536 MB for the hosted demo)")
        else:
            from recengine.data import load_source
            from recengine.model_store import ModelStore, demo_train_config

            ModelStore(Path(home)).get_or_train(load_source("synthetic"), demo_train_config(""))
        timings = apptest_interactions(home, args.repeats)
        print("interactions (AppTest, server-side script time; target p50 <= 300 ms)")
        for name, samples in timings.items():
            print(f"  {name:<12}: {percentiles(samples)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
