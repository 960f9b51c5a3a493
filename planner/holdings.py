"""What each unit holds against the norms, and what holders can give away.

Counting rules (used by the demo calibration, the KPIs and the transfer step alike):
- a car counts for its holder when it is not surplus and not unusable;
- equipment counts toward the norm when it is not surplus and not unusable;
- surplus cars and equipment in usable condition (good, fair, poor) can be transferred.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.inventory import Dataset

USABLE = ("good", "fair", "poor")


def required_quantity(norms: pd.DataFrame, staff: pd.Series) -> pd.DataFrame:
    """Items required per unit and category: (commune_code, category, required).

    ``staff`` is indexed by commune_code. per_unit norms need ceil(quantity); per_10_staff norms
    need ceil(quantity x staff / 10).
    """
    n = norms.set_index("category")
    per_staff = (n["basis"] == "per_10_staff").to_numpy()
    base = np.where(per_staff[None, :], staff.to_numpy()[:, None] / 10.0, 1.0) * n[
        "quantity"].to_numpy()[None, :]
    required = np.ceil(base - 1e-9).astype(np.int64)
    return pd.DataFrame({
        "commune_code": np.repeat(staff.index.to_numpy(), len(n)),
        "category": np.tile(n.index.to_numpy(), len(staff)),
        "required": required.ravel(),
    })


def shortfall(dataset: Dataset) -> pd.DataFrame:
    """Per unit and category (car included): required, held, shortfall (>= 0), for every unit in
    the ``communes`` table."""
    staff = dataset.communes.set_index("commune_code")["staff"].astype(float)
    req = required_quantity(dataset.norms, staff)
    cars = dataset.vehicles
    car_held = cars[~cars["surplus"] & cars["condition"].isin(USABLE)].groupby(
        "holder_code").size().rename("held")
    eq = dataset.equipment
    eq_held = eq[~eq["surplus"] & eq["condition"].isin(USABLE)].groupby(
        ["holder_code", "category"])["quantity"].sum().rename("held")
    held = pd.concat([
        car_held.reset_index().assign(category="car"),
        eq_held.reset_index(),
    ], ignore_index=True).rename(columns={"holder_code": "commune_code"})
    out = req.merge(held, on=["commune_code", "category"], how="left")
    out["held"] = out["held"].fillna(0).astype(np.int64)
    out["shortfall"] = np.maximum(out["required"] - out["held"], 0)
    return out


def transferable(dataset: Dataset) -> pd.DataFrame:
    """Surplus items that can move: holder_code, holder, category (car or equipment category),
    quantity."""
    cars = dataset.vehicles
    c = cars[cars["surplus"] & cars["condition"].isin(USABLE)].groupby(
        ["holder_code", "holder"]).size().rename("quantity").reset_index().assign(category="car")
    eq = dataset.equipment
    e = eq[eq["surplus"] & eq["condition"].isin(USABLE)].groupby(
        ["holder_code", "holder", "category"])["quantity"].sum().reset_index()
    out = pd.concat([c, e], ignore_index=True)
    return out[out["quantity"] > 0][["holder_code", "holder", "category", "quantity"]]


def units_without_car(dataset: Dataset) -> int:
    s = shortfall(dataset)
    return int(((s["category"] == "car") & (s["held"] == 0)).sum())


def units_below_equipment_norm(dataset: Dataset) -> int:
    s = shortfall(dataset)
    eq = s[s["category"] != "car"]
    return int(eq.loc[eq["shortfall"] > 0, "commune_code"].nunique())
