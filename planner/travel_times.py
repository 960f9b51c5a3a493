"""The OD table a scenario needs, from an OpenStreetMap extract (``assetplan travel-times``).

Candidate pairs are found as the stages find them, by great circle, with no travel table:
seats (each usable building -> the former communes of its unit within ``max_service_km``,
and every former commune -> its unit's main seat), disposition (every property in scope -> the
units within the largest service radius) and transfer (each holder of surplus cars and
equipment -> the units short of them within ``transfer.max_km``, in the same province when
the scenario keeps transfers there). Service pairs over the sea are measured too (a ferry
route in the table lets them serve). Every property is paired,
not only the ones a run leaves surplus: a table built once serves every scenario on the same
radii. Each pair gets its shortest road (and ferry) distance and fastest time, the snap
distances of both ends included. A pair whose road distance exceeds its radius is still
written, so that the run drops it; a pair with no route gets no row and a reason.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import geodata
from geodata.road_search import pair_travel
from geodata.roads import RoadGraph, snap
from planner import prepare
from planner.pipeline import Inputs
from planner.travel import FORMER, MAX_DISTANCE_KM, UNIT, TravelTable

OFF_ROAD, NOT_CONNECTED, BEYOND = "off_road", "not_connected", "beyond_max_km"
LIMITS_KM = (5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0, 1280.0)
# (search label, done batches, total batches) after each batch of shortest-path searches.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TravelTimes:
    """``od``: the OD table (origin, destination, destination_type, distance_km, minutes);
    ``unreachable``: the candidate pairs that got no row, each with its reason; ``pairs``:
    every candidate pair with its stage, great-circle km and snap distances."""

    od: pd.DataFrame
    unreachable: pd.DataFrame
    pairs: pd.DataFrame


def candidate_pairs(inputs: Inputs) -> pd.DataFrame:
    """(stage, origin, destination, destination_type, great_circle_km, o_lon, o_lat, d_lon,
    d_lat) of every pair the scenario's stages may use, each pair once."""
    pol, units, empty = inputs.scenario.policy, inputs.units, TravelTable.empty()
    props = inputs.dataset.properties
    props = props[props["commune_code"].isin(units["commune_code"])].reset_index(drop=True)
    areas = prepare.predecessor_areas(units, inputs.legacy)
    frames = []
    cand = prepare.seat_candidates(inputs.dataset, units, pol)
    main = cand[cand["is_main_seat"]].drop_duplicates("commune_code").set_index("commune_code")
    has_main = areas["commune_code"].isin(main.index)
    seat = pd.DataFrame({"origin": main["property_id"].reindex(
        areas.loc[has_main, "commune_code"]).to_numpy(),
        "destination": areas.loc[has_main, "legacy_code"].to_numpy()})
    if pol.seats.max_service_km is not None:
        near = prepare.seat_pairs(areas, cand, pol.seats.max_service_km, empty)
        legacy_of = areas.set_index("area_id")["legacy_code"]
        seat = pd.concat([seat, pd.DataFrame({
            "origin": near["property_id"].to_numpy(),
            "destination": legacy_of.reindex(near["area_id"]).to_numpy()})])
    frames.append(seat.assign(stage="seats", destination_type=FORMER))
    # Measured, a route over the sea (a ferry) may serve: the table decides, not the policy.
    service = prepare.service_pairs(props, units, pol.model_copy(
        update={"service_across_sea": True}), empty)
    frames.append(pd.DataFrame({"stage": "disposition", "origin": service["property_id"],
                                "destination": service["commune_code"],
                                "destination_type": UNIT}))
    transfer = prepare.transfer_inputs(inputs.dataset, units, inputs.scenario, empty)[2]
    frames.append(pd.DataFrame({"stage": "transfer", "origin": transfer["holder_code"],
                                "destination": transfer["commune_code"],
                                "destination_type": UNIT}))
    pairs = pd.concat(frames, ignore_index=True).drop_duplicates(
        ["origin", "destination", "destination_type"])
    pairs = pairs.sort_values(["destination_type", "origin", "destination"],
                              kind="stable").reset_index(drop=True)
    origin_at = pd.concat([props.set_index("property_id")[["lon", "lat"]],
                           units.set_index("commune_code")[["lon", "lat"]]])
    former_at = inputs.legacy.set_index("legacy_code")[["lon", "lat"]]
    unit_at = units.set_index("commune_code")[["lon", "lat"]]
    o = origin_at.reindex(pairs["origin"]).to_numpy()
    is_unit = (pairs["destination_type"] == UNIT).to_numpy()
    d = np.where(is_unit[:, None], unit_at.reindex(pairs["destination"]).to_numpy(),
                 former_at.reindex(pairs["destination"]).to_numpy())
    pairs[["o_lon", "o_lat"]] = o
    pairs[["d_lon", "d_lat"]] = d
    pairs["great_circle_km"] = geodata.haversine_km(o[:, 0], o[:, 1], d[:, 0], d[:, 1])
    return pairs


def travel_times(inputs: Inputs, graph: RoadGraph, *, max_km: float | None = None,
                 max_snap_km: float = 5.0, progress: Progress | None = None,
                 workers: int = 1) -> TravelTimes:
    """Road distance and time of every candidate pair of ``inputs``.

    Pairs in different connected parts of the network are not searched. The others are
    searched on a ladder of distance limits (:data:`LIMITS_KM`): each pair first at the
    lowest limit above 1.25 times its great-circle distance plus its snaps, then, while
    unsettled, at the next, up to ``max_km`` or the longest distance an OD table holds. Every
    connected pair gets its exact row, and a short pair never pays for a long search. A pair
    farther than ``max_km`` by road gets no row (reason ``beyond_max_km``). ``workers``:
    processes searching side by side (:func:`geodata.road_search.pair_travel`).
    """
    pairs = candidate_pairs(inputs)
    points = pd.concat([pairs[["o_lon", "o_lat"]].set_axis(["lon", "lat"], axis=1),
                        pairs[["d_lon", "d_lat"]].set_axis(["lon", "lat"], axis=1)])
    uniq, inv = np.unique(points.to_numpy(), axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    node, snap_km, too_far = snap(graph, uniq[:, 0], uniq[:, 1], max_snap_km)
    node = np.where(too_far, -1, node)
    n = len(pairs)
    o_pt, d_pt = inv[:n], inv[n:]
    pairs["origin_snap_km"], pairs["destination_snap_km"] = snap_km[o_pt], snap_km[d_pt]
    off = too_far[o_pt] | too_far[d_pt]
    part = graph.parts
    apart = ~off & (part[node[o_pt]] != part[node[d_pt]])
    km, minutes = np.full(n, np.nan), np.full(n, np.nan)
    cap = MAX_DISTANCE_KM if max_km is None else float(max_km)
    ladder = np.unique(np.minimum(np.r_[LIMITS_KM, cap], cap))
    guess = 1.25 * pairs["great_circle_km"].to_numpy() + snap_km[o_pt] + snap_km[d_pt]
    first = np.minimum(np.searchsorted(ladder, guess), ladder.size - 1)
    open_ = ~off & ~apart
    for rung, limit in enumerate(ladder):
        todo = np.flatnonzero(open_ & (first <= rung) & np.isnan(km))
        if todo.size == 0:
            continue
        report = None if progress is None else _stage_progress(progress, f"km ≤ {limit:,.0f}")
        out = pair_travel(graph, node, node, snap_km, snap_km, o_pt[todo], d_pt[todo],
                          max_km=float(limit), progress=report, workers=workers)
        got = out["reachable"].to_numpy()
        km[todo[got]] = out["distance_km"].to_numpy()[got]
        minutes[todo[got]] = out["minutes"].to_numpy()[got]
    reason = np.full(n, "", dtype=object)
    reason[np.isnan(km)] = BEYOND if max_km is not None else NOT_CONNECTED
    reason[apart] = NOT_CONNECTED
    reason[off] = OFF_ROAD
    found = reason == ""
    od = pd.DataFrame({"origin": pairs["origin"].to_numpy()[found],
                       "destination": pairs["destination"].to_numpy()[found],
                       "destination_type": pairs["destination_type"].to_numpy()[found],
                       "distance_km": np.round(km[found], 3),
                       "minutes": np.round(minutes[found], 2)})
    cols = ["stage", "origin", "destination", "destination_type", "great_circle_km",
            "origin_snap_km", "destination_snap_km"]
    unreachable = pairs.loc[~found, cols].assign(reason=reason[~found]).reset_index(drop=True)
    return TravelTimes(od, unreachable, pairs.drop(columns=["o_lon", "o_lat", "d_lon",
                                                            "d_lat"]))


def _stage_progress(progress: Progress, label: str) -> Callable[[int, int], None]:
    return lambda done, total: progress(label, done, total)


def write_travel_times(result: TravelTimes, out: Path) -> Path | None:
    """Write the OD table (Parquet or CSV by ``out``'s suffix) and, when some pairs got no
    row, ``<out stem>.unreachable.csv`` beside it; return that file's path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    if out.suffix.lower() == ".parquet":
        result.od.to_parquet(tmp, index=False)
    else:
        result.od.to_csv(tmp, index=False)
    tmp.replace(out)
    side = out.with_name(out.stem + ".unreachable.csv")
    if result.unreachable.empty:
        side.unlink(missing_ok=True)
        return None
    result.unreachable.round(3).to_csv(side, index=False)
    return side
