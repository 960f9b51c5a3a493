"""One run of a scenario: dataset -> seats -> disposition -> transfer -> plan.

Each stage is a public function taking and returning frames, so notebooks can run one stage at a
time; ``run_scenario`` chains them with progress reporting and provenance.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import geodata
from optimization.disposition import DispositionModel
from optimization.result import SolveInfo
from optimization.seats import SeatsModel, seat_roles
from optimization.transfer import TransferModel
from planner import pinned, prepare, reasons
from planner.decisions import Decisions, load_decisions
from planner.demo import load_demo
from planner.diff import Start
from planner.i18n import _, current_lang, number
from planner.inventory import Dataset, load_dataset
from planner.labels import label
from planner.polygons import polygons_hash, read_unit_polygons
from planner.scenario import Scenario
from planner.schema import REPORT_CATEGORY_OF_USE, SERVICE_USES
from planner.travel import TravelTable, load_travel, require_minutes, travel_file

# Progress callback: (stage, fraction done in [0, 1], message).
Progress = Callable[[str, float, str], None]
STAGES = ("load", "seats", "disposition", "transfer", "kpis")


def _no_progress(stage: str, fraction: float, message: str) -> None:
    return None


@dataclass(frozen=True)
class Inputs:
    """Everything a run reads, after validation and the province filter."""

    scenario: Scenario
    dataset: Dataset
    units: pd.DataFrame
    legacy: pd.DataFrame
    decisions: Decisions = dataclasses.field(default_factory=Decisions.empty)
    travel: TravelTable = dataclasses.field(default_factory=TravelTable.empty)
    polygons: Any = None  # the user's unit polygons (GeoDataFrame by code), if given


@dataclass
class Plan:
    """Decision tables, KPIs and provenance of one run."""

    scenario: Scenario
    tables: dict[str, pd.DataFrame]
    kpis: pd.DataFrame
    provenance: dict[str, Any]
    synthetic: bool = False
    polygons: Any = None  # the user's unit polygons the maps draw (GeoDataFrame by code)

    @property
    def solves(self) -> list[dict[str, Any]]:
        """One record per solve: stage, part, status, objective, bound, gap, solver, time."""
        solves: list[dict[str, Any]] = self.provenance["solves"]
        return solves

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    @property
    def coverage_name(self) -> str:
        """'Việt Nam', or the provinces planned (the name of the KPIs' national scope)."""
        k = self.kpis
        return str(k.loc[k["scope"] == "national", "scope_name"].iloc[0])


def load_inputs(scenario: Scenario, dataset_path: str | Path | None = None) -> Inputs:
    """Validate the dataset and the geography overrides, and apply the province filter.
    ``dataset_path`` is where ``data.dataset`` lies when it names a stored dataset (the
    API's); the plan shows the name, never the server path."""
    d = scenario.data
    communes = geodata.load_communes(population_overrides=d.population_overrides,
                                     terrain_overrides=d.terrain_overrides,
                                     as_of=d.geography_as_of)
    if d.dataset == "demo" and dataset_path is None:
        dataset = dataclasses.replace(load_demo(), source="demo")  # a name, never a path
    else:
        dataset = load_dataset(dataset_path or d.dataset, communes)
        label = d.dataset if dataset_path is not None else Path(d.dataset).name
        dataset = dataclasses.replace(dataset, source=label)
    all_codes = communes["code"].to_numpy()
    if d.provinces:
        unknown = sorted(set(d.provinces) - set(communes["province_code"]))
        if unknown:
            raise ValueError(_("data.provinces: unknown province code(s) {codes}",
                               codes=unknown))
        communes = communes[communes["province_code"].isin(d.provinces)]
    legacy = geodata.load_legacy_units()
    od_file = d.od_table or travel_file(
        dataset_path or (None if d.dataset == "demo" else d.dataset))
    travel = (load_travel(od_file, pd.Index(dataset.properties["property_id"]),
                          pd.Index(all_codes), pd.Index(legacy["legacy_code"]))
              if od_file else TravelTable.empty())
    require_minutes(scenario.policy, travel)
    units = prepare.unit_table(communes, scenario.policy).reset_index(drop=True)
    decisions = (load_decisions(d.decisions, dataset) if d.decisions
                 else Decisions.empty())
    polygons = (read_unit_polygons(d.unit_polygons, pd.Index(all_codes))
                if d.unit_polygons else None)
    return Inputs(scenario, dataset, units, legacy, decisions, travel, polygons)


def _solve_record(stage: str, part: str, info: SolveInfo) -> dict[str, Any]:
    price = (info.stats or {}).get("budget_price")
    return {"stage": stage, "part": part, "status": str(info.status),
            "objective": info.objective_value, "best_bound": info.best_bound, "gap": info.gap,
            "solver": info.solver, "wall_time_s": info.wall_time_s,
            "time_limit_s": info.time_limit_s,
            # where a re-plan's price search on the national budget begins
            **({"budget_price": float(price)} if price else {})}


def run_seats(inputs: Inputs) -> tuple[dict[str, pd.DataFrame], list[dict[str, Any]]]:
    """Which buildings each unit keeps (main seat, annexes, service points).

    Returns ``seats`` (property_id, commune_code, role, ...), ``areas`` (each former commune
    with its population, the distance to the main seat and to the nearest kept site) and
    ``surplus`` (the properties left for the disposition step), and the solve record.
    """
    sc = inputs.scenario
    sp = sc.policy.seats
    units = inputs.units
    planned = inputs.dataset.properties["commune_code"].isin(units["commune_code"])
    cand = pinned.pin_seats(prepare.seat_candidates(inputs.dataset, units, sc.policy),
                            inputs.decisions, set(inputs.dataset.properties.loc[
                                planned, "property_id"]))
    areas = prepare.predecessor_areas(units, inputs.legacy)
    # Pairs within the service radius (same unit); every area also needs its main-seat distance.
    radius = sp.max_service_km
    main = cand[cand["is_main_seat"]].set_index("commune_code")
    main_at = main.reindex(areas["commune_code"])
    main_km = prepare.main_seat_km(areas, main_at, inputs.travel)
    for col in main_km:
        areas[col] = main_km[col].to_numpy()
    deficit = office_deficit(inputs, cand)
    shortfall = deficit  # without the seats model only the main seat is kept
    records: list[dict[str, Any]] = []
    if radius is None:
        # Buildings the planner keeps are kept here too, as the seats model would name them.
        held = cand[cand["is_main_seat"] | cand["keep_required"]]
        kept = held[["property_id", "commune_code"]].assign(role=seat_roles(
            held["is_main_seat"].to_numpy(), held["floor_area_m2"].to_numpy()))
    else:
        pairs = prepare.seat_pairs(areas, cand, radius, inputs.travel)
        if sp.max_service_min is not None:  # the pairs the model gets are those within reach
            pairs = pairs[pairs["minutes"].to_numpy(dtype=float) <= sp.max_service_min]
        model = SeatsModel.from_frames(
            cand.drop(columns=["lon", "lat"]), areas[["area_id", "commune_code", "population"]],
            pairs.drop(columns="distance_source"), max_service_km=radius,
            penalty_vnd_per_person=sp.penalty_vnd_per_person,
            office_deficit_m2=deficit,
            office_rent_vnd_per_m2_year=sp.office_rent_vnd_per_m2_year)
        model.run(time_limit_s=sc.solver.time_limit_s, mip_gap=sc.solver.mip_gap,
                  threads=sc.solver.threads, seed=sc.solver.seed)
        kept = model.kept
        shortfall = model.office.set_index("commune_code")["office_shortfall_m2"]
        records.append(_solve_record("seats", coverage(sc), model.info))
    props = inputs.dataset.properties.set_index("property_id")
    seats = kept.join(props[["name", "origin", "floor_area_m2", "lon", "lat"]], on="property_id")
    seats["upkeep_cost_vnd"] = np.round(seats["floor_area_m2"] * sp.upkeep_vnd_per_m2_year
                                        ).astype(np.int64)
    seats = seats.sort_values(["commune_code", "role", "property_id"], kind="stable")
    seats["decided_by"] = np.where(seats["property_id"].isin(
        set(inputs.decisions.kept()["property_id"])), "planner", "model")
    near = prepare.nearest_kept(areas, main_at["property_id"].to_numpy(),
                                seats.reset_index(drop=True), radius, inputs.travel)
    for col in near:
        areas[col] = near[col].to_numpy()
    areas["within_service_km"] = (areas["nearest_kept_km"] <= radius if radius is not None
                                  else True)
    if sp.max_service_min is not None:
        areas["within_service_min"] = areas["nearest_kept_min"] <= sp.max_service_min
    in_scope = props["commune_code"].isin(units["commune_code"])
    surplus = props[in_scope & ~props.index.isin(seats["property_id"])
                    & ~props["in_use_as_seat"]].reset_index()
    # Office area: the need, what the kept buildings house and what is left (seats model).
    codes = units["commune_code"]
    office = pd.DataFrame({"commune_code": codes.to_numpy(),
                           "office_need_m2": deficit.reindex(codes).fillna(0).to_numpy(),
                           "office_shortfall_m2": shortfall.reindex(codes).fillna(
                               deficit.reindex(codes)).fillna(0).to_numpy()})
    office.insert(2, "office_housed_m2",
                  office["office_need_m2"] - office["office_shortfall_m2"])
    return ({"seats": seats.reset_index(drop=True), "areas": areas, "surplus": surplus,
             "office": office}, records)


def office_deficit(inputs: Inputs, cand: pd.DataFrame) -> pd.Series:
    """Per unit code: staff x the office norm per official, less the main seat's floor area
    (whole m2, >= 0)."""
    c = inputs.dataset.communes.set_index("commune_code")
    main = cand[cand["is_main_seat"]].set_index("commune_code")["floor_area_m2"]
    codes = inputs.units["commune_code"]
    need = (c["staff"].reindex(codes).fillna(0).to_numpy(dtype=float)
            * inputs.scenario.policy.seats.office_m2_per_staff
            - main.reindex(codes).fillna(0).to_numpy(dtype=float))
    return pd.Series(np.ceil(np.maximum(need, 0.0)), index=codes.to_numpy())


def run_disposition(inputs: Inputs, surplus: pd.DataFrame, progress: Progress = _no_progress,
                    start: Start | None = None, office: pd.DataFrame | None = None
                    ) -> tuple[dict[str, pd.DataFrame], list[dict[str, Any]]]:
    """Give every surplus property a use (a building up to ``max_uses_per_building`` public
    uses sharing its floor), serving needs within the radius of each use.

    Returns ``dispositions`` (one row per property), ``service`` (property -> unit flows) and
    ``needs`` (need, served, unmet and the reason for what is unmet), and the solve record.
    """
    sc = inputs.scenario
    pol = sc.policy
    units = inputs.units
    prov = units.set_index("commune_code")["province_code"]
    options, required = pinned.pin_disposition(prepare.eligibility(surplus, pol), surplus,
                                               units, sc, inputs.decisions, inputs.travel)
    eligible_public = options.loc[options["use"].isin(SERVICE_USES), "property_id"].unique()
    options["capacity"] = np.floor(options["capacity"]).astype(np.int64)
    needs = pinned.served_first(prepare.service_needs(inputs.dataset, units, pol, office),
                                inputs.decisions)
    all_pairs = prepare.service_pairs(surplus, units, pol, inputs.travel)
    pairs, near = prepare.candidate_arcs(options, needs, all_pairs, pol)
    # A required use stays even where it reaches no need; one required for a unit serves it.
    key = pd.MultiIndex.from_frame(options[["property_id", "use"]])
    dropped = key.isin(pd.MultiIndex.from_frame(required[["property_id", "use"]])) & ~key.isin(
        pd.MultiIndex.from_frame(near[["property_id", "use"]]))
    options = pd.concat([near, options[dropped]], ignore_index=True)
    pairs = pinned.restrict_targets(pairs, all_pairs, required)
    penalty = {u: float(v) for u, v in pol.unmet_penalty_vnd_per_m2.items()}
    penalty["service_point"] = float(pol.unmet_penalty_vnd_per_service_point)
    building = surplus["kind"].to_numpy() == "building"
    props = pd.DataFrame({"property_id": surplus["property_id"].to_numpy(),
                          "province_code": prov.reindex(surplus["commune_code"]).to_numpy(),
                          "commune_code": surplus["commune_code"].to_numpy(),
                          # A building's public uses share its floor; a plot takes one use.
                          "shared_floor_m2": np.where(building, np.floor(
                              surplus["floor_area_m2"].to_numpy(dtype=float)), 0.0),
                          "fixed_use": surplus["property_id"].map(
                              required.set_index("property_id")["use"]).to_numpy()})
    budget = sc.budget
    provinces = units["province_code"].unique()
    per_province = {p: budget.per_province_vnd.get(p, budget.default_province_vnd)
                    for p in provinces}
    per_province = {p: b for p, b in per_province.items() if b is not None}
    needs = needs.assign(need=np.ceil(needs["need"]).astype(np.int64),
                         province_code=prov.reindex(needs["commune_code"]).to_numpy())
    model = DispositionModel.from_frames(
        props, needs[["commune_code", "use", "need", "priority_weight", "served_first",
                      "province_code"]],
        pairs[["property_id", "commune_code", "distance_km", "minutes"]], options=options,
        radius_km=dict(pol.service_radius_km), radius_min=dict(pol.service_radius_min),
        unmet_penalty_vnd=penalty,
        budget_vnd=budget.national_vnd, province_budget_vnd=per_province,
        same_province=pol.same_province_only,
        cross_province_penalty_vnd=0 if pol.same_province_only
        else pol.cross_province_penalty_vnd,
        allowed_uses=list(pol.uses_allowed), disposal_order=pol.disposal_order,
        max_uses_per_property=pol.max_uses_per_building)
    model.build()
    model.solve(time_limit_s=sc.solver.time_limit_s, mip_gap=sc.solver.mip_gap,
                threads=sc.solver.threads, seed=sc.solver.seed,
                start=None if start is None else start.options,
                budget_price=None if start is None else start.budget_price)
    model.check_solution()
    a = model.assignment
    timed = ["minutes"] if inputs.travel.has_minutes else []
    sv = model.service.merge(pairs[["property_id", "commune_code", "distance_source", *timed]],
                             on=["property_id", "commune_code"], how="left")
    # What the property's (first) use serves, and the unit it serves most.
    own = sv.merge(a[["property_id", "use"]], on=["property_id", "use"])
    main = own.sort_values(["property_id", "quantity", "commune_code"],
                           ascending=[True, False, True], kind="stable").drop_duplicates(
        "property_id").set_index("property_id")
    served = own.groupby("property_id")["quantity"].sum()
    info = surplus.set_index("property_id")
    disp = a.join(info[["name", "origin", "kind", "condition", "floor_area_m2",
                        "land_area_m2", "lon", "lat"]], on="property_id")
    disp["served_commune_code"] = disp["property_id"].map(main["commune_code"])
    disp["served_quantity"] = disp["property_id"].map(served).fillna(0.0)
    disp["report_category"] = disp["use"].map(REPORT_CATEGORY_OF_USE)
    codes = model.property_reasons()
    # The model sees only the options that reach a need; eligible ones reach none.
    codes.loc[(codes["reason_code"] == "no_public_option")
              & codes["property_id"].isin(eligible_public), "reason_code"] = "no_need_in_reach"
    disp = disp.join(codes.drop(columns="property_id").set_index(disp.index))
    disp["reason"] = reasons.property_texts(disp, codes, surplus, units, pol, sv)
    said = reasons.decision_texts(disp["property_id"], inputs.decisions.properties)
    disp["decided_by"] = np.where(said != "", "planner", "model")
    disp["reason"] = np.where(said != "", said + ". " + disp["reason"], disp["reason"])
    cols = ["property_id", "name", "origin", "kind", "province_code", "commune_code",
            "condition", "floor_area_m2", "land_area_m2", "use", "shared_uses",
            "report_category",
            "renovation_cost_vnd", "revenue_vnd", "served_commune_code", "served_quantity",
            "decided_by", "reason", "reason_code",
            "alt_use", "alt_commune_code", "alt_unmet", "alt_distance_km",
            "alt_cost_one_unit_vnd", "alt_cost_vnd", "budget_scope", "budget_left_vnd",
            "lon", "lat"]
    disp = disp[cols].sort_values("property_id", kind="stable").reset_index(drop=True)
    why = model.need_reasons()
    why["reason"] = reasons.need_texts(why, units, pol)
    un = model.unmet.merge(why, on=["commune_code", "use"], how="left")
    un["reason"] = un["reason"].fillna("")
    un["reason_code"] = un["reason_code"].fillna("")
    un = un.sort_values(["commune_code", "use"], kind="stable").reset_index(drop=True)
    sv = sv.sort_values(["property_id", "commune_code"], kind="stable").reset_index(drop=True)
    return ({"dispositions": disp, "service": sv, "needs": un},
            [_solve_record("disposition", coverage(sc), model.info)])


def run_transfer(inputs: Inputs) -> tuple[dict[str, pd.DataFrame], list[dict[str, Any]]]:
    """Move surplus cars and equipment to units below the norm (exact min-cost flow).

    Returns tables ``transfers`` (holder_code, commune_code, category, quantity, distance_km,
    cost_vnd) and ``equipment`` (per unit and category: required, held_before, received,
    held_after, shortfall_before, shortfall_after, reason), and the solve record.
    """
    sc = inputs.scenario
    tp = sc.policy.transfer
    supplies, demands, pairs, short = prepare.transfer_inputs(inputs.dataset, inputs.units, sc,
                                                              inputs.travel)
    supplies, fixed = pinned.pin_transfer(supplies, demands, pairs, inputs.units, sc.policy,
                                          inputs.decisions)
    model = TransferModel.from_frames(
        supplies, demands, pairs, cost_per_km_vnd=dict(tp.cost_per_km_vnd),
        handling_vnd=dict(tp.handling_vnd), unmet_penalty_vnd=dict(tp.unmet_penalty_vnd),
        same_province=sc.policy.same_province_only,
        cross_province_penalty_vnd=sc.policy.cross_province_penalty_vnd, fixed_flows=fixed,
        sea_leg_vnd=dict(tp.sea_leg_vnd)).run()
    flows = model.flows.merge(pairs[["holder_code", "commune_code", "distance_source"]],
                              on=["holder_code", "commune_code"], how="left")
    received = flows.groupby(["commune_code", "category"])["quantity"].sum().rename("received")
    eq = short.join(received, on=["commune_code", "category"])
    eq["received"] = eq["received"].fillna(0).astype(np.int64)
    eq = eq.rename(columns={"held": "held_before", "shortfall": "shortfall_before"})
    eq["held_after"] = eq["held_before"] + eq["received"]
    eq["shortfall_after"] = np.maximum(eq["required"] - eq["held_after"], 0)
    eq["reason"] = _transfer_reasons(eq, supplies, pairs, inputs, sc)
    flows["decided_by"] = np.where(pd.MultiIndex.from_frame(
        flows[["holder_code", "commune_code", "category"]]).isin(pd.MultiIndex.from_frame(
            fixed[["holder_code", "commune_code", "category"]])), "planner", "model")
    flows = flows.sort_values(["category", "holder_code", "commune_code"], kind="stable")
    tables = {"transfers": flows.reset_index(drop=True), "equipment": eq}
    return tables, [_solve_record("transfer", coverage(sc), model.info)]


def _transfer_reasons(eq: pd.DataFrame, supplies: pd.DataFrame, pairs: pd.DataFrame,
                      inputs: Inputs, sc: Scenario) -> np.ndarray:
    """Why a shortfall is left after the transfer, in words and numbers."""
    left = eq["shortfall_after"].to_numpy() > 0
    reasons = np.full(len(eq), "", dtype=object)
    if not left.any():
        return reasons
    prov = inputs.units.set_index("commune_code")["province_code"]
    reach = pairs.merge(supplies, on="holder_code")
    if sc.policy.same_province_only:
        reach = reach[reach["province_code"] == prov.reindex(reach["commune_code"]).to_numpy()]
    reachable = reach.groupby(["commune_code", "category"])["surplus"].sum()
    anywhere = supplies.groupby("category")["surplus"].sum()
    max_km = sc.policy.transfer.max_km
    for i in np.flatnonzero(left):
        row = eq.iloc[i]
        cat = row["category"]
        near = int(reachable.get((row["commune_code"], cat), 0))
        what = label("category", cat).lower()
        if anywhere.get(cat, 0) == 0:
            reasons[i] = _("No surplus {what} anywhere in the plan's area", what=what)
        elif near == 0:
            reasons[i] = (_("No surplus {what} in the same province within {km} km", what=what,
                            km=number(max_km, None)) if sc.policy.same_province_only else
                          _("No surplus {what} within {km} km", what=what, km=number(max_km, None)))
        else:
            reasons[i] = _("The {n} surplus {what} within reach went to units with a higher "
                           "priority or a cheaper route", n=near, what=what)
    return reasons


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - t0, 3)


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("assetplan", "ortools", "numpy", "pandas", "geopandas", "scipy", "pydantic",
                "vietnamadminunits"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def scenario_hash(scenario: Scenario) -> str:
    return hashlib.sha256(scenario.model_dump_json().encode()).hexdigest()


def provenance(inputs: Inputs, solves: list[dict[str, Any]],
               timings: dict[str, float]) -> dict[str, Any]:
    ds = inputs.dataset
    return {
        "scenario": _shown_scenario(inputs.scenario),
        "scenario_hash": scenario_hash(inputs.scenario),
        "dataset": {"source": ds.source or "demo", "content_hash": ds.content_hash,
                    "synthetic": ds.synthetic, "label": ds.meta.get("label", ""),
                    "notes": [n.to_dict() for n in ds.notes]},
        "decisions": _decision_counts(inputs),
        "geography": _("Units as of {date}.", date=inputs.scenario.data.geography_as_of)
        + " " + geodata.ATTRIBUTION,
        "solves": solves,
        "timings_s": timings,
        "versions": package_versions(),
        "units": len(inputs.units),
        "provinces": sorted(inputs.units["province_code"].unique().tolist()),
        "lang": current_lang(),  # the language of its reasons, workbook and report
    }


def _decision_counts(inputs: Inputs) -> dict[str, Any]:
    """The decisions file and its rows that apply to this run's units, by kind; rows on
    other provinces are counted apart (they wait for a run that plans them)."""
    dec = inputs.decisions
    planned = set(inputs.units["commune_code"])
    home = inputs.dataset.properties.set_index("property_id")["commune_code"]
    applies = {"properties": dec.properties["property_id"].map(home).isin(planned),
               "lots": dec.lots["holder_code"].isin(planned),
               "units": dec.units["commune_code"].isin(planned)}
    return {"file": Path(dec.file).name, "content_hash": dec.content_hash,
            **{k: int(v.sum()) for k, v in applies.items()},
            "outside_provinces": int(sum((~v).sum() for v in applies.values()))}


def _shown_scenario(scenario: Scenario) -> dict[str, Any]:
    """The scenario as the plan shows it: the decisions and OD files by their names, not
    their paths."""
    out: dict[str, Any] = json.loads(scenario.model_dump_json())
    for key in ("decisions", "od_table", "unit_polygons"):
        if out["data"].get(key):
            out["data"][key] = Path(out["data"][key]).name
    return out


def coverage(scenario: Scenario) -> str:
    """What a run plans: ``national``, or ``provinces`` and their codes."""
    codes = sorted(scenario.data.provinces)
    return "national" if not codes else "provinces " + ",".join(codes)


def output_name(scenario: Scenario) -> Path:
    """The default run folder: the scenario's name, its overrides and its provinces (a short
    hash of them when there are more than four), and short hashes of its decisions and OD
    files, so that no two kinds of run share one."""
    name = scenario.name + "".join(f"+{o}" for o in scenario.applied_overrides)
    codes = sorted(scenario.data.provinces)
    if codes:
        tag = "-".join(codes) if len(codes) <= 4 else hashlib.sha256(
            ",".join(codes).encode()).hexdigest()[:8]
        name += f"@p{tag}"
    for tag, file in (("d", scenario.data.decisions), ("t", scenario.data.od_table)):
        if file:
            digest = (hashlib.sha256(Path(file).read_bytes()).hexdigest()
                      if Path(file).is_file() else hashlib.sha256(file.encode()).hexdigest())
            name += f"@{tag}{digest[:8]}"
    return Path("runs") / name


def run_scenario(scenario: Scenario, progress: Progress = _no_progress,
                 dataset_path: str | Path | None = None,
                 start: Start | None = None,
                 adjust: Callable[[Inputs], Inputs] | None = None) -> Plan:
    """Run every stage of ``scenario`` and return the plan (tables, KPIs, provenance).
    ``start``: an earlier run's plan and budget price, where the disposition starts (a
    re-plan). ``adjust``: what is done to the validated inputs first (a sweep's draw)."""
    from planner.kpis import compute_kpis

    timings: dict[str, float] = {}
    solves: list[dict[str, Any]] = []
    tables: dict[str, pd.DataFrame] = {}
    progress("load", 0.0, _("validating the dataset and the geography"))
    with _timed(timings, "load"):
        inputs = load_inputs(scenario, dataset_path)
        if adjust is not None:
            inputs = adjust(inputs)
    progress("seats", 0.0, _("choosing the buildings {n} units keep",
                             n=number(len(inputs.units))))
    with _timed(timings, "seats"):
        seat_tables, recs = run_seats(inputs)
    tables |= seat_tables
    solves += recs
    progress("disposition", 0.0, _("giving {n} surplus properties one use each",
                                   n=number(len(seat_tables["surplus"]))))
    with _timed(timings, "disposition"):
        disp_tables, recs = run_disposition(inputs, seat_tables["surplus"], progress, start,
                                            seat_tables["office"])
    tables |= disp_tables
    solves += recs
    tables.pop("surplus")
    office = tables.pop("office")
    progress("transfer", 0.0, _("moving surplus cars and equipment"))
    with _timed(timings, "transfer"):
        tr_tables, recs = run_transfer(inputs)
    tables |= tr_tables
    solves += recs
    tables["units"] = inputs.units.merge(office, on="commune_code", how="left")
    progress("kpis", 0.0, _("computing KPIs"))
    with _timed(timings, "kpis"):
        kpis = compute_kpis(tables, scenario)
    tables["solves"] = pd.DataFrame(solves).drop(columns=["wall_time_s", "budget_price"],
                                                 errors="ignore")
    ordered = {k: tables[k] for k in ("units", "seats", "areas", "dispositions", "service",
                                      "needs", "transfers", "equipment", "solves")}
    progress("kpis", 1.0, _("done"))
    prov = provenance(inputs, solves, timings)
    prov["travel"] = inputs.travel.coverage({
        "areas": tables["areas"]["nearest_kept_km_source"],
        "service": tables["service"]["distance_source"],
        "transfers": tables["transfers"]["distance_source"]})
    if inputs.polygons is not None:
        planned = inputs.polygons.index.isin(inputs.units["commune_code"])
        prov["unit_polygons"] = {"file": Path(str(scenario.data.unit_polygons)).name,
                                 "content_hash": polygons_hash(str(scenario.data.unit_polygons)),
                                 "units": int(planned.sum())}
    return Plan(scenario, ordered, kpis, prov, synthetic=inputs.dataset.synthetic,
                polygons=inputs.polygons)
