"""A sweep's summary, recomputed from its member folders alone (so anyone holding them can
redo it, and a resumed or cancelled sweep summarises what finished).

- ``members``: each member's settings, status, national KPIs, priority-weighted unmet need;
- ``points``: per point of the axes, the mean and range over its draws, and whether the point
  is on the frontier of renovation budget against priority-weighted unmet need (no other
  point has both a budget no higher and an unmet need no higher, one of them lower);
- ``uses``: per property, the share of the members that plan it giving it each use, and its
  most frequent use: the decisions that hold in N % of the members.

Written as Parquet (``summary/*.parquet``), one Excel workbook in the run's language
(``summary.xlsx``) and ``report.html`` with the frontier and the stability plots.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.i18n import _
from planner.labels import column_label, kpi_label, label, value_label
from planner.schema import USES
from planner.sweep_run import MEMBER_FILE, MEMBERS, SUCCEEDED, SWEEP_FILE, read_json

KPIS = ("renovation_spend_vnd", "renovation_budget_vnd", "sale_revenue_vnd",
        "population_within_service_km", "priority_units_with_unmet_need",
        "properties_shared", "items_transferred")


def weighted_unmet_m2(needs: pd.DataFrame, service_point_m2: float) -> float:
    """Unmet need times its priority weight, service points counted at their floor area."""
    per = np.where(needs["use"] == "service_point", service_point_m2, 1.0)
    return float((needs["unmet"].to_numpy(float) * per
                  * needs["priority_weight"].to_numpy(float)).sum())


def _member_row(d: Path, meta: dict[str, Any]) -> tuple[dict[str, Any], pd.DataFrame | None]:
    row: dict[str, Any] = {"member": meta["name"], "draw": meta.get("draw"),
                           **{f"param:{k}": v for k, v in meta.get("params", {}).items()},
                           "member_status": meta.get("status", "pending"),
                           "error": meta.get("error", ""), "attempts": meta.get("attempts", 0),
                           "wall_s": meta.get("wall_s")}
    if row["member_status"] != SUCCEEDED:
        return row, None
    kpis = pd.read_parquet(d / "tables" / "kpis.parquet")
    nat = kpis[kpis["scope"] == "national"].set_index("kpi")["after"]
    for k in KPIS:
        row[k] = float(nat.get(k, np.nan))
    prov = json.loads((d / "provenance.json").read_text(encoding="utf-8"))
    sp_m2 = float(prov["scenario"]["policy"]["service_point_floor_area_m2"])
    needs = pd.read_parquet(d / "tables" / "needs.parquet")
    row["weighted_unmet_need_m2"] = weighted_unmet_m2(needs, sp_m2)
    row["unmet_penalty_vnd"] = float(needs["penalty_vnd"].sum())
    row["synthetic"] = bool(prov["dataset"]["synthetic"])
    solves = {s["stage"]: s for s in prov["solves"]}
    row["disposition_gap"] = solves.get("disposition", {}).get("gap")
    disp = pd.read_parquet(d / "tables" / "dispositions.parquet",
                           columns=["property_id", "name", "province_code", "commune_code",
                                    "use"])
    return row, disp.assign(member=meta["name"])


def frontier(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """True where no other point has x and y no higher and one of them lower (finite only)."""
    ok = np.isfinite(x) & np.isfinite(y)
    le = (x[None, :] <= x[:, None]) & (y[None, :] <= y[:, None])
    lt = (x[None, :] < x[:, None]) | (y[None, :] < y[:, None])
    dominated = (le & lt & ok[None, :]).any(axis=1)
    return ok & ~dominated


def summarise(sweep_dir: str | Path) -> dict[str, pd.DataFrame]:
    """The three tables of the summary, from ``sweep.json`` and the member folders."""
    root = Path(sweep_dir)
    metas = []
    for m in read_json(root / SWEEP_FILE)["members"]:
        f = root / MEMBERS / m["name"] / MEMBER_FILE
        metas.append({**m, **(read_json(f) if f.exists() else {})})
    return summarise_members(metas, lambda m: root / MEMBERS / m["name"])


def summarise_members(metas: list[dict[str, Any]],
                      folder: Callable[[dict[str, Any]], Path]) -> dict[str, pd.DataFrame]:
    """The summary of members given as ``name``, ``params``, ``draw``, ``status`` (and
    ``error``, ``attempts``, ``wall_s``), each run folder at ``folder(member)``."""
    rows, plans = [], []
    for meta in metas:
        row, disp = _member_row(folder(meta), meta)
        rows.append(row)
        if disp is not None:
            plans.append(disp)
    members = pd.DataFrame(rows, columns=None if rows else [
        "member", "draw", "member_status", "error", "attempts", "wall_s"])
    for k in (*KPIS, "weighted_unmet_need_m2", "unmet_penalty_vnd", "disposition_gap"):
        if k not in members:
            members[k] = np.nan
    params = [c for c in members.columns if c.startswith("param:")]
    ok = members[members["member_status"] == SUCCEEDED]
    budget = ok["renovation_budget_vnd"].fillna(ok["renovation_spend_vnd"])
    by = ok.assign(budget_vnd=budget, _key=ok[params].map(repr).agg("|".join, axis=1)
                   if params else "")
    points = by.groupby("_key", sort=False).agg(
        members=("member", "size"), budget_vnd=("budget_vnd", "mean"),
        renovation_spend_vnd=("renovation_spend_vnd", "mean"),
        weighted_unmet_need_m2=("weighted_unmet_need_m2", "mean"),
        weighted_unmet_need_min_m2=("weighted_unmet_need_m2", "min"),
        weighted_unmet_need_max_m2=("weighted_unmet_need_m2", "max"))
    first = by.drop_duplicates("_key").set_index("_key")[params]
    points = first.join(points).reset_index(drop=True)
    points["on_frontier"] = frontier(points["budget_vnd"].to_numpy(float),
                                     points["weighted_unmet_need_m2"].to_numpy(float))
    return {"members": members, "points": points, "uses": _uses(plans)}


def _uses(plans: list[pd.DataFrame]) -> pd.DataFrame:
    cols = ["property_id", "name", "province_code", "commune_code", "members", "modal_use",
            "modal_share"]
    if not plans:
        return pd.DataFrame(columns=cols)
    allp = pd.concat(plans, ignore_index=True)
    counts = pd.crosstab(allp["property_id"], allp["use"])
    n = counts.sum(axis=1)
    share = counts.div(n, axis=0)
    info = allp.drop_duplicates("property_id").set_index("property_id")[
        ["name", "province_code", "commune_code"]]
    out = info.join(n.rename("members"))
    # The most frequent use; a tie goes to the use first in the Government's order.
    ordered = share[[u for u in USES if u in share.columns]]
    out["modal_use"] = ordered.idxmax(axis=1)
    out["modal_share"] = ordered.max(axis=1)
    out = out.join(ordered.add_prefix("share_"))
    return out.reset_index().sort_values(["modal_share", "property_id"],
                                         ascending=[True, True], kind="stable"
                                         ).reset_index(drop=True)


def write_summary(sweep_dir: str | Path) -> dict[str, pd.DataFrame]:
    """Write the summary's Parquet files, workbook and report; returns the tables."""
    from planner.report import synthetic_banner
    from planner.safecells import xlsx_bytes

    root = Path(sweep_dir)
    tables = summarise(root)
    out = root / "summary"
    out.mkdir(exist_ok=True)
    for name, df in tables.items():
        df.to_parquet(out / f"{name}.parquet", index=False)
    sweep = read_json(root / SWEEP_FILE)
    about = [sweep["name"], sweep.get("description", "").strip()]
    if _synthetic(tables):
        about.insert(0, synthetic_banner())
    sheets = {_("About"): pd.DataFrame({_("Sweep"): about}),
              **{name: shown(tables[t]) for t, name in sheet_names().items()}}
    tmp = root / ".summary.xlsx.tmp"
    tmp.write_bytes(xlsx_bytes(sheets))
    tmp.replace(root / "summary.xlsx")
    _write_report(root, tables)
    return tables


def sheet_names() -> dict[str, str]:
    """The summary's tables and their sheets in the current language."""
    return {"members": _("Members"), "points": _("Frontier"), "uses": _("Stability of uses")}


def shown(df: pd.DataFrame) -> pd.DataFrame:
    """Headers and coded values in the run's language; settings keep their keys."""
    out = pd.DataFrame({c: [value_label(c, v) for v in df[c].tolist()] for c in df.columns})
    names = {c: (c.removeprefix("param:") if c.startswith("param:")
                 else _("Share: {use}", use=label("use", c.removeprefix("share_")))
                 if c.startswith("share_") else kpi_label(c) if c in KPIS
                 else column_label(c)) for c in out.columns}
    return out.rename(columns=names)


def _synthetic(tables: dict[str, pd.DataFrame]) -> bool:
    m = tables["members"]
    return bool("synthetic" in m and m["synthetic"].fillna(False).astype(bool).any())


def _figure(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _plots(tables: dict[str, pd.DataFrame]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    pts = tables["points"]
    if len(pts):
        fig, ax = plt.subplots(figsize=(7, 4.2))
        x = pts["budget_vnd"].to_numpy(float) / 1e9
        y = pts["weighted_unmet_need_m2"].to_numpy(float)
        lo, hi = pts["weighted_unmet_need_min_m2"], pts["weighted_unmet_need_max_m2"]
        ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt="o", color="#0072B2", ecolor="#999999",
                    capsize=3, label=_("points (range over draws)"))
        f = pts["on_frontier"].to_numpy(bool)
        order = np.argsort(x[f])
        ax.plot(x[f][order], y[f][order], "-", color="#D55E00", label=_("frontier"))
        ax.set_xlabel(_("renovation budget (billion VND)"))
        ax.set_ylabel(_("priority-weighted unmet need (m²)"))
        ax.legend()
        out.append((_figure(fig), _("Budget against priority-weighted unmet need")))
        plt.close(fig)
    uses = tables["uses"]
    if len(uses):
        fig, ax = plt.subplots(figsize=(7, 3.2))
        ax.hist(100 * uses["modal_share"].to_numpy(float), bins=list(np.linspace(0, 100, 11)),
                color="#009E73", edgecolor="white")
        ax.set_xlabel(_("share of members giving the property its most frequent use (%)"))
        ax.set_ylabel(_("properties"))
        out.append((_figure(fig), _("How often each property keeps its use across members")))
        plt.close(fig)
    return out


def _write_report(root: Path, tables: dict[str, pd.DataFrame]) -> None:
    from planner.report import render, synthetic_banner

    sweep = read_json(root / SWEEP_FILE)
    members = tables["members"]
    status = members["member_status"].value_counts().to_dict()
    uses = tables["uses"]
    held = {t: int((uses["modal_share"] >= t / 100).sum()) for t in (100, 90, 75)}
    html = render("sweep.html", title=sweep["name"], description=sweep.get("description", ""),
                  synthetic=_synthetic(tables), banner=synthetic_banner(), status=status,
                  members=len(members),
                  points=tables["points"].to_dict("records"), held=held,
                  properties=len(uses), figures=_plots(tables),
                  params=[c for c in tables["points"].columns if c.startswith("param:")])
    tmp = root / ".report.html.tmp"
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(root / "report.html")
