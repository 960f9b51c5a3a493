"""An empty inventory workbook for a planner to fill in (``assetplan template``).

One sheet per inventory table, named by its code (the name the reader looks for), headed in
the chosen language; a dropdown of labels on every coded column and of yes/no on every
boolean, number checks from the schema's bounds; an instructions sheet first, and two or
three example rows per table (real units of one province) that validate as they are.
The dropdowns read their labels from a hidden ``lists`` sheet: an inline list holds at most
255 characters, and a Vietnamese label list is longer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geodata
from planner.i18n import _, number, use_lang
from planner.labels import column_label, label
from planner.localformats import choice_label
from planner.schema import TABLES, Column, Table

EXAMPLE_PROVINCE = "04"  # Cao Bang: its first three units (by code) in the examples
EXAMPLE_PREFIX = "VD-"  # ví dụ: the ids of the example rows
LISTS_SHEET = "lists"
VALIDATED_ROWS = 10_000  # the dropdowns and checks reach this far down a sheet


def _kind(col: Column) -> str:
    words = {"id": _("identifier, unique in the table"), "str": _("text"),
             "int": _("whole number"), "float": _("number"), "bool": _("yes/no"),
             "category": _("one of the dropdown list"),
             "code": _("5-digit code of a new unit")}
    return words[col.kind]


def _example_units() -> list[dict[str, Any]]:
    units = geodata.load_communes().query("province_code == @EXAMPLE_PROVINCE").sort_values(
        "code").head(3)
    legacy = geodata.load_legacy_units().sort_values("legacy_code")
    out = []
    for u in units.itertuples():
        former = legacy.loc[legacy["successor_code"] == u.code, "legacy_code"]
        out.append({"code": u.code, "name": u.name, "lon": float(u.lon), "lat": float(u.lat),
                    "legacy": str(former.iloc[0]) if len(former) else ""})
    return out


def example_rows() -> dict[str, list[dict[str, Any]]]:
    """Two or three rows per table, by column code, with codes (shown as labels)."""
    u = _example_units()
    holder = [_("People's Committee of {unit}", unit=x["name"]) for x in u]
    p = EXAMPLE_PREFIX
    return {
        "properties": [
            {"property_id": f"{p}001", "kind": "building", "origin": "old_commune_hq",
             "name": _("Former commune HQ, {unit}", unit=u[0]["name"]), "holder": holder[0],
             "commune_code": u[0]["code"], "legacy_code": u[0]["legacy"],
             "lon": u[0]["lon"], "lat": u[0]["lat"], "land_area_m2": 1200,
             "floor_area_m2": 450, "condition": "fair", "year_built": 2005,
             "market_value_vnd": 8_500_000_000, "legal_status": "clear",
             "restriction": "none", "in_use_as_seat": False},
            {"property_id": f"{p}002", "kind": "land", "origin": "district_compound",
             "name": _("Land of the former district compound, {unit}", unit=u[1]["name"]),
             "holder": holder[1], "commune_code": u[1]["code"], "legacy_code": "",
             "lon": u[1]["lon"], "lat": u[1]["lat"], "land_area_m2": 3000,
             "floor_area_m2": 0, "condition": "good", "year_built": None,
             "market_value_vnd": 3_200_000_000, "legal_status": "pending",
             "restriction": "none", "in_use_as_seat": False},
            {"property_id": f"{p}003", "kind": "building", "origin": "other_public",
             "name": _("Former culture house, {unit}", unit=u[2]["name"]),
             "holder": holder[2], "commune_code": u[2]["code"], "legacy_code": u[2]["legacy"],
             "lon": u[2]["lon"], "lat": u[2]["lat"], "land_area_m2": 800,
             "floor_area_m2": 300, "condition": "poor", "year_built": 1998,
             "market_value_vnd": 1_500_000_000, "legal_status": "clear",
             "restriction": "heritage", "in_use_as_seat": False},
        ],
        "vehicles": [
            {"vehicle_id": f"{p}11A-000.01", "vehicle_type": "car_7_seat",
             "holder_code": u[0]["code"], "holder": holder[0], "year": 2015,
             "condition": "good", "surplus": True},
            {"vehicle_id": f"{p}11A-000.02", "vehicle_type": "pickup",
             "holder_code": u[1]["code"], "holder": holder[1], "year": 2012,
             "condition": "fair", "surplus": False},
        ],
        "equipment": [
            {"equipment_id": f"{p}TB-01", "holder_code": u[0]["code"], "holder": holder[0],
             "category": "computer", "condition": "good", "quantity": 12, "surplus": True},
            {"equipment_id": f"{p}TB-02", "holder_code": u[2]["code"], "holder": holder[2],
             "category": "printer", "condition": "fair", "quantity": 3, "surplus": False},
        ],
        "communes": [
            {"commune_code": x["code"], "staff": staff, "office_floor_area_m2": floor,
             "office_need_m2": need, "health_need_m2": 0, "education_need_m2": school,
             "service_point_need": 1, "housing_need_m2": 0, "culture_need_m2": 200}
            for x, staff, floor, need, school in zip(
                u, (48, 40, 52), (900, 650, 1000), (0, 150, 0), (300, 0, 0), strict=True)
        ],
        "norms": [
            {"category": "car", "basis": "per_unit", "quantity": 1},
            {"category": "computer", "basis": "per_10_staff", "quantity": 10},
            {"category": "printer", "basis": "per_10_staff", "quantity": 3},
        ],
    }


def _cell(col: Column, value: Any) -> Any:
    """An example value as a planner types it: a label for a code, yes/no for a boolean."""
    if value is None or value == "":
        return None
    if col.kind == "bool":
        return label("bool", bool(value))
    if col.kind == "category":
        return choice_label(col.name, str(value))
    return value


def _shown(x: float) -> str:
    """A bound as the instructions state it: a year plain, a large number grouped."""
    return f"{x:g}" if abs(x) < 10_000 else number(x)


def _formula(x: float) -> str:
    """A bound as an Excel formula holds it (never 1e+14)."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _table_notes(table: Table) -> list[list[str]]:
    rows = [[table.name, _(table.description)],
            [_("column code"), _("header"), _("type"), _("unit"), _("required"), _("meaning")]]
    for c in table.columns:
        unit = label("unit", c.unit) if c.unit else ""
        kind = _kind(c)
        if c.min_value is not None:
            kind += (f" ({_shown(c.min_value)} - {_shown(c.max_value)})"
                     if c.max_value is not None else f" (>= {_shown(c.min_value)})")
        rows.append([c.name, column_label(c.name), kind, unit,
                     _("yes") if c.required else _("no"), _(c.description)])
    return [*rows, []]


def instructions() -> list[list[str]]:
    """The lines of the instructions sheet, in the current language."""
    names = ", ".join(TABLES)
    return [
        [_("Inventory workbook for assetplan")],
        [_("Fill in one sheet per table. Keep the sheet names ({names}) and the header row "
           "as they are; the headers may also be written in English or as the column codes.",
           names=names)],
        [_("The rows under the header are EXAMPLES (ids starting with {prefix}; units of one "
           "province): replace or delete them before you validate.", prefix=EXAMPLE_PREFIX)],
        [_("Unit codes are the 5-digit codes of the new commune-level units, as listed by "
           "Decision 19/2025/QĐ-TTg; a unit's name (Ba Đình, Phường Ba Đình) is also read, "  # data
           "within the province of the row, and the validation says how it was read.")],
        [_("Coded columns take a value of their dropdown list; yes/no columns take Có or "  # data
           "Không (x is also yes; an optional one left empty is no). Numbers may be written "
           "the Vietnamese way (85.970.000.000; 12,5); a year as 2005 or as a date "
           "dd/mm/yyyy, whose year is taken.")],
        [_("Check the workbook with: assetplan validate FILE.xlsx. To save the sheets as CSV "
           "instead: File > Save As > 'CSV UTF-8 (Comma delimited) (*.csv)', one file per "
           "sheet named after it (properties.csv, vehicles.csv, ...), all in one folder.")],
        [],
        *[row for table in TABLES.values() for row in _table_notes(table)],
    ]


def write_template(out: str | Path, lang: str | None = None) -> Path:
    """Write the empty inventory workbook to ``out`` (an .xlsx path) in ``lang``."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    out = Path(out)
    with use_lang(lang):
        wb = Workbook()
        guide = wb.active
        guide.title = _("Instructions")
        for line in instructions():
            guide.append(line)
        guide["A1"].font = Font(bold=True, size=14)
        guide.column_dimensions["A"].width = 24
        for letter, width in zip("BCDEF", (34, 28, 10, 10, 90), strict=True):
            guide.column_dimensions[letter].width = width
        lists = wb.create_sheet(LISTS_SHEET)
        lists.sheet_state = "hidden"
        head, example, bold = (PatternFill("solid", fgColor="DDEBF7"),
                               Font(italic=True, color="808080"), Font(bold=True))
        examples = example_rows()
        for table in TABLES.values():
            ws = wb.create_sheet(table.name)
            ws.append([column_label(c.name) for c in table.columns])
            for row in examples[table.name]:
                ws.append([_cell(c, row.get(c.name)) for c in table.columns])
            for j, c in enumerate(table.columns, start=1):
                letter = get_column_letter(j)
                ws.cell(1, j).fill, ws.cell(1, j).font = head, bold
                for i in range(2, len(examples[table.name]) + 2):
                    ws.cell(i, j).font = example
                ws.column_dimensions[letter].width = max(12, len(column_label(c.name)) + 4)
                check = _validation(c, lists, DataValidation)
                if check is not None:
                    ws.add_data_validation(check)
                    check.add(f"{letter}2:{letter}{VALIDATED_ROWS}")
            ws.freeze_panes = "A2"
        wb.move_sheet(LISTS_SHEET, offset=len(TABLES))  # last: the tables follow the guide
        out.parent.mkdir(parents=True, exist_ok=True)
        wb.save(out)
    return out


def _validation(col: Column, lists: Any, make: Any) -> Any:
    """The dropdown or the number check of ``col``; None for free text."""
    from openpyxl.utils import get_column_letter

    if col.kind in ("category", "bool"):
        words = ([label("bool", True), label("bool", False)] if col.kind == "bool"
                 else [choice_label(col.name, c) for c in col.choices])
        j = lists.max_column + 1 if lists.max_row > 1 or lists["A1"].value else 1
        lists.cell(1, j, col.name)
        for i, w in enumerate(words, start=2):
            lists.cell(i, j, w)
        letter = get_column_letter(j)
        check = make(type="list", formula1=f"={LISTS_SHEET}!${letter}$2:${letter}$"
                     f"{len(words) + 1}", allow_blank=not col.required)
        check.error = _("Choose a value of the list.")
        return check
    if col.kind in ("int", "float") and col.min_value is not None:
        bounds = ({"operator": "between", "formula2": _formula(col.max_value)}
                  if col.max_value is not None else {"operator": "greaterThanOrEqual"})
        check = make(type="whole" if col.kind == "int" else "decimal",
                     formula1=_formula(col.min_value), allow_blank=not col.required, **bounds)
        # A year may also be typed as a date (read for its year): warn, do not refuse.
        check.errorStyle = "warning" if col.unit == "year" else "stop"
        check.error = _("A number from {low} to {high}.", low=_shown(col.min_value),
                        high=_shown(col.max_value)) if col.max_value is not None else _(
            "A number of at least {low}.", low=_shown(col.min_value))
        return check
    return None
