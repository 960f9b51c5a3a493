"""Hostile and malformed inventories: each is refused with a problem that names the file, and
none costs more than the limits allow (issue 10's reproductions at the planner level)."""

from __future__ import annotations

import csv
import zipfile

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from conftest import read_csv_table

from planner.inventory import InventoryError, ReadLimits, load_dataset, write_dataset


def problems(path, limits: ReadLimits | None = None) -> list:
    with pytest.raises(InventoryError) as err:
        load_dataset(path, limits=limits)
    return err.value.problems


@pytest.mark.parametrize("content", [b"\xef\xbb\xbf", b"\xef\xbb\xbf\n", b"\xef\xbb\xbf\r\n \n"])
def test_a_csv_that_is_only_a_byte_order_mark_is_empty(small_csv_dir, content):
    (small_csv_dir / "properties.csv").write_bytes(content)
    found = [p for p in problems(small_csv_dir) if p.file == "properties.csv"]
    assert found[0].rule == "the file is empty"


def test_extra_fields_on_one_row_are_one_problem_not_a_shifted_table(small_csv_dir):
    path = small_csv_dir / "properties.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] += ",x,y,z"  # three extra fields on the first record
    lines[5] += ",extra"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    width = [len(r) for r in csv.reader(lines)]
    found = [p for p in problems(small_csv_dir) if p.file == "properties.csv" and p.row]
    assert [(p.row, p.rule.split(";")[0]) for p in found] == [
        (2, f"{width[1]} fields"), (6, f"{width[5]} fields")]
    assert width[1] == width[0] + 3 and f"the header has {width[0]}" in found[0].rule


def test_control_characters_in_text_cells_are_refused(small_csv_dir):
    frame = read_csv_table(small_csv_dir, "properties")
    frame.loc[0, "name"] = "Trụ sở\x00cũ"
    frame.loc[1, "name"] = "bell\x07"
    frame.loc[2, "name"] = "tab\tand\nnew line are fine"
    frame.to_csv(small_csv_dir / "properties.csv", index=False)
    found = [p for p in problems(small_csv_dir) if p.column == "name"]
    assert [p.row for p in found] == [2, 3]
    assert "U+0000" in found[0].rule and "U+0007" in found[1].rule


def test_a_geopackage_in_an_engineering_crs_is_a_problem(tmp_path, small_dataset):
    gpkg = write_dataset(small_dataset, tmp_path / "g", "gpkg") / "dataset.gpkg"
    props = gpd.read_file(gpkg, layer="properties")
    local = 'ENGCRS["local",EDATUM["site"],CS[Cartesian,2],AXIS["x",east,LENGTHUNIT["m",1]],' \
            'AXIS["y",north,LENGTHUNIT["m",1]]]'
    props = props.set_crs(local, allow_override=True)
    pyogrio.write_dataframe(props, gpkg, layer="properties", driver="GPKG")
    found = [p for p in problems(gpkg) if p.column == "geometry"]
    assert found and "cannot be turned into WGS84" in found[0].rule


def test_a_workbook_that_unpacks_beyond_the_limit_is_not_parsed(tmp_path, small_dataset):
    xlsx = write_dataset(small_dataset, tmp_path / "x", "xlsx") / "dataset.xlsx"
    with zipfile.ZipFile(xlsx) as zf:
        unpacked = sum(i.file_size for i in zf.infolist())
    found = problems(xlsx, ReadLimits(max_unpacked_bytes=unpacked - 1))
    assert len(found) == 1 + 5  # the workbook, then each table missing
    assert f"unpacks to {unpacked:,} bytes" in found[0].rule
    load_dataset(xlsx, limits=ReadLimits(max_unpacked_bytes=unpacked))


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx", "gpkg"])
def test_tables_over_the_row_limit_are_refused(tmp_path, small_dataset, fmt):
    out = write_dataset(small_dataset, tmp_path / fmt, fmt)
    target = out if fmt in ("csv", "parquet") else out / f"dataset.{fmt}"
    n = len(small_dataset.properties)
    found = problems(target, ReadLimits(max_rows=n - 1))
    assert any(f"{n:,} rows; at most {n - 1:,}" in p.rule and "properties" in str(p)
               for p in found)


def test_thousands_of_unknown_codes_are_listed_up_to_the_limit_and_counted(small_csv_dir):
    frame = read_csv_table(small_csv_dir, "properties")
    big = pd.concat([frame] * 20, ignore_index=True)
    big["property_id"] = [f"X{i:06d}" for i in range(len(big))]
    big["commune_code"] = [f"9{i % 9999:04d}" for i in range(len(big))]
    big.to_csv(small_csv_dir / "properties.csv", index=False)
    found = [p for p in problems(small_csv_dir) if p.column == "commune_code"]
    shown = ReadLimits().max_problems_per_rule
    assert len(found) == shown + 1
    assert f"and {len(big) - shown:,} more rows" in found[-1].rule


def test_a_broken_dataset_json_is_a_problem(small_csv_dir):
    (small_csv_dir / "dataset.json").write_text("[1, 2", encoding="utf-8")
    assert any(p.file == "dataset.json" for p in problems(small_csv_dir))
    (small_csv_dir / "dataset.json").write_text("[1, 2]", encoding="utf-8")
    assert any(p.rule == "must be a JSON object" for p in problems(small_csv_dir))
