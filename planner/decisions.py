"""The planner's own decisions: a table of rules the models honour and the plan marks.

One row per decision, read from a CSV file, an Excel workbook (its ``decisions`` sheet, or its
only sheet) or a Parquet file, validated like the inventory (file, sheet, row, column, rule;
every problem at once):

- a property (``property_id``): ``require`` or ``forbid`` a ``use`` (a disposition use, or
  ``keep``: kept by its unit as an annex or public-service point); a required service use may
  name the unit it serves (``commune_code``);
- a lot of cars or equipment (``holder_code``, ``category``): ``require`` sends ``quantity``
  items to the unit ``commune_code``; ``forbid`` keeps the holder's surplus of that category
  where it is;
- a unit (``commune_code`` alone, ``use`` empty or ``served_first``): ``require`` serves its
  needs first (see ``policy.priority.served_first``).

What needs the run's other inputs (eligibility, reach, budgets, the surplus after the seats)
is checked by the stages; their problems name the same rows.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from planner.i18n import _
from planner.inventory import Dataset, InventoryError, _check_columns, _coerce, canonical_headers
from planner.localformats import choice_label
from planner.readers import Problem, RawTable, ReadLimits, _read_csv, _read_parquet, _read_sheets
from planner.scenario import TRANSFER_CATEGORIES
from planner.schema import MAX_QUANTITY, SERVICE_USES, USES, Column, Table

KEEP = "keep"
SERVED_FIRST = "served_first"

DECISIONS = Table(
    "decisions",
    "The planner's own decisions, one per row: what the models must do or must not do.",
    (
        Column("property_id", "id", "a property of the inventory: a decision on its use",
               required=False),
        Column("holder_code", "code", "the unit holding cars or equipment: a decision on a "
               "lot (with category)", required=False),
        Column("category", "category", "car or equipment category of the lot",
               required=False, choices=TRANSFER_CATEGORIES),
        Column("quantity", "int", "items of the lot sent (rule require)", "items",
               required=False, min_value=1, max_value=MAX_QUANTITY),
        Column("commune_code", "code", "the unit a required use serves, the unit a lot is "
               "sent to, or, alone, a unit served first", required=False),
        Column("rule", "category", "require (do this) or forbid (never do this)",
               choices=("require", "forbid")),
        Column("use", "category", "for a property: a disposition use, or keep (kept by its "
               "unit as an annex or public-service point); for a unit: served_first",
               required=False, choices=(*USES, KEEP, SERVED_FIRST)),
        Column("note", "str", "why: shown with the decision in the plan", required=False),
    ),
)


class DecisionError(InventoryError):
    """The decisions break a rule; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems, _("the decisions"))


@dataclass(frozen=True)
class Decisions:
    """Validated decisions: ``properties`` (row, property_id, rule, use, commune_code, note),
    ``lots`` (row, holder_code, category, rule, quantity, commune_code, note) and ``units``
    (row, commune_code, note); ``row`` is the row of the source file; ``file`` its name."""

    properties: pd.DataFrame
    lots: pd.DataFrame
    units: pd.DataFrame
    file: str
    content_hash: str

    @classmethod
    def empty(cls) -> Decisions:
        return cls(pd.DataFrame(columns=["row", "property_id", "rule", "use", "commune_code",
                                         "note"]),
                   pd.DataFrame(columns=["row", "holder_code", "category", "rule", "quantity",
                                         "commune_code", "note"]),
                   pd.DataFrame(columns=["row", "commune_code", "note"]), "", "")

    def kept(self) -> pd.DataFrame:
        p = self.properties
        return p[(p["rule"] == "require") & (p["use"] == KEEP)]

    def released(self) -> set[str]:
        """Properties that must not be kept by the seats: forbidden keep or given a use."""
        p = self.properties
        out = p[((p["rule"] == "forbid") & (p["use"] == KEEP))
                | ((p["rule"] == "require") & (p["use"] != KEEP))]
        return set(out["property_id"])


def read_raw_decisions(path: str | Path, limits: ReadLimits | None = None) -> RawTable:
    path = Path(path)
    limits = limits or ReadLimits()
    problems: list[Problem] = []
    raw: RawTable | None = None
    suffix = path.suffix.lower()
    if not path.is_file():
        problems.append(Problem(str(path), None, None, _("no such file")))
    elif suffix in (".xlsx", ".xlsm"):
        sheets = _read_sheets(path, limits, problems)
        raw = sheets.get("decisions") or (next(iter(sheets.values())) if len(sheets) == 1
                                          else None)
        if raw is None and not problems:
            problems.append(Problem(path.name, None, None, _(
                "the workbook has no sheet named 'decisions' (sheets: {sheets})",
                sheets=", ".join(sheets))))
    elif suffix == ".parquet":
        raw = _read_parquet(path, limits, problems)
    else:
        raw = _read_csv(path, limits, problems)
    if problems or raw is None:
        raise DecisionError(problems or [Problem(path.name, None, None, _("cannot be read"))])
    return raw


def load_decisions(path: str | Path, dataset: Dataset,
                   limits: ReadLimits | None = None) -> Decisions:
    """Read and validate a decisions file against the dataset; raise :class:`DecisionError`
    with every problem."""
    raw = read_raw_decisions(path, limits)
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return validate_decisions(raw, dataset, limits, digest)


def decisions_from_frame(frame: pd.DataFrame, dataset: Dataset, name: str = "<decisions>",
                         limits: ReadLimits | None = None) -> Decisions:
    """Validate in-memory rows (the API's JSON) exactly as a file is validated."""
    from planner.readers import stringify

    raw = RawTable(stringify(frame.reset_index(drop=True)), name)
    text = raw.frame.to_csv(index=False)
    return validate_decisions(raw, dataset, limits, hashlib.sha256(text.encode()).hexdigest())


def validate_decisions(raw: RawTable, dataset: Dataset, limits: ReadLimits | None,
                       digest: str) -> Decisions:
    limits = limits or ReadLimits()
    problems: list[Problem] = []
    raw = replace(raw, frame=raw.frame.copy(), headers=dict(raw.headers))
    canonical_headers(raw, DECISIONS)
    frame = raw.frame
    for col in DECISIONS.column_names:  # every column but rule may be left out
        if col not in frame and col != "rule":
            frame[col] = ""
    if not _check_columns(raw, DECISIONS, problems):
        raise DecisionError(problems)
    typed = pd.DataFrame({c.name: _coerce(frame[c.name], c, raw, limits, problems)
                          for c in DECISIONS.columns})
    typed = typed.astype(object).where(typed.notna(), None)  # blanks as None
    typed.insert(0, "row", np.arange(len(typed)) + raw.row_offset)
    _check_rows(typed, dataset, raw, problems)
    if problems:
        raise DecisionError(problems)
    has = typed.notna()
    prop = typed[has["property_id"]]
    lot = typed[~has["property_id"] & has["holder_code"]]
    unit = typed[~has["property_id"] & ~has["holder_code"]]
    return Decisions(
        prop[["row", "property_id", "rule", "use", "commune_code", "note"]].reset_index(
            drop=True),
        lot[["row", "holder_code", "category", "rule", "quantity", "commune_code",
             "note"]].reset_index(drop=True),
        unit[["row", "commune_code", "note"]].reset_index(drop=True),
        raw.file, digest)


def _check_rows(d: pd.DataFrame, dataset: Dataset, raw: RawTable,
                problems: list[Problem]) -> None:
    """The rules between the columns of a row, against the dataset, and between rows."""
    def bad(row: int, column: str | None, rule: str) -> None:
        problems.append(raw.problem(int(row), column, rule))

    h = raw.header  # a column named in a rule as the file heads it
    def use(code: str) -> str:
        return choice_label("use", code)

    props = dataset.properties.set_index("property_id")
    codes = set(dataset.tables["communes"]["commune_code"])
    surplus = holdings_surplus(dataset)
    seen: dict[tuple, int] = {}
    for r in d.itertuples(index=False):
        key = (r.property_id, r.holder_code, r.category, r.commune_code, r.rule, r.use)
        if key in seen:
            bad(r.row, None, _("repeats row {row}", row=seen[key]))
            continue
        seen[key] = r.row
        if r.commune_code is not None and r.commune_code not in codes:
            bad(r.row, "commune_code", _("unknown unit {code!r}", code=r.commune_code))
        if r.property_id is not None:
            if r.holder_code is not None or r.category is not None or r.quantity is not None:
                bad(r.row, None, _("a property decision names no {holder}, {category} or "
                                   "{quantity}", holder=h("holder_code"),
                                   category=h("category"), quantity=h("quantity")))
            if r.property_id not in props.index:
                bad(r.row, "property_id", _("unknown property {id!r}", id=r.property_id))
                continue
            if r.use is None or r.use == SERVED_FIRST:
                bad(r.row, "use", _("a property decision needs a use (a disposition use or "
                                    "{keep})", keep=use(KEEP)))
                continue
            if r.commune_code is not None and not (r.rule == "require" and r.use in SERVICE_USES):
                bad(r.row, "commune_code", _("only a required service use names the unit "
                                             "it serves"))
            if r.rule == "forbid" and r.use == "hold":
                bad(r.row, "use", _("{hold!r} cannot be forbidden: it is what a property is "
                                    "left with when nothing else fits", hold=use("hold")))
            if bool(props.at[r.property_id, "in_use_as_seat"]):
                bad(r.row, "property_id", _("{id!r} is a unit's main seat, which is always "
                                            "kept", id=r.property_id))
        elif r.holder_code is not None:
            if r.category is None:
                bad(r.row, "category", _("a lot decision needs the category"))
            if r.use is not None:
                bad(r.row, "use", _("a lot decision has no use"))
            if r.rule == "require":
                if r.commune_code is None:
                    bad(r.row, "commune_code", _("a lot sent needs the unit it goes to"))
                if r.quantity is None:
                    bad(r.row, "quantity", _("a lot sent needs its quantity"))
                if r.commune_code == r.holder_code:
                    bad(r.row, "commune_code", _("a lot is sent to another unit than its "
                                                 "holder"))
            elif r.commune_code is not None or r.quantity is not None:
                bad(r.row, None, _("a forbidden transfer keeps the holder's whole surplus of "
                                   "the category: it names no {unit} or {quantity}",
                                   unit=h("commune_code"), quantity=h("quantity")))
            if r.category is not None and (r.holder_code, r.category) not in surplus:
                bad(r.row, "holder_code", _("unit {code!r} holds no surplus {category}",
                                            code=r.holder_code,
                                            category=choice_label("category", r.category)))
        else:
            if r.commune_code is None:
                bad(r.row, None, _("a row names a {property}, a {holder} or, alone, a {unit}",
                                   property=h("property_id"), holder=h("holder_code"),
                                   unit=h("commune_code")))
            elif r.use not in (None, SERVED_FIRST) or r.rule != "require":
                bad(r.row, "use", _("a unit decision is 'require served_first'"))
    _check_conflicts(d, surplus, bad)


def _check_conflicts(d: pd.DataFrame, surplus: dict[tuple[str, str], int],
                     bad: Callable[[int, str | None, str], None]) -> None:
    prop = d[d["property_id"].notna()]
    for pid, rows in prop.groupby("property_id", sort=False):
        req = rows[rows["rule"] == "require"]
        if len(set(req["use"])) > 1:
            bad(req["row"].iloc[1], "use", _(
                "{id!r} is required as {uses} (row {row}): a property is given one use",
                id=pid, uses=" + ".join(choice_label("use", u) for u in sorted(set(req["use"]))),
                row=int(req["row"].iloc[0])))
        both = set(req["use"]) & set(rows.loc[rows["rule"] == "forbid", "use"])
        for use in sorted(both):
            r = rows[(rows["use"] == use) & (rows["rule"] == "forbid")]["row"].iloc[0]
            bad(r, "use", _("{id!r}: {use} is both required (row {row}) and forbidden", id=pid,
                            use=choice_label("use", use),
                            row=int(req.loc[req["use"] == use, "row"].iloc[0])))
    lots = d[d["holder_code"].notna() & d["category"].notna()]
    for (holder, cat), rows in lots.groupby(["holder_code", "category"], sort=False):
        sent = rows.loc[rows["rule"] == "require", "quantity"].fillna(0).astype(int).sum()
        have = surplus.get((holder, cat), 0)
        if (rows["rule"] == "forbid").any() and (rows["rule"] == "require").any():
            bad(rows["row"].iloc[-1], None, _("unit {code!r}: {category} both kept and sent",
                                              code=holder, category=choice_label("category",
                                                                                 cat)))
        elif sent > have > 0:
            bad(rows["row"].iloc[-1], "quantity", _(
                "unit {code!r} is to send {sent} {category} but has {have} surplus", code=holder,
                sent=sent, category=choice_label("category", cat), have=have))


def holdings_surplus(dataset: Dataset) -> dict[tuple[str, str], int]:
    """(holder unit, category) -> surplus items (cars and equipment)."""
    from planner import holdings

    tr = holdings.transferable(dataset).groupby(["holder_code", "category"])["quantity"].sum()
    return {(str(h), str(c)): int(q) for (h, c), q in tr.items()}
