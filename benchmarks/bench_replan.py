"""Benchmark: a national re-plan with 20 of the planner's decisions against the cold solve of
the same scenario and decisions, in one run (each in a fresh process).

    .venv/bin/python benchmarks/bench_replan.py [--scenario PATH] [--override NAME ...]

1. the scenario without decisions (the run re-planned from);
2. 20 decisions drawn from that plan (sales forbidden, best public alternatives required,
   buildings kept and released, lots sent, units served first);
3. the cold solve of the scenario with the decisions, ``assetplan replan`` of run 1 with
   them, and the same re-plan with a quarter and a sixth of the time limit; wall time, disposition
   objective, bound and gap of each.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

CLI = [str(Path(sys.executable).with_name("assetplan"))]


def assetplan(*args: str) -> float:
    t = time.perf_counter()
    subprocess.run([*CLI, *args], check=True, capture_output=True, text=True)
    return time.perf_counter() - t


def decisions_from(run: Path) -> pd.DataFrame:
    d = pd.read_parquet(run / "tables" / "dispositions.parquet").sort_values("property_id")
    seats = pd.read_parquet(run / "tables" / "seats.parquet")
    tr = pd.read_parquet(run / "tables" / "transfers.parquet")
    sold = d[d["use"] == "sale"]
    alt = sold[sold["alt_use"].notna() & (sold["alt_use"] != "")]
    rows = [{"property_id": p, "rule": "forbid", "use": "sale"}
            for p in sold["property_id"].iloc[::997][:8]]
    rows += [{"property_id": p, "rule": "require", "use": u}
             for p, u in zip(alt["property_id"].iloc[1::601][:4], alt["alt_use"].iloc[1::601],
                             strict=False)]
    annex = seats[seats["role"] != "main_seat"]["property_id"].sort_values()
    rows += [{"property_id": p, "rule": "forbid", "use": "keep"} for p in annex.iloc[:2]]
    held = d[(d["use"] == "hold") & (d["kind"] == "building") & (d["floor_area_m2"] > 0)
             & (d["condition"] != "unusable")]["property_id"]
    rows += [{"property_id": p, "rule": "require", "use": "keep"} for p in held.iloc[:2]]
    for r in tr.sort_values(["category", "holder_code"]).drop_duplicates(
            ["holder_code", "category"]).iloc[:2].itertuples(index=False):
        rows.append({"holder_code": r.holder_code, "category": r.category, "rule": "require",
                     "quantity": int(r.quantity), "commune_code": r.commune_code})
    needs = pd.read_parquet(run / "tables" / "needs.parquet")
    waiting = needs[(needs["unmet"] > 0) & ~needs["served_first"]]["commune_code"]
    rows += [{"commune_code": c, "rule": "require", "use": "served_first"}
             for c in waiting.drop_duplicates().iloc[:2]]
    return pd.DataFrame(rows)


def disposition_solve(run: Path) -> dict:
    prov = json.loads((run / "provenance.json").read_text(encoding="utf-8"))
    return next(s for s in prov["solves"] if s["stage"] == "disposition")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="scenarios/national-baseline.yaml")
    ap.add_argument("--override", action="append", default=[])
    args = ap.parse_args()
    over = [a for o in args.override for a in ("--override", o)]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        first = assetplan("run", args.scenario, *over, "--no-maps", "--out", str(d / "base"))
        table = decisions_from(d / "base")
        table.to_csv(d / "decisions.csv", index=False)
        cold = assetplan("run", args.scenario, *over, "--no-maps", "--decisions",
                         str(d / "decisions.csv"), "--out", str(d / "cold"))
        limit = json.loads((d / "base" / "provenance.json").read_text(encoding="utf-8"))[
            "scenario"]["solver"]["time_limit_s"]
        runs = [("cold", cold, "cold")]
        for name, limit_s in (("re-plan", None), ("re-plan, a quarter of the limit", limit / 4),
                              ("re-plan, a sixth of the limit", limit / 6)):
            out = f"replan{len(runs)}"
            extra = () if limit_s is None else ("--time-limit", f"{max(limit_s, 1):g}")
            runs.append((name, assetplan("replan", str(d / "base"), "--decisions",
                                         str(d / "decisions.csv"), "--no-maps", "--out",
                                         str(d / out), *extra), out))
        print(f"{args.scenario} {args.override}: {len(table)} decisions "
              f"({table['rule'].value_counts().to_dict()}); run re-planned from: {first:.1f} s")
        print("| solve | time limit | wall (CLI) | disposition stage | objective | bound | gap |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        stage0 = stage_s(d / "cold")
        for name, wall, run in runs:
            s = disposition_solve(d / run)
            stage = stage_s(d / run)
            print(f"| {name} | {s['time_limit_s']:g} s | {wall:.1f} s ({wall / cold:.2f}) | "
                  f"{stage:.1f} s ({stage / stage0:.2f}) | {s['objective'] / 1e9:,.0f} bn | "
                  f"{s['best_bound'] / 1e9:,.0f} bn | {s['gap']:.2%} |")


def stage_s(run: Path) -> float:
    """The disposition stage's wall time (model, solve, end passes) as the run timed it."""
    return float(json.loads((run / "timings.json").read_text(encoding="utf-8"))["timings_s"][
        "disposition"])

if __name__ == "__main__":
    main()
