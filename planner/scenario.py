"""Scenarios as data: YAML validated by pydantic (unknown keys rejected, frozen).

A scenario file may ``extends:`` another file (relative path) and may define named
``overrides:``; ``load_scenario(path, overrides=[...])`` stacks the named overrides on top. Two
overrides that set the same key are an error naming the key, never "last one wins".

Errors name the file, the key path and the rule, e.g.
``scenarios/x.yaml: policy.service_radius_km.health: Input should be greater than 0``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from planner.i18n import N_, SOURCE_LANG, _, current_lang
from planner.plaindata import PlainDataError, load_yaml, require_plain_text
from planner.schema import CONDITIONS, EQUIPMENT_CATEGORIES, LEGAL_STATUSES, SERVICE_USES, USES

TERRAINS = ("lowland", "midland", "mountain", "island")
UNIT_TYPES = ("Xã", "Phường", "Đặc khu")  # data
# The dates the shipped geography is known for (geodata.AS_OF), the latest last.
GeographyDate = Literal["2025-07-01", "2026-07-25"]
LATEST_GEOGRAPHY: GeographyDate = "2026-07-25"
TRANSFER_CATEGORIES = ("car", *EQUIPMENT_CATEGORIES)
ScenarioKey = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
PositiveKm = Annotated[float, Field(gt=0, le=500)]
PositiveMin = Annotated[float, Field(gt=0, le=24 * 60)]
# Money bounds, each far above any real figure, chosen so that every product the models form
# (a rate times the largest floor area, population or distance the inventory allows, times the
# largest priority weight) stays exact in int64 and inside the range of OR-Tools' min-cost
# flow for a national instance; tests/test_scenario_bounds.py runs them.
MAX_VND = 10**15  # budgets: a million billion VND, about half the state budget
MAX_VND_RATE = 10**9  # per m2, per km, per person, per m2-year (defaults: 10^4 to 10^7)
MAX_VND_LUMP = 10**10  # per item or service point (defaults: 5 * 10^4 to 10^9)
NonNegVnd = Annotated[int, Field(ge=0, le=MAX_VND)]
VndRate = Annotated[int, Field(ge=0, le=MAX_VND_RATE)]
VndLump = Annotated[int, Field(ge=0, le=MAX_VND_LUMP)]
Area = Annotated[float, Field(ge=0, le=1_000_000)]
TerrainWeight = Annotated[float, Field(gt=0, le=20)]
UnitTypeWeight = Annotated[float, Field(gt=0, le=5)]


class ScenarioError(ValueError):
    """A scenario breaks a rule; the message names file, key path and rule."""


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSection(Frozen):
    """Which data the run uses."""

    dataset: str = Field("demo", description="'demo' (the shipped SYNTHETIC national "
                         "inventory) or a dataset folder / .xlsx / .gpkg path, relative to "
                         "the scenario file")
    provinces: tuple[Annotated[str, Field(pattern=r"^\d{2}$")], ...] = Field(
        (), description="2-digit province codes to plan; empty plans the whole country")
    geography_as_of: GeographyDate = Field(
        LATEST_GEOGRAPHY, description="the date of the units the run plans (their types and "
        "names): 2025-07-01, the merger, or 2026-07-25, after the changes of 2026 (communes "
        "that became wards, NQ 30/2026/QH16); errors of the sources are corrected on both "
        "(`assetplan data-report`)")
    population_overrides: str | None = Field(None, description="CSV code,population")
    terrain_overrides: str | None = Field(None, description="CSV code,terrain")
    od_table: str | None = Field(None, description="travel table (CSV or .parquet; "
                                 "`assetplan schema od`): origin, destination, distance_km"
                                 "[, minutes] replacing the great-circle distance of every "
                                 "candidate pair it covers")
    decisions: str | None = Field(None, description="the planner's own decisions (CSV, "
                                  ".xlsx or .parquet; `assetplan schema decisions`): uses "
                                  "required or forbidden, buildings kept or released, lots "
                                  "sent or kept, units served first")
    unit_polygons: str | None = Field(None, description="the units' own boundaries "
                                      "(GeoPackage or GeoJSON polygons with a commune_code "
                                      "column): the maps draw them in place of the areas "
                                      "approximated from the units' points")


class SeatsPolicy(Frozen):
    """Which old buildings each new commune keeps besides its main seat."""

    max_service_km: PositiveKm | None = Field(
        None, description="every predecessor area should be within this distance of a kept "
        "site; null means unlimited (only the main seat is kept)")
    max_service_min: PositiveMin | None = Field(
        None, description="with max_service_km: a former commune counts as within reach of "
        "a kept building only within this travel time too (minutes, from the OD table, which "
        "must give them; a pair without a time is out of reach)")
    report_within_min: PositiveMin = Field(
        30.0, description="the KPIs count the people within this travel time (minutes) of "
        "the main seat and of the fastest kept site, when the OD table gives minutes "
        "(max_service_min instead, when set)")
    upkeep_vnd_per_m2_year: VndRate = Field(
        120_000, description="yearly upkeep of a kept building per m2 of floor area")
    penalty_vnd_per_person: VndRate = Field(
        50_000, description="yearly cost per person living in a predecessor area farther than "
        "max_service_km from every kept site")
    office_m2_per_staff: Annotated[float, Field(ge=0, le=1_000)] = Field(
        15.0, description="office floor area a unit needs per official (m2): working rooms "
        "under the standards for working offices (Decree 152/2017/ND-CP and its amendments) "
        "plus the shared rooms (meeting, one-stop, archive); the demo's 15 m2 is an "
        "assumption. A unit's office need is its staff times this, less its main seat's "
        "floor area; kept buildings cover it first, the disposition serves what is left")
    office_rent_vnd_per_m2_year: VndRate = Field(
        1_200_000, description="yearly cost of a m2 of office a unit lacks (rent of a "
        "replacement), weighed against the upkeep of a building kept to house it")

    @model_validator(mode="after")
    def _minutes_need_km(self) -> SeatsPolicy:
        if self.max_service_min is not None and self.max_service_km is None:
            raise ValueError(_("max_service_min needs max_service_km (the search radius)"))
        return self


class EligibilityPolicy(Frozen):
    """Which properties may take which use."""

    min_floor_area_m2: Mapping[str, Area] = Field(
        default_factory=lambda: {"health": 150.0, "education": 300.0, "office": 100.0,
                                 "service_point": 50.0, "housing": 60.0, "culture": 150.0})
    min_land_area_m2: Mapping[str, Area] = Field(
        default_factory=lambda: {"education": 1_000.0, "culture": 500.0})
    conditions: Mapping[str, tuple[str, ...]] = Field(
        default_factory=lambda: {u: ("good", "fair", "poor") for u in SERVICE_USES},
        description="building conditions a use accepts (renovation makes them fit)")
    legal_statuses_for_sale: tuple[str, ...] = ("clear",)
    legal_statuses_for_conversion: tuple[str, ...] = ("clear", "pending")

    @field_validator("min_floor_area_m2", "min_land_area_m2", "conditions")
    @classmethod
    def _uses_known(cls, v: Mapping[str, Any]) -> Mapping[str, Any]:
        unknown = set(v) - set(SERVICE_USES)
        if unknown:
            raise ValueError(_("unknown use(s) {uses}; expected {expected}",
                               uses=sorted(unknown), expected=list(SERVICE_USES)))
        return v

    @field_validator("conditions")
    @classmethod
    def _conditions_known(cls, v: Mapping[str, tuple[str, ...]]) -> Mapping[str, Any]:
        for use, conds in v.items():
            bad = set(conds) - set(CONDITIONS)
            if bad:
                raise ValueError(_("{use}: unknown condition(s) {bad}", use=use, bad=sorted(bad)))
        return v

    @field_validator("legal_statuses_for_sale", "legal_statuses_for_conversion")
    @classmethod
    def _statuses_known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = set(v) - set(LEGAL_STATUSES)
        if bad:
            raise ValueError(_("unknown legal status(es) {bad}", bad=sorted(bad)))
        return v


class TransferPolicy(Frozen):
    """How surplus cars and equipment move."""

    cost_per_km_vnd: Mapping[str, VndRate] = Field(
        default_factory=lambda: {"car": 8_000, "computer": 300, "printer": 300,
                                 "photocopier": 1_500, "scanner": 200, "projector": 200})
    handling_vnd: Mapping[str, VndLump] = Field(
        default_factory=lambda: {"car": 2_000_000, "computer": 100_000, "printer": 100_000,
                                 "photocopier": 500_000, "scanner": 50_000,
                                 "projector": 50_000})
    unmet_penalty_vnd: Mapping[str, VndLump] = Field(
        default_factory=lambda: {"car": 200_000_000, "computer": 20_000_000,
                                 "printer": 8_000_000, "photocopier": 40_000_000,
                                 "scanner": 8_000_000, "projector": 12_000_000},
        description="cost of leaving one item of need unmet, before the priority weight")
    max_km: PositiveKm = Field(300.0, description="no transfer farther than this")
    sea_leg_vnd: Mapping[str, VndLump] = Field(
        default_factory=lambda: {"car": 4_000_000, "computer": 80_000, "printer": 80_000,
                                 "photocopier": 400_000, "scanner": 50_000,
                                 "projector": 50_000},
        description="cost per item of a transfer that crosses the sea (an island unit and "
        "another unit, without a travel table for the pair): the ferry, in place of the km "
        "cost")
    road_linked_islands: tuple[Annotated[str, Field(pattern=r"^\d{5}$")], ...] = Field(
        ("06994", "11914"), description="island units a road bridge links to the mainland "
        "(Vân Đồn, Cát Hải): their transfers go by road")  # data

    @field_validator("cost_per_km_vnd", "handling_vnd", "unmet_penalty_vnd", "sea_leg_vnd")
    @classmethod
    def _categories_complete(cls, v: Mapping[str, int]) -> Mapping[str, int]:
        missing = set(TRANSFER_CATEGORIES) - set(v)
        unknown = set(v) - set(TRANSFER_CATEGORIES)
        if unknown:
            raise ValueError(_("unknown category(ies) {bad}", bad=sorted(unknown)))
        if missing:
            raise ValueError(_("missing category(ies) {missing}", missing=sorted(missing)))
        return v


class PriorityWeights(Frozen):
    """Weight of a unit's unmet need: terrain weight x unit-type weight (remote first)."""

    terrain: Mapping[str, TerrainWeight] = Field(
        default_factory=lambda: {"island": 3.0, "mountain": 2.5, "midland": 1.5,
                                 "lowland": 1.0})
    unit_type: Mapping[str, UnitTypeWeight] = Field(
        default_factory=lambda: {"Đặc khu": 1.2, "Xã": 1.1, "Phường": 1.0})  # data
    served_first: tuple[Literal[TERRAINS], ...] = Field(  # type: ignore[valid-type]
        ("island",), description="terrains whose units' needs get the renovation budget "
        "before every other unit's (remote, mountain and island communes first): no such need "
        "is left unmet that a property within reach could serve with the budget left plus "
        "what is spent on properties serving no such need; each of their needs also outweighs "
        "any other unit's need for the same use. Empty: the weights alone decide")

    @model_validator(mode="after")
    def _complete(self) -> PriorityWeights:
        if set(self.terrain) != set(TERRAINS):
            raise ValueError(_("terrain weights must name exactly {names}", names=list(TERRAINS)))
        if set(self.unit_type) != set(UNIT_TYPES):
            raise ValueError(_("unit_type weights must name exactly {names}",
                               names=list(UNIT_TYPES)))
        return self


class LandUse(Frozen):
    """A public use a land plot can take by building on it (a school, a culture and sport
    ground)."""

    construction_vnd_per_m2: VndRate = Field(
        description="construction cost per m2 of floor built (what the use serves)")
    floor_per_land_m2: Annotated[float, Field(gt=0, le=5)] = Field(
        description="floor area (m2) the use can build per m2 of land")


class Policy(Frozen):
    disposal_order: Literal["public_first", "value"] = Field(
        "public_first", description="order of reuse of surplus houses and land. "  # data
        "'public_first' (Official Dispatch 213/CĐ-TTg, 11 Nov 2025): a property is sold, "
        "handed over or held only when no eligible public need within its reach could use it "
        "within the budgets; money decides only among plans that serve the same needs. "
        "'value': sale revenue and renovation cost are traded in VND against the "
        "priority-weighted unmet need")
    uses_allowed: tuple[Literal[USES], ...] = USES  # type: ignore[valid-type]
    service_radius_km: Mapping[str, PositiveKm] = Field(
        default_factory=lambda: {"health": 15.0, "education": 10.0, "office": 20.0,
                                 "service_point": 15.0, "housing": 25.0, "culture": 15.0},
        description="a property serves a unit's need for a use within this distance (km) of "
        "the unit's HQ: by road where the OD table has the pair, great circle elsewhere")
    service_radius_min: Mapping[str, PositiveMin] = Field(
        default_factory=dict, description="for the uses named, also within this travel time "
        "(minutes) of the unit's HQ, from the OD table (which must give minutes); a pair the "
        "table gives no time is out of reach. The km radius still bounds the search: for a "
        "radius in minutes only, set it to the farthest such a trip goes")
    candidates_per_need: Annotated[int, Field(ge=1, le=1000)] = Field(
        8, description="each unit's need for a use may be served by its k nearest eligible "
        "properties within the radius (sparse candidate pairs; needs are small next to a "
        "building, so a few candidates suffice)")
    same_province_only: bool = Field(True, description="properties and surplus items serve "
                                     "only their own province")
    service_across_sea: bool = Field(
        False, description="a property may serve a unit across the sea (an island unit and "
        "another, not linked by road: policy.transfer.road_linked_islands) by its straight-line "
        "distance; false: only where the OD table measures the route (road and ferry)")
    cross_province_penalty_vnd: VndRate = Field(
        0, description="added per item or m2 served across a province border when "
        "same_province_only is false")
    priority: PriorityWeights = Field(default_factory=PriorityWeights)
    unmet_penalty_vnd_per_m2: Mapping[str, VndRate] = Field(
        default_factory=lambda: {"health": 30_000_000, "education": 25_000_000,
                                 "office": 15_000_000, "housing": 10_000_000,
                                 "culture": 6_000_000},
        description="cost of a m2 of need left unmet, before the priority weight")
    unmet_penalty_vnd_per_service_point: VndLump = 1_000_000_000
    max_uses_per_building: Annotated[int, Field(ge=1, le=6)] = Field(
        3, description="public uses one surplus building may house together (an old district "
        "compound split into, say, a health station, a public-service point and a culture "
        "house); their floor areas add up within the building's floor area. 1: one use per "
        "building. Sale, hand-over, transfer and hold take the whole property; a land plot "
        "takes one use")
    service_point_floor_area_m2: Annotated[float, Field(gt=0, le=1_000_000)] = Field(
        120.0, description="floor area a public-service point uses (and renovates) in a "
        "building; the rest of the building is left as it is")
    renovation_vnd_per_m2: Mapping[str, Mapping[str, VndRate]] = Field(
        default_factory=lambda: {
            "good": {"health": 2_500_000, "education": 1_500_000, "office": 800_000,
                     "service_point": 800_000, "housing": 1_000_000, "culture": 1_000_000},
            "fair": {"health": 5_000_000, "education": 3_500_000, "office": 2_000_000,
                     "service_point": 2_000_000, "housing": 2_500_000, "culture": 2_500_000},
            "poor": {"health": 9_000_000, "education": 7_000_000, "office": 5_000_000,
                     "service_point": 5_000_000, "housing": 6_000_000, "culture": 5_500_000},
        },
        description="renovation cost per m2 of the floor area a use takes (what it serves), "
        "by building condition and use")
    renovation_fixed_vnd: Mapping[str, VndLump] = Field(
        default_factory=lambda: {"health": 500_000_000, "education": 500_000_000,
                                 "office": 200_000_000, "service_point": 100_000_000,
                                 "housing": 200_000_000, "culture": 300_000_000},
        description="fixed part of converting a property to a use, whatever area it takes "
        "(design, permits, fire safety, utility connections); assumption of the demo, to be "
        "set from the province's estimates")
    sale_share_of_market_value: Annotated[float, Field(ge=0, le=1)] = Field(
        0.8, description="revenue of a sale as a share of the estimated market value")
    transfer_out_value_share: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0, description="value credited for transferring a property to another agency")
    land_uses: Mapping[str, LandUse] = Field(
        default_factory=lambda: {
            "education": LandUse(construction_vnd_per_m2=9_000_000, floor_per_land_m2=0.6),
            "culture": LandUse(construction_vnd_per_m2=5_000_000, floor_per_land_m2=0.4)},
        description="public uses a land plot may take by building on it; the demo's costs "
        "are assumptions (a school of 2 to 3 floors on 25 to 30 % of its plot, a culture and "
        "sport house with its ground), to be set from the province's unit prices")
    eligibility: EligibilityPolicy = Field(default_factory=EligibilityPolicy)
    seats: SeatsPolicy = Field(default_factory=SeatsPolicy)
    transfer: TransferPolicy = Field(default_factory=TransferPolicy)

    @field_validator("service_radius_km", "service_radius_min", "unmet_penalty_vnd_per_m2",
                     "renovation_fixed_vnd", "land_uses")
    @classmethod
    def _service_uses(cls, v: Mapping[str, Any]) -> Mapping[str, Any]:
        unknown = set(v) - set(SERVICE_USES)
        if unknown:
            raise ValueError(_("unknown use(s) {uses}; expected {expected}",
                               uses=sorted(unknown), expected=list(SERVICE_USES)))
        return v

    @model_validator(mode="after")
    def _radius_for_every_allowed_use(self) -> Policy:
        missing = [u for u in self.uses_allowed
                   if u in SERVICE_USES and u not in self.service_radius_km]
        if missing:
            raise ValueError(_("service_radius_km needs a radius for allowed use(s) {uses}",
                               uses=missing))
        if "hold" not in self.uses_allowed:
            raise ValueError(_("uses_allowed must include 'hold' (a property may always wait)"))
        for cond in self.renovation_vnd_per_m2:
            if cond not in ("good", "fair", "poor"):
                raise ValueError(_("renovation_vnd_per_m2: unknown condition {cond!r}",
                                   cond=cond))
        return self


class Budget(Frozen):
    national_vnd: NonNegVnd | None = Field(
        None, description="cap on renovation spend nationwide; null means no national cap")
    per_province_vnd: Mapping[Annotated[str, Field(pattern=r"^\d{2}$")], NonNegVnd] = Field(
        default_factory=dict, description="cap per province code")
    default_province_vnd: NonNegVnd | None = Field(
        None, description="cap for each province not named in per_province_vnd")


class SolverSettings(Frozen):
    time_limit_s: Annotated[float, Field(gt=0, le=86_400)] = 60.0
    mip_gap: Annotated[float, Field(ge=0, le=1)] = 0.005
    threads: Annotated[int | None, Field(
        ge=1, le=64, description="threads per solve; empty: the machine's cores")] = None
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0  # solvers take 32-bit seeds


class Scenario(Frozen):
    """One planning scenario. The JSON Schema of this model is the documentation of the file."""

    name: Annotated[ScenarioKey, Field(max_length=200)]
    description: Annotated[str, Field(max_length=10_000),
                           AfterValidator(require_plain_text)] = ""
    data: DataSection = Field(default_factory=DataSection)
    policy: Policy = Field(default_factory=Policy)
    budget: Budget = Field(default_factory=Budget)
    solver: SolverSettings = Field(default_factory=SolverSettings)
    applied_overrides: tuple[str, ...] = Field(
        (), description="named overrides applied, in order (set by the loader)")

    def to_yaml(self) -> str:
        return yaml.safe_dump(json.loads(self.model_dump_json()), allow_unicode=True,
                              sort_keys=False)


# ---------------------------------------------------------------------------------------------


def flatten_keys(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out |= flatten_keys(v, f"{key}.")
        else:
            out[key] = v
    return out


def deep_merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``patch`` on top of ``base``: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for k, v in patch.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def stack_overrides(named: Mapping[str, Mapping[str, Any]], names: Sequence[str],
                    source: str = "") -> dict[str, Any]:
    """Merge the named overrides; two of them setting the same key is an error."""
    where = f"{source}: " if source else ""
    unknown = [n for n in names if n not in named]
    if unknown:
        raise ScenarioError(where + _("unknown override(s) {unknown}; defined: {defined}",
                                      unknown=unknown, defined=sorted(named) or _("none")))
    owner: dict[str, str] = {}
    merged: dict[str, Any] = {}
    for name in names:
        for key in flatten_keys(named[name]):
            clash = next((k for k in owner if k == key or k.startswith(key + ".")
                          or key.startswith(k + ".")), None)
            if clash is not None:
                raise ScenarioError(where + _("overrides {a!r} and {b!r} both set {key}",
                                              a=owner[clash], b=name,
                                              key=min(clash, key, key=len)))
            owner[key] = name
        merged = deep_merge(merged, named[name])
    return merged


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(_("{path}: no such scenario file", path=path)) from None
    except UnicodeDecodeError as err:
        raise ScenarioError(_("{path}: not valid UTF-8 ({reason} at byte {byte})", path=path,
                              reason=err.reason, byte=err.start)) from None
    try:
        data = load_yaml(text)
    except PlainDataError as err:
        raise ScenarioError("\n".join(f"{path}: {p}" for p in err.problems)) from None
    if not isinstance(data, dict):
        raise ScenarioError(_("{path}: a scenario must be a YAML mapping at the top level",
                              path=path))
    return data


def raw_with_extends(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ScenarioError(_("{path}: 'extends' loops back to itself", path=path))
    data = read_yaml(path)
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ScenarioError(_("{path}: extends: must be the path of a scenario file",
                              path=path))
    parent = raw_with_extends(path.parent / base, (*seen, path))
    return extend(parent, data, str(path))


def named_overrides(data: Mapping[str, Any], source: str) -> dict[str, dict[str, Any]]:
    """The ``overrides`` of a raw scenario, checked to be a mapping of name -> settings."""
    named = data.get("overrides")
    if named is None:
        return {}
    if not isinstance(named, Mapping):
        raise ScenarioError(_("{source}: overrides: must be a mapping of name -> settings, not "
                              "a {type}", source=source, type=type(named).__name__))
    bad = [str(k) for k, v in named.items() if not isinstance(v, Mapping)]
    if bad:
        raise ScenarioError("\n".join(_("{source}: overrides.{key}: must be a mapping of "
                                        "settings", source=source, key=k) for k in bad))
    return {str(k): dict(v) for k, v in named.items()}


def extend(parent: Mapping[str, Any], child: Mapping[str, Any],
           source: str) -> dict[str, Any]:
    """``child`` on top of ``parent`` (both raw, ``extends`` already taken out): the parent's
    settings without its name and description; the named overrides of both stay available."""
    base = {k: v for k, v in parent.items() if k not in ("name", "description")}
    overrides = {**named_overrides(parent, source), **named_overrides(child, source)}
    base.pop("overrides", None)
    merged = deep_merge(base, {k: v for k, v in child.items() if k != "overrides"})
    if overrides:
        merged["overrides"] = overrides
    return merged


# The rules a scenario breaks most, in the catalogue's words (by pydantic's error type; its
# context fills the placeholders); in English, and for other rules, pydantic's own words.
PYDANTIC_MESSAGES = {
    "extra_forbidden": N_("unknown key (not in the scenario schema; see `assetplan schema`)"),
    "missing": N_("a value is required"),
    "int_parsing": N_("must be a whole number"),
    "int_from_float": N_("must be a whole number"),
    "float_parsing": N_("must be a number"),
    "bool_parsing": N_("must be true or false"),
    "string_type": N_("must be text"),
    "dict_type": N_("must be a mapping"),
    "greater_than": N_("must be greater than {gt}"),
    "greater_than_equal": N_("must be at least {ge}"),
    "less_than": N_("must be less than {lt}"),
    "less_than_equal": N_("must be at most {le}"),
    "literal_error": N_("must be one of {expected}"),
    "string_pattern_mismatch": N_("must match the pattern {pattern}"),
    "string_too_long": N_("at most {max_length} characters"),
}


def _pydantic_message(e: Mapping[str, Any]) -> str:
    if e["type"] == "value_error":  # our own validators' words, already translated
        return str(e["msg"]).removeprefix("Value error, ")
    template = PYDANTIC_MESSAGES.get(e["type"])
    if template is None or (current_lang() == SOURCE_LANG and e["type"] != "extra_forbidden"):
        return str(e["msg"])  # pydantic's own English
    try:
        return _(template, **{k: str(v) for k, v in (e.get("ctx") or {}).items()})
    except KeyError:
        return str(e["msg"])


def format_validation_error(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or _("(top level)")
        lines.append(f"{source}: {loc}: {_pydantic_message(e)}")
    return "\n".join(lines)


def scenario_from_dict(data: Mapping[str, Any], overrides: Sequence[str] = (),
                       source: str = "<scenario>",
                       patch: Mapping[str, Any] | None = None) -> Scenario:
    """Validate a scenario mapping (e.g. JSON from the API), applying named overrides, then
    ``patch`` (a sweep member's settings) on top."""
    named = named_overrides(data, source)
    data = {k: v for k, v in data.items() if k != "overrides"}
    if overrides:
        data = deep_merge(data, stack_overrides(named, overrides, source))
        data["applied_overrides"] = tuple(overrides)
    if patch:
        data = deep_merge(data, patch)
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(format_validation_error(err, source)) from None


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Load a scenario file (following ``extends``), stacking the named ``overrides``."""
    path = Path(path)
    data = raw_with_extends(path)
    return resolve_data_paths(scenario_from_dict(data, overrides, source=str(path)), path)


DATA_PATH_KEYS = ("dataset", "population_overrides", "terrain_overrides", "od_table",
                  "decisions", "unit_polygons")


def resolve_data_paths(scenario: Scenario, path: Path) -> Scenario:
    """The scenario with its relative data paths made relative to its file ``path``."""
    d = scenario.data
    fixed = {}
    for key in DATA_PATH_KEYS:
        value = getattr(d, key)
        if value and value != "demo" and not Path(value).is_absolute():
            fixed[key] = str((path.parent / value).resolve())
    if fixed:
        scenario = scenario.model_copy(update={"data": d.model_copy(update=fixed)})
    return scenario


def json_schema() -> dict[str, Any]:
    return Scenario.model_json_schema()
