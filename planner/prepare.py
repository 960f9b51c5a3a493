"""Turn a dataset, the geography and a scenario into the frames each model takes.

All pairs are sparse (radius queries from ``geodata``), built once per run from whole arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import geodata
from planner import holdings
from planner.inventory import Dataset, need_table
from planner.scenario import Policy, Scenario
from planner.schema import SERVICE_USES
from planner.travel import COMPUTED, FORMER, TravelTable


def unit_table(communes: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """One row per unit with its priority weight = terrain weight x unit-type weight."""
    pw = policy.priority
    weight = communes["terrain"].map(pw.terrain) * communes["unit_type"].map(pw.unit_type)
    return pd.DataFrame({
        "commune_code": communes["code"].to_numpy(),
        "name": communes["name"].to_numpy(),
        "province_code": communes["province_code"].to_numpy(),
        "province_name": communes["province_name"].to_numpy(),
        "unit_type": communes["unit_type"].to_numpy(),
        "terrain": communes["terrain"].to_numpy(),
        "population": communes["population"].to_numpy(),
        "area_km2": communes["area_km2"].to_numpy(),
        "lon": communes["lon"].to_numpy(),
        "lat": communes["lat"].to_numpy(),
        "priority_weight": weight.to_numpy(dtype=float),
    })


def predecessor_areas(units: pd.DataFrame, legacy: pd.DataFrame) -> pd.DataFrame:
    """The former communes (or parts of split ones) that make up each new unit.

    Population of a predecessor area: the unit's population shared among its predecessors,
    a whole predecessor weighing 1 and a part of a unit split n ways 1/n (no population is
    published for the pre-2025 units; documented assumption). Point: the former unit's point.
    """
    default = legacy[["legacy_code", "name", "successor_code", "n_successors", "lon", "lat"]]
    parts = legacy.loc[legacy["is_split"], ["legacy_code", "name", "other_successor_codes",
                                           "n_successors", "lon", "lat"]]
    others = parts.assign(successor_code=parts["other_successor_codes"].str.split(",")).explode(
        "successor_code").drop(columns="other_successor_codes")
    areas = pd.concat([default, others], ignore_index=True)
    areas = areas[areas["successor_code"].isin(units["commune_code"])]
    areas = areas.rename(columns={"successor_code": "commune_code"})
    share = 1.0 / areas["n_successors"].astype(float)
    total = share.groupby(areas["commune_code"]).transform("sum")
    pop = units.set_index("commune_code")["population"].reindex(areas["commune_code"]).to_numpy()
    areas["population"] = np.round(pop * share.to_numpy() / total.to_numpy()).astype(np.int64)
    areas["area_id"] = areas["legacy_code"] + "@" + areas["commune_code"]
    return areas[["area_id", "legacy_code", "name", "commune_code", "population", "lon",
                  "lat"]].sort_values("area_id", kind="stable").reset_index(drop=True)


def same_unit_pairs(left: pd.DataFrame, right: pd.DataFrame, left_id: str, right_id: str,
                    radius_km: float) -> pd.DataFrame:
    """Pairs (left_id, right_id, distance_km) within ``radius_km`` and in the same unit."""
    pairs = geodata.pairs_within_radius(left[["lon", "lat"]].to_numpy(),
                                        right[["lon", "lat"]].to_numpy(), radius_km)
    lo, ro = pairs["origin"].to_numpy(), pairs["destination"].to_numpy()
    same = left["commune_code"].to_numpy()[lo] == right["commune_code"].to_numpy()[ro]
    return pd.DataFrame({left_id: left[left_id].to_numpy()[lo[same]],
                         right_id: right[right_id].to_numpy()[ro[same]],
                         "distance_km": pairs["distance_km"].to_numpy()[same]})


def seat_pairs(areas: pd.DataFrame, buildings: pd.DataFrame, radius_km: float,
               travel: TravelTable) -> pd.DataFrame:
    """(area_id, property_id, distance_km, distance_source) of the same unit within
    ``radius_km``: how far a former commune's people travel to a building, from the OD table
    (building -> former commune) where it has the pair."""
    pairs = same_unit_pairs(areas, buildings, "area_id", "property_id", radius_km)
    pairs["legacy_code"] = areas.set_index("area_id")["legacy_code"].reindex(
        pairs["area_id"]).to_numpy()
    pairs = travel.apply(pairs, "property_id", "legacy_code", FORMER)
    return pairs[pairs["distance_km"] <= radius_km].drop(columns="legacy_code").reset_index(
        drop=True)


def main_seat_km(areas: pd.DataFrame, main_at: pd.DataFrame, travel: TravelTable
                 ) -> pd.DataFrame:
    """Each area's distance to its unit's main seat (main_seat_km, main_seat_km_source, and
    main_seat_min when the OD table gives times)."""
    pairs = pd.DataFrame({"property_id": main_at["property_id"].to_numpy(),
                          "legacy_code": areas["legacy_code"].to_numpy(),
                          "distance_km": geodata.haversine_km(
                              areas["lon"], areas["lat"], main_at["lon"], main_at["lat"])})
    pairs = travel.apply(pairs, "property_id", "legacy_code", FORMER)
    out = pd.DataFrame({"main_seat_km": pairs["distance_km"].to_numpy(),
                        "main_seat_km_source": pairs["distance_source"].to_numpy()})
    if travel.has_minutes:
        out["main_seat_min"] = pairs["minutes"].to_numpy()
    return out


def nearest_kept(areas: pd.DataFrame, main_id: np.ndarray, seats: pd.DataFrame,
                 radius_km: float | None, travel: TravelTable) -> pd.DataFrame:
    """Each area's nearest kept site: the main seat, or a kept site (``seats``: property_id,
    commune_code, lon, lat) of the same unit within the service radius if one is closer
    (nearest_kept_km, nearest_kept_id, nearest_kept_km_source); with times in the OD table
    also the shortest time to any of them (nearest_kept_min)."""
    out = pd.DataFrame({"nearest_kept_km": areas["main_seat_km"].astype(float).to_numpy(),
                        "nearest_kept_id": main_id,
                        "nearest_kept_km_source": areas["main_seat_km_source"].to_numpy()})
    timed = travel.has_minutes
    if timed:
        out["nearest_kept_min"] = areas["main_seat_min"].to_numpy(dtype=float)
    if radius_km is None:
        return out
    near = seat_pairs(areas, seats, radius_km, travel)
    pos_all = pd.Index(areas["area_id"]).get_indexer(near["area_id"])
    if timed:
        fastest = near.assign(pos=pos_all).groupby("pos")["minutes"].min()
        both = np.fmin(out["nearest_kept_min"].to_numpy()[fastest.index], fastest.to_numpy())
        out.loc[fastest.index, "nearest_kept_min"] = both
    near = near.sort_values(["area_id", "distance_km"], kind="stable").drop_duplicates(
        "area_id")
    pos = pd.Index(areas["area_id"]).get_indexer(near["area_id"])
    closer = near["distance_km"].to_numpy() < areas["main_seat_km"].to_numpy()[pos]
    for col, src in (("nearest_kept_km", "distance_km"), ("nearest_kept_id", "property_id"),
                     ("nearest_kept_km_source", "distance_source")):
        out.loc[pos[closer], col] = near[src].to_numpy()[closer]
    return out


def seat_candidates(dataset: Dataset, units: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """Buildings a unit may keep: its main seat and every usable building inside it."""
    p = dataset.properties
    in_scope = p["commune_code"].isin(units["commune_code"])
    usable = (p["kind"] == "building") & (p["condition"] != "unusable") & (p["floor_area_m2"] > 0)
    cand = p[in_scope & (usable | p["in_use_as_seat"])]
    upkeep = np.round(cand["floor_area_m2"].to_numpy()
                      * policy.seats.upkeep_vnd_per_m2_year).astype(np.int64)
    return pd.DataFrame({
        "property_id": cand["property_id"].to_numpy(),
        "commune_code": cand["commune_code"].to_numpy(),
        "is_main_seat": cand["in_use_as_seat"].to_numpy(dtype=bool),
        "upkeep_cost_vnd": upkeep,
        "floor_area_m2": cand["floor_area_m2"].to_numpy(),
        "lon": cand["lon"].to_numpy(), "lat": cand["lat"].to_numpy(),
    }).reset_index(drop=True)


def transfer_inputs(dataset: Dataset, units: pd.DataFrame, scenario: Scenario,
                    travel: TravelTable
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Supplies, demands, sparse pairs (holder unit -> unit within max_km, distance_source)
    and the shortfall table before the transfer."""
    pol = scenario.policy
    u = units.set_index("commune_code")
    short = holdings.shortfall(dataset)
    short = short[short["commune_code"].isin(u.index)].reset_index(drop=True)
    tr = holdings.transferable(dataset)
    tr = tr[tr["holder_code"].isin(u.index)]
    supplies = tr.groupby(["holder_code", "category"], as_index=False)["quantity"].sum()
    supplies = pd.DataFrame({
        "holder_code": supplies["holder_code"].to_numpy(),
        "category": supplies["category"].to_numpy(),
        "surplus": supplies["quantity"].to_numpy(dtype=np.int64),
        "province_code": u.loc[supplies["holder_code"], "province_code"].to_numpy(),
    })
    dem = short[short["shortfall"] > 0]
    demands = pd.DataFrame({
        "commune_code": dem["commune_code"].to_numpy(),
        "category": dem["category"].to_numpy(),
        "shortfall": dem["shortfall"].to_numpy(dtype=np.int64),
        "province_code": u.loc[dem["commune_code"], "province_code"].to_numpy(),
        "priority_weight": u.loc[dem["commune_code"], "priority_weight"].to_numpy(),
    })
    holders = u.loc[pd.unique(supplies["holder_code"])]
    takers = u.loc[pd.unique(demands["commune_code"])]
    pairs = geodata.pairs_within_radius(holders[["lon", "lat"]].to_numpy(),
                                        takers[["lon", "lat"]].to_numpy(), pol.transfer.max_km)
    pairs = pd.DataFrame({"holder_code": holders.index.to_numpy()[pairs["origin"].to_numpy()],
                          "commune_code": takers.index.to_numpy()[
                              pairs["destination"].to_numpy()],
                          "distance_km": pairs["distance_km"].to_numpy()})
    pairs = travel.apply(pairs, "holder_code", "commune_code")
    keep = pairs["distance_km"].to_numpy() <= pol.transfer.max_km
    if pol.same_province_only:  # the model drops the others: no need to measure them
        prov = u["province_code"]
        keep &= (prov.reindex(pairs["holder_code"]).to_numpy()
                 == prov.reindex(pairs["commune_code"]).to_numpy())
    pairs = pairs[keep].reset_index(drop=True)
    pairs["sea_leg"] = sea_legs(pairs["holder_code"], pairs["commune_code"], units, pol) & (
        pairs["distance_source"] == COMPUTED).to_numpy()
    return supplies, demands, pairs, short


def sea_legs(origin: pd.Series, destination: pd.Series, units: pd.DataFrame,
             policy: Policy) -> np.ndarray:
    """Pairs of units that cross the sea: an island unit and another unit, unless the island
    is linked to the mainland by road (``policy.transfer.road_linked_islands``)."""
    island = units.set_index("commune_code")["terrain"].eq("island")
    island[list(set(policy.transfer.road_linked_islands) & set(island.index))] = False
    by_sea = (island.reindex(origin).fillna(False).to_numpy(dtype=bool)
              | island.reindex(destination).fillna(False).to_numpy(dtype=bool))
    return by_sea & (origin.to_numpy() != destination.to_numpy())


def service_needs(dataset: Dataset, units: pd.DataFrame, policy: Policy,
                  office: pd.DataFrame | None = None) -> pd.DataFrame:
    """Needs per unit and service use (only uses allowed and only positive needs). With
    ``office`` (the seats stage's ``office_shortfall_m2`` per unit) the office need is what
    the kept buildings leave, not the dataset's column."""
    needs = need_table(dataset)
    if office is not None:
        short = office.set_index("commune_code")["office_shortfall_m2"]
        is_office = needs["use"] == "office"
        needs.loc[is_office, "need"] = short.reindex(
            needs.loc[is_office, "commune_code"]).fillna(0.0).to_numpy()
    needs = needs[needs["commune_code"].isin(units["commune_code"])
                  & needs["use"].isin([u for u in policy.uses_allowed if u in SERVICE_USES])
                  & (needs["need"] > 0)]
    by_code = units.set_index("commune_code")
    first = by_code["terrain"].isin(policy.priority.served_first)
    return needs.assign(
        priority_weight=by_code["priority_weight"].reindex(needs["commune_code"]).to_numpy(),
        served_first=first.reindex(needs["commune_code"]).to_numpy(dtype=bool),
    ).reset_index(drop=True)


def usable_floor_m2(surplus: pd.DataFrame, policy: Policy, use: str) -> np.ndarray:
    """Floor area a use can take: the building's floor area, or on a land plot the floor a
    land use builds (land area x ``floor_per_land_m2``; 0 where the use builds nothing)."""
    land_use = policy.land_uses.get(use)
    built = (surplus["land_area_m2"].to_numpy(dtype=float) * land_use.floor_per_land_m2
             if land_use is not None else 0.0)
    return np.where(surplus["kind"].to_numpy() == "building",
                    surplus["floor_area_m2"].to_numpy(dtype=float), built)


def service_rules(surplus: pd.DataFrame, policy: Policy, use: str
                  ) -> list[tuple[str, np.ndarray]]:
    """The rules a property must pass for a public use, in order: (rule, passes per row).

    A use needs a building, or a land plot for a use that builds on land (``kind``,
    ``policy.land_uses``), with a land-use status fit for conversion (``legal_status``), a
    building in an accepted ``condition``, enough floor (``floor_area_m2``: built on a plot)
    and ``land_area_m2``; heritage (``restriction``) may only be culture.
    """
    el = policy.eligibility
    n = len(surplus)
    kind = surplus["kind"].to_numpy()
    land = (kind == "land") & (use in policy.land_uses)
    return [
        ("use_allowed", np.full(n, use in policy.uses_allowed)),
        ("kind", (kind == "building") | land),
        ("legal_status",
         surplus["legal_status"].isin(el.legal_statuses_for_conversion).to_numpy()),
        ("condition", surplus["condition"].isin(el.conditions.get(use, ())).to_numpy() | land),
        ("floor_area_m2",
         usable_floor_m2(surplus, policy, use) >= el.min_floor_area_m2.get(use, 0.0)),
        ("land_area_m2",
         surplus["land_area_m2"].to_numpy(dtype=float) >= el.min_land_area_m2.get(use, 0.0)),
        ("restriction", (surplus["restriction"].to_numpy() != "heritage") | (use == "culture")),
    ]


def sale_rules(surplus: pd.DataFrame, policy: Policy) -> list[tuple[str, np.ndarray]]:
    """A sale needs a status fit for sale and no heritage / no_sale restriction."""
    n = len(surplus)
    return [
        ("use_allowed", np.full(n, "sale" in policy.uses_allowed)),
        ("legal_status",
         surplus["legal_status"].isin(policy.eligibility.legal_statuses_for_sale).to_numpy()),
        ("restriction", ~surplus["restriction"].isin(("heritage", "no_sale")).to_numpy()),
    ]


def first_failed(rules: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Per row the first rule it fails ('' when it passes them all)."""
    out = np.full(len(rules[0][1]) if rules else 0, "", dtype=object)
    for rule, passes in reversed(rules):
        out[~passes] = rule
    return out


def eligibility(surplus: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    """Long table of the uses each surplus property may take, with its capacity, renovation
    cost and revenue: property_id, use, capacity (m2, or 1 service point), renovation_cost_vnd
    (the fixed part of the conversion), renovation_vnd_per_unit (per m2 the use takes),
    floor_m2_fixed (the rooms a service point occupies in a shared building), revenue_vnd.
    'hold' is always there. Rules: ``service_rules``, ``sale_rules``; a transfer
    to another agency needs a status fit for conversion.
    """
    el = policy.eligibility
    allowed = set(policy.uses_allowed)
    n = len(surplus)
    floor = surplus["floor_area_m2"].to_numpy(dtype=float)
    cond = surplus["condition"].to_numpy()
    building = surplus["kind"].to_numpy() == "building"
    convertible = surplus["legal_status"].isin(el.legal_statuses_for_conversion).to_numpy()
    value = surplus["market_value_vnd"].to_numpy(dtype=float)
    frames = []
    for use in SERVICE_USES:
        if use not in allowed:
            continue
        ok = np.logical_and.reduce([passes for _, passes in service_rules(surplus, policy, use)])
        rate = np.array([policy.renovation_vnd_per_m2.get(c, {}).get(use, 0) for c in cond],
                        dtype=float)
        usable = usable_floor_m2(surplus, policy, use)
        if use in policy.land_uses:  # on a plot the floor is built: construction, not renovation
            rate = np.where(building, rate, policy.land_uses[use].construction_vnd_per_m2)
        fixed = float(policy.renovation_fixed_vnd.get(use, 0))
        if use == "service_point":
            # A service point renovates the rooms it uses, whatever it serves.
            fixed_vnd = fixed + np.minimum(floor, policy.service_point_floor_area_m2) * rate
            per_unit = np.zeros(n)
        else:  # the floor area a use takes is what it serves
            fixed_vnd, per_unit = np.full(n, fixed), rate
        # In a shared building a service point occupies its rooms; other uses the m2 they serve.
        floor_fixed = (np.minimum(floor, policy.service_point_floor_area_m2)
                       if use == "service_point" else np.zeros(n))
        frames.append(pd.DataFrame({
            "property_id": surplus["property_id"].to_numpy()[ok], "use": use,
            "floor_m2_fixed": np.floor(floor_fixed[ok]).astype(np.int64),
            "capacity": (np.ones(n) if use == "service_point" else usable)[ok],
            "renovation_cost_vnd": np.round(fixed_vnd)[ok].astype(np.int64),
            "renovation_vnd_per_unit": np.round(per_unit)[ok].astype(np.int64),
            "revenue_vnd": np.zeros(int(ok.sum()), dtype=np.int64)}))
    if "sale" in allowed:
        ok = np.logical_and.reduce([passes for _, passes in sale_rules(surplus, policy)])
        frames.append(pd.DataFrame({
            "property_id": surplus["property_id"].to_numpy()[ok], "use": "sale",
            "capacity": 0.0, "renovation_cost_vnd": 0,
            "revenue_vnd": np.round(value * policy.sale_share_of_market_value)[ok].astype(
                np.int64)}))
    if "transfer" in allowed:
        frames.append(pd.DataFrame({
            "property_id": surplus["property_id"].to_numpy()[convertible], "use": "transfer",
            "capacity": 0.0, "renovation_cost_vnd": 0,
            "revenue_vnd": np.round(value * policy.transfer_out_value_share)[convertible]
            .astype(np.int64)}))
    frames.append(pd.DataFrame({"property_id": surplus["property_id"].to_numpy(), "use": "hold",
                                "capacity": 0.0, "renovation_cost_vnd": 0, "revenue_vnd": 0}))
    out = pd.concat(frames, ignore_index=True)
    for col in ("renovation_vnd_per_unit", "floor_m2_fixed"):
        out[col] = out[col].fillna(0).astype(np.int64)
    return out


def service_pairs(surplus: pd.DataFrame, units: pd.DataFrame, policy: Policy,
                  travel: TravelTable) -> pd.DataFrame:
    """Property -> unit HQ pairs within the largest service radius (property_id, commune_code,
    distance_km, distance_source, minutes, cross_province); across provinces and, by straight
    line, across the sea only when the policy allows it. Each use's own radius is applied to
    these distances later."""
    radius = max(policy.service_radius_km.values())
    pairs = geodata.pairs_within_radius(surplus[["lon", "lat"]].to_numpy(),
                                        units[["lon", "lat"]].to_numpy(), radius)
    p_prov = units.set_index("commune_code")["province_code"].reindex(
        surplus["commune_code"]).to_numpy()[pairs["origin"].to_numpy()]
    c_prov = units["province_code"].to_numpy()[pairs["destination"].to_numpy()]
    cross = p_prov != c_prov
    out = pd.DataFrame({
        "property_id": surplus["property_id"].to_numpy()[pairs["origin"].to_numpy()],
        "commune_code": units["commune_code"].to_numpy()[pairs["destination"].to_numpy()],
        "distance_km": pairs["distance_km"].to_numpy(),
        "cross_province": cross,
    })
    out = travel.apply(out, "property_id", "commune_code")
    if not policy.service_across_sea:  # a straight line over the sea is no way to a service
        unit = surplus.set_index("property_id")["commune_code"]
        out = out[~(sea_legs(pd.Series(unit.reindex(out["property_id"]).to_numpy()),
                             out["commune_code"], units, policy)
                    & (out["distance_source"] == COMPUTED).to_numpy())]
    out = out[out["distance_km"] <= radius]
    if policy.same_province_only:
        out = out[~out["cross_province"]]
    return out.reset_index(drop=True)


def _service_arcs(options: pd.DataFrame, needs: pd.DataFrame, pairs: pd.DataFrame,
                  policy: Policy) -> pd.DataFrame:
    """(property_id, commune_code, use, distance_km, minutes): a pair, an eligible use and a
    need for it at the other end, within the use's radius and, where the use has one, its
    travel time (as the disposition model joins them)."""
    arcs = pairs.merge(options[["property_id", "use"]], on="property_id").merge(
        needs[["commune_code", "use"]], on=["commune_code", "use"])
    use = arcs["use"]
    keep = arcs["distance_km"].to_numpy() <= pd.Series(dict(policy.service_radius_km)).reindex(
        use).to_numpy()
    limit = pd.Series(dict(policy.service_radius_min), dtype=float).reindex(use).to_numpy()
    if "minutes" in arcs:
        keep &= np.isnan(limit) | (arcs["minutes"].to_numpy(dtype=float) <= limit)
    return arcs[keep]


def candidate_arcs(options: pd.DataFrame, needs: pd.DataFrame, pairs: pd.DataFrame,
                   policy: Policy) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Restrict service to each need's ``candidates_per_need`` nearest eligible properties
    within the use's radius. Returns the pairs those arcs use, and the options without the
    service options that serve no need (they could only cost money)."""
    arcs = _service_arcs(options, needs, pairs, policy)
    nearest = arcs.sort_values(["commune_code", "use", "distance_km", "property_id"],
                               kind="stable").groupby(["commune_code", "use"]).head(
        policy.candidates_per_need)
    kept = pairs.merge(nearest[["property_id", "commune_code"]].drop_duplicates(),
                       on=["property_id", "commune_code"]).reset_index(drop=True)
    linked = _service_arcs(options, needs, kept, policy)[["property_id", "use"]]
    useful = pd.MultiIndex.from_frame(options[["property_id", "use"]]).isin(
        pd.MultiIndex.from_frame(linked))
    service = options["use"].isin(SERVICE_USES).to_numpy()
    return kept, options[~service | useful].reset_index(drop=True)
