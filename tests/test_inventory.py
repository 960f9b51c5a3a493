"""Inventory loading and validation: every bad-input kind is rejected with its message."""

from __future__ import annotations

import geopandas as gpd
import pyogrio
import pytest
from conftest import read_csv_table

from planner.inventory import InventoryError, ReadLimits, load_dataset, write_dataset


def problems_of(path) -> list[str]:
    with pytest.raises(InventoryError) as err:
        load_dataset(path)
    return [str(p) for p in err.value.problems]


def edit(folder, name, fn):
    df = read_csv_table(folder, name)
    df = fn(df)
    df.to_csv(folder / f"{name}.csv", index=False)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet", "gpkg"])
def test_round_trip_every_format(tmp_path, small_dataset, fmt):
    out = write_dataset(small_dataset, tmp_path / fmt, fmt)
    target = out if fmt in ("csv", "parquet") else out / f"dataset.{fmt}"
    back = load_dataset(target)
    assert back.content_hash == small_dataset.content_hash
    for name, df in small_dataset.tables.items():
        assert len(back[name]) == len(df)


def test_valid_folder_loads_with_meta(small_csv_dir, small_dataset):
    ds = load_dataset(small_csv_dir)
    assert ds.synthetic
    assert ds.content_hash == small_dataset.content_hash
    assert ds.properties["commune_code"].str.fullmatch(r"\d{5}").all()


def test_missing_and_extra_columns(small_csv_dir):
    edit(small_csv_dir, "properties", lambda d: d.drop(columns="condition").assign(colour="x"))
    edit(small_csv_dir, "vehicles", lambda d: d.rename(columns={"holder_code": "holder_cod"}))
    msgs = problems_of(small_csv_dir)
    assert "properties.csv, row 1, column condition: missing column" in msgs
    assert any(m.startswith("properties.csv, row 1, column colour: unknown column") for m in msgs)
    assert any("column holder_cod: unknown column (did you mean 'holder_code'?)" in m
               for m in msgs)


def test_wrong_types_nan_negative_absurd(small_csv_dir):
    def bad(d):
        d.loc[0, "land_area_m2"] = "abc"
        d.loc[1, "floor_area_m2"] = "-20"
        d.loc[2, "land_area_m2"] = "9e12"
        d.loc[3, "market_value_vnd"] = "1.5"
        d.loc[4, "floor_area_m2"] = ""  # NaN in a required number
        d.loc[5, "in_use_as_seat"] = "maybe"
        d.loc[6, "floor_area_m2"] = "inf"
        return d
    edit(small_csv_dir, "properties", bad)
    msgs = problems_of(small_csv_dir)
    assert "properties.csv, row 2, column land_area_m2: 'abc' is not a number" in msgs
    assert "properties.csv, row 3, column floor_area_m2: must not be negative (got -20)" in msgs
    assert any(m.startswith("properties.csv, row 4, column land_area_m2: 9e12 is absurd")
               for m in msgs)
    assert "properties.csv, row 5, column market_value_vnd: '1.5' is not a whole number" in msgs
    assert "properties.csv, row 6, column floor_area_m2: a value is required" in msgs
    assert ("properties.csv, row 7, column in_use_as_seat: 'maybe' is not yes/no "
            "(Có/Không, x)") in msgs
    assert "properties.csv, row 8, column floor_area_m2: must be finite" in msgs


def test_duplicate_ids(small_csv_dir):
    def dup(d):
        d.loc[3, "vehicle_id"] = d.loc[1, "vehicle_id"]
        return d
    edit(small_csv_dir, "vehicles", dup)
    msgs = problems_of(small_csv_dir)
    assert any("vehicles.csv, row 5, column vehicle_id: duplicate id" in m
               and "(first at row 3)" in m for m in msgs)


def test_unknown_codes_with_suggestions(small_csv_dir, communes):
    def bad(d):
        d.loc[0, "holder_code"] = "01267"  # pre-2025 Phường Sông Hiến, now in 01273
        d.loc[1, "holder_code"] = "Phường Thục Phánh"  # a misspelt name instead of a code
        d.loc[2, "holder_code"] = "99999"
        return d
    edit(small_csv_dir, "equipment", bad)
    msgs = problems_of(small_csv_dir)
    legacy_msg = next(m for m in msgs if "row 2, column holder_code" in m)
    assert "unknown unit code '01267'; 01267 is the pre-2025 code of" in legacy_msg
    assert "now part of" in legacy_msg
    name_msg = next(m for m in msgs if "row 3, column holder_code" in m)
    code = communes.set_index("name").loc["Phường Thục Phán", "code"]
    assert f"did you mean {code} (Phường Thục Phán)?" in name_msg
    assert "equipment.csv, row 4, column holder_code: unknown unit code '99999'" in msgs


def test_withdrawn_code_is_read_as_the_official_one_with_a_note(small_csv_dir, communes):
    ba_che = communes.set_index("code").loc["06970"]

    def to_ba_che(d):
        # 6978: a spreadsheet also dropped the leading zero.
        d.loc[[0, 2], ["commune_code", "lon", "lat"]] = ["6978", str(ba_che["lon"]),
                                                         str(ba_che["lat"])]
        return d

    edit(small_csv_dir, "properties", to_ba_che)
    edit(small_csv_dir, "vehicles", lambda d: d.assign(holder_code=d["holder_code"].mask(
        d.index == 1, "06978")))
    ds = load_dataset(small_csv_dir)
    assert ds.properties.loc[[0, 2], "commune_code"].tolist() == ["06970", "06970"]
    assert ds.vehicles.loc[1, "holder_code"] == "06970"
    rule = "unit code '06978' is read as '06970' (Xã Ba Chẽ): 06978 is a withdrawn code"
    assert [str(n) for n in ds.notes] == [
        f"properties.csv, row 2, column commune_code: {rule} of that unit",
        f"properties.csv, row 4, column commune_code: {rule} of that unit",
        f"vehicles.csv, row 3, column holder_code: {rule} of that unit"]
    # The run's provenance carries them.
    from planner.pipeline import load_inputs, provenance
    from planner.scenario import scenario_from_dict

    scenario = scenario_from_dict({"name": "x", "data": {"dataset": str(small_csv_dir),
                                                         "provinces": ["04"]}})
    prov = provenance(load_inputs(scenario), [], {})
    assert [n["row"] for n in prov["dataset"]["notes"]] == [2, 4, 3]
    assert prov["dataset"]["notes"][2] == {"file": "vehicles.csv", "sheet": None, "row": 3,
                                           "column": "holder_code", "rule": f"{rule} of that unit"}


def test_leading_zeros_restored(small_csv_dir):
    edit(small_csv_dir, "communes", lambda d: d.assign(commune_code=d["commune_code"].str
                                                       .lstrip("0")))
    ds = load_dataset(small_csv_dir)
    assert ds.communes["commune_code"].str.fullmatch(r"\d{5}").all()


def test_points_outside_vietnam_swapped_projected_and_far(small_csv_dir):
    def bad(d):
        d.loc[0, ["lon", "lat"]] = ["100.5", "13.75"]  # Bangkok
        d.loc[1, ["lon", "lat"]] = [d.loc[1, "lat"], d.loc[1, "lon"]]  # swapped
        d.loc[2, ["lon", "lat"]] = ["580000", "2500000"]  # UTM metres: wrong CRS
        d.loc[3, ["lon", "lat"]] = ["105.85", "21.03"]  # Hà Nội, far from Cao Bằng
        return d
    edit(small_csv_dir, "properties", bad)
    msgs = problems_of(small_csv_dir)
    assert any("row 2, column lon/lat: (100.5, 13.75) is outside Vietnam" in m for m in msgs)
    assert any("row 3, column lon/lat" in m and "lon and lat look swapped" in m for m in msgs)
    assert any("row 4, column lon/lat" in m and "wrong CRS, expected WGS84" in m for m in msgs)
    assert any("row 5, column lon/lat: point is" in m and "km outside unit" in m for m in msgs)


def test_islands_are_inside_vietnam(demo, tmp_path):
    from conftest import province_subset

    # Khánh Hòa (56) holds Trường Sa; Đà Nẵng (48) holds Hoàng Sa.
    for prov in ("56", "48"):
        ds = province_subset(demo, prov)
        out = write_dataset(ds, tmp_path / prov, "csv")
        assert load_dataset(out).content_hash == ds.content_hash


def test_unknown_categories_and_conditions(small_csv_dir):
    def bad(d):
        d.loc[0, "condition"] = "Unusabel "
        d.loc[1, "category"] = "laptop"
        d.loc[2, "condition"] = "goood"
        return d
    edit(small_csv_dir, "equipment", bad)
    msgs = problems_of(small_csv_dir)
    assert any("row 2, column condition: unknown value 'Unusabel' (did you mean 'Unusable'?)"
               in m for m in msgs)
    assert any("row 3, column category: unknown value 'laptop'; allowed: Computer; Printer" in m
               for m in msgs)
    assert any("row 4, column condition: unknown value 'goood' (did you mean 'Good'?)" in m
               for m in msgs)


def test_empty_file_bad_encoding_missing_table(small_csv_dir):
    (small_csv_dir / "norms.csv").write_text("", encoding="utf-8")
    raw = (small_csv_dir / "vehicles.csv").read_text(encoding="utf-8")
    (small_csv_dir / "vehicles.csv").write_bytes(raw.encode("cp1258", errors="replace"))
    (small_csv_dir / "communes.csv").unlink()
    msgs = problems_of(small_csv_dir)
    assert "norms.csv: the file is empty" in msgs
    assert any(m.startswith("vehicles.csv, row") and "not valid UTF-8" in m for m in msgs)
    assert any(m.startswith("communes.csv: missing table 'communes'") for m in msgs)


def test_header_only_table(small_csv_dir):
    (small_csv_dir / "norms.csv").write_text("category,basis,quantity\n", encoding="utf-8")
    assert "norms.csv: the table has no rows" in problems_of(small_csv_dir)


def test_geopackage_without_crs_and_with_projected_crs(tmp_path, small_dataset):
    out = write_dataset(small_dataset, tmp_path / "g", "gpkg") / "dataset.gpkg"
    props = gpd.read_file(out, layer="properties")

    def copy_attribute_layers(target):
        for name in ("vehicles", "equipment", "communes", "norms"):
            pyogrio.write_dataframe(pyogrio.read_dataframe(out, layer=name), target, layer=name)

    # A projected CRS is fine: points are transformed to EPSG:4326.
    utm = tmp_path / "utm.gpkg"
    copy_attribute_layers(utm)
    props.to_crs("EPSG:32648").to_file(utm, layer="properties")
    back = load_dataset(utm)
    assert back.properties["lon"].sub(small_dataset.properties["lon"]).abs().max() < 1e-6
    # No CRS at all is an error.
    nocrs = tmp_path / "nocrs.gpkg"
    copy_attribute_layers(nocrs)
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        props.set_crs(None, allow_override=True).to_file(nocrs, layer="properties")
    msgs = problems_of(nocrs)
    assert any("column geometry: the layer has no CRS" in m for m in msgs)


def test_every_problem_at_once_and_nothing_written(small_csv_dir, tmp_path):
    edit(small_csv_dir, "properties", lambda d: d.assign(condition="ruined"))
    edit(small_csv_dir, "vehicles", lambda d: d.assign(year="old"))
    msgs = problems_of(small_csv_dir)
    n_props = len(read_csv_table(small_csv_dir, "properties"))
    n_cars = len(read_csv_table(small_csv_dir, "vehicles"))
    # The first rows of each rule one by one, then one line counting the rest.
    shown = ReadLimits().max_problems_per_rule
    for column, n in (("condition", n_props), ("year", n_cars)):
        lines = [m for m in msgs if f"column {column}" in m]
        assert len(lines) == shown + 1
        assert f"and {n - shown:,} more rows break the same rule" in lines[-1]
    with pytest.raises(InventoryError) as every:
        load_dataset(small_csv_dir, limits=ReadLimits(max_problems_per_rule=10**6))
    assert sum(p.column == "condition" for p in every.value.problems) == n_props


def test_cli_validate(small_csv_dir):
    from typer.testing import CliRunner

    from planner.cli import app

    ok = CliRunner().invoke(app, ["validate", str(small_csv_dir)])
    assert ok.exit_code == 0 and "valid" in ok.output and "SYNTHETIC" in ok.output
    edit(small_csv_dir, "vehicles", lambda d: d.assign(condition="ruined"))
    bad = CliRunner().invoke(app, ["validate", str(small_csv_dir)])
    assert bad.exit_code == 1
    assert "ruined" in bad.output


def test_a_row_with_extra_fields_is_one_problem(small_csv_dir):
    path = small_csv_dir / "properties.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[1] += ",a,b,c"
    path.write_text("\n".join(lines), encoding="utf-8")
    msgs = problems_of(small_csv_dir)
    assert msgs == ["properties.csv, row 2: 20 fields; the header has 17 (a stray separator, "
                    "or a value with a comma that is not in quotes)"]
