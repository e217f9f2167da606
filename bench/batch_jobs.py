"""Wall time and per-worker peak memory of the batch jobs, 1 vs 2 Ray workers, side by side.

Not a test: speed lives here. On synthetic data big enough that a job takes
tens of seconds (default 10,000 users, 2,000 items, a quickly trained bundle),
one run measures, each beside the machine's load (``uptime``); Ray's start-up
(the instance and its worker processes, warmed with one import task each) is
timed apart from the job:

* ``batch recommend``: in-process (``--ray none``, the reference path), then a
  local Ray instance with 1 and with 2 workers;
* the audits over every user (``python -m audits batch``'s work: bias,
  objectives, content filter, trade-off sweep, source shares, and the offline
  protocol once as a task beside the blocks unless ``--no-protocol``) with 1
  and 2 workers;
* each worker's peak resident memory (``ru_maxrss`` read inside the worker,
  after its last block), and the per-user recommend cost the paper estimate
  for 100M users in bench/README.md starts from.

    nice -n 5 python bench/batch_jobs.py [--users 10000] [--items 2000] [--model DIR]
                                          [--jobs recommend,audit] [--no-protocol]

Writes bench/results/batch_jobs.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audits.batch_audit import batch_audit  # noqa: E402
from audits.card_data import ReportConfig  # noqa: E402
from recengine.batch import BatchConfig  # noqa: E402
from recengine.batch.recommend import batch_recommend  # noqa: E402
from recengine.batch.runner import start_ray  # noqa: E402
from recengine.serving import load_for_data  # noqa: E402
from recengine.subject import Subject  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def uptime() -> str:
    """The machine's load as ``uptime`` prints it."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def train_bundle(spec: str, path: Path) -> float:
    """A quick two-tower bundle for ``spec`` (what is measured is serving, not training)."""
    from recengine.bundle import save_bundle
    from recengine.config import TrainConfig
    from recengine.data import load_source
    from recengine.fit import train_two_tower
    from recengine.model import ModelConfig, TowerConfig
    from recengine.split import temporal_split

    start = time.perf_counter()
    data = load_source(spec)
    cfg = TrainConfig(epochs=2, batch_size=1024, model=ModelConfig(
        user_tower=TowerConfig(hidden=(64,)), item_tower=TowerConfig(hidden=(64,))))
    save_bundle(train_two_tower(data, temporal_split(data.interactions).train, cfg), path)
    return time.perf_counter() - start


def mb(peaks: dict) -> dict:
    return {str(pid): round(v / 2**20, 1) for pid, v in peaks.items()}


def _warm_worker() -> int:
    """Import what the jobs import, so worker start-up is timed with Ray's, not the job."""
    import os

    import audits.batch_audit  # noqa: F401
    import recengine.batch.recommend  # noqa: F401

    time.sleep(0.5)  # hold the CPU so the next warm-up lands on another worker
    return os.getpid()


def warm_workers(workers: int) -> int:
    """Start every worker process of the local instance; how many distinct ones answered."""
    import ray

    task = ray.remote(_warm_worker)
    return len(set(ray.get([task.remote() for _ in range(workers)])))


def timed_job(name: str, workers: int | None, job) -> dict:
    """Start Ray (unless in-process), run ``job(config)``, stop Ray; times and memory."""
    config = BatchConfig(ray="none") if workers is None else BatchConfig(workers=workers)
    load_before = uptime()
    startup = 0.0
    if workers is not None:
        t = time.perf_counter()
        start_ray(config)
        warm_workers(workers)
        startup = time.perf_counter() - t
    try:
        t = time.perf_counter()
        peaks, cpu_s = job(config)
        wall = time.perf_counter() - t
    finally:
        if workers is not None:
            import ray

            ray.shutdown()
    row = {"job": name, "where": "in-process" if workers is None else f"ray x{workers}",
           "workers": workers or 1, "wall_s": round(wall, 2), "ray_startup_s": round(startup, 2),
           "block_cpu_s": round(cpu_s, 2),
           "peak_rss_mb": mb(peaks), "uptime_before": load_before, "uptime_after": uptime()}
    print(f"{name:<10} {row['where']:<11} wall {wall:7.1f} s  "
          f"(Ray + workers start-up {startup:4.1f} s)  CPU in blocks {cpu_s:6.1f} s  "
          f"peak RSS per process MB {row['peak_rss_mb']}\n"
          f"           load: {row['uptime_after']}", flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--model", help="a bundle for this data (trained into a temporary folder "
                                    "when not given)")
    ap.add_argument("--jobs", default="recommend,audit",
                    help="which jobs to time (default recommend,audit)")
    ap.add_argument("--no-protocol", action="store_true",
                    help="leave the offline protocol out of the audit (as the timings "
                         "before it joined the batch audit did)")
    ap.add_argument("--json", default=str(RESULTS / "batch_jobs.json"))
    args = ap.parse_args()
    spec = f"synthetic:users={args.users},items={args.items},seed=0"
    tmp = tempfile.TemporaryDirectory()
    model = Path(args.model) if args.model else Path(tmp.name) / "model"
    train_s = None
    if not (model / "metadata.json").exists():
        print(f"training a quick bundle on {spec} ...", flush=True)
        train_s = train_bundle(spec, model)
        print(f"trained in {train_s:.1f} s ({uptime()})", flush=True)
    data, bundle = load_for_data(model)
    t = time.perf_counter()
    subject = Subject.build(data, bundle)
    build_s = time.perf_counter() - t
    engine = subject.served
    print(f"{data.n_users} users, {data.n_items} items, {len(data.interactions)} ratings; "
          f"engines built in {build_s:.1f} s", flush=True)

    def recommend(config):
        out = Path(tempfile.mkdtemp(dir=tmp.name))
        path = batch_recommend(engine, out, args.k, config=config)
        manifest = json.loads((out / "recommendations.batch.json").read_text())
        assert manifest["rows"] > 0 and path.is_dir()
        return ({int(k): v for k, v in manifest["peak_rss_bytes"].items()},
                manifest["cpu_seconds"])

    def audit(config):
        done = batch_audit(subject, ReportConfig(k=args.k, n_boot=args.n_boot,
                                                 include_protocol=not args.no_protocol),
                           config)
        protocol_s = done.protocol.seconds if done.protocol is not None else None
        print(f"           audit: blocks {done.blocks_seconds:.1f} s (the protocol's task "
              f"{'left out' if protocol_s is None else f'{protocol_s:.1f} s'} beside them), "
              f"driver's summary {done.summary_seconds:.1f} s", flush=True)
        splits.append({"workers": config.workers, "blocks_s": round(done.blocks_seconds, 2),
                       "summary_s": round(done.summary_seconds, 2),
                       "protocol_task_s": None if protocol_s is None else round(protocol_s, 2)})
        return done.peak_rss_bytes, done.cpu_seconds

    splits: list[dict] = []
    rows = []
    if "recommend" in args.jobs:
        rows += [timed_job("recommend", None, recommend), timed_job("recommend", 1, recommend),
                 timed_job("recommend", 2, recommend)]
    if "audit" in args.jobs:
        rows += [timed_job("audit", 1, audit), timed_job("audit", 2, audit)]
    wall = {(r["job"], r["where"]): r["wall_s"] for r in rows}
    ratios = {}
    if "recommend" in args.jobs:
        ratios["recommend_speedup_2_vs_1"] = (wall[("recommend", "ray x1")]
                                              / wall[("recommend", "ray x2")])
        ratios["recommend_ray1_vs_in_process"] = (wall[("recommend", "ray x1")]
                                                  / wall[("recommend", "in-process")])
    if "audit" in args.jobs:
        ratios["audit_speedup_2_vs_1"] = wall[("audit", "ray x1")] / wall[("audit", "ray x2")]
        ratios["audit_blocks_speedup_2_vs_1"] = splits[0]["blocks_s"] / splits[1]["blocks_s"]
    per_user_ms = (1000 * wall[("recommend", "in-process")] / data.n_users
                   if "recommend" in args.jobs else None)
    cpu = {(r["job"], r["where"]): r["block_cpu_s"] for r in rows}
    cpu_ms = {f"{job}_{where.replace(' ', '')}": 1000 * v / data.n_users
              for (job, where), v in cpu.items()}
    result = {"data": spec, "users": data.n_users, "items": data.n_items,
              "ratings": len(data.interactions), "k": args.k, "n_boot": args.n_boot,
              "audit_includes_protocol": not args.no_protocol,
              "train_s": train_s, "engine_build_s": build_s, "runs": rows,
              "ratios": ratios, "recommend_ms_per_user_in_process": per_user_ms,
              "block_cpu_ms_per_user": cpu_ms, "audit_splits": splits,
              "machine": "2 shared CPU cores; other engineers' jobs running (see uptime)"}
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}x")
    if per_user_ms is not None:
        print(f"recommend cost per user, in-process: {per_user_ms:.2f} ms wall")
    for name, value in cpu_ms.items():
        print(f"CPU per user in blocks, {name}: {value:.2f} ms")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
