"""Request and response bodies (Base / Create / Public), with examples for the OpenAPI
document. The scenario body itself is the planner's schema (``planner.scenario.Scenario``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.models import RUN_STATES
from api.security import Role
from planner.plaindata import require_plain_text
from planner.scenario import Scenario

T = TypeVar("T")
RunStatus = Literal[RUN_STATES]  # type: ignore[valid-type]
ProvinceCode = str
NO_NUL = r"^[^\x00]*$"  # PostgreSQL keeps no NUL in text


# Text every store (and a spreadsheet) can keep: no control character but tab and line
# breaks, no lone surrogate.
CleanStr = Annotated[str, AfterValidator(require_plain_text)]
SYNTHETIC_NOTE = ("synthetic: true means the inventory is the shipped SYNTHETIC demo, "
                  "calibrated to published totals, not real asset data")


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    total: int = Field(description="items matching the filters")
    limit: int
    offset: int
    items: list[T]


# ------------------------------------------------------------------------------------- health


class HealthPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"status": "ok", "version": "0.1.0", "store": "sqlite", "workers_busy": 1,
         "workers_max": 2, "runs_queued": 0, "runs_running": 1}]})

    status: Literal["ok"]
    version: str
    store: str = Field(description="sqlite or postgresql")
    workers_busy: int = Field(description="runs this server is solving")
    workers_max: int = Field(description="most runs this server solves at once")
    runs_queued: int
    runs_running: int = Field(0, description="runs being solved in the whole store, by every "
                              "server on it (at most ASSETPLAN_RUN_WORKERS)")


# ------------------------------------------------------------------------------------- i18n

Lang = Literal["vi", "en"]


class I18nPublic(BaseModel):
    """The dashboard's words in one language, from the one catalogue."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"lang": "en", "messages": {"Run": "Run"}, "labels": {"use": {"health": "Health"}},
         "columns": {"population": "Population"}, "kpis": {"units": "Units"}}]})

    lang: Lang
    messages: dict[str, str] = Field(description="the dashboard's English msgid -> its text")
    labels: dict[str, dict[str, str]] = Field(description="family (use, terrain, ...) -> "
                                              "code -> label")
    columns: dict[str, str] = Field(description="column -> header")
    kpis: dict[str, str] = Field(description="KPI -> label")


# -------------------------------------------------------------------------------------- keys


class KeyBase(BaseModel):
    role: Role
    province_code: ProvinceCode | None = Field(
        None, pattern=r"^\d{2}$", description="scope the key to one province (2-digit code); "
        "null: the whole country. Admin keys cannot be scoped.")
    name: CleanStr = Field("", max_length=200, pattern=NO_NUL,
                           description="who or what uses the key")


class KeyCreate(KeyBase):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"role": "planner", "province_code": "68", "name": "Lâm Đồng finance department"}]})


class KeyPublic(KeyBase, _Public):
    id: str
    prefix: str = Field(description="the first characters of the key, to tell keys apart")
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class KeyCreated(KeyPublic):
    key: str = Field(description="the secret; shown once, only its hash is stored")


# ---------------------------------------------------------------------------------- datasets


class DatasetPublic(_Public):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [
        {"id": "demo", "name": "demo", "source": "demo", "synthetic": True,
         "content_hash": "5eca0b0e11a05923c14755c3bdba042b046dd6c823692b9b1bc739302d6ed64e",
         "tables": {"properties": 19445, "vehicles": 7473, "equipment": 21415,
                    "communes": 3321, "norms": 6},
         "files": [], "created_at": "2025-11-23T12:00:00Z"}]})

    id: str = Field(description="use it as data.dataset in a scenario")
    name: str
    source: Literal["demo", "upload"]
    synthetic: bool = Field(description=SYNTHETIC_NOTE)
    content_hash: str = Field(description="SHA-256 over the canonical validated tables")
    tables: dict[str, int] = Field(description="rows per table")
    files: list[str]
    created_at: dt.datetime


# --------------------------------------------------------------------------------- scenarios


class ScenarioSpec(Scenario):
    """A scenario as sent to ``POST /scenarios`` (JSON or YAML): the planner's scenario schema,
    plus named ``overrides`` and an optional ``extends`` (the name of a stored scenario this
    one starts from). ``data.dataset`` is ``demo`` or the id of an uploaded dataset; server
    file paths are not accepted."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "name": "lam-dong-quick", "description": "Lâm Đồng only, short solver limit",
        "data": {"dataset": "demo", "provinces": ["68"]},
        "policy": {"seats": {"max_service_km": 15}},
        "solver": {"time_limit_s": 10},
        "overrides": {"wide-radius": {"policy": {"service_radius_km": {"health": 25}}}}}]})

    extends: str | None = Field(None, description="name of a stored scenario to start from "
                                "(its settings, then these on top)")
    overrides: dict[str, dict[str, Any]] | None = Field(
        default_factory=dict, description="named overrides: name -> settings to merge on top, "
        "applied with ?override=NAME here or in POST /runs (null: none)")


class ScenarioPublic(_Public):
    id: str
    name: str
    description: str
    dataset_id: str
    provinces: list[str] = Field(description="province codes planned; empty: the whole "
                                 "country")
    overrides: list[str] = Field(description="named overrides applied at creation")
    overrides_available: list[str] = Field(description="named overrides defined in the spec")
    scenario: dict[str, Any] = Field(description="the validated scenario, every default "
                                     "filled in (planner.scenario.Scenario)")
    spec: dict[str, Any] = Field(description="the scenario as sent (after extends)")
    created_at: dt.datetime


# -------------------------------------------------------------------------------------- runs


Short = Annotated[CleanStr, Field(max_length=200, pattern=NO_NUL)]


class DecisionIn(BaseModel):
    """One of the planner's decisions, as a row of the decisions table
    (`assetplan schema decisions`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"property_id": "DIS-536-01", "rule": "forbid", "use": "sale",
         "note": "giữ cho địa phương"}]})

    property_id: Short | None = None
    holder_code: Short | None = None
    category: Short | None = None
    quantity: int | None = Field(None, ge=1, le=100_000)
    commune_code: Short | None = None
    rule: Short
    use: Short | None = None
    note: Annotated[CleanStr, Field(max_length=2000, pattern=NO_NUL)] | None = None


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"scenario_id": "national-baseline", "overrides": ["quick"]}]})

    scenario_id: CleanStr = Field(min_length=1, max_length=200, pattern=NO_NUL,
                             description="id or name of a stored scenario")
    overrides: list[Annotated[CleanStr, Field(pattern=NO_NUL)]] = Field(
        default_factory=list, max_length=20,
                                 description="named overrides of the scenario to apply, in "
                                 "order, on top of those applied at creation")
    decisions: list[DecisionIn] = Field(
        default_factory=list, max_length=1_000, description="the planner's own decisions "
        "(uses required or forbidden, buildings kept or released, lots sent or kept, units "
        "served first), validated like an uploaded table: every problem with its row (the "
        "first row is 2, as in a file); at most 1,000 rows")


class ReplanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"decisions": [{"property_id": "DIS-536-01", "rule": "require", "use": "health"}]}]})

    decisions: list[DecisionIn] = Field(
        default_factory=list, max_length=1_000, description="every decision of the new run "
        "(GET /runs/{id}/decisions gives the run's own, to keep or change), validated as in "
        "POST /runs")
    time_limit_s: float | None = Field(None, ge=1, le=86_400, description="solver time limit "
                                       "instead of the scenario's: a re-plan starts from a "
                                       "plan, so less time may do")


class DecisionRow(DecisionIn):
    row: int = Field(description="the row of the decisions table (the first is 2)")


class DecisionsPublic(BaseModel):
    run_id: str
    total: int
    items: list[DecisionRow]


class RunPublic(_Public):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "id": "3f9a0c1b2d4e5f60", "scenario_id": "a1b2c3d4e5f60718",
        "scenario_name": "lam-dong", "overrides": [], "dataset_id": "demo",
        "provinces": ["68"], "synthetic": True, "status": "running", "stage": "disposition",
        "progress": 0.42, "message": "giving 512 surplus properties one use each",
        "error": None, "retry_of": None, "created_at": "2025-11-23T12:00:00Z",
        "started_at": "2025-11-23T12:00:01Z", "finished_at": None}]})

    id: str
    scenario_id: str | None = Field(description="null once the scenario is deleted; the run "
                                    "keeps its own copy")
    scenario_name: str
    overrides: list[str]
    dataset_id: str
    provinces: list[str]
    synthetic: bool = Field(description=SYNTHETIC_NOTE)
    status: RunStatus = Field(description="queued -> running -> succeeded | failed | "
                              "cancelled | interrupted (the server stopped during the run)")
    stage: str = Field(description="start, load, seats, disposition, transfer, kpis, write, "
                       "done")
    progress: float = Field(ge=0, le=1, description="share of the run done")
    message: str
    error: str | None
    retry_of: str | None = Field(description="the run this one re-runs")
    replan_of: str | None = Field(None, description="the run whose plan this one started "
                                  "from (POST /runs/{id}/replan)")
    lang: str = Field("vi", description="the language of the run's outputs (reasons, workbook, "
                      "report): the language of the request that created it (?lang= or "
                      "Accept-Language)")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    sweep_id: str | None = Field(None, description="the sweep this run is a member of")
    sweep_member: str | None = Field(None, description="its name in the sweep (m0001, ...)")
    sweep_params: dict[str, Any] | None = Field(None, description="the sweep axes' settings")
    draw: int | None = Field(None, description="its Monte Carlo draw")


# ------------------------------------------------------------------------------------ sweeps


class SweepCreate(BaseModel):
    """A sweep of a stored scenario: the fields of a sweep file (docs/SWEEPS.md), with the
    stored scenario (id or name) for ``base``; ``set`` and the axes may not name server
    files, and the members keep the scenario's dataset."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "scenario_id": "lam-dong", "name": "lam-dong-budgets", "overrides": ["quick"],
        "axes": [{"key": "budget.national_vnd",
                  "range": {"start": 20000000000, "stop": 200000000000, "num": 4}}],
        "monte_carlo": {"draws": 3, "seed": 0,
                        "needs": {"distribution": "lognormal", "sigma": 0.2}}}]})

    scenario_id: str = Field(max_length=200, pattern=NO_NUL)
    name: str | None = Field(None, max_length=200, pattern=r"^[a-z0-9][a-z0-9_-]*$",
                             description="default: the scenario's name")
    description: CleanStr = Field("", max_length=10_000)
    overrides: list[str] = Field(default_factory=list, max_length=20)
    set: dict[str, Any] = Field(default_factory=dict)
    axes: list[dict[str, Any]] = Field(default_factory=list, max_length=10)
    sampling: Literal["grid", "latin_hypercube"] = "grid"
    samples: int | None = None
    seed: int = 0
    monte_carlo: dict[str, Any] | None = None
    threads_per_member: int = 1


class SweepPublic(_Public):
    id: str
    name: str
    description: str
    scenario_id: str | None
    scenario_name: str
    provinces: list[str]
    members: int
    status: str = Field(description="queued, running, succeeded (every member), failed (one "
                        "or more), cancelled or interrupted; the members' own statuses are "
                        "in members_by_status")
    members_by_status: dict[str, int]
    progress: float = Field(ge=0, le=1, description="mean progress of the members")
    lang: str
    created_at: dt.datetime


# ----------------------------------------------------------------------------------- results


class KpiRow(BaseModel):
    scope: str = Field(description="national, province or terrain")
    scope_id: str
    scope_name: str
    kpi: str
    kpi_vi: str
    unit: str
    before: float | None
    after: float | None


class KpisPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "run_id": "3f9a0c1b2d4e5f60", "synthetic": True, "items": [
            {"scope": "national", "scope_id": "VN", "scope_name": "Việt Nam",
             "kpi": "units_without_car", "kpi_vi": "ĐVHC không có xe ô tô", "unit": "units",
             "before": 354, "after": 12}]}]})

    run_id: str
    synthetic: bool = Field(description=SYNTHETIC_NOTE)
    items: list[KpiRow]


class PlanPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "run_id": "3f9a0c1b2d4e5f60", "table": "dispositions", "synthetic": True,
        "total": 16124, "limit": 2, "offset": 0, "items": [
            {"property_id": "P000001", "commune_code": "00004", "use": "health"},
            {"property_id": "P000002", "commune_code": "00004", "use": "sale"}]}]})

    run_id: str
    table: str
    synthetic: bool = Field(description=SYNTHETIC_NOTE)
    total: int = Field(description="rows matching the filters")
    limit: int
    offset: int
    items: list[dict[str, Any]] = Field(description="rows of the table; the columns are those "
                                        "of tables/<table>.csv in the run's outputs")


class DecisionChange(BaseModel):
    """A property whose decision differs between the two runs compared."""

    property_id: str
    name: str
    before: str = Field(description="use (with '+' the uses it shares), or seat:<role>; "
                        "empty where the run does not plan the property")
    after: str
    decided_by: str = Field(description="'planner' where the later run's decisions set it")
    reason_before: str
    reason_after: str


class CompareRun(BaseModel):
    id: str
    scenario_name: str
    overrides: list[str]
    synthetic: bool


class CompareRow(BaseModel):
    scope: str
    scope_id: str
    scope_name: str
    kpi: str
    kpi_vi: str
    unit: str
    before: dict[str, float | None] = Field(description="run id -> value before the plan")
    after: dict[str, float | None] = Field(description="run id -> value after the plan")


class ComparePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "runs": [{"id": "aaaaaaaaaaaaaaaa", "scenario_name": "national-baseline",
                  "overrides": [], "synthetic": True},
                 {"id": "bbbbbbbbbbbbbbbb", "scenario_name": "tight-budget", "overrides": [],
                  "synthetic": True}],
        "items": [{"scope": "national", "scope_id": "VN", "scope_name": "Việt Nam",
                   "kpi": "renovation_spend_vnd", "kpi_vi": "Chi phí cải tạo", "unit": "VND",
                   "before": {"aaaaaaaaaaaaaaaa": None, "bbbbbbbbbbbbbbbb": None},
                   "after": {"aaaaaaaaaaaaaaaa": 2.9e12, "bbbbbbbbbbbbbbbb": 1.0e12}}]}]})

    runs: list[CompareRun]
    items: list[CompareRow]
    decisions_changed: list[DecisionChange] = Field(
        default_factory=list, description="with exactly two runs: the properties whose "
        "decision differs, the later run's planner decisions first, at most "
        "1,000 (decisions_changed_total counts them all)")
    decisions_changed_total: int = 0


# --------------------------------------------------------------------------------- geography


class CommunePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "code": "00004", "name": "Phường Ba Đình", "unit_type": "Phường",
        "province_code": "01", "province_name": "Thành phố Hà Nội", "population": 65023,
        "population_imputed": False, "area_km2": 2.97, "terrain": "lowland",
        "lon": 105.838, "lat": 21.0386, "hq_address": "Số 2, phố Trúc Bạch, phường Ba Đình",
        "hq_point_repaired": False}]})

    code: str
    name: str
    unit_type: str = Field(description="Xã (commune), Phường (ward) or Đặc khu (special zone)")
    province_code: str
    province_name: str
    population: int
    population_imputed: bool
    area_km2: float | None
    terrain: str = Field(description="lowland, midland, mountain or island")
    lon: float
    lat: float
    hq_address: str | None
    hq_point_repaired: bool


class ProvincePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "province_code": "68", "name": "Tỉnh Lâm Đồng", "name_en": "Lam Dong Province",
        "lon": 108.44, "lat": 11.94, "area_km2": 24233.0, "population": 3872999,
        "n_units": 124, "n_communes": 103, "n_wards": 20, "n_special_zones": 1,
        "legacy_province_codes": "68,67,60"}]})

    province_code: str
    name: str
    name_en: str
    lon: float
    lat: float
    area_km2: float | None
    population: int
    n_units: int
    n_communes: int
    n_wards: int
    n_special_zones: int
    legacy_province_codes: str = Field(description="pre-2025 provinces merged into it")


class GeoJSONFeatureCollection(BaseModel):
    """A GeoJSON FeatureCollection (RFC 7946, WGS84 lon/lat)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]]
