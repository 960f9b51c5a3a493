"""A sweep on Ray against the same members one after another in one process, in one run.

The sweep is ``sweeps/cao-bang-budgets.yaml`` (24 members on Cao Bằng, the base's quick solver
settings, one solver thread each). First every member runs in this process, one after another
(``run_member``, the function a Ray worker runs, writing the same run folders); then the whole
sweep runs through ``run_sweep`` on a fresh local Ray of ``--cpus`` CPUs. Reported: wall times
and their ratio, each member's own time inside its worker against its time in the serial run
(Ray's overhead per member), the peak memory of this process and of the Ray workers, and the
members per hour the measured figures give.

    .venv/bin/python benchmarks/bench_sweep.py              # about 7 minutes on 2 cores
    .venv/bin/python benchmarks/bench_sweep.py --national-member    # one national member
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil
from bench_models import machine

from planner.sweep import load_sweep
from planner.sweep_run import MEMBER_FILE, member_jobs, read_json, run_member, run_sweep

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "sweeps" / "cao-bang-budgets.yaml"


class Peak(threading.Thread):
    """Peak resident memory of this process and, apart, of its other descendants (the Ray
    workers and raylet), sampled every 0.2 s."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.me = psutil.Process()
        self.driver_mb = 0.0
        self.others_mb = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                kids = self.me.children(recursive=True)
                others = sum(k.memory_info().rss for k in kids if k.is_running()) / 2**20
            except psutil.Error:
                others = 0.0
            self.driver_mb = max(self.driver_mb, self.me.memory_info().rss / 2**20)
            self.others_mb = max(self.others_mb, others)
            self.stop.wait(0.2)


def serial(out: Path) -> dict[str, Any]:
    spec, members = load_sweep(SPEC)
    jobs = member_jobs(spec, members, out)
    (out / "attempts").mkdir(parents=True, exist_ok=True)
    per: dict[str, float] = {}
    t0 = time.perf_counter()
    for job in jobs:
        t = time.perf_counter()
        run_member(job)
        per[job["name"]] = time.perf_counter() - t
    return {"wall_s": time.perf_counter() - t0, "per_member_s": per}


def on_ray(out: Path, cpus: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    outcome = run_sweep(SPEC, out, cpus=cpus, force=True)
    wall = time.perf_counter() - t0
    inside = {name: float(read_json(out / "members" / name / MEMBER_FILE)["wall_s"])
              for name in outcome.statuses}
    assert set(outcome.statuses.values()) == {"succeeded"}, outcome.statuses
    return {"wall_s": wall, "inside_s": inside}


def national_member() -> dict[str, Any]:
    """One member of a national sweep: the national baseline on one thread, no maps, its
    folder written; run alone in its process so that the peak memory is the member's."""
    import resource

    from planner.outputs import write_plan
    from planner.pipeline import run_scenario
    from planner.scenario import load_scenario

    s = load_scenario(ROOT / "scenarios" / "national-baseline.yaml")
    s = s.model_copy(update={"solver": s.solver.model_copy(update={"threads": 1})})
    work = Path(tempfile.mkdtemp(prefix="bench-member-"))
    try:
        t = time.perf_counter()
        plan = run_scenario(s)
        t1 = time.perf_counter()
        write_plan(plan, work / "m", maps=False)
        t2 = time.perf_counter()
        size = sum(f.stat().st_size for f in (work / "m").rglob("*") if f.is_file())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"machine": machine(), "run_s": round(t1 - t, 1), "write_s": round(t2 - t1, 1),
            "total_s": round(t2 - t, 1), "stages_s": plan.provenance["timings_s"],
            "folder_mb": round(size / 2**20),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "solves": [(x["stage"], x["status"], round(x["gap"], 4)) for x in plan.solves]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cpus", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--out", default=str(Path(__file__).with_name("results_sweep.json")))
    ap.add_argument("--national-member", action="store_true",
                    help="instead: time one national member (benchmarks/SCALING.md)")
    args = ap.parse_args()
    if args.national_member:
        print(json.dumps(national_member(), indent=2))
        return
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        peak = Peak()
        peak.start()
        s = serial(work / "serial")
        serial_peak = peak.driver_mb
        r = on_ray(work / "ray", args.cpus)
        peak.stop.set()
        n = len(s["per_member_s"])
        mean_serial = sum(s["per_member_s"].values()) / n
        mean_inside = sum(r["inside_s"].values()) / n
        result = {
            "machine": machine(), "cpus": args.cpus, "members": n,
            "serial_wall_s": round(s["wall_s"], 1), "ray_wall_s": round(r["wall_s"], 1),
            "speed_up": round(s["wall_s"] / r["wall_s"], 2),
            "serial_mean_member_s": round(mean_serial, 2),
            "ray_mean_member_inside_worker_s": round(mean_inside, 2),
            # What the sweep's wall time holds beyond the members' own work spread on the CPUs:
            # Ray's start, scheduling and the workers' first imports, per member.
            "ray_overhead_per_member_s": round(r["wall_s"] * args.cpus / n - mean_inside, 2),
            "members_per_hour_on_ray": round(3600 * n / r["wall_s"]),
            "peak_rss_serial_process_mb": round(serial_peak),
            "peak_rss_driver_mb": round(peak.driver_mb),
            "peak_rss_ray_processes_mb": round(peak.others_mb),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
