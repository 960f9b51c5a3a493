"""Options from the input frames: wide eligibility columns to long options, checked."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from optimization._frames import checked_column, require_unique
from optimization.disposition.common import (
    HOLD,
    N_SERVICE,
    SERVICE_USES,
    USES,
)
from optimization.result import (
    InfeasibleInputError,
)


def options_from_wide(properties: pd.DataFrame) -> pd.DataFrame:
    """Long options from ``eligible_<use>`` etc.; values of ineligible rows are ignored."""
    df = properties.reset_index(drop=("property_id" in properties.columns))
    parts = []
    for u in USES[:-1]:
        col = f"eligible_{u}"
        if col not in df.columns:
            continue
        el = checked_column(df[col], f"properties.{col}", "bool")
        sub = df[el]
        n = len(sub)
        if u in SERVICE_USES:
            cap = checked_column(sub[f"capacity_{u}"], f"properties.capacity_{u}", "int")
            reno = checked_column(sub[f"renovation_cost_vnd_{u}"],
                           f"properties.renovation_cost_vnd_{u}", "int")
            rc = f"renovation_vnd_per_unit_{u}"
            rate = (checked_column(sub[rc], f"properties.{rc}", "int") if rc in sub
                    else np.zeros(n, dtype=np.int64))
            rev = np.zeros(n, dtype=np.int64)
        else:
            cap = np.zeros(n, dtype=np.int64)
            rate = np.zeros(n, dtype=np.int64)
            rc = f"renovation_cost_vnd_{u}"
            reno = (checked_column(sub[rc], f"properties.{rc}", "int") if rc in sub
                    else np.zeros(n, dtype=np.int64))
            rv = "sale_revenue_vnd" if u == "sale" else f"revenue_vnd_{u}"
            if u == "sale" and rv not in sub:
                raise ValueError("properties lacks column 'sale_revenue_vnd'")
            rev = (checked_column(sub[rv], f"properties.{rv}", "int") if rv in sub
                   else np.zeros(n, dtype=np.int64))
        parts.append(pd.DataFrame({"property_id": sub["property_id"].to_numpy(), "use": u,
                                   "capacity": cap, "renovation_cost_vnd": reno,
                                   "renovation_vnd_per_unit": rate,
                                   "revenue_vnd": rev}))
    if not parts:
        return pd.DataFrame({"property_id": df["property_id"].to_numpy()[:0], "use": "",
                             "capacity": 0, "renovation_cost_vnd": 0,
                             "renovation_vnd_per_unit": 0, "revenue_vnd": 0})
    return pd.concat(parts, ignore_index=True)



def normalise_options(opts: pd.DataFrame, props: pd.DataFrame,
                       allowed_uses: Sequence[str] | None) -> pd.DataFrame:
    bad = sorted(set(opts["use"].astype(str)) - set(USES))
    if bad:
        raise ValueError(f"options.use has unknown use(s) {bad}; uses are {list(USES)}")
    require_unique(opts, ["property_id", "use"], "options")
    hold = opts[opts["use"] == "hold"]
    if (hold[["renovation_cost_vnd", "renovation_vnd_per_unit", "revenue_vnd"]].to_numpy()
            != 0).any():
        raise ValueError("the hold option costs nothing and earns nothing")
    other = ~opts["use"].isin(SERVICE_USES)
    if (opts.loc[other, "renovation_vnd_per_unit"] != 0).any():
        raise ValueError("renovation_vnd_per_unit applies to service uses only (the area "
                         "they serve)")
    if (opts["floor_m2_fixed"] < 0).any():
        raise ValueError("options.floor_m2_fixed must be >= 0")
    p_index = pd.Index(props["property_id"])
    p = p_index.get_indexer(opts["property_id"])
    if (p < 0).any():
        raise ValueError(f"options name {int((p < 0).sum())} unknown property id(s), e.g. "
                         f"{opts['property_id'].to_numpy()[p < 0][0]!r}")
    if allowed_uses is not None:
        unknown = sorted(set(allowed_uses) - set(USES))
        if unknown:
            raise ValueError(f"allowed_uses has unknown use(s) {unknown}")
        keep_uses = set(allowed_uses) | {"hold"}
        fixed_out = set(props["fixed_use"][props["fixed_use"] != ""]) - keep_uses
        if fixed_out:
            raise InfeasibleInputError(f"fixed use(s) {sorted(fixed_out)} are not among "
                                       f"the allowed uses {sorted(keep_uses)}")
        opts, p = opts[opts["use"].isin(keep_uses)], p[opts["use"].isin(keep_uses)]
    u = pd.Index(USES).get_indexer(opts["use"])
    held = np.zeros(len(props), dtype=bool)
    held[p[u == HOLD]] = True
    add = pd.DataFrame({"p": np.flatnonzero(~held), "u": HOLD, "capacity": 0,
                        "renovation_cost_vnd": 0, "renovation_vnd_per_unit": 0,
                        "revenue_vnd": 0, "floor_m2_fixed": 0})
    out = pd.concat([pd.DataFrame({
        "p": p, "u": u, "capacity": opts["capacity"].to_numpy(),
        "renovation_cost_vnd": opts["renovation_cost_vnd"].to_numpy(),
        "renovation_vnd_per_unit": opts["renovation_vnd_per_unit"].to_numpy(),
        "revenue_vnd": opts["revenue_vnd"].to_numpy(),
        "floor_m2_fixed": opts["floor_m2_fixed"].to_numpy()}), add], ignore_index=True)
    # Capacity and floor only mean something for a service use.
    out.loc[out["u"] >= N_SERVICE, ["capacity", "floor_m2_fixed"]] = 0
    out = out.astype({"p": np.int64, "u": np.int64, "capacity": np.int64,
                      "renovation_cost_vnd": np.int64, "renovation_vnd_per_unit": np.int64,
                      "revenue_vnd": np.int64, "floor_m2_fixed": np.int64})
    return out.sort_values(["p", "u"], kind="stable").reset_index(drop=True)
