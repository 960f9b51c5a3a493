"""Inventory validation cost on bad input (issue 10): the national SYNTHETIC demo as CSV, valid
and with 5,000 unknown unit codes, and with three extra fields on one row; seconds and problems
listed, each case in a fresh process.

    .venv/bin/python benchmarks/bench_inventory.py [--against DIR]

``--against DIR`` runs the same cases on another checkout of the project in the same run (for
example ``git worktree add /tmp/before 4a9b351``), so the two are compared on one machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASE = r"""
import json, sys, time
from pathlib import Path
import pandas as pd
import geodata
from planner.inventory import InventoryError, load_dataset
folder, case = Path(sys.argv[1]), sys.argv[2]
if case == "unknown-codes":
    p = pd.read_csv(folder / "properties.csv", dtype=str, keep_default_na=False)
    p.loc[:4999, "commune_code"] = [f"9{i:04d}" for i in range(5000)]
    p.to_csv(folder / "properties.csv", index=False)
elif case == "extra-fields":
    lines = (folder / "properties.csv").read_text(encoding="utf-8").splitlines()
    lines[1] += ",x,y,z"
    (folder / "properties.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
communes = geodata.load_communes()
t = time.perf_counter()
try:
    load_dataset(folder, communes)
    n = 0
except InventoryError as err:
    n = len(err.problems)
print(json.dumps({"seconds": time.perf_counter() - t, "problems": n}))
"""


def run(checkout: Path, demo_dir: Path, case: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ds"
        subprocess.run(["cp", "-r", str(demo_dir), str(folder)], check=True)
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        out = subprocess.run([sys.executable, "-c", CASE, str(folder), case], env=env,
                             capture_output=True, text=True, check=True, cwd=checkout)
        return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, help="another checkout, measured in the same run")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from planner.demo import load_demo
    from planner.inventory import write_dataset

    with tempfile.TemporaryDirectory() as tmp:
        demo_dir = write_dataset(load_demo(), Path(tmp) / "demo", "csv")
        checkouts = [("this checkout", ROOT)] + ([("--against", args.against.resolve())]
                                                 if args.against else [])
        print("| case | checkout | seconds | problems listed |")
        print("|---|---|---:|---:|")
        for case in ("valid", "unknown-codes", "extra-fields"):
            for label, checkout in checkouts:
                r = run(checkout, demo_dir, case)
                print(f"| {case} | {label} | {r['seconds']:.2f} | {r['problems']:,} |",
                      flush=True)


if __name__ == "__main__":
    main()
