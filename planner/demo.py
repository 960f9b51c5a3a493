"""The national demo inventory: SYNTHETIC, generated deterministically from the real geography.

Real inventories live in the Ministry of Finance's asset database and are not public. This demo
lets the planner run nationally out of the box. It is calibrated to the published totals
(Ministry of Finance and Government reports, Aug-Sep 2025) and labelled synthetic everywhere:

| published figure | value | how the demo meets it |
|---|---|---|
| surplus houses and land to be handled | 16,124 | rows with ``in_use_as_seat`` false, exactly |
| of which from the rearrangement | 6,704 | old HQs not kept as seat (compared in dataset.json) |
| units with no car | 354 of 3,321 | exactly 354 units hold no usable, non-surplus car |
| units below the equipment norm | 601 of 3,321 | exactly 601 units lack at least one category |

Assumptions (no published figure exists; each is a constant below):
- every pre-2025 unit had one HQ at its (approximate) geocoded point; the main seat of a new unit
  is the old HQ nearest its new People's Committee point; units formed only from parts of split
  units get their seat as an ``other_public`` building at the HQ point;
- each abolished district leaves DISTRICT_BUILDINGS buildings near its centre; each provincial
  seat merged away (the legacy province whose centre is not nearest the new province centre)
  leaves PROVINCE_BUILDINGS buildings; other public buildings fill up to 16,124;
- areas, years, conditions, values and legal status follow the distributions below;
- cars: 1 per unit by norm; surplus cars at abolished district and provincial compounds;
- staff per unit = STAFF_BASE + population / STAFF_PEOPLE_PER_EXTRA, clipped to STAFF_RANGE;
  equipment norms per 10 staff or per unit (``norms`` table);
- needs (m2 of floor area lacking, service points lacking) drawn with probabilities by terrain.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

import geodata
from planner.holdings import required_quantity
from planner.inventory import Dataset, dataset_from_frames, load_dataset

DEFAULT_SEED = 20250701
SURPLUS_TOTAL = 16_124
PUBLISHED_FROM_REARRANGEMENT = 6_704
UNITS_WITHOUT_CAR = 354
UNITS_BELOW_EQUIPMENT_NORM = 601
# The units the demo is generated on; pinned, so the shipped files stay equal to the generated.
DEMO_GEOGRAPHY_AS_OF = "2026-07-25"
SYNTHETIC_LABEL = ("SYNTHETIC demo inventory generated from the real geography (units as of "
                   f"{DEMO_GEOGRAPHY_AS_OF}) and calibrated to published totals; not real asset "
                   "data")

DISTRICT_BUILDINGS = (3, 7)  # inclusive range of buildings per abolished district
PROVINCE_BUILDINGS = (12, 24)  # per provincial seat merged away
DISTRICT_SURPLUS_CARS = (2, 5)
PROVINCE_SURPLUS_CARS = (6, 14)
STAFF_BASE, STAFF_PEOPLE_PER_EXTRA, STAFF_RANGE = 25, 2_500, (25, 90)
OFFICE_M2_PER_STAFF = 15.0  # working rooms plus shared rooms per official
# Land price (VND/m2) by unit type / terrain, before a lognormal spread of sigma 0.5.
LAND_PRICE_VND_M2 = {"Phường": 25_000_000, "lowland": 5_000_000, "midland": 2_500_000,
                     "mountain": 900_000, "island": 3_000_000}
BUILDING_VALUE_VND_M2 = 4_000_000
# Equipment norms: category -> (basis, quantity).
EQUIPMENT_NORMS = {"computer": ("per_10_staff", 10.0), "printer": ("per_10_staff", 3.0),
                   "photocopier": ("per_unit", 1.0), "scanner": ("per_unit", 1.0),
                   "projector": ("per_unit", 1.0)}
CAR_NORM_PER_UNIT = 1.0
# Surplus equipment per abolished district compound: category -> inclusive range of items.
DISTRICT_SURPLUS_EQUIPMENT = {"computer": (20, 60), "printer": (5, 15), "photocopier": (1, 3),
                              "scanner": (1, 4), "projector": (1, 3)}
# Probability that a unit lacks floor area for a use, by terrain, and the range lacking (m2).
NEED_PROBABILITY = {
    "health": {"lowland": 0.15, "midland": 0.25, "mountain": 0.40, "island": 0.50},
    "education": {"lowland": 0.30, "midland": 0.25, "mountain": 0.30, "island": 0.40},
    "housing": {"lowland": 0.03, "midland": 0.10, "mountain": 0.55, "island": 0.70},
    "culture": {"lowland": 0.15, "midland": 0.15, "mountain": 0.10, "island": 0.20},
}
NEED_RANGE_M2 = {"health": (150, 600), "education": (300, 1500), "housing": (100, 400),
                 "culture": (200, 800)}
CONDITION_BY_AGE = (  # (max age in years, probabilities of good, fair, poor, unusable)
    (15, (0.60, 0.30, 0.08, 0.02)),
    (30, (0.30, 0.45, 0.20, 0.05)),
    (200, (0.10, 0.35, 0.40, 0.15)),
)
DISTRICT_BUILDING_NAMES = (
    "Trụ sở UBND", "Trụ sở Huyện ủy", "Trung tâm Văn hóa - Thể thao", "Phòng Tài nguyên và Môi "
    "trường", "Trung tâm Y tế cũ", "Phòng Giáo dục và Đào tạo", "Nhà khách", "Kho lưu trữ",
)
CONDITIONS = ("good", "fair", "poor", "unusable")
SHIPPED_DIR = Path(str(resources.files("planner") / "demo"))


def _jitter(rng: np.random.Generator, lon: np.ndarray, lat: np.ndarray,
            max_km: float) -> tuple[np.ndarray, np.ndarray]:
    """Move points by up to max_km in a random direction (uniform over the disc)."""
    r = max_km * np.sqrt(rng.random(len(lon)))
    theta = rng.random(len(lon)) * 2 * np.pi
    dlat = r * np.sin(theta) / 111.32
    dlon = r * np.cos(theta) / (111.32 * np.cos(np.radians(lat)))
    return np.round(lon + dlon, 6), np.round(lat + dlat, 6)


def _nearest_commune(lon: np.ndarray, lat: np.ndarray, legacy: pd.DataFrame) -> np.ndarray:
    """The new unit a point belongs to: the successor of the nearest pre-2025 unit point."""
    pairs = geodata.k_nearest_pairs(np.column_stack([lon, lat]),
                                    legacy[["lon", "lat"]].to_numpy(), 1)
    return legacy["successor_code"].to_numpy()[pairs["destination"].to_numpy()]


def _building_attributes(rng: np.random.Generator, n: int, kind_building_share: float,
                         land_median_m2: float, land_sigma: float, price_vnd_m2: np.ndarray,
                         ) -> dict[str, np.ndarray]:
    is_building = rng.random(n) < kind_building_share
    land = np.clip(np.round(rng.lognormal(np.log(land_median_m2), land_sigma, n)), 100, 200_000)
    floors = rng.integers(1, 5, n)
    footprint = land * rng.uniform(0.15, 0.5, n)
    floor_area = np.where(is_building, np.clip(np.round(footprint * floors), 40, None), 0.0)
    year = rng.integers(1975, 2023, n)
    age = 2025 - year
    probs = np.empty((n, 4))
    lo = 0
    for max_age, p in CONDITION_BY_AGE:
        sel = (age >= lo) & (age < max_age)
        probs[sel] = p
        lo = max_age
    cum = probs.cumsum(axis=1)
    condition_idx = (rng.random(n)[:, None] > cum).sum(axis=1)
    condition = np.asarray(CONDITIONS)[np.minimum(condition_idx, 3)]
    cond_factor = np.array([1.0, 0.7, 0.35, 0.0])[np.minimum(condition_idx, 3)]
    value = land * price_vnd_m2 * rng.lognormal(0.0, 0.5, n) + (
        floor_area * BUILDING_VALUE_VND_M2 * cond_factor)
    legal = np.asarray(("clear", "pending", "disputed"))[
        (rng.random(n)[:, None] > np.array([0.85, 0.97])).sum(axis=1)]
    restriction = np.asarray(("none", "heritage", "no_sale", "no_demolition"))[
        (rng.random(n)[:, None] > np.array([0.95, 0.965, 0.99])).sum(axis=1)]
    return {
        "kind": np.where(is_building, "building", "land"),
        "land_area_m2": land,
        "floor_area_m2": floor_area,
        "condition": np.where(is_building, condition, "fair"),
        "year_built": np.where(is_building, year, -1),
        "market_value_vnd": (np.round(value / 1e6) * 1e6).astype(np.int64),
        "legal_status": legal,
        "restriction": restriction,
    }


def _properties(rng: np.random.Generator, communes: pd.DataFrame, legacy: pd.DataFrame,
                calibration: dict) -> pd.DataFrame:
    unit = communes.set_index("code")
    price_of = communes.set_index("code").apply(
        lambda r: LAND_PRICE_VND_M2["Phường" if r["unit_type"] == "Phường" else r["terrain"]],
        axis=1)
    parts: list[pd.DataFrame] = []

    def frame(ids, names, holders, origin, codes, legacy_codes, lon, lat, share, median, sigma):
        attrs = _building_attributes(rng, len(ids), share, median, sigma,
                                     price_of.reindex(codes).to_numpy())
        return pd.DataFrame({"property_id": ids, "origin": origin, "name": names,
                             "holder": holders, "commune_code": codes,
                             "legacy_code": legacy_codes, "lon": lon, "lat": lat, **attrs})

    # Old commune HQs: one per pre-2025 unit at its point, in its default successor.
    hq = frame(
        "OHQ-" + legacy["legacy_code"], "Trụ sở UBND " + legacy["name"] + " cũ",
        "UBND " + legacy["name"] + " (cũ), " + legacy["legacy_province_name"],
        "old_commune_hq", legacy["successor_code"].to_numpy(), legacy["legacy_code"].to_numpy(),
        legacy["lon"].round(6).to_numpy(), legacy["lat"].round(6).to_numpy(), 0.95, 2_500, 0.5)
    # The main seat: the old HQ nearest the new People's Committee point of its unit.
    km = geodata.haversine_km(hq["lon"], hq["lat"], unit.loc[hq["commune_code"], "lon"],
                              unit.loc[hq["commune_code"], "lat"])
    hq["_km"] = km
    seat_idx = hq[hq["kind"] == "building"].sort_values(["commune_code", "_km"]).groupby(
        "commune_code").head(1).index
    hq["in_use_as_seat"] = hq.index.isin(seat_idx)
    parts.append(hq.drop(columns="_km"))
    no_seat = communes[~communes["code"].isin(hq.loc[seat_idx, "commune_code"])]
    seats = frame(
        "NEW-" + no_seat["code"], "Trụ sở UBND " + no_seat["name"],
        "UBND " + no_seat["name"], "other_public", no_seat["code"].to_numpy(),
        [None] * len(no_seat), no_seat["lon"].round(6).to_numpy(),
        no_seat["lat"].round(6).to_numpy(), 1.0, 3_000, 0.4)
    seats["in_use_as_seat"] = True
    parts.append(seats)
    calibration["old_hq_not_seat"] = int((~hq["in_use_as_seat"]).sum())
    calibration["units_with_seat_in_an_old_hq"] = len(seat_idx)
    calibration["units_with_a_new_seat_building"] = len(no_seat)

    # Abolished districts: several buildings near the district centre.
    districts = legacy.drop_duplicates("district_code").reset_index(drop=True)
    k = rng.integers(DISTRICT_BUILDINGS[0], DISTRICT_BUILDINGS[1] + 1, len(districts))
    d = districts.loc[districts.index.repeat(k)].reset_index(drop=True)
    seq = d.groupby("district_code").cumcount()
    lon, lat = _jitter(rng, d["district_lon"].to_numpy(), d["district_lat"].to_numpy(), 0.8)
    names = [f"{DISTRICT_BUILDING_NAMES[i % len(DISTRICT_BUILDING_NAMES)]} {n} cũ"
             for i, n in zip(seq, d["district_name"], strict=True)]
    dist = frame(
        "DIS-" + d["district_code"] + "-" + (seq + 1).astype(str).str.zfill(2), names,
        "UBND " + d["district_name"] + " (cũ), " + d["legacy_province_name"],
        "district_compound", _nearest_commune(lon, lat, legacy), [None] * len(d), lon, lat,
        0.85, 6_000, 0.6)
    dist["in_use_as_seat"] = False
    parts.append(dist)
    calibration["district_compound_buildings"] = len(dist)

    # Provincial seats merged away: the legacy provinces not nearest their new centre.
    lp = geodata.load_legacy_provinces()
    prov = geodata.load_provinces(DEMO_GEOGRAPHY_AS_OF).set_index("province_code")
    lp["_km"] = geodata.haversine_km(lp["lon"], lp["lat"], prov.loc[lp["province_code"], "lon"],
                                     prov.loc[lp["province_code"], "lat"])
    kept = lp.sort_values(["province_code", "_km"]).groupby("province_code").head(1).index
    merged = lp.drop(index=kept).reset_index(drop=True)
    k = rng.integers(PROVINCE_BUILDINGS[0], PROVINCE_BUILDINGS[1] + 1, len(merged))
    m = merged.loc[merged.index.repeat(k)].reset_index(drop=True)
    seq = m.groupby("legacy_province_code").cumcount()
    lon, lat = _jitter(rng, m["lon"].to_numpy(), m["lat"].to_numpy(), 2.0)
    pv = frame(
        "PRV-" + m["legacy_province_code"] + "-" + (seq + 1).astype(str).str.zfill(2),
        "Trụ sở cơ quan cấp tỉnh số " + (seq + 1).astype(str) + ", " + m["legacy_province_name"]
        + " cũ", "UBND " + m["legacy_province_name"] + " (cũ)", "provincial_seat",
        _nearest_commune(lon, lat, legacy), [None] * len(m), lon, lat, 0.95, 8_000, 0.6)
    pv["in_use_as_seat"] = False
    parts.append(pv)
    calibration["merged_provincial_seats"] = len(merged)
    calibration["provincial_seat_buildings"] = len(pv)

    # Other public buildings and plots up to the published total.
    n_other = SURPLUS_TOTAL - sum(int((~p["in_use_as_seat"]).sum()) for p in parts)
    if n_other < 0:
        raise RuntimeError(f"demo calibration broke: {-n_other} surplus rows too many")
    at = legacy.iloc[rng.integers(0, len(legacy), n_other)].reset_index(drop=True)
    lon, lat = _jitter(rng, at["lon"].to_numpy(), at["lat"].to_numpy(), 1.5)
    codes = _nearest_commune(lon, lat, legacy)
    province_of = unit.loc[codes, "province_code"].to_numpy()
    oth = frame(
        [f"OTH-{p}-{i:05d}" for i, p in enumerate(province_of, start=1)],
        np.where(rng.random(n_other) < 0.5, "Cơ sở nhà đất công", "Khu đất công"),
        "Sở Tài chính " + unit.loc[codes, "province_name"].to_numpy(), "other_public", codes,
        [None] * n_other, lon, lat, 0.55, 1_500, 0.9)
    oth["in_use_as_seat"] = False
    parts.append(oth)
    calibration["other_public"] = n_other
    out = pd.concat(parts, ignore_index=True)
    # Legacy points are approximate geocodes; a few lie well outside their successor's bounding
    # box. Clamp those into the box so the demo passes its own "far outside" rule.
    far = geodata.km_outside_bbox(communes, out["commune_code"], out["lon"], out["lat"]) > 1.0
    lon, lat = geodata.clamp_into_bbox(communes, out.loc[far, "commune_code"],
                                       out.loc[far, "lon"], out.loc[far, "lat"])
    out.loc[far, "lon"], out.loc[far, "lat"] = np.round(lon, 6), np.round(lat, 6)
    calibration["points_clamped_into_their_unit_bbox"] = int(far.sum())
    out["year_built"] = out["year_built"].astype("Int64").where(out["year_built"] > 0)
    return out


def _staff(communes: pd.DataFrame) -> np.ndarray:
    raw = STAFF_BASE + communes["population"].to_numpy() / STAFF_PEOPLE_PER_EXTRA
    return np.clip(np.round(raw), *STAFF_RANGE).astype(np.int64)


def _vehicles(rng: np.random.Generator, communes: pd.DataFrame,
              props: pd.DataFrame) -> pd.DataFrame:
    hosts = set(props.loc[props["origin"].isin(["district_compound", "provincial_seat"]),
                          "commune_code"])
    codes = communes["code"].to_numpy()
    # Units with no car: remote ones more likely (weights by terrain), never a unit that hosts
    # a former district or provincial compound (those have cars nearby).
    weight = communes["terrain"].map({"island": 4.0, "mountain": 3.0, "midland": 1.5,
                                      "lowland": 1.0}).to_numpy() * ~np.isin(codes, list(hosts))
    no_car = rng.choice(len(codes), UNITS_WITHOUT_CAR, replace=False, p=weight / weight.sum())
    n_cars = 1 + rng.binomial(2, 0.3, len(codes))
    n_cars[no_car] = 0
    held_codes = np.repeat(codes, n_cars)
    held = pd.DataFrame({
        "holder_code": held_codes,
        "holder": "UBND " + communes.set_index("code").loc[held_codes, "name"].to_numpy(),
        "surplus": False,
        "condition": rng.choice(["good", "fair", "poor"], len(held_codes), p=[0.4, 0.45, 0.15]),
    })
    compounds = props[props["origin"].isin(["district_compound", "provincial_seat"])]
    first = compounds.assign(group=compounds["property_id"].str.rsplit("-", n=1).str[0])
    first = first.drop_duplicates("group")
    lo_hi = np.where(first["origin"].eq("district_compound").to_numpy()[:, None],
                     DISTRICT_SURPLUS_CARS, PROVINCE_SURPLUS_CARS)
    k = rng.integers(lo_hi[:, 0], lo_hi[:, 1] + 1)
    surplus = pd.DataFrame({
        "holder_code": np.repeat(first["commune_code"].to_numpy(), k),
        "holder": np.repeat(first["holder"].to_numpy(), k),
        "surplus": True,
        "condition": rng.choice(list(CONDITIONS), int(k.sum()), p=[0.3, 0.4, 0.2, 0.1]),
    })
    cars = pd.concat([held, surplus], ignore_index=True)
    cars["vehicle_type"] = rng.choice(["car_4_5_seat", "car_7_seat", "car_16_seat", "pickup"],
                                      len(cars), p=[0.45, 0.35, 0.1, 0.1])
    cars["year"] = rng.integers(2005, 2025, len(cars))
    cars["vehicle_id"] = [f"XE-{i:05d}" for i in range(1, len(cars) + 1)]
    return cars[["vehicle_id", "vehicle_type", "holder_code", "holder", "year", "condition",
                 "surplus"]]


def _equipment(rng: np.random.Generator, communes: pd.DataFrame, staff: pd.Series,
               norms: pd.DataFrame, props: pd.DataFrame) -> pd.DataFrame:
    req = required_quantity(norms[norms["category"] != "car"], staff)
    codes = communes["code"].to_numpy()
    below_units = set(codes[rng.choice(len(codes), UNITS_BELOW_EQUIPMENT_NORM, replace=False)])
    req["below"] = False
    # Each unit below the norm lacks one category, or two (one in four units).
    for _, grp in req[req["commune_code"].isin(below_units)].groupby("commune_code"):
        n_lack = 1 + int(rng.random() < 0.25)
        req.loc[rng.choice(grp.index.to_numpy(), n_lack, replace=False), "below"] = True
    deficit = np.maximum(1, np.ceil(req["required"] * rng.uniform(0.1, 0.5, len(req))))
    extra = rng.poisson(0.6, len(req))
    qty = np.where(req["below"], np.maximum(req["required"] - deficit, 0),
                   req["required"] + extra).astype(np.int64)
    names = communes.set_index("code")["name"]
    held = pd.DataFrame({
        "holder_code": req["commune_code"], "holder": "UBND " + names.loc[
            req["commune_code"]].to_numpy(), "category": req["category"],
        "condition": rng.choice(["good", "fair", "poor"], len(req), p=[0.5, 0.4, 0.1]),
        "quantity": qty, "surplus": False,
    })
    # Some units also keep unusable items, which do not count toward the norm.
    broken = held.sample(frac=0.1, random_state=int(rng.integers(2**31)))
    broken = broken.assign(condition="unusable", quantity=rng.integers(1, 4, len(broken)))
    compounds = props[props["origin"].isin(["district_compound", "provincial_seat"])]
    first = compounds.assign(group=compounds["property_id"].str.rsplit("-", n=1).str[0])
    first = first.drop_duplicates("group")
    lots = []
    for cat, (lo, hi) in DISTRICT_SURPLUS_EQUIPMENT.items():
        scale = np.where(first["origin"].eq("provincial_seat"), 3, 1)
        lots.append(pd.DataFrame({
            "holder_code": first["commune_code"].to_numpy(),
            "holder": first["holder"].to_numpy(), "category": cat,
            "condition": rng.choice(["good", "fair", "poor", "unusable"], len(first),
                                    p=[0.35, 0.4, 0.15, 0.1]),
            "quantity": rng.integers(lo, hi + 1, len(first)) * scale, "surplus": True,
        }))
    eq = pd.concat([held[held["quantity"] > 0], broken, *lots], ignore_index=True)
    eq["equipment_id"] = [f"TB-{i:06d}" for i in range(1, len(eq) + 1)]
    return eq[["equipment_id", "holder_code", "holder", "category", "condition", "quantity",
               "surplus"]]


def _commune_needs(rng: np.random.Generator, communes: pd.DataFrame, staff: np.ndarray,
                   props: pd.DataFrame) -> pd.DataFrame:
    seat_area = props[props["in_use_as_seat"]].groupby("commune_code")["floor_area_m2"].sum()
    office = communes["code"].map(seat_area).fillna(0.0).to_numpy()
    n = len(communes)
    out = pd.DataFrame({
        "commune_code": communes["code"].to_numpy(),
        "staff": staff,
        "office_floor_area_m2": office,
        "office_need_m2": np.maximum(0.0, np.round(staff * OFFICE_M2_PER_STAFF - office)),
    })
    terrain = communes["terrain"].to_numpy()
    for use in ("health", "education"):
        p = pd.Series(NEED_PROBABILITY[use]).reindex(terrain).to_numpy()
        lo, hi = NEED_RANGE_M2[use]
        out[f"{use}_need_m2"] = np.where(rng.random(n) < p, np.round(rng.uniform(lo, hi, n)), 0.0)
    # Service points: large merged units need points so people need not travel far.
    many = np.maximum(0, (communes["n_predecessors"].to_numpy() - 2) // 2)
    big = communes["area_km2"].to_numpy() > 150
    out["service_point_need"] = np.minimum(3, np.where(big | (many > 0),
                                                       many + rng.integers(0, 2, n), 0))
    for use in ("housing", "culture"):
        p = pd.Series(NEED_PROBABILITY[use]).reindex(terrain).to_numpy()
        lo, hi = NEED_RANGE_M2[use]
        out[f"{use}_need_m2"] = np.where(rng.random(n) < p, np.round(rng.uniform(lo, hi, n)), 0.0)
    return out


def _norms() -> pd.DataFrame:
    rows = [("car", "per_unit", CAR_NORM_PER_UNIT)] + [
        (cat, basis, q) for cat, (basis, q) in EQUIPMENT_NORMS.items()]
    return pd.DataFrame(rows, columns=["category", "basis", "quantity"])


def generate_demo(seed: int = DEFAULT_SEED) -> Dataset:
    """Generate the national demo dataset (deterministic for a seed), validated."""
    rng = np.random.default_rng(seed)
    communes = geodata.load_communes(as_of=DEMO_GEOGRAPHY_AS_OF)
    legacy = geodata.load_legacy_units()
    calibration: dict[str, int] = {}
    props = _properties(rng, communes, legacy, calibration)
    staff = pd.Series(_staff(communes), index=communes["code"].to_numpy())
    norms = _norms()
    vehicles = _vehicles(rng, communes, props)
    equipment = _equipment(rng, communes, staff, norms, props)
    needs = _commune_needs(rng, communes, staff.to_numpy(), props)
    calibration["surplus_properties"] = int((~props["in_use_as_seat"]).sum())
    meta = {
        "name": "national-demo",
        "synthetic": True,
        "label": SYNTHETIC_LABEL,
        "seed": seed,
        "generator": "planner.demo.generate_demo",
        "calibration": calibration,
        "published": {"surplus_properties": SURPLUS_TOTAL,
                      "surplus_from_rearrangement": PUBLISHED_FROM_REARRANGEMENT,
                      "units_without_car": UNITS_WITHOUT_CAR,
                      "units_below_equipment_norm": UNITS_BELOW_EQUIPMENT_NORM},
        "geography": geodata.ATTRIBUTION,
        "geography_as_of": DEMO_GEOGRAPHY_AS_OF,
    }
    return dataset_from_frames({"properties": props, "vehicles": vehicles,
                                "equipment": equipment, "communes": needs, "norms": norms},
                               meta=meta, communes=communes)


def load_demo() -> Dataset:
    """The shipped national demo dataset (SYNTHETIC), validated on load."""
    return load_dataset(SHIPPED_DIR)
