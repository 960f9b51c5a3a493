"""From a body sent by a client to a validated planner scenario, plus the API's own rules:
``data.dataset`` names a stored dataset, no server file paths, known province codes."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import geo
from api.errors import ApiError, Problem, invalid
from api.models import DatasetRow, ScenarioRow
from api.security import Principal
from planner.i18n import _
from planner.plaindata import PlainDataError, load_json, load_yaml
from planner.scenario import (
    Scenario,
    ScenarioError,
    extend,
    named_overrides,
    scenario_from_dict,
)

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
KEY_PATH = re.compile(r"^(\(top level\)|[\w-]+(\.[\w-]+)*)$")
MAX_NAME = 200  # the store's column width
MAX_OVERRIDES = 100
MAX_SPEC_BYTES = 64 << 10  # a stored scenario as JSON, aliases expanded (a real one: ~3 KB)
SERVER_PATH_KEYS = ("population_overrides", "terrain_overrides", "od_table", "decisions")


def parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """Strict JSON for application/json, YAML (safe loader, JSON's types only) for the YAML
    media types; depth, aliases and expanded size bounded before anything is built."""
    media = content_type.split(";")[0].strip().lower()
    if media not in ("application/json", *YAML_TYPES):
        raise ApiError(415, "unsupported_media_type", _(
            "send the scenario as application/json or application/yaml"))
    kind = "JSON" if media == "application/json" else "YAML"
    try:
        data = load_json(raw) if kind == "JSON" else load_yaml(raw)
    except PlainDataError as err:
        raise invalid("invalid_scenario", _("the body is not a scenario in plain {kind}",
                                            kind=kind),
                      [Problem(file="body", column=p.path, rule=p.rule)
                       for p in err.problems]) from None
    if not isinstance(data, dict):
        raise invalid("invalid_scenario", _("a scenario must be a mapping"),
                      [Problem(file="body", rule=_("a scenario must be a mapping (object) at "
                                                   "the top level"))])
    return data


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


def flatten_extends(session: Session, spec: Mapping[str, Any],
                    principal: Principal) -> dict[str, Any]:
    """Resolve ``extends: NAME`` against the stored scenarios the key may see, as the planner
    does for files. A name the key may not see answers as an unknown one does."""
    spec = dict(spec)
    parent_name = spec.pop("extends", None)
    if parent_name is not None and not isinstance(parent_name, str):
        raise _bad("extends", "must be the name of a stored scenario")
    try:
        named = named_overrides(spec, "body")
        if len(named) > MAX_OVERRIDES:
            raise _bad("overrides", f"{len(named)} named overrides; at most {MAX_OVERRIDES}")
        if parent_name is None:
            return spec
        name = parent_name
        for suffix in (".yaml", ".yml", ".json"):
            name = name.removesuffix(suffix)
        parent = session.scalars(select(ScenarioRow).where(ScenarioRow.name == name)).first()
        if parent is None or not principal.sees(parent.province_code):
            raise _bad("extends", f"no stored scenario named {name!r}; create it first")
        return extend(parent.spec, spec, "body")
    except ScenarioError as err:
        raise invalid("invalid_scenario", _("the scenario breaks the schema"),
                      scenario_problems(err)) from None


def validate(session: Session, spec: Mapping[str, Any], overrides: Sequence[str],
             source: str = "body") -> tuple[Scenario, DatasetRow]:
    try:
        scenario = scenario_from_dict(spec, overrides, source=source)
    except ScenarioError as err:
        raise invalid("invalid_scenario", _("the scenario breaks the schema"),
                      scenario_problems(err)) from None
    if len(scenario.name) > MAX_NAME:
        raise _bad("name", _("at most {n} characters", n=MAX_NAME))
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


def validate_spec(session: Session, spec: Mapping[str, Any],
                  overrides: Sequence[str]) -> tuple[Scenario, DatasetRow]:
    """Everything a stored scenario must pass before it is stored: the schema with the
    overrides applied, each named override applied on its own (so a later run cannot fail on
    one), and the size of what would be stored."""
    size = len(json.dumps(spec, ensure_ascii=False).encode())
    if size > MAX_SPEC_BYTES:
        raise _bad("(top level)", f"the scenario is {size:,} bytes as JSON (aliases "
                   f"expanded); at most {MAX_SPEC_BYTES:,}")
    scenario, dataset = validate(session, spec, overrides)
    problems: list[Problem] = []
    for name in sorted(named_overrides(spec, "body")):
        if name in overrides:
            continue
        try:
            validate(session, spec, [name], source=f"override {name}")
        except ApiError as err:
            problems += err.problems
    if problems:
        raise invalid("invalid_scenario", _("named override(s) break the schema"), problems)
    return scenario, dataset


def scope_of(scenario: Scenario) -> str | None:
    """The province a scoped key must have: the single planned province, else None."""
    provinces = scenario.data.provinces
    return provinces[0] if len(set(provinces)) == 1 else None
