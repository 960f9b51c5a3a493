"""Benchmark: writing the national plan's plan.xlsx with the fast data rows against openpyxl's
own cells (its write-only mode, as plan.xlsx was written before), in one run.

    .venv/bin/python benchmarks/bench_workbook.py [--repeat 3] [--time-limit 5]

The plan is solved once (a short time limit: the workbook's size does not depend on it); each
writer then writes it ``--repeat`` times. Both workbooks' sheets are compared byte for byte
(styles registered in the same order), so the figures compare the same file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner import outputs, xlsxrows
from planner.pipeline import run_scenario
from planner.scenario import load_scenario


def _sheets(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="scenarios/national-baseline.yaml")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=5.0)
    args = ap.parse_args()
    s = load_scenario(args.scenario)
    s = s.model_copy(update={"solver": s.solver.model_copy(update={
        "time_limit_s": args.time_limit})})
    plan = run_scenario(s)
    tables = {**plan.tables, "kpis": plan.kpis}
    cells = sum(df.shape[0] * df.shape[1] for df in tables.values())
    print(f"{args.scenario}: {len(tables)} sheets, {cells:,} cells")
    put = xlsxrows.Rows.put

    def through_openpyxl(self: xlsxrows.Rows, ws: object, columns: list, formats: list) -> None:
        for f in formats:  # register the styles in the fast rows' order
            xlsxrows._style_id(ws, f)
        xlsxrows._append_cells(ws, columns, formats)

    times: dict[str, list[float]] = {"openpyxl cells": [], "fast rows": []}
    with tempfile.TemporaryDirectory() as d:
        for _ in range(args.repeat):
            for name, method in (("openpyxl cells", through_openpyxl), ("fast rows", put)):
                with mock.patch.object(xlsxrows.Rows, "put", method):
                    t = time.perf_counter()
                    outputs.write_excel(plan, tables, Path(d) / f"{name}.xlsx")
                    times[name].append(time.perf_counter() - t)
        same = _sheets(Path(d) / "openpyxl cells.xlsx") == _sheets(Path(d) / "fast rows.xlsx")
        size = (Path(d) / "fast rows.xlsx").stat().st_size
    print(f"sheets identical: {same}; plan.xlsx {size / 1e6:.1f} MB")
    print("| writer | median | runs |")
    print("|---|---:|---|")
    for name, ts in times.items():
        print(f"| {name} | {statistics.median(ts):.2f} s | "
              f"{', '.join(f'{t:.2f}' for t in ts)} |")
    ratio = statistics.median(times["openpyxl cells"]) / statistics.median(times["fast rows"])
    print(f"ratio: {ratio:.1f}x")


if __name__ == "__main__":
    main()
