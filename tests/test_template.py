"""The inventory template: a dropdown on every coded column, examples that validate, and a
workbook filled in the Vietnamese way (labels, Có/x, 85.970.000.000, dd/mm/yyyy) that reads as
the English demo and plans a province."""

from __future__ import annotations

import datetime
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter, range_boundaries
from test_localformats import vietnamese_number
from typer.testing import CliRunner

from planner.cli import app
from planner.i18n import use_lang
from planner.inventory import InventoryError, load_dataset
from planner.labels import column_label, label
from planner.localformats import choice_label
from planner.pipeline import run_scenario
from planner.scenario import load_scenario
from planner.schema import TABLES
from planner.template import EXAMPLE_PREFIX, LISTS_SHEET, write_template

SCEN = Path(__file__).resolve().parents[1] / "scenarios"


@pytest.fixture(scope="module", params=["vi", "en"])
def template(request, tmp_path_factory) -> tuple[str, Path]:
    lang = request.param
    return lang, write_template(tmp_path_factory.mktemp("t") / f"inventory-{lang}.xlsx", lang)


def _list_values(wb, formula: str) -> list[str]:
    sheet, ref = formula.lstrip("=").split("!")
    col0, row0, col1, row1 = range_boundaries(ref.replace("$", ""))
    return [wb[sheet].cell(r, col0).value for r in range(row0, row1 + 1)]


def test_every_coded_column_has_its_dropdown(template):
    lang, path = template
    wb = load_workbook(path)
    assert wb.sheetnames[0] == ("Hướng dẫn" if lang == "vi" else "Instructions")
    assert wb[LISTS_SHEET].sheet_state == "hidden"
    assert set(TABLES) <= set(wb.sheetnames)
    for name, table in TABLES.items():
        ws = wb[name]
        assert [c.value for c in ws[1]] == [column_label(c, lang) for c in table.column_names]
        assert ws.freeze_panes == "A2"
        checks = {str(dv.sqref).split(":")[0].rstrip("0123456789"): dv
                  for dv in ws.data_validations.dataValidation}
        for j, col in enumerate(table.columns, start=1):
            letter = get_column_letter(j)
            if col.kind in ("category", "bool"):
                dv = checks[letter]
                words = ([label("bool", True, lang), label("bool", False, lang)]
                         if col.kind == "bool" else
                         [choice_label(col.name, c, lang) for c in col.choices])
                assert dv.type == "list" and _list_values(wb, dv.formula1) == words
            elif col.min_value is not None:
                assert checks[letter].type in ("whole", "decimal")
                assert float(checks[letter].formula1) == col.min_value
            else:
                assert letter not in checks


def test_the_examples_validate_as_they_are(template):
    lang, path = template
    with use_lang(lang):
        ds = load_dataset(path)
    assert all(2 <= len(df) <= 3 for df in ds.tables.values())
    assert ds.properties["property_id"].str.startswith(EXAMPLE_PREFIX).all()
    assert ds.properties["commune_code"].str.startswith("01").all()  # Cao Bằng's units


def _fill(path: Path, dataset, out: Path) -> Path:
    """``dataset`` typed into the template the way a Vietnamese planner types it."""
    wb = load_workbook(path)
    for name, table in TABLES.items():
        ws = wb[name]
        ws.delete_rows(2, ws.max_row)
        df = dataset[name]
        for i, row in enumerate(df.itertuples(index=False), start=2):
            for j, col in enumerate(table.columns, start=1):
                v = getattr(row, col.name)
                if pd.isna(v):
                    v = None
                elif col.kind == "bool":
                    v = ("x" if i % 2 else "Có") if v else "Không"
                elif col.kind == "category":
                    v = choice_label(col.name, v, "vi")
                elif col.name == "market_value_vnd":
                    v = vietnamese_number(str(v))
                elif col.unit == "year":  # a date: typed, or a date cell of Excel
                    v = f"15/06/{v}" if i % 2 else datetime.datetime(int(v), 3, 1)
                ws.cell(i, j, v)
    wb.save(out)
    return out


@pytest.fixture(scope="module")
def filled(tmp_path_factory, small_dataset) -> Path:
    tmp = tmp_path_factory.mktemp("filled")
    return _fill(write_template(tmp / "t.xlsx", "vi"), small_dataset, tmp / "cao-bang.xlsx")


def test_a_workbook_filled_the_vietnamese_way_reads_as_the_demo_and_plans(filled,
                                                                         small_dataset):
    back = load_dataset(filled)
    for name in TABLES:
        pd.testing.assert_frame_equal(back[name], small_dataset[name], check_dtype=False)
    s = load_scenario(SCEN / "national-baseline.yaml")
    s = s.model_copy(update={
        "name": "template-04",
        "data": s.data.model_copy(update={"dataset": str(filled), "provinces": ("04",)}),
        "solver": s.solver.model_copy(update={"time_limit_s": 20})})
    plan = run_scenario(s)
    assert len(plan["units"]) == 56
    disp = plan["dispositions"]
    assert set(disp["property_id"]) <= set(small_dataset.properties["property_id"])
    assert disp["use"].notna().all()


def test_every_problem_of_a_workbook_names_its_sheet(filled, tmp_path):
    wb = load_workbook(filled)
    wb["properties"]["L2"] = "Hỏng nặng"  # condition
    wb["properties"]["M3"] = "31/02/2005"  # year_built
    wb["vehicles"]["B2"] = "Xe 9 chỗ"  # vehicle_type
    wb["vehicles"]["C3"] = "Ba Đình"  # holder_code: not a unit of Cao Bằng
    wb.save(tmp_path / "bad.xlsx")
    with use_lang("vi"), pytest.raises(InventoryError) as err:
        load_dataset(tmp_path / "bad.xlsx")
    problems = err.value.problems
    assert {(p.sheet, p.row, p.column) for p in problems} == {
        ("properties", 2, "Hiện trạng"), ("properties", 3, "Năm xây dựng"),
        ("vehicles", 2, "Loại xe"), ("vehicles", 3, column_label("holder_code", "vi"))}
    with use_lang("vi"):
        shown = [str(p) for p in problems]
    assert all(s.startswith(f"bad.xlsx, trang tính {p.sheet}, dòng {p.row}, cột {p.column}: ")
               for s, p in zip(shown, problems, strict=True))
    assert all(p.to_dict()["sheet"] == p.sheet for p in problems)
    allowed = next(p.rule for p in problems if p.column == "Loại xe")
    assert "Xe 7 chỗ; Xe 16 chỗ" in allowed


def test_cli_template(tmp_path):
    out = tmp_path / "mau.xlsx"
    ok = CliRunner().invoke(app, ["template", "--out", str(out), "--lang", "en"])
    assert ok.exit_code == 0 and out.exists(), ok.output
    assert load_workbook(out).sheetnames[0] == "Instructions"
    refused = CliRunner().invoke(app, ["template", "--out", str(tmp_path / "x.csv")])
    assert refused.exit_code == 2 and not (tmp_path / "x.csv").exists()
    wb = load_workbook(out)
    wb["properties"]["F2"] = "Phường Thục Phán"  # a unit's name for its code
    wb.save(out)
    notes = CliRunner().invoke(app, ["validate", str(out), "--lang", "en"])
    assert notes.exit_code == 0 and "valid" in notes.output
    assert "note" in notes.output and "read as unit 01273" in notes.output
