"""The inventory schema: the tables a dataset holds, their columns, units and rules.

A dataset is a folder (or one workbook / GeoPackage) with these tables:

- ``properties``: public houses and plots of land that may be surplus (old commune HQs, district
  and provincial compounds, other public buildings), one row each;
- ``vehicles``: cars, one row each, with the unit that holds them and a surplus flag;
- ``equipment``: machines and equipment by holder, category and condition, with quantities;
- ``communes``: per new unit, staff, office floor area and the needs the plan serves;
- ``norms``: the equipment and car norms per unit.

Every column is documented here with its unit; ``planner.inventory`` validates against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from optimization.vocabulary import SERVICE_USES as SERVICE_USES
from optimization.vocabulary import USES as USES
from planner.i18n import N_

ColumnKind = Literal["id", "str", "int", "float", "bool", "category", "code"]

PROPERTY_KINDS = ("building", "land")
PROPERTY_ORIGINS = ("old_commune_hq", "district_compound", "provincial_seat", "other_public")
CONDITIONS = ("good", "fair", "poor", "unusable")
LEGAL_STATUSES = ("clear", "pending", "disputed")
RESTRICTIONS = ("none", "heritage", "no_sale", "no_demolition")
VEHICLE_TYPES = ("car_4_5_seat", "car_7_seat", "car_16_seat", "pickup")
EQUIPMENT_CATEGORIES = ("computer", "printer", "photocopier", "scanner", "projector")
NORM_BASES = ("per_unit", "per_10_staff")
# The categories in which the Ministry of Finance reports the handling of surplus houses and
# land after the 2025 reorganisation, in its order; each use is reported in one of them. A
# public-service point is a room of the commune's one-stop office, so a working office.
REPORT_CATEGORIES = ("working_office", "public_service_facility", "education", "health",
                     "culture_sport", "official_housing", "other_public", "land_fund_handover",
                     "sale_auction", "transfer", "hold")
REPORT_CATEGORY_OF_USE = {"office": "working_office", "service_point": "working_office",
                          "education": "education", "health": "health",
                          "culture": "culture_sport", "housing": "official_housing",
                          "sale": "sale_auction", "transfer": "transfer", "hold": "hold"}
# The need column that measures each service use (the uses a surplus property can be given,
# USES, and those that serve a need within a radius, SERVICE_USES, are optimization's words).
NEED_COLUMNS = {
    "health": "health_need_m2",
    "education": "education_need_m2",
    "office": "office_need_m2",
    "service_point": "service_point_need",
    "housing": "housing_need_m2",
    "culture": "culture_need_m2",
}

# Absurdity bounds: values beyond these are typing errors, not assets.
MAX_LAND_AREA_M2 = 5_000_000.0  # 500 ha
MAX_FLOOR_AREA_M2 = 500_000.0
MAX_VALUE_VND = 10**14  # 100,000 billion VND
MAX_QUANTITY = 100_000
MAX_STAFF = 2_000


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    description: str
    unit: str = ""
    required: bool = True  # a value must be present in every row
    choices: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    id_column: str | None = None
    has_point: bool = False  # lon/lat columns, or a Point geometry in a GeoPackage

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


_LON = Column("lon", "float", N_("longitude, WGS84 (EPSG:4326)"), "degrees")
_LAT = Column("lat", "float", N_("latitude, WGS84 (EPSG:4326)"), "degrees")

PROPERTIES = Table(
    "properties",
    N_("Public houses and plots of land that may be surplus after the merger, one row each."),
    (
        Column("property_id", "id", N_("unique identifier")),
        Column("kind", "category", N_("building (house with its land) or vacant land"),
               choices=PROPERTY_KINDS),
        Column("origin", "category", N_("where the property comes from"), choices=PROPERTY_ORIGINS),
        Column("name", "str", N_("name of the property, e.g. "  # data
               "'Trụ sở UBND xã Lương Sơn cũ'")),  # data
        Column("holder", "str", N_("agency that holds the property")),
        Column("commune_code", "code", N_("5-digit code of the new unit where the property lies")),
        Column("legacy_code", "str", N_("code of the pre-2025 unit it belonged to"),
               required=False),
        _LON,
        _LAT,
        Column("land_area_m2", "float", N_("land area"), "m2", min_value=1.0,
               max_value=MAX_LAND_AREA_M2),
        Column("floor_area_m2", "float", N_("usable floor area (0 for vacant land)"), "m2",
               min_value=0.0, max_value=MAX_FLOOR_AREA_M2),
        Column("condition", "category", N_("physical condition of the building"),
               choices=CONDITIONS),
        Column("year_built", "int", N_("year the main building was built (empty for land)"),
               "year", required=False, min_value=1850, max_value=2030),
        Column("market_value_vnd", "int", N_("estimated market value"), "VND", min_value=0,
               max_value=MAX_VALUE_VND),
        Column("legal_status", "category", N_("land-use right status"), choices=LEGAL_STATUSES),
        Column("restriction", "category", N_("legal restriction on use"), choices=RESTRICTIONS),
        Column("in_use_as_seat", "bool", N_("true when it is the main seat of a new unit today")),
    ),
    id_column="property_id",
    has_point=True,
)

VEHICLES = Table(
    "vehicles",
    N_("Cars of commune-level and abolished district-level agencies, one row each."),
    (
        Column("vehicle_id", "id", N_("unique identifier (e.g. number plate)")),
        Column("vehicle_type", "category", N_("type of car"), choices=VEHICLE_TYPES),
        Column("holder_code", "code", N_("5-digit code of the new unit where the car is kept")),
        Column("holder", "str", N_("agency that holds the car")),
        Column("year", "int", N_("year of manufacture"), "year", min_value=1980, max_value=2030),
        Column("condition", "category", N_("condition"), choices=CONDITIONS),
        Column("surplus", "bool", N_("true when its holder no longer needs it")),
    ),
    id_column="vehicle_id",
)

EQUIPMENT = Table(
    "equipment",
    N_("Machines and equipment by holder, category and condition."),
    (
        Column("equipment_id", "id", N_("unique identifier of the row (lot)")),
        Column("holder_code", "code", N_("5-digit code of the new unit where the lot is kept")),
        Column("holder", "str", N_("agency that holds it")),
        Column("category", "category", N_("equipment category"), choices=EQUIPMENT_CATEGORIES),
        Column("condition", "category", N_("condition"), choices=CONDITIONS),
        Column("quantity", "int", N_("number of items"), "items", min_value=0,
               max_value=MAX_QUANTITY),
        Column("surplus", "bool", N_("true when the lot is no longer needed by its holder")),
    ),
    id_column="equipment_id",
)

COMMUNES = Table(
    "communes",
    N_("Per new unit: staff, office floor area and the needs the plan serves."),
    (
        Column("commune_code", "code", N_("5-digit code of the new unit")),
        Column("staff", "int", N_("officials and public employees at commune level"), "people",
               min_value=1, max_value=MAX_STAFF),
        Column("office_floor_area_m2", "float", N_("floor area of the main seat"), "m2",
               min_value=0.0, max_value=MAX_FLOOR_AREA_M2),
        Column("office_need_m2", "float", N_("office floor area lacking against the norm, as "
               "reported (the plan recomputes it: staff x policy.seats.office_m2_per_staff - "
               "the main seat's floor area, housed first in kept buildings)"), "m2",
               min_value=0.0, max_value=MAX_FLOOR_AREA_M2),
        Column("health_need_m2", "float", N_("health-facility floor area lacking"), "m2",
               min_value=0.0, max_value=MAX_FLOOR_AREA_M2),
        Column("education_need_m2", "float", N_("school floor area lacking"), "m2",
               min_value=0.0, max_value=MAX_FLOOR_AREA_M2),
        Column("service_point_need", "int", N_("public-service points lacking"), "points",
               min_value=0, max_value=100),
        Column("housing_need_m2", "float", N_("official housing floor area lacking"), "m2",
               min_value=0.0, max_value=MAX_FLOOR_AREA_M2),
        Column("culture_need_m2", "float", N_("culture and sport floor area lacking"), "m2",
               min_value=0.0, max_value=MAX_FLOOR_AREA_M2),
    ),
    id_column="commune_code",
)

NORMS = Table(
    "norms",
    N_("Car and equipment norms per new unit."),
    (
        Column("category", "category", N_("'car' or an equipment category"),
               choices=("car", *EQUIPMENT_CATEGORIES)),
        Column("basis", "category", N_("per_unit: items per unit; per_10_staff: per 10 staff"),
               choices=NORM_BASES),
        Column("quantity", "float", N_("items required per basis"), "items", min_value=0.0,
               max_value=1000.0),
    ),
    id_column="category",
)

TABLES: dict[str, Table] = {t.name: t for t in (PROPERTIES, VEHICLES, EQUIPMENT, COMMUNES, NORMS)}


def schema_markdown() -> str:
    """The schema as Markdown tables (for the README and `assetplan validate --help`)."""
    return "\n".join(table_markdown(table) for table in TABLES.values())


def table_markdown(table: Table) -> str:
    lines = [f"### `{table.name}`", "", table.description, "",
             "| column | type | unit | required | description |", "|---|---|---|---|---|"]
    for c in table.columns:
        kind = f"one of {', '.join(c.choices)}" if c.choices else c.kind
        lines.append(f"| `{c.name}` | {kind} | {c.unit} | {'yes' if c.required else 'no'} "
                     f"| {c.description} |")
    lines.append("")
    return "\n".join(lines)
