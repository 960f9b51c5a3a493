"""Sweeps on a real local Ray of 2 CPUs: members on Cao Bằng (SYNTHETIC demo), the summary
recomputed from the member folders, a killed worker retried then reported, resume, cancel."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from openpyxl import load_workbook
from typer.testing import CliRunner

from planner.cli import app
from planner.sweep_run import (
    ATTEMPTS,
    CANCELLED,
    FAILED,
    MEMBER_FILE,
    SUCCEEDED,
    read_json,
    run_sweep,
)
from planner.sweep_summary import frontier, summarise

BASE = Path(__file__).resolve().parents[1] / "scenarios" / "national-baseline.yaml"


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def spec_file(tmp_path: Path, axes: list, top: dict | None = None, **set_: object) -> Path:
    """Cao Bằng; the base's quick override unless the sweep sets the solver itself."""
    p = tmp_path / "sweep.yaml"
    quick = [] if any(k.startswith("solver.") for k in set_) or any(
        a.get("key", "").startswith("solver.") for a in axes) else ["quick"]
    p.write_text(yaml.safe_dump({
        "name": "t", "base": str(BASE), "overrides": quick,
        "set": {"data.provinces": ["04"], **set_}, "axes": axes, **(top or {})}),
        encoding="utf-8")
    return p


def pids(out: Path, member: str) -> list[int]:
    f = out / ATTEMPTS / f"{member}.log"
    return [int(x.split()[0]) for x in f.read_text().splitlines()] if f.exists() else []


def wait_for(cond, timeout_s: float = 120.0) -> None:
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout_s, "timed out"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sweep_cli_and_summary_from_members(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, [{"key": "policy.service_radius_km.health", "values": [10, 25]}],
                     {"monte_carlo": {"draws": 2, "seed": 5, "needs": {
                         "distribution": "lognormal", "sigma": 0.3}}},
                     **{"budget.national_vnd": 20_000_000_000})
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "4 succeeded, 0 failed, 0 cancelled" in res.output
    members = read_json(out / "sweep.json")["members"]
    assert [m["name"] for m in members] == ["m0001", "m0002", "m0003", "m0004"]
    for m in members:
        d = out / "members" / m["name"]
        meta = read_json(d / MEMBER_FILE)
        assert meta["status"] == SUCCEEDED and meta["attempts"] == 1
        prov = read_json(d / "provenance.json")
        assert prov["sweep"]["member"] == m["name"] and prov["sweep"]["draw"] == m["draw"]
        assert prov["scenario"]["policy"]["service_radius_km"]["health"] == m["params"][
            "policy.service_radius_km.health"]
        assert (d / "plan.xlsx").exists() and (d / "report.html").exists()
    # The draws change the needs the members plan for; the same draw on both radii is the
    # same draw (common random numbers).
    need = {m["name"]: pd.read_parquet(out / "members" / m["name"] / "tables" / "needs.parquet")
            .query("use == 'health'")["need"].sum() for m in members}
    by = {(m["params"]["policy.service_radius_km.health"], m["draw"]): need[m["name"]]
          for m in members}
    assert by[(10, 0)] == by[(25, 0)] and by[(10, 1)] == by[(25, 1)]
    assert by[(10, 0)] != by[(10, 1)]

    # The summary is what the member folders say.
    written = {t: pd.read_parquet(out / "summary" / f"{t}.parquet")
               for t in ("members", "points", "uses")}
    again = summarise(out)
    for t, df in written.items():
        pd.testing.assert_frame_equal(df, again[t], check_dtype=False)
    pts = written["points"]
    assert len(pts) == 2 and (pts["members"] == 2).all()
    assert pts["on_frontier"].tolist() == frontier(pts["budget_vnd"].to_numpy(float),
                                                   pts["weighted_unmet_need_m2"].to_numpy(
                                                       float)).tolist()
    disp = pd.concat([pd.read_parquet(out / "members" / m["name"] / "tables" /
                                      "dispositions.parquet") for m in members])
    share = disp.groupby("property_id")["use"].agg(lambda u: u.value_counts().max() / len(u))
    uses = written["uses"].set_index("property_id")
    assert np.allclose(uses["modal_share"], share.reindex(uses.index))
    shares = uses[[c for c in uses.columns if c.startswith("share_")]]
    assert np.allclose(shares.sum(axis=1), 1.0)
    m = written["members"]
    needs = pd.read_parquet(out / "members" / "m0001" / "tables" / "needs.parquet")
    from planner.scenario import Scenario

    point_m2 = Scenario(name="x").policy.service_point_floor_area_m2  # the base keeps it
    w = np.where(needs["use"] == "service_point", point_m2, 1.0)
    assert m.loc[0, "weighted_unmet_need_m2"] == pytest.approx(
        float((needs["unmet"] * needs["priority_weight"] * w).sum()))
    wb = load_workbook(out / "summary.xlsx", read_only=True)
    assert wb.sheetnames == ["About", "Members", "Frontier", "Stability of uses"]
    about = [r[0] for r in wb["About"].iter_rows(values_only=True)]
    assert any("SYNTHETIC" in str(x) for x in about)
    html = (out / "report.html").read_text()
    assert "SYNTHETIC" in html and html.count("data:image/png;base64,") == 2

    # Resume: nothing to do, nothing run again; the folder of another sweep file is refused.
    res = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out), "--resume"])
    assert res.exit_code == 0, res.output
    assert all(len(pids(out, x["name"])) == 1 for x in members)
    res = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out)])
    assert res.exit_code == 1 and "--force" in res.output
    spec.write_text(spec.read_text() + "\ndescription: changed\n")
    res = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out), "--resume"])
    assert res.exit_code == 1 and "another sweep file" in res.output


def test_killed_worker_retried_then_failed_then_resumed(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, [], **{"solver.time_limit_s": 6, "solver.mip_gap": 0})
    out = tmp_path / "out"
    done: dict = {}
    t = threading.Thread(target=lambda: done.update(o=run_sweep(spec, out, max_retries=1)))
    t.start()
    for attempt in (1, 2):  # kill the worker mid-run, twice: once retried, then failed
        wait_for(lambda a=attempt: len(pids(out, "m0001")) == a)
        time.sleep(1.5)
        os.kill(pids(out, "m0001")[-1], signal.SIGKILL)
    t.join(timeout=120)
    assert done["o"].statuses == {"m0001": FAILED}
    meta = read_json(out / "members" / "m0001" / MEMBER_FILE)
    assert meta["attempts"] == 2 and "died" in meta["error"]
    assert [p.name for p in (out / "members").iterdir()] == ["m0001"]  # no half-written folder
    assert (out / "summary.xlsx").exists()
    # Resume runs the failed member again, to the end.
    o = run_sweep(spec, out, resume=True)
    assert o.statuses == {"m0001": SUCCEEDED} and len(pids(out, "m0001")) == 3
    assert (out / "members" / "m0001" / "tables" / "dispositions.parquet").exists()


def test_member_error_reported_others_finish(tmp_path: Path) -> None:
    bad = tmp_path / "decisions.csv"
    bad.write_text("property_id,rule,use\nNO-SUCH-ID,require,health\n", encoding="utf-8")
    spec = spec_file(tmp_path, [{"key": "data.decisions", "values": [None, str(bad)]}])
    o = run_sweep(spec, tmp_path / "out")
    assert o.statuses == {"m0001": SUCCEEDED, "m0002": FAILED}
    err = read_json(tmp_path / "out" / "members" / "m0002" / MEMBER_FILE)["error"]
    assert "decisions.csv" in err and "NO-SUCH-ID" in err
    assert read_json(tmp_path / "out" / "members" / "m0002" / MEMBER_FILE)["attempts"] == 1
    m = pd.read_parquet(tmp_path / "out" / "summary" / "members.parquet")
    assert m["member_status"].tolist() == [SUCCEEDED, FAILED]


def test_cancel_stops_running_members_and_keeps_finished(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, [{"key": "solver.time_limit_s", "values": [1, 60, 60]}],
                     **{"solver.mip_gap": 0})
    out = tmp_path / "out"
    done: dict = {}
    t = threading.Thread(target=lambda: done.update(o=run_sweep(spec, out)))
    t.start()
    wait_for(lambda: (out / "members" / "m0001" / MEMBER_FILE).exists())
    wait_for(lambda: len(pids(out, "m0002")) == 1)
    res = CliRunner().invoke(app, ["sweep", "cancel", str(out)])
    assert res.exit_code == 0, res.output
    t0 = time.monotonic()
    t.join(timeout=60)
    assert time.monotonic() - t0 < 30
    o = done["o"]
    assert o.cancelled and o.statuses["m0001"] == SUCCEEDED
    assert o.statuses["m0002"] == CANCELLED and o.statuses["m0003"] == CANCELLED
    wait_for(lambda: not alive(pids(out, "m0002")[0]), 15)  # forced: the worker is gone
    assert (out / "members" / "m0001" / "tables" / "dispositions.parquet").exists()
    assert not (out / "members" / "m0002" / "tables").exists()
    assert sorted(p.name for p in (out / "members").iterdir()) == ["m0001", "m0002", "m0003"]
    m = pd.read_parquet(out / "summary" / "members.parquet")
    assert m["member_status"].tolist() == [SUCCEEDED, CANCELLED, CANCELLED]
