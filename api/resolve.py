"""From a body sent by a client to a validated planner scenario, plus the API's own rules:
``data.dataset`` names a stored dataset, no server file paths, known province codes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import geo
from api.errors import ApiError, Problem, invalid
from api.models import DatasetRow, ScenarioRow
from api.schemas import clean_text
from planner.scenario import Scenario, ScenarioError, deep_merge, scenario_from_dict

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
KEY_PATH = re.compile(r"^(\(top level\)|[\w-]+(\.[\w-]+)*)$")
MAX_NAME = 200  # the store's column width
SERVER_PATH_KEYS = ("population_overrides", "terrain_overrides", "od_table")


def parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """JSON or YAML (YAML is a superset of JSON, but the media type says which was meant)."""
    media = content_type.split(";")[0].strip().lower()
    if media not in ("application/json", *YAML_TYPES):
        raise ApiError(415, "unsupported_media_type", "send the scenario as application/json "
                       "or application/yaml")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid("invalid_scenario", "the scenario is not UTF-8 text") from None
    kind = "JSON" if media == "application/json" else "YAML"
    try:
        # yaml.safe_load reads JSON too; safe_load builds no Python objects beyond plain data.
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise invalid("invalid_scenario", f"not valid {kind}",
                      [Problem(file="body", rule=f"not valid {kind}: {err}")]) from None
    if not isinstance(data, dict):
        raise invalid("invalid_scenario", "a scenario must be a mapping",
                      [Problem(file="body", rule="a scenario must be a mapping (object) at "
                               "the top level")])
    try:  # before any lookup: no store keeps NUL or lone surrogates in text
        _check_text(data)
    except ValueError as err:
        raise invalid("invalid_scenario", str(err), [Problem(file="body", rule=str(err))]) \
            from None
    return data


def _check_text(value: Any) -> None:
    if isinstance(value, str):
        clean_text(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_text(k)
            _check_text(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _check_text(v)


def scenario_problems(err: ScenarioError) -> list[Problem]:
    """``source: key.path: rule`` lines as problems."""
    out = []
    for line in str(err).splitlines():
        source, sep, rest = line.partition(": ")
        if not sep:
            out.append(Problem(file="body", rule=line))
            continue
        column, sep, rule = rest.partition(": ")
        if sep and KEY_PATH.match(column):
            out.append(Problem(file=source, column=column, rule=rule))
        else:
            out.append(Problem(file=source, rule=rest))
    return out


def _bad(column: str, rule: str) -> ApiError:
    return invalid("invalid_scenario", f"{column}: {rule}",
                   [Problem(file="body", column=column, rule=rule)])


def flatten_extends(session: Session, spec: Mapping[str, Any]) -> dict[str, Any]:
    """Resolve ``extends: NAME`` against the stored scenarios, as the planner does for files:
    the parent's settings, then this spec on top; named overrides of both stay available."""
    spec = dict(spec)
    parent_name = spec.pop("extends", None)
    if parent_name is None:
        return spec
    name = str(parent_name)
    for suffix in (".yaml", ".yml", ".json"):
        name = name.removesuffix(suffix)
    parent = session.scalars(select(ScenarioRow).where(ScenarioRow.name == name)).first()
    if parent is None:
        raise _bad("extends", f"no stored scenario named {name!r}; create it first")
    base = {k: v for k, v in parent.spec.items() if k not in ("name", "description")}
    overrides = {**(base.pop("overrides", None) or {}), **(spec.pop("overrides", None) or {})}
    merged = deep_merge(base, spec)
    if overrides:
        merged["overrides"] = overrides
    return merged


def validate(session: Session, spec: Mapping[str, Any], overrides: Sequence[str],
             source: str = "body") -> tuple[Scenario, DatasetRow]:
    try:
        scenario = scenario_from_dict(spec, overrides, source=source)
    except ScenarioError as err:
        raise invalid("invalid_scenario", "the scenario breaks the schema",
                      scenario_problems(err)) from None
    if len(scenario.name) > MAX_NAME:
        raise _bad("name", f"at most {MAX_NAME} characters")
    d = scenario.data
    for key in SERVER_PATH_KEYS:
        if getattr(d, key) is not None:
            raise _bad(f"data.{key}", "server file paths are not accepted over the API; "
                       "leave it null")
    dataset = session.get(DatasetRow, d.dataset)
    if dataset is None:
        raise _bad("data.dataset", f"no dataset {d.dataset!r}; use 'demo' or the id of an "
                   "uploaded dataset (GET /datasets)")
    unknown = sorted(set(d.provinces) - geo.province_codes())
    if unknown:
        raise _bad("data.provinces", f"unknown province code(s) {unknown} (GET /provinces)")
    return scenario, dataset


def scope_of(scenario: Scenario) -> str | None:
    """The province a scoped key must have: the single planned province, else None."""
    provinces = scenario.data.provinces
    return provinces[0] if len(set(provinces)) == 1 else None
