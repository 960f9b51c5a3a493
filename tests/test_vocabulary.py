"""One vocabulary: the uses and key column names are defined once (``optimization.vocabulary``)
and every layer speaks them, so that no layer renames another's columns."""

from __future__ import annotations

import pandas as pd

from optimization import vocabulary
from optimization.disposition import DispositionModel
from optimization.seats import SeatsModel
from optimization.transfer import TransferModel
from planner import decisions, labels, schema
from planner.scenario import Policy

# The names the models spoke before the planner's became theirs.
RETIRED = {"commune", "holder", "building_id", "province", "alt_commune"}


def test_uses_are_defined_once_and_every_consumer_follows_their_order() -> None:
    assert schema.USES is vocabulary.USES and schema.SERVICE_USES is vocabulary.SERVICE_USES
    assert vocabulary.USES == vocabulary.SERVICE_USES + vocabulary.OTHER_USES
    assert vocabulary.USES[-1] == "hold"  # the disposition model indexes uses by this order
    assert list(labels.VALUES["use"]) == [*vocabulary.USES, decisions.KEEP]
    assert list(schema.NEED_COLUMNS) == list(vocabulary.SERVICE_USES)
    assert set(schema.REPORT_CATEGORY_OF_USE) == set(vocabulary.USES)
    dropdown = decisions.DECISIONS.column("use").choices
    assert dropdown[:len(vocabulary.USES)] == vocabulary.USES
    assert Policy().uses_allowed == vocabulary.USES


def _speaks_the_vocabulary(name: str, frame: pd.DataFrame, keys: set[str]) -> None:
    """``frame`` names its properties, units, provinces and holders by ``keys``: key columns
    of the vocabulary, or one with its role before it (alt_commune_code), never a retired
    name."""
    cols = set(frame.columns)
    assert not cols & RETIRED, f"{name} has retired column(s) {sorted(cols & RETIRED)}"
    assert not [c for c in cols if c.endswith(("_commune", "_province", "_holder", "_building"))]
    assert keys <= cols, f"{name} lacks {sorted(keys - cols)}"
    for key in keys:
        assert key in vocabulary.KEY_COLUMNS or key.split("_", 1)[1] in vocabulary.KEY_COLUMNS


def test_seats_frames_speak_the_vocabulary() -> None:
    buildings = pd.DataFrame({"property_id": ["M", "B1"], "commune_code": "A",
                              "is_main_seat": [True, False], "upkeep_cost_vnd": [5, 1]})
    areas = pd.DataFrame({"area_id": ["a1"], "commune_code": "A", "population": [10]})
    pairs = pd.DataFrame({"area_id": ["a1"], "property_id": ["B1"], "distance_km": [1.0]})
    m = SeatsModel.from_frames(buildings, areas, pairs, max_service_km=5,
                               penalty_vnd_per_person=1).run()
    for name, keys in (("kept", {"property_id", "commune_code"}),
                       ("surplus", {"property_id", "commune_code"}),
                       ("office", {"commune_code"}),
                       ("coverage", {"area_id", "commune_code", "property_id"})):
        _speaks_the_vocabulary(name, getattr(m, name), keys)
    assert set(m.kept["property_id"]) == {"M", "B1"}


def test_transfer_frames_speak_the_vocabulary() -> None:
    supplies = pd.DataFrame({"holder_code": ["h"], "category": "car", "surplus": [1],
                             "province_code": "P"})
    demands = pd.DataFrame({"commune_code": ["c"], "category": "car", "shortfall": [2],
                            "province_code": "P"})
    pairs = pd.DataFrame({"holder_code": ["h"], "commune_code": ["c"], "distance_km": [3.0]})
    fixed = pd.DataFrame({"holder_code": ["h"], "commune_code": ["c"], "category": "car",
                          "quantity": [1]})
    m = TransferModel.from_frames(supplies, demands, pairs, cost_per_km_vnd=1,
                                  unmet_penalty_vnd=100, same_province=True,
                                  fixed_flows=fixed).run()
    for name, keys in (("flows", {"holder_code", "commune_code", "category"}),
                       ("unmet", {"commune_code", "category"}),
                       ("remaining", {"holder_code", "category"})):
        _speaks_the_vocabulary(name, getattr(m, name), keys)
    assert m.flows[["holder_code", "commune_code", "quantity"]].values.tolist() == [
        ["h", "c", 1]]


def test_disposition_frames_speak_the_vocabulary() -> None:
    # P1 may be a clinic for c1 or sold; the budget holds it back, so its reason names the
    # need it could serve, and c1's unmet need names P1 as the deciding candidate.
    props = pd.DataFrame({"property_id": ["P1"], "province_code": "A", "commune_code": "c1"})
    options = pd.DataFrame({"property_id": "P1", "use": ["health", "sale"], "capacity": [10, 0],
                            "renovation_cost_vnd": [100, 0], "revenue_vnd": [0, 50]})
    needs = pd.DataFrame({"commune_code": ["c1"], "use": "health", "need": [8],
                          "province_code": "A"})
    pairs = pd.DataFrame({"property_id": ["P1"], "commune_code": ["c1"], "distance_km": [1.0]})
    m = DispositionModel.from_frames(props, needs, pairs, options=options, radius_km=10,
                                     unmet_penalty_vnd=1_000, budget_vnd=10).run(mip_gap=0.0)
    reasons, why = m.property_reasons(), m.need_reasons()
    for name, frame, keys in (
            ("assignment", m.assignment, {"property_id", "province_code", "commune_code", "use"}),
            ("service", m.service, {"property_id", "commune_code", "use"}),
            ("unmet", m.unmet, {"commune_code", "use"}),
            ("property_reasons", reasons, {"property_id", "alt_commune_code", "alt_use"}),
            ("need_reasons", why, {"commune_code", "use", "candidate_property_id",
                                   "candidate_use"})):
        _speaks_the_vocabulary(name, frame, keys)
    assert reasons[["reason_code", "alt_commune_code"]].values.tolist() == [["budget", "c1"]]
    assert why[["commune_code", "candidate_property_id"]].values.tolist() == [["c1", "P1"]]
