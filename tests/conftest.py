from __future__ import annotations

import os

import pandas as pd
import pytest

import geodata
from planner.demo import load_demo
from planner.inventory import Dataset, write_dataset

# The tests read messages in the language of the code (English); every one of them has its
# Vietnamese (tests/test_i18n.py), and the tests of Vietnamese outputs ask for it by name.
# Set before any fixture runs, and inherited by the servers and CLIs the tests start.
os.environ["ASSETPLAN_LANG"] = "en"


@pytest.fixture(scope="session")
def communes():
    return geodata.load_communes()


@pytest.fixture(scope="session")
def demo() -> Dataset:
    return load_demo()


def province_subset(dataset: Dataset, province_code: str) -> Dataset:
    codes = set(geodata.load_communes().query("province_code == @province_code")["code"])
    tables = {
        "properties": dataset.properties[dataset.properties["commune_code"].isin(codes)],
        "vehicles": dataset.vehicles[dataset.vehicles["holder_code"].isin(codes)],
        "equipment": dataset.equipment[dataset.equipment["holder_code"].isin(codes)],
        "communes": dataset.communes[dataset.communes["commune_code"].isin(codes)],
        "norms": dataset.norms,
    }
    return Dataset({k: v.reset_index(drop=True) for k, v in tables.items()},
                   meta={**dataset.meta, "province": province_code})


@pytest.fixture(scope="session")
def small_dataset(demo) -> Dataset:
    """Cao Bằng (04): 56 units, a few hundred properties."""
    return province_subset(demo, "04")


@pytest.fixture
def small_csv_dir(tmp_path, small_dataset):
    return write_dataset(small_dataset, tmp_path / "ds", "csv")


def read_csv_table(folder, name) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
