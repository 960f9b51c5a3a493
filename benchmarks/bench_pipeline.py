"""Benchmark: the national baseline end to end (load, seats, disposition, transfer, KPIs,
outputs), time per stage and peak memory, in a fresh process per repetition.

    .venv/bin/python benchmarks/bench_pipeline.py [--repeat 3] [--scenario PATH] [--no-maps]
        [--override NAME ...]

It also prints the plan's use mix (properties per use and per Ministry reporting category),
the disposition's gap and what is left unmet, so the orders of reuse can be set side by side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = r"""
import json, resource, sys, tempfile, time
t0 = time.perf_counter()
from planner.outputs import write_plan
from planner.pipeline import run_scenario
from planner.scenario import load_scenario
t_import = time.perf_counter() - t0
overrides = [o for o in sys.argv[3].split(",") if o]
plan = run_scenario(load_scenario(sys.argv[1], overrides=overrides))
t1 = time.perf_counter()
with tempfile.TemporaryDirectory() as d:
    write_plan(plan, d + "/run", maps=sys.argv[2] == "maps")
t_write = time.perf_counter() - t1
out = dict(plan.provenance["timings_s"], import_s=t_import, outputs=t_write,
           total=time.perf_counter() - t0,
           peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
for s in plan.solves:
    out[s["stage"] + "_status"] = s["status"]
    out[s["stage"] + "_gap"] = s["gap"]
d, n = plan["dispositions"], plan["needs"]
out["uses"] = d["use"].value_counts().to_dict()
out["categories"] = d["report_category"].value_counts().to_dict()
out["unmet"] = n.groupby("use")["unmet"].sum().astype(float).to_dict()
out["need"] = n.groupby("use")["need"].sum().astype(float).to_dict()
out["renovation_vnd"] = float(d["renovation_cost_vnd"].sum())
out["sale_revenue_vnd"] = float(d.loc[d["use"] == "sale", "revenue_vnd"].sum())
ly = n[n["commune_code"] == "21548"]
out["ly_son"] = {u: [int(a), int(b)] for u, a, b in zip(ly["use"], ly["served"], ly["need"])}
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scenario", default="scenarios/national-baseline.yaml")
    ap.add_argument("--no-maps", action="store_true")
    ap.add_argument("--override", action="append", default=[])
    args = ap.parse_args()
    runs = [json.loads(subprocess.run(
        [sys.executable, "-c", CHILD, args.scenario, "none" if args.no_maps else "maps",
         ",".join(args.override)],
        check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        for _ in range(args.repeat)]
    keys = ["import_s", "load", "seats", "disposition", "transfer", "kpis", "outputs", "total",
            "peak_mb"]
    print(f"{args.scenario} {args.override}, {args.repeat} fresh processes")
    print("| " + " | ".join(keys) + " |")
    print("|" + "---:|" * len(keys))
    for r in runs:
        print("| " + " | ".join(f"{r[k]:.2f}" if k != "peak_mb" else f"{r[k]:.0f}"
                                for k in keys) + " |")
    print("median total {:.1f} s, median peak {:.0f} MB".format(
        statistics.median(r["total"] for r in runs), statistics.median(r["peak_mb"] for r in runs)))
    print("statuses:", {k: v for k, v in runs[0].items() if k.endswith(("_status", "_gap"))})
    for key in ("uses", "categories", "unmet", "need", "renovation_vnd", "sale_revenue_vnd",
                "ly_son"):
        print(f"{key}:", runs[0][key])


if __name__ == "__main__":
    main()
