"""How fast the dashboard is for a visitor: cold start, concurrent visits, switches, memory.

Targets (../shared/TARGETS.md): first recommendations on screen <= 60 s after
``streamlit run app.py`` with no saved model and <= 10 s with one (embedded
default data, CPU); 8 simultaneous first visits to a warm server p95 <= 10 s;
changing the user or the page p50 <= 300 ms; peak resident memory <= 1.5 GB for
the hosted demo.

Cold start is measured end to end: a real ``streamlit run`` server and headless
Chromium (/usr/bin/chromium), from launching the process to the first
recommendation badge in the page. Run 1 has an empty model folder (trains);
run 2 reuses it (loads) and opens every page once. Then 8 first visits arrive at
once, in ``--visit-rounds`` rounds (a round's p95 of 8 is its slowest visit, so
one round says little), three ways:

- replayed with no browser (bench/protocol_visits.py): the server's part of a
  visit, what visitors who bring their own machines wait for; a lone Chromium
  visit minus a lone replayed one is what their own browser adds, and the sum
  is their estimate;
- 8 Chromium contexts on this machine (fresh sessions and websockets), each
  timed from its request to its first recommendation: here 8 browsers share the
  server's CPUs;
- the same 8 contexts on a hello-world page: this machine's floor for them.

The source watcher's cost is measured beside it: the app served again with
Streamlit's default watcher on, the same visits replayed, and the server's CPU
per lone first visit read from /proc for both. Peak RSS is the server's VmHWM.
Page switch and user change are AppTest script runs (server-side time; the
browser adds its rendering on top).

    python bench/app_timing.py [--repeats 20] [--visitors 8] [--visit-rounds 4] [--skip-browser]

Prints the figures with the machine's load (``uptime``) and writes them to
bench/results/app_timing.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import protocol_visits  # bench/, beside this script

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
FIRST_LIST = "because you watched"  # a source badge: the list is on screen
#: TensorFlow start-up noise that must not reach the server's terminal
NOISE = ("oneDNN", "absl::InitializeLog", "use_unbounded_threadpool", "retracing",
         "I0000 ", "W0000 ", "E0000 ")
RESULTS = ROOT / "bench" / "results" / "app_timing.json"


def load_average() -> str:
    """The machine's load, as ``uptime`` reports it (1, 5 and 15 minute averages)."""
    try:
        out = subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout
        return out.strip().split("load average:")[-1].strip()
    except (OSError, subprocess.SubprocessError):
        return ", ".join(Path("/proc/loadavg").read_text().split()[:3])


async def _visits(url: str, n: int) -> list[float]:
    """``n`` first visits at once: own browser contexts (fresh sessions), times to the list."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        contexts = [await browser.new_context() for _ in range(n)]
        pages = [await c.new_page() for c in contexts]

        async def one(page) -> float:
            t = time.perf_counter()
            await page.goto(url + "/", wait_until="commit")
            await page.get_by_text(FIRST_LIST).first.wait_for(timeout=300_000)
            return time.perf_counter() - t

        try:
            return list(await asyncio.gather(*(one(pg) for pg in pages)))
        finally:
            await browser.close()


def concurrent_first_visits(url: str, n: int) -> list[float]:
    return asyncio.run(_visits(url, n))


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


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    start: float
    ready_s: float = 0.0
    noise: list[str] = field(default_factory=list)


@contextlib.contextmanager
def served(home: str, script: str = "app.py", extra: tuple[str, ...] = (),
           root: Path = ROOT) -> Iterator[Server]:
    """A real ``streamlit run`` server of the checkout at ``root``, on a free port, healthy."""
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("RECENGINE_DATA", "RECENGINE_TRAIN")}
    env["RECENGINE_HOME"] = home
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # what a plain `streamlit run app.py` gets
    terminal = tempfile.TemporaryFile()
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", script,
                             "--server.headless", "true", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false", *extra],
                            cwd=root, env=env, stdout=terminal, stderr=subprocess.STDOUT)
    server = Server(url=f"http://127.0.0.1:{port}", proc=proc, start=start)
    try:
        while True:
            try:
                with urllib.request.urlopen(server.url + "/_stcore/health", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - start > 120:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        server.ready_s = time.perf_counter() - start
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        terminal.seek(0)
        lines = terminal.read().decode("utf-8", "replace").splitlines()
        terminal.close()
        server.noise.extend(ln for ln in lines if any(n in ln for n in NOISE))


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far (/proc/PID/stat), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_list_in_browser(server: Server, tour: bool, root: Path = ROOT) -> dict:
    """A first visit in Chromium from the server's launch; optionally every page after."""
    from playwright.sync_api import sync_playwright

    out: dict = {"server_ready_s": server.ready_s}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(server.url + "/")
        page.get_by_text(FIRST_LIST).first.wait_for(timeout=300_000)
        out["first_recommendations_s"] = time.perf_counter() - server.start
        paths = PAGES + [u for f, u in AUDIT_PAGES.items() if (root / f).exists()]
        for path in paths if tour else ():
            page.goto(f"{server.url}/{path}")
            page.wait_for_selector(READY, timeout=300_000)
            page.wait_for_timeout(300)
            page.wait_for_selector(READY, timeout=300_000)
        browser.close()
    out["pages_toured"] = len(paths) if tour else 1
    return out


def replayed(server: Server, visitors: int, rounds: int, repeats: int) -> dict:
    """The server's part of first visits (bench/protocol_visits.py): lone and simultaneous.

    Also the server's CPU per lone first visit, and what a lone visit's browser adds.
    """
    rec = protocol_visits.record_visit(server.url, FIRST_LIST, CHROMIUM, ARGS)
    # a lone visit in Chromium and replayed (medians of 5): the difference is what a
    # visitor's own browser adds to the server's part, with nothing else visiting
    chrome = statistics.median(concurrent_first_visits(server.url, 1)[0] for _ in range(5))
    replay = statistics.median(
        protocol_visits.replayed_first_visits(server.url, rec, 1, FIRST_LIST)[0]
        for _ in range(5))
    alone = {"chromium_alone_s": chrome, "replay_alone_s": replay,
             "browser_share_s": max(0.0, chrome - replay)}
    before = cpu_seconds(server.proc.pid)
    for _ in range(repeats):
        protocol_visits.replayed_first_visits(server.url, rec, 1, FIRST_LIST)
    cpu = (cpu_seconds(server.proc.pid) - before) / repeats
    rounds_s = [protocol_visits.replayed_first_visits(server.url, rec, visitors, FIRST_LIST)
                for _ in range(max(1, rounds))]
    return {**alone, "server_cpu_per_visit_s": cpu, "rounds_s": rounds_s,
            "assets": len(rec.boot_assets) + len(rec.late_assets)}


def renderer_cpu(url: str, repeats: int = 8) -> float:
    """Median main-thread CPU of a lone first visit's renderer, in seconds.

    Chrome's own Performance metric (TaskDuration), read in a fresh context
    after the list is on screen and the script has finished: what the page
    costs a visitor's browser, whoever else is visiting.
    """
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(repeats):
            context = browser.new_context()
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Performance.enable")
            page.goto(url + "/")
            page.get_by_text(FIRST_LIST).first.wait_for(timeout=300_000)
            page.wait_for_selector(READY, timeout=300_000)
            page.wait_for_timeout(500)
            metrics = {m["name"]: m["value"]
                       for m in cdp.send("Performance.getMetrics")["metrics"]}
            out.append(metrics["TaskDuration"])
            context.close()
        browser.close()
    return statistics.median(out)


def browser_rounds(server: Server, visitors: int, rounds: int) -> list[list[float]]:
    """Rounds of ``visitors`` first visits at once, each its own Chromium context.

    Several rounds: one round's p95 of 8 is its slowest visit, which moves by a
    second or more from round to round.
    """
    return [concurrent_first_visits(server.url, visitors) for _ in range(max(1, rounds))]


HELLO = ('"""The smallest Streamlit page that shows the bench\'s marker: the browsers\' floor."""\n'
         "import streamlit as st\n\n"
         f"st.write({FIRST_LIST!r})\n")


def p95(samples: list[float]) -> float:
    """The 95th percentile, nearest rank (with 8 samples: the largest)."""
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]


def percentiles(samples: list[float]) -> str:
    ms = [1000 * s for s in samples]
    return f"p50 {statistics.median(ms):7.1f} ms   p95 {p95(ms):7.1f} ms   (n={len(ms)})"


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


def summary(rounds: list[list[float]]) -> dict:
    """Per-round p95 (its slowest visit, with 8), and over all visits."""
    visits = [t for r in rounds for t in r]
    return {"round_p95_s": [p95(r) for r in rounds], "all_p50_s": statistics.median(visits),
            "all_p95_s": p95(visits), "mean_round_p95_s": statistics.mean(p95(r) for r in rounds)}


def print_rounds(title: str, rounds: list[list[float]]) -> None:
    s = summary(rounds)
    print(f"  {title}: rounds' p95 " + " / ".join(f"{x:.1f}" for x in s["round_p95_s"])
          + f" s; all {sum(map(len, rounds))} visits p50 {s['all_p50_s']:.1f} s, "
          f"p95 {s['all_p95_s']:.1f} s")


def browser_figures(home: str, args: argparse.Namespace) -> dict:
    """Cold and saved-model start, then first visits three ways, then the watcher's cost.

    The three ways, for the same warm server: replayed with no browser (the
    server's part, what visitors with their own machines wait for), plus a lone
    browser's building time (their estimate); 8 Chromium contexts on this machine;
    and the same 8 Chromium contexts on a hello-world page, the floor that this
    machine's own browsers set. The watcher pair serves the app again with
    Streamlit's default source watcher on and replays the same visits.
    """
    n, rounds, root = args.visitors, args.visit_rounds, Path(args.app_root)
    with served(home, root=root) as server:
        cold = first_list_in_browser(server, tour=False)
        cold["peak_rss_mb"] = vm_hwm_mb(server.proc.pid)
    cold["terminal_noise_lines"] = server.noise
    with served(home, root=root) as server:
        warm = first_list_in_browser(server, tour=True, root=root)
        if n:
            warm["rss_before_visits_mb"] = vm_hwm_mb(server.proc.pid)
            warm["load_before_visits"] = load_average()
            warm["replayed"] = replayed(server, n, rounds, args.repeats)
            warm["renderer_cpu_s"] = renderer_cpu(server.url)
            warm["visit_rounds_s"] = browser_rounds(server, n, rounds)
            warm["concurrent_visits_s"] = [t for r in warm["visit_rounds_s"] for t in r]
        warm["peak_rss_mb"] = vm_hwm_mb(server.proc.pid)
    warm["terminal_noise_lines"] = server.noise
    out: dict = {"cold": cold, "warm": warm}
    if n:
        with served(home, extra=("--server.fileWatcherType", "auto"), root=root) as server:
            first_list_in_browser(server, tour=False)
            out["watcher_on_replayed"] = replayed(server, n, rounds, args.repeats)
        with tempfile.TemporaryDirectory(prefix="recengine-hello-") as tmp:
            hello = Path(tmp) / "hello.py"
            hello.write_text(HELLO)
            with served(home, script=str(hello), root=root) as server:
                concurrent_first_visits(server.url, 1)
                out["hello_world_rounds_s"] = browser_rounds(server, n, rounds)
                out["hello_world_renderer_cpu_s"] = renderer_cpu(server.url)

    print("cold start (embedded synthetic default, demo training config)")
    c, w = cold["first_recommendations_s"], warm["first_recommendations_s"]
    print(f"  no saved model : first recommendations {c:6.1f} s"
          f"  (target <= 60 s; server up after {cold['server_ready_s']:.1f} s)")
    print(f"  saved model    : first recommendations {w:6.1f} s"
          f"  (target <= 10 s; server up after {warm['server_ready_s']:.1f} s)")
    print(f"  ratio no-model / saved: {c / w:.1f}x")
    noise = cold["terminal_noise_lines"] + warm["terminal_noise_lines"]
    print(f"TensorFlow noise lines in the server's terminal: {len(noise)}"
          + "".join(f"\n    {ln[:120]}" for ln in noise[:5]))
    if n:
        rep, on = warm["replayed"], out["watcher_on_replayed"]
        rep_p95 = summary(rep["rounds_s"])["mean_round_p95_s"]
        print(f"{n} simultaneous first visits to the warm server, {rounds} rounds each "
              f"(load before {warm['load_before_visits']}; target p95 <= 10 s):")
        print_rounds("replayed, no browser (the server's part)", rep["rounds_s"])
        print(f"  a lone visit: Chromium {rep['chromium_alone_s']:.2f} s, replayed "
              f"{rep['replay_alone_s']:.2f} s, so a visitor's own browser adds "
              f"{rep['browser_share_s']:.2f} s")
        print(f"  visitors on their own machines (estimate: server's part + own browser): "
              f"mean of the rounds' p95 {rep_p95 + rep['browser_share_s']:.1f} s")
        print(f"  a lone visit's renderer main-thread CPU (Chrome's TaskDuration, median of 8): "
              f"{warm['renderer_cpu_s']:.2f} s; hello-world page "
              f"{out['hello_world_renderer_cpu_s']:.2f} s")
        print_rounds(f"{n} Chromium contexts on this machine", warm["visit_rounds_s"])
        print_rounds(f"{n} Chromium contexts, hello-world page (this machine's floor)",
                     out["hello_world_rounds_s"])
        on_p95 = summary(on["rounds_s"])["mean_round_p95_s"]
        print(f"source watcher on (Streamlit's default) vs off (.streamlit/config.toml): "
              f"server CPU per lone first visit {on['server_cpu_per_visit_s']:.2f} vs "
              f"{rep['server_cpu_per_visit_s']:.2f} s "
              f"({on['server_cpu_per_visit_s'] / rep['server_cpu_per_visit_s']:.1f}x); "
              f"replayed {n} at once, mean round p95 {on_p95:.1f} vs {rep_p95:.1f} s "
              f"({on_p95 / rep_p95:.1f}x)")
    print(f"peak resident memory of the server after {warm['pages_toured']} pages"
          + (f" and {len(warm['concurrent_visits_s'])} simultaneous browser visits" if n else "")
          + f": {warm['peak_rss_mb']:.0f} MB (target <= 1536 MB for the hosted demo)")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--visitors", type=int, default=8,
                        help="simultaneous first visits to the warm server (0: none)")
    parser.add_argument("--visit-rounds", type=int, default=4,
                        help="rounds of simultaneous first visits (each a fresh set of sessions)")
    parser.add_argument("--skip-browser", action="store_true",
                        help="only the AppTest interaction timings")
    parser.add_argument("--app-root", default=str(ROOT),
                        help="the checkout to serve (e.g. a git worktree of an older commit, "
                             "to compare it with this one); the AppTest timings are always "
                             "this checkout's")
    parser.add_argument("--json", default=str(RESULTS), help="where to write the figures")
    args = parser.parse_args()
    record: dict = {"date": dt.datetime.now().isoformat(timespec="minutes"),
                    "cpus": os.cpu_count(), "load_at_start": load_average()}
    print(f"machine: {os.cpu_count()} CPUs; load average at start {record['load_at_start']}")
    with tempfile.TemporaryDirectory(prefix="recengine-bench-") as home:
        if not args.skip_browser:
            record.update(browser_figures(home, args))
        else:
            from recengine.data import load_source
            from recengine.model_store import ModelStore, demo_train_config

            ModelStore(Path(home)).get_or_train(load_source("synthetic"), demo_train_config(""))
        timings = apptest_interactions(home, args.repeats)
        print("interactions (AppTest, server-side script time; target p50 <= 300 ms)")
        for name, samples in timings.items():
            print(f"  {name:<12}: {percentiles(samples)}")
        record["interactions_ms"] = {
            name: {"p50": 1000 * statistics.median(s), "p95": 1000 * p95(s), "n": len(s)}
            for name, s in timings.items()}
    record["load_at_end"] = load_average()
    print(f"load average at the end: {record['load_at_end']}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
