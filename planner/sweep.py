"""Sweeps as data: a base scenario, axes of overrides or numeric ranges, Monte Carlo draws.

A sweep file (YAML, validated like a scenario: unknown keys rejected, every problem named by
file and key path) expands to members. Each member is a validated scenario plus, with
``monte_carlo``, one draw of multiplicative factors on needs, costs and prices. Draw ``d`` is
the same for every point of the axes (common random numbers), so two points differ by their
settings and not by their noise.

    name: cao-bang-budgets
    base: ../scenarios/national-baseline.yaml   # relative to the sweep file
    overrides: [quick]                          # named overrides of the base, every member
    set: {data.provinces: ["04"]}               # dotted keys set for every member
    axes:
      - {key: budget.national_vnd, range: {start: 1000000000000, stop: 10000000000000, num: 4}}
      - {key: policy.service_radius_km.health, values: [10, 15, 25]}
      - {overrides: [[], [wide-radius]]}
    sampling: grid                              # or latin_hypercube with samples: N
    monte_carlo: {draws: 10, seed: 0, needs: {distribution: lognormal, sigma: 0.2}}
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator

from planner.i18n import _
from planner.pipeline import Inputs
from planner.plaindata import require_plain_text
from planner.scenario import (
    DATA_PATH_KEYS,
    Frozen,
    Scenario,
    ScenarioError,
    ScenarioKey,
    deep_merge,
    flatten_keys,
    format_validation_error,
    named_overrides,
    raw_with_extends,
    read_yaml,
    resolve_data_paths,
    scenario_from_dict,
)
from planner.schema import NEED_COLUMNS

MAX_MEMBERS = 10_000
DottedKey = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)+$")]


class Range(Frozen):
    """Evenly spaced values from ``start`` to ``stop`` (both included): ``num`` of them, or
    every ``step``. Written as whole numbers (``20000000000``, not ``2.0e10``), the values
    are whole too (budgets in VND are integers)."""

    start: int | float
    stop: int | float
    num: Annotated[int, Field(ge=2, le=MAX_MEMBERS)] | None = None
    step: Annotated[int | float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _one_spacing(self) -> Range:
        if (self.num is None) == (self.step is None):
            raise ValueError(_("give either num or step"))
        if self.stop < self.start:
            raise ValueError(_("stop must not be below start"))
        if self.step is not None and (self.stop - self.start) / self.step >= MAX_MEMBERS:
            raise ValueError(_("more than {n} values", n=MAX_MEMBERS))
        return self

    @property
    def integral(self) -> bool:
        return all(isinstance(v, int) for v in (self.start, self.stop, self.step or 0))

    def _typed(self, v: np.ndarray) -> list[Any]:
        return [int(round(x)) for x in v] if self.integral else [float(x) for x in v]

    def at(self, u: np.ndarray) -> list[Any]:
        """The values at fractions ``u`` of the way from start to stop."""
        return self._typed(self.start + (self.stop - self.start) * np.asarray(u, dtype=float))

    def values(self) -> list[Any]:
        if self.num is not None:
            return self.at(np.linspace(0.0, 1.0, self.num))
        assert self.step is not None
        n = int(np.floor((self.stop - self.start) / self.step + 1e-9)) + 1
        return self._typed(self.start + self.step * np.arange(n))


class Axis(Frozen):
    """One dimension of the sweep: a dotted key with ``values`` or a ``range``, or a list of
    named-override sets (each a list of names of the base's overrides)."""

    key: DottedKey | None = None
    values: tuple[Any, ...] | None = Field(None, min_length=1)
    range: Range | None = None
    overrides: tuple[tuple[str, ...], ...] | None = Field(None, min_length=1)

    @field_validator("overrides", mode="before")
    @classmethod
    def _sets(cls, v: Any) -> Any:
        if isinstance(v, Sequence) and not isinstance(v, str):
            return [[] if s is None else [s] if isinstance(s, str) else s for s in v]
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> Axis:
        kinds = sum(x is not None for x in (self.values, self.range, self.overrides))
        if kinds != 1:
            raise ValueError(_("an axis has exactly one of values, range or overrides"))
        if (self.overrides is None) != (self.key is not None):
            raise ValueError(_("values and range need a key; overrides take none"))
        return self

    @property
    def label(self) -> str:
        return self.key or "overrides"

    def choices(self) -> list[Any]:
        if self.range is not None:
            return self.range.values()
        return list(self.values if self.values is not None else self.overrides or ())

    def at(self, u: np.ndarray) -> list[Any]:
        """Values at fractions ``u`` in [0, 1): continuous on a range, else by stratum."""
        if self.range is not None:
            return self.range.at(u)
        options = self.choices()
        return [options[min(int(x * len(options)), len(options) - 1)] for x in u]


class Distribution(Frozen):
    """Multiplicative factors with mean about 1: ``uniform`` (low, high), ``normal`` (sd;
    factors below 0 become 0), ``lognormal`` (sigma; mean exactly 1), ``triangular`` (low,
    mode, high). ``per``: one factor per row of the table, or one for the whole member."""

    distribution: Literal["uniform", "normal", "lognormal", "triangular"]
    low: Annotated[float, Field(ge=0)] | None = None
    high: Annotated[float, Field(gt=0, le=100)] | None = None
    mode: Annotated[float, Field(ge=0)] | None = None
    sd: Annotated[float, Field(gt=0, le=10)] | None = None
    sigma: Annotated[float, Field(gt=0, le=5)] | None = None
    per: Literal["row", "member"] = "row"

    @model_validator(mode="after")
    def _parameters(self) -> Distribution:
        need = {"uniform": ("low", "high"), "normal": ("sd",), "lognormal": ("sigma",),
                "triangular": ("low", "mode", "high")}[self.distribution]
        given = {k for k in ("low", "high", "mode", "sd", "sigma") if getattr(self, k) is not None}
        if given != set(need):
            raise ValueError(_("{dist} takes {need}", dist=self.distribution,
                               need=", ".join(need)))
        lo, hi, mode = self.low, self.high, self.mode
        if lo is not None and hi is not None and not lo < hi:
            raise ValueError(_("low must be below high"))
        if mode is not None and lo is not None and hi is not None and not lo <= mode <= hi:
            raise ValueError(_("mode must lie between low and high"))
        return self

    def factors(self, rng: np.random.Generator, n: int) -> np.ndarray:
        size = 1 if self.per == "member" else n
        lo, hi, mode = float(self.low or 0), float(self.high or 0), float(self.mode or 0)
        if self.distribution == "uniform":
            f = rng.uniform(lo, hi, size)
        elif self.distribution == "normal":
            f = np.maximum(rng.normal(1.0, float(self.sd or 0), size), 0.0)
        elif self.distribution == "lognormal":
            s = float(self.sigma or 0)
            f = rng.lognormal(-0.5 * s * s, s, size)
        else:
            f = rng.triangular(lo, mode, hi, size)
        return np.broadcast_to(f, (n,)).astype(float)


class MonteCarlo(Frozen):
    """``draws`` draws of the factors, from ``seed``: ``needs`` multiply every unit's lacking
    floor area and service points, ``prices`` every property's market value, ``costs`` the
    scenario's renovation and construction rates (one factor per member)."""

    draws: Annotated[int, Field(ge=1, le=MAX_MEMBERS)]
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    needs: Distribution | None = None
    costs: Distribution | None = None
    prices: Distribution | None = None

    @model_validator(mode="after")
    def _something(self) -> MonteCarlo:
        if self.needs is None and self.costs is None and self.prices is None:
            raise ValueError(_("monte_carlo draws needs, costs or prices"))
        if self.costs is not None and self.costs.per != "member":
            raise ValueError(_("costs are the scenario's rates: use per: member"))
        return self


class SweepSpec(Frozen):
    """A sweep file. The JSON Schema of this model is its documentation."""

    name: Annotated[ScenarioKey, Field(max_length=200)]
    description: Annotated[str, Field(max_length=10_000),
                           AfterValidator(require_plain_text)] = ""
    base: str = Field(description="the base scenario file, relative to the sweep file")
    overrides: tuple[str, ...] = Field((), description="named overrides of the base applied "
                                       "to every member")
    set: Mapping[DottedKey, Any] = Field(default_factory=dict, description="dotted keys set "
                                         "for every member, e.g. data.provinces")
    axes: tuple[Axis, ...] = ()
    sampling: Literal["grid", "latin_hypercube"] = "grid"
    samples: Annotated[int, Field(ge=1, le=MAX_MEMBERS)] | None = None
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = Field(0, description="seed of the "
                                                             "Latin hypercube")
    monte_carlo: MonteCarlo | None = None
    threads_per_member: Annotated[int, Field(ge=1, le=64)] = Field(
        1, description="solver threads (and CPUs) each member takes")

    @model_validator(mode="after")
    def _sampling(self) -> SweepSpec:
        if (self.sampling == "latin_hypercube") != (self.samples is not None):
            raise ValueError(_("samples goes with sampling: latin_hypercube, and only there"))
        if self.sampling == "latin_hypercube" and not self.axes:
            raise ValueError(_("a Latin hypercube needs axes"))
        labels = [a.label for a in self.axes]
        if len(set(labels)) != len(labels):
            raise ValueError(_("two axes set the same key"))
        clash = set(labels) & set(self.set)
        if clash:
            raise ValueError(_("{keys} is both an axis and in set", keys=sorted(clash)))
        n = self.samples or int(np.prod([len(a.choices()) for a in self.axes]))
        if n * (self.monte_carlo.draws if self.monte_carlo else 1) > MAX_MEMBERS:
            raise ValueError(_("more than {n} members", n=MAX_MEMBERS))
        return self

    def points(self) -> list[dict[str, Any]]:
        """The axes' settings of every point: the grid, or the Latin hypercube's samples."""
        if not self.axes:
            return [{}]
        if self.sampling == "grid":
            return [dict(zip([a.label for a in self.axes], combo, strict=True))
                    for combo in itertools.product(*(a.choices() for a in self.axes))]
        n = int(self.samples or 0)
        rng = np.random.default_rng(self.seed)
        # One stratum of [0, 1) per sample on each axis, the strata shuffled per axis.
        cols = [a.at((rng.permutation(n) + rng.uniform(size=n)) / n) for a in self.axes]
        return [dict(zip([a.label for a in self.axes], row, strict=True))
                for row in zip(*cols, strict=True)]


@dataclass(frozen=True)
class Member:
    """One scenario of the sweep: its number, its axes' settings, its draw (or None)."""

    index: int
    params: Mapping[str, Any]
    draw: int | None
    scenario: Scenario

    @property
    def name(self) -> str:
        return f"m{self.index:04d}"


def _patch(dotted: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        *path, last = key.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def scaled_costs(base: Scenario, factor: float) -> dict[str, Any]:
    """The patch that multiplies the scenario's renovation and construction rates."""
    pol = base.policy
    return {"policy": {
        "renovation_vnd_per_m2": {u: {c: int(round(v * factor)) for c, v in by.items()}
                                  for u, by in pol.renovation_vnd_per_m2.items()},
        "renovation_fixed_vnd": {u: int(round(v * factor))
                                 for u, v in pol.renovation_fixed_vnd.items()},
        "land_uses": {u: {**lu.model_dump(), "construction_vnd_per_m2": int(round(
            lu.construction_vnd_per_m2 * factor))} for u, lu in pol.land_uses.items()}}}


def draw_rng(monte_carlo: MonteCarlo, draw: int, stream: int) -> np.random.Generator:
    """The generator of one quantity (0 needs, 1 costs, 2 prices) in one draw: separate
    streams, so drawing prices too leaves the needs' factors as they were."""
    return np.random.default_rng([monte_carlo.seed, draw, stream])


def load_sweep(path: str | Path) -> tuple[SweepSpec, list[Member]]:
    """Validate a sweep file and expand it; every member's scenario is validated, and all
    problems are reported at once (file, member and its settings, key path, rule)."""
    path = Path(path)
    raw = read_yaml(path)
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as err:
        raise ScenarioError(format_validation_error(err, str(path))) from None
    base_path = (path.parent / spec.base).resolve()
    # Data paths set by the sweep are relative to the sweep file, the base's to the base.
    given = {k: str((path.parent / v).resolve())
             if k.removeprefix("data.") in DATA_PATH_KEYS and isinstance(v, str)
             and v != "demo" and not Path(v).is_absolute() else v
             for k, v in spec.set.items()}
    return spec, expand(spec, raw_with_extends(base_path), str(path), given, base_path)


def expand(spec: SweepSpec, base_raw: Mapping[str, Any], source: str,
           given: Mapping[str, Any] | None = None, base_path: Path | None = None
           ) -> list[Member]:
    """The members of ``spec`` on the raw base scenario (a file's, or a stored one's), each
    problem prefixed by ``source`` (if any) and the member; ``given`` replaces ``spec.set``
    (its paths resolved); ``base_path`` resolves the base's relative data paths (None: there
    are none, as over the API)."""
    problems: list[str] = []
    members: list[Member] = []
    draws: list[int | None] = (list(range(spec.monte_carlo.draws)) if spec.monte_carlo
                               else [None])
    common = _patch(spec.set if given is None else given)
    for point in spec.points():
        names = [*spec.overrides, *point.get("overrides", ())]
        settings = _patch({k: v for k, v in point.items() if k != "overrides"})
        where = f"{_('member')} {len(members) + 1} ({_settings_text(point)})"
        where = f"{source}: {where}" if source else where
        try:
            scenario = _member_scenario(base_raw, names, common, settings, where, base_path)
        except ScenarioError as err:
            problems.append(str(err))
            members.append(Member(len(members) + 1, point, None, Scenario(name=spec.name)))
            continue
        for d in draws:
            sc = scenario
            if d is not None and spec.monte_carlo and spec.monte_carlo.costs is not None:
                f = float(spec.monte_carlo.costs.factors(draw_rng(spec.monte_carlo, d, 1), 1)[0])
                try:
                    sc = _member_scenario(base_raw, names, common,
                                          deep_merge(settings, scaled_costs(scenario, f)),
                                          where, base_path)
                except ScenarioError as err:
                    problems.append(str(err))
            sc = sc.model_copy(update={"solver": sc.solver.model_copy(
                update={"threads": spec.threads_per_member})})
            members.append(Member(len(members) + 1, point, d, sc))
    if problems:
        raise ScenarioError("\n".join(dict.fromkeys(problems)))
    return members


def _settings_text(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items()) or _("the base")


def _member_scenario(base_raw: Mapping[str, Any], overrides: Sequence[str],
                     common: Mapping[str, Any], settings: Mapping[str, Any], where: str,
                     base_path: Path | None) -> Scenario:
    patch = deep_merge(common, settings)
    named = named_overrides(base_raw, where)
    # As between two overrides: a key the sweep sets and an override sets too is an error.
    for name in overrides:
        for key in flatten_keys(named.get(name, {})):
            hit = next((k for k in flatten_keys(patch) if k == key or k.startswith(key + ".")
                        or key.startswith(k + ".")), None)
            if hit is not None:
                raise ScenarioError(where + ": " + _(
                    "the override {name!r} and the sweep both set {key}", name=name,
                    key=min(hit, key, key=len)))
    # The patch goes on the validated base, defaults included: setting one radius keeps the
    # others (on the raw file it would replace a mapping the file leaves to its default).
    base = scenario_from_dict(base_raw, overrides, source=where)
    scenario = scenario_from_dict(base.model_dump(mode="json"), (), source=where, patch=patch)
    return scenario if base_path is None else resolve_data_paths(scenario, base_path)


def apply_draw(inputs: Inputs, monte_carlo: MonteCarlo, draw: int) -> Inputs:
    """The inputs with one draw's needs and prices: every unit's lacking areas and points
    times its factor (one per unit), every property's market value times its own. Counts
    and money stay whole. The costs of the draw are already in the member's scenario."""
    tables = dict(inputs.dataset.tables)
    if monte_carlo.needs is not None:
        communes = tables["communes"].copy()
        f = monte_carlo.needs.factors(draw_rng(monte_carlo, draw, 0), len(communes))
        for col in NEED_COLUMNS.values():
            scaled = communes[col].astype(float) * f  # a missing need stays missing
            whole = pd.api.types.is_integer_dtype(communes[col].dtype)
            communes[col] = scaled.round().astype(communes[col].dtype) if whole else scaled
        tables["communes"] = communes
    if monte_carlo.prices is not None:
        props = tables["properties"].copy()
        f = monte_carlo.prices.factors(draw_rng(monte_carlo, draw, 2), len(props))
        value = props["market_value_vnd"]
        props["market_value_vnd"] = (value.astype(float) * f).round().astype(value.dtype)
        tables["properties"] = props
    return dataclasses.replace(inputs, dataset=dataclasses.replace(inputs.dataset,
                                                                   tables=tables))
