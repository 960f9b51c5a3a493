"""Plain data (what JSON can hold) from JSON or YAML text, with limits checked before anything
is built, for scenario files and scenario bodies sent to the API.

- JSON is parsed strictly: no NaN or Infinity literals, no duplicate keys, nesting bounded
  before the parser recurses (a deep body would exhaust the interpreter's stack).
- YAML is read with the safe loader, and only JSON's types: an explicit tag other than str,
  int, float, bool, null, seq or map (``!!binary``, ``!!set``, ``!!timestamp``, ...) is refused
  and dates stay text; nesting, aliases and the size of the data once aliases are expanded
  (a few hundred bytes of nested aliases can stand for gigabytes) are bounded while the
  events stream past, before any object is built; duplicate keys are refused.
- In both: keys are text, numbers finite, text free of control characters (tab and line
  breaks excepted) and lone surrogates, which no store keeps.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml

MAX_DEPTH = 32  # a scenario is about 5 deep, 7 with overrides
MAX_ALIASES = 100
MAX_NODES = 200_000  # values once aliases are expanded
MAX_PROBLEMS = 50
MAX_INT = 2**63 - 1  # what every store and solver keeps
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null",
                                                   "seq", "map", "merge")}
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class DataProblem:
    path: str | None  # key path, e.g. policy.service_radius_km.health
    rule: str

    def __str__(self) -> str:
        return f"{self.path}: {self.rule}" if self.path else self.rule


class PlainDataError(ValueError):
    """The text is not plain data within the limits; ``problems`` says where and why."""

    def __init__(self, problems: list[DataProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _fail(rule: str, path: str | None = None) -> PlainDataError:
    return PlainDataError([DataProblem(path, rule)])


def text_problem(value: str) -> str | None:
    """Why a text cannot be kept (a control character or a lone surrogate), or None."""
    hit = CONTROL.search(value)
    if hit is not None:
        return (f"control character U+{ord(hit.group()):04X} at position {hit.start()} is "
                "not allowed in text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        return f"not valid Unicode (a lone surrogate at position {err.start})"
    return None


def require_plain_text(value: str) -> str:
    """A field validator: ``value`` unchanged, or ValueError with the rule it breaks."""
    rule = text_problem(value)
    if rule is not None:
        raise ValueError(rule)
    return value


# ------------------------------------------------------------------------------------- JSON


def _json_depth(raw: bytes) -> int:
    """Deepest nesting of arrays and objects, strings left out, in a few vector passes."""
    bare = np.frombuffer(_JSON_STRING.sub(b'""', raw), dtype=np.uint8)
    step = (np.isin(bare, (ord("["), ord("{"))).astype(np.int64)
            - np.isin(bare, (ord("]"), ord("}"))))
    return int(np.cumsum(step).max()) if len(step) else 0


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def load_json(raw: bytes | str) -> Any:
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    depth = _json_depth(data)
    if depth > MAX_DEPTH:
        raise _fail(f"nested {depth} levels deep; at most {MAX_DEPTH} are allowed")
    try:
        value = json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise _fail("not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise _fail(f"not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})") \
            from None
    except ValueError as err:  # from the hooks
        raise _fail(f"not valid JSON: {err}") from None
    check_plain(value)
    return value


# ------------------------------------------------------------------------------------- YAML


class _Loader(_BaseLoader):
    """The safe loader with JSON's types only: dates stay text, duplicate keys are errors."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, list | dict) or key in seen:
                shown = key if not isinstance(key, list | dict) else type(key).__name__
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate or unusable key {shown!r}", key_node.start_mark)
            seen[key] = None
        return super().construct_mapping(node, deep=deep)


def _line(event: Any) -> str:
    mark = getattr(event, "start_mark", None)
    return f" (line {mark.line + 1})" if mark is not None else ""


def _scan_events(text: str) -> None:
    """Depth, aliases and explicit tags, checked on the event stream (no object built)."""
    depth = aliases = 0
    for event in yaml.parse(text, Loader=_Loader):
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in _PLAIN_TAGS and tag != "!":
            raise _fail(f"the YAML tag {tag.replace('tag:yaml.org,2002:', '!!')} is not "
                        f"allowed{_line(event)}: only text, numbers, true/false, null, lists "
                        "and mappings")
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _fail(f"nested more than {MAX_DEPTH} levels deep{_line(event)}")
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise _fail(f"more than {MAX_ALIASES} aliases (*name){_line(event)}")


def _expanded_size(node: Any) -> int:
    """Values the node stands for once every alias is expanded (shared nodes counted once
    per use, each computed once: the graph of a YAML document has no cycles here)."""
    memo: dict[int, int] = {}

    def size(n: Any) -> int:
        key = id(n)
        if key not in memo:
            memo[key] = -1  # a node that contains itself
            if isinstance(n, yaml.MappingNode):
                total = 1 + sum(size(k) + size(v) for k, v in n.value)
            elif isinstance(n, yaml.SequenceNode):
                total = 1 + sum(size(v) for v in n.value)
            else:
                total = 1
            memo[key] = total
        if memo[key] < 0:
            raise _fail("a YAML alias refers to the value that contains it")
        return memo[key]

    return size(node)


def load_yaml(raw: bytes | str) -> Any:
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _fail("not UTF-8 text") from None
    else:
        text = raw
    try:
        _scan_events(text)
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            n = _expanded_size(node)
            if n > MAX_NODES:
                raise _fail(f"stands for {n:,} values once its aliases are expanded; at most "
                            f"{MAX_NODES:,} are allowed")
            value = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        raise _fail(f"not valid YAML: {err}") from None
    check_plain(value)
    return value


# ------------------------------------------------------------------------------------ checks


def _walk(value: Any, path: str) -> Iterator[DataProblem]:
    if isinstance(value, str):
        rule = text_problem(value)
        if rule is not None:
            yield DataProblem(path or None, rule)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if abs(value) > MAX_INT:
            yield DataProblem(path or None, f"a whole number of {len(str(abs(value)))} digits "
                              f"is out of range (at most {MAX_INT:,} in size)")
    elif isinstance(value, float):
        if not math.isfinite(value):
            yield DataProblem(path or None, f"{value} is not a finite number")
        elif abs(value) > MAX_INT:
            yield DataProblem(path or None, f"{value:g} is out of range (at most {MAX_INT:,} "
                              "in size)")
    elif isinstance(value, dict):
        for k, v in value.items():
            where = f"{path}.{k}" if path else str(k)
            if not isinstance(k, str):
                yield DataProblem(where, f"the key {k!r} must be text (quote it: '{k}')")
                continue
            rule = text_problem(k)
            if rule is not None:
                yield DataProblem(path or None, f"a key: {rule}")
                continue
            yield from _walk(v, where)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}.{i}" if path else str(i))
    else:
        yield DataProblem(path or None, f"a {type(value).__name__} is not plain data")


def check_plain(value: Any) -> None:
    """Raise PlainDataError naming every value (up to MAX_PROBLEMS) JSON or a store cannot
    keep."""
    problems: list[DataProblem] = []
    for p in _walk(value, ""):
        problems.append(p)
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise PlainDataError(problems)
