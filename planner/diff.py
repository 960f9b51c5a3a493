"""Reading run folders: what changed between two runs (each property's decision, use or
kept as a seat, with its old and new reason; each transfer; the KPIs), and a run's plan as
the start of a re-plan."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from planner.i18n import _
from planner.labels import column_label, readable_frame
from planner.safecells import xlsx_bytes


@dataclass(frozen=True)
class RunDiff:
    properties: pd.DataFrame  # property_id, name, before, after, decided_by, reasons
    transfers: pd.DataFrame  # holder_code, commune_code, category, before, after
    kpis: pd.DataFrame  # kpi, kpi_vi, unit, before, after, change

    def sheets(self) -> dict[str, pd.DataFrame]:
        return {_("Changed properties"): self.properties,
                _("Changed transfers"): self.transfers, _("KPIs"): self.kpis}


def _table(run: Path, name: str) -> pd.DataFrame:
    f = run / "tables" / f"{name}.parquet"
    if not f.exists():
        raise FileNotFoundError(f"{run}: not a run directory (no tables/{name}.parquet)")
    return pd.read_parquet(f)


Tables = Callable[[str], pd.DataFrame]


def _states(table: Tables) -> pd.DataFrame:
    """Per property what the run decided: its use (with the uses it shares) or its seat
    role, the reason and who decided."""
    d = table("dispositions")
    shared = d["shared_uses"].fillna("").astype(str)
    use = d["use"].where(shared == "", d["use"] + "+" + shared)
    out = pd.DataFrame({"property_id": d["property_id"], "name": d["name"], "state": use,
                        "reason": d["reason"],
                        "decided_by": d.get("decided_by", pd.Series("model", index=d.index))})
    s = table("seats")
    seats = pd.DataFrame({"property_id": s["property_id"], "name": s["name"],
                          "state": "seat:" + s["role"], "reason": "",
                          "decided_by": s.get("decided_by", pd.Series("model", index=s.index))})
    return pd.concat([out, seats], ignore_index=True).set_index("property_id")


PRICE_KEY = b"assetplan.budget_price"


@dataclass(frozen=True)
class Start:
    """What a re-plan starts from: an earlier run's open options (``start_rows``) and the
    price its disposition put on the national budget (None: it had no national budget)."""

    options: pd.DataFrame
    budget_price: float | None = None

    def save(self, path: Path) -> None:
        """As Parquet, with the price in the file's metadata."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(self.options, preserve_index=False)
        meta = {**(table.schema.metadata or {}),
                PRICE_KEY: json.dumps(self.budget_price).encode()}
        pq.write_table(table.replace_schema_metadata(meta), path)

    @classmethod
    def load(cls, path: Path) -> Start:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        price = (table.schema.metadata or {}).get(PRICE_KEY)
        return cls(table.to_pandas(), None if price is None else json.loads(price))


def start_plan(run_dir: Path) -> Start:
    """A run's open options as a disposition start (see ``start_rows``), with its budget's
    price where its provenance gives one."""
    prov = json.loads((run_dir / "provenance.json").read_text(encoding="utf-8"))
    price = next((s.get("budget_price") for s in prov.get("solves", [])
                  if s.get("stage") == "disposition"), None)
    return Start(start_rows(_table(run_dir, "dispositions"), _table(run_dir, "service")),
                 float(price) if price else None)


def start_rows(uses: pd.DataFrame, service: pd.DataFrame) -> pd.DataFrame:
    """(property_id, use, area) per open option of a plan (``uses``: property_id, use,
    shared_uses; ``service``: property_id, use, quantity): each property's own use first,
    then the uses it shares, with the area each serves."""
    shared = uses["shared_uses"].fillna("").astype(str).str.split("+")
    rows = pd.concat([uses[["property_id", "use"]].assign(rank=0), pd.DataFrame(
        {"property_id": uses["property_id"].repeat(shared.str.len()),
         "use": [u for us in shared for u in us]}).query("use != ''").assign(rank=1)])
    area = service.groupby(["property_id", "use"])["quantity"].sum()
    rows["area"] = area.reindex(pd.MultiIndex.from_frame(rows[["property_id", "use"]])
                                ).fillna(0).to_numpy(dtype=np.int64)
    return rows.sort_values(["property_id", "rank"], kind="stable")[
        ["property_id", "use", "area"]].reset_index(drop=True)


def diff_runs(run_a: Path, run_b: Path) -> RunDiff:
    return diff_tables(lambda name: _table(run_a, name), lambda name: _table(run_b, name))


def diff_tables(table_a: Tables, table_b: Tables) -> RunDiff:
    """The differences between two runs whose tables ``table_x(name)`` reads."""
    a, b = _states(table_a), _states(table_b)
    both = a.add_suffix("_a").join(b.add_suffix("_b"), how="outer")
    changed = both[both["state_a"].fillna("") != both["state_b"].fillna("")]
    props = pd.DataFrame({
        "property_id": changed.index, "name": changed["name_b"].fillna(changed["name_a"]),
        "before": changed["state_a"].fillna(""), "after": changed["state_b"].fillna(""),
        "decided_by": changed["decided_by_b"].fillna(""),
        "reason_before": changed["reason_a"].fillna(""),
        "reason_after": changed["reason_b"].fillna("")}).reset_index(drop=True)
    # The planner's own changes first, then by property.
    props = props.sort_values(["decided_by", "property_id"], ascending=[False, True],
                              kind="stable").reset_index(drop=True)
    key = ["holder_code", "commune_code", "category"]
    ta = table_a("transfers").groupby(key)["quantity"].sum().rename("before")
    tb = table_b("transfers").groupby(key)["quantity"].sum().rename("after")
    tr = pd.concat([ta, tb], axis=1).fillna(0).astype(int)
    tr = tr[tr["before"] != tr["after"]].reset_index()
    ka, kb = table_a("kpis"), table_b("kpis")
    nat = ["scope", "scope_id", "kpi"]
    k = ka[ka["scope"] == "national"][[*nat, "kpi_vi", "unit", "after"]].rename(
        columns={"after": "before"}).merge(
        kb[kb["scope"] == "national"][[*nat, "after"]], on=nat, how="outer")
    k["change"] = k["after"] - k["before"]
    kpis = k[["kpi", "kpi_vi", "unit", "before", "after", "change"]].reset_index(drop=True)
    return RunDiff(props, tr, kpis)


def write_diff_xlsx(diff: RunDiff, path: Path) -> Path:
    """One sheet per part, one header row in the current language, every text cell as text."""
    labels = {"change": _("Change"), "reason_before": _("Reason before"),
              "reason_after": _("Reason after")}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(xlsx_bytes({sheet: readable_frame(df).rename(
                                    columns=lambda c: labels.get(c) or column_label(c))
                                for sheet, df in diff.sheets().items()}))
    tmp.replace(path)
    return path
