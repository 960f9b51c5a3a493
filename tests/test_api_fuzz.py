"""A fuzz suite: hypothesis draws bad scenarios (YAML tags, aliases, depth, sizes, numbers,
Unicode) and bad uploads (encodings, byte-order marks, ragged rows, bombs, CRSs), sends each to
the API on SQLite and PostgreSQL, and asserts a 4xx with the usual problem body and a store
that did not change. Every draw breaks a rule by construction; a draw that were accepted would
be a finding."""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from typing import Any

import pytest
import yaml
from api_fixtures import *  # noqa: F403 (fixtures)
from api_fixtures import LAM_DONG_QUICK, auth
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from api.models import DatasetRow, ScenarioRow
from planner.inventory import write_dataset

# CI draws a few; ASSETPLAN_FUZZ_EXAMPLES=N draws N scenarios (and N // 3 uploads of each kind).
EXAMPLES = int(os.environ.get("ASSETPLAN_FUZZ_EXAMPLES", "25"))
FUZZ = hypothesis_settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])
BASE: dict[str, Any] = {k: v for k, v in LAM_DONG_QUICK.items() if k != "overrides"}


def counts(client) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with client.app.state.store.session() as s:
        return (s.scalar(select(func.count()).select_from(ScenarioRow)) or 0,
                s.scalar(select(func.count()).select_from(DatasetRow)) or 0)


def assert_refused(client, response, before) -> None:  # type: ignore[no-untyped-def]
    assert 400 <= response.status_code < 500, response.text[:2000]
    body = response.json()
    assert {"code", "message", "problems"} <= body.keys()
    assert counts(client) == before


# ------------------------------------------------------------------------ scenario strategies

BAD_TAGS = ["!!binary aGVsbG8=", "!!set {a, b}", "!!timestamp 2001-12-14", "!!omap [a: 1]",
            "!!pairs [a: 1]", "!!python/name:os.system", "!!python/object/apply:os.getcwd []",
            "!custom 5", "!!python/tuple [1, 2]"]
PLACES = ["description", "data.dataset", "solver.seed", "policy.seats.max_service_km",
          "budget.national_vnd", "overrides.x.solver.mip_gap"]
NUMERIC = ["budget.national_vnd", "solver.seed", "solver.threads", "solver.time_limit_s",
           "policy.seats.upkeep_vnd_per_m2_year", "policy.unmet_penalty_vnd_per_service_point",
           "policy.priority.terrain.island", "policy.service_point_floor_area_m2"]


def nest(path: str, value: Any) -> dict[str, Any]:
    out: Any = value
    for key in reversed(path.split(".")):
        out = {key: out}
    return out  # type: ignore[no-any-return]


def yaml_at(path: str, raw: str) -> str:
    """A valid scenario with ``raw`` (YAML text) as the value at ``path``."""
    keys = path.split(".")
    lines = ["name: fuzzed\ndata: {provinces: ['68']}"]
    lines += [("  " * i) + f"{k}:" for i, k in enumerate(keys[:-1])]
    lines.append(("  " * (len(keys) - 1)) + f"{keys[-1]}: {raw}")
    return "\n".join(lines) + "\n"


tagged = st.builds(yaml_at, st.sampled_from(PLACES), st.sampled_from(BAD_TAGS))


@st.composite
def alias_bombs(draw: st.DrawFn) -> str:
    width = draw(st.integers(8, 12))  # width ** levels is past the expanded-size limit
    levels = draw(st.integers(6, 9))
    lines = ["name: bomb", f"l0: &l0 [{', '.join(['x'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


@st.composite
def deep_bodies(draw: st.DrawFn) -> tuple[str, str]:
    depth = draw(st.integers(33, 3000))
    kind = draw(st.sampled_from(["json-list", "json-object", "yaml-flow", "yaml-block"]))
    if kind == "json-list":
        text = '{"name": "deep", "d": ' + "[" * depth + "]" * depth + "}"
    elif kind == "json-object":
        text = '{"name": "deep", "d": ' + '{"a": ' * depth + "1" + "}" * depth + "}"
    elif kind == "yaml-flow":
        text = "name: deep\nd: " + "[" * depth + "]" * depth + "\n"
    else:
        depth = min(depth, 200)
        text = "name: deep\n" + "".join("  " * i + f"k{i}:\n" for i in range(depth)) + \
            "  " * depth + "v: 1\n"
    return text, "application/json" if kind.startswith("json") else "application/yaml"


bad_numbers = st.one_of(
    st.integers(min_value=2**63, max_value=10**500), st.integers(max_value=-1),
    st.sampled_from([float("inf"), float("-inf"), 1e19, 1e300, -1e300]),
    st.integers(min_value=10**15 + 1, max_value=2**63 - 1))


@st.composite
def numeric_bodies(draw: st.DrawFn) -> tuple[str, str]:
    path = draw(st.sampled_from(NUMERIC))
    value = draw(bad_numbers)
    if isinstance(value, float) and not math.isfinite(value) and draw(st.booleans()):
        return yaml_at(path, ".inf" if value > 0 else "-.inf"), "application/yaml"
    # json.dumps writes Infinity for an infinite float: not JSON, refused as such.
    return json.dumps({**BASE, **nest(path, value)}), "application/json"


control = st.characters(min_codepoint=0, max_codepoint=0x1F).filter(
    lambda c: c not in "\t\n\r") | st.just("\x7f")


@st.composite
def unicode_bodies(draw: st.DrawFn) -> tuple[str, str]:
    text = draw(st.text(max_size=40))
    bad = draw(control | st.sampled_from(["\ud800", "\udfff", "\ud83d"]))
    at = draw(st.integers(0, len(text)))
    value = text[:at] + bad + text[at:]
    field = draw(st.sampled_from(["description", "name", "data.dataset", "key"]))
    if field == "key":
        body: dict[str, Any] = {**BASE, "overrides": {value: {"solver": {"threads": 2}}}}
    else:
        body = {**BASE, **nest(field, value)}
    raw = json.dumps(body, ensure_ascii=draw(st.booleans()))
    if draw(st.booleans()):  # the same as YAML with a quoted escape
        return yaml.safe_dump(json.loads(raw), allow_unicode=False), "application/yaml"
    return raw, "application/json"


@st.composite
def oversized(draw: st.DrawFn) -> tuple[str, str]:
    n = draw(st.integers(10_001, 300_000))
    field = draw(st.sampled_from(["description", "name"]))
    return json.dumps({**BASE, field: "á" * n}), "application/json"


bad_scenarios = st.one_of(
    tagged.map(lambda t: (t, "application/yaml")), alias_bombs().map(lambda t: (t,
                                                                          "application/yaml")),
    deep_bodies(), numeric_bodies(), unicode_bodies(), oversized())


@FUZZ
@given(case=bad_scenarios)
def test_bad_scenarios_are_refused_and_stored_nowhere(client, keys, case):
    text, media = case
    before = counts(client)
    r = client.post("/scenarios", content=text.encode("utf-8", "surrogatepass"),
                    headers={**auth(keys["planner"]), "Content-Type": media})
    assert_refused(client, r, before)
    assert client.get("/scenarios", params={"limit": 1000},
                      headers=auth(keys["viewer"])).status_code == 200


# -------------------------------------------------------------------------- upload strategies


def _csv_files(folder) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


@st.composite
def broken_csv(draw: st.DrawFn, files: dict[str, bytes]) -> list[tuple[str, bytes]]:
    out = dict(files)
    name = draw(st.sampled_from(sorted(files)))
    text = out[name].decode("utf-8")
    how = draw(st.sampled_from(["utf16", "latin1", "bom-only", "bom-newline", "ragged",
                                "nul", "truncated-quote", "header-only"]))
    if how == "utf16":
        out[name] = text.encode("utf-16")
    elif how == "latin1":
        out[name] = (text.rstrip("\n") + "\nĐ\n").encode("cp1258", "replace") + b"\xd0\xff"
    elif how == "bom-only":
        out[name] = b"\xef\xbb\xbf"
    elif how == "bom-newline":
        out[name] = b"\xef\xbb\xbf" + draw(st.sampled_from([b"\n", b"\r\n", b"\n\n \n"]))
    elif how == "ragged":
        lines = text.splitlines()
        i = draw(st.integers(1, len(lines) - 1))
        extra = draw(st.integers(1, 5))
        lines[i] += "," * extra if draw(st.booleans()) else ",x" * extra
        out[name] = ("\n".join(lines) + "\n").encode()
    elif how == "nul":
        lines = text.splitlines()
        i = draw(st.integers(1, len(lines) - 1))
        lines[i] = "\x00" + lines[i]
        out[name] = ("\n".join(lines) + "\n").encode()
    elif how == "truncated-quote":
        out[name] = (text + '"never closed,\n').encode()
    else:
        out[name] = text.splitlines()[0].encode() + b"\n"
    return list(out.items())


@st.composite
def bombs(draw: st.DrawFn, xlsx: bytes) -> list[tuple[str, bytes]]:
    buf = io.BytesIO(xlsx)
    with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        mib = draw(st.integers(9, 40))
        zf.writestr(f"xl/worksheets/sheet{draw(st.integers(50, 99))}.xml",
                    b"<row/>" * (mib * 2**20 // 6))
    return [("dataset.xlsx", buf.getvalue())]


@pytest.fixture
def inventory(small_dataset, tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("fuzz-inv")
    csv_dir = write_dataset(small_dataset, root / "csv", "csv")
    xlsx = (write_dataset(small_dataset, root / "xlsx", "xlsx") / "dataset.xlsx").read_bytes()
    gpkg = write_dataset(small_dataset, root / "gpkg", "gpkg") / "dataset.gpkg"
    return {"csv": _csv_files(csv_dir), "xlsx": xlsx, "gpkg": gpkg}


# Projected and engineering systems: a lon/lat layer labelled with one of them lands outside
# Vietnam or cannot be transformed at all.
CRSS = ["EPSG:3405", "EPSG:32648", "EPSG:3857", "EPSG:2154", "EPSG:27700",
        'ENGCRS["site",EDATUM["s"],CS[Cartesian,2],AXIS["x",east,LENGTHUNIT["m",1]],'
        'AXIS["y",north,LENGTHUNIT["m",1]]]']


@pytest.mark.parametrize("kind", ["csv", "bomb", "crs"])
def test_bad_uploads_are_refused_and_stored_nowhere(client, keys, settings, inventory, kind,
                                                    tmp_path):
    import geopandas as gpd
    import pyogrio

    admin = auth(keys["admin"])
    limit = settings.upload_max_unpacked_bytes

    def send(files: list[tuple[str, bytes]]) -> None:
        before = counts(client)
        r = client.post("/datasets", files=[("files", (n, b, "application/octet-stream"))
                                            for n, b in files], headers=admin)
        assert_refused(client, r, before)
        assert r.status_code in (413, 422)
        assert ".upload-" not in r.text and str(settings.data_dir) not in r.text
        assert not list((settings.data_dir / "datasets").glob("*"))

    if kind == "csv":
        strategy: Any = broken_csv(inventory["csv"])
    elif kind == "bomb":
        assert limit < 9 * 2**20  # every bomb drawn unpacks past the limit
        strategy = bombs(inventory["xlsx"])
    else:
        layer = gpd.read_file(inventory["gpkg"], layer="properties")

        @st.composite
        def relabelled(draw: st.DrawFn) -> list[tuple[str, bytes]]:
            crs = draw(st.sampled_from(CRSS))
            path = tmp_path / f"crs-{abs(hash(crs))}.gpkg"
            path.write_bytes(inventory["gpkg"].read_bytes())
            pyogrio.write_dataframe(layer.set_crs(crs, allow_override=True), path,
                                    layer="properties", driver="GPKG")
            return [("dataset.gpkg", path.read_bytes())]

        strategy = relabelled()

    @settings_for_uploads
    @given(files=strategy)
    def run(files: list[tuple[str, bytes]]) -> None:
        send(files)

    run()


settings_for_uploads = hypothesis_settings(max_examples=max(EXAMPLES // 3, 1), deadline=None,
                                           derandomize=True,
                                           suppress_health_check=list(HealthCheck))
