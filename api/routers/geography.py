"""The national geography: 3,321 communes and 34 provinces (real data, shipped)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Response

from api import geo
from api.deps import Offset
from api.errors import not_found, responses
from api.results import records_json
from api.schemas import NO_NUL, CommunePublic, Page, ProvincePublic
from api.security import Principal, Viewer, check_scope
from planner.localformats import search_key

# One router per resource; they share the helpers below.
communes_router = APIRouter(prefix="/communes", tags=["communes"],
                            responses=responses(401, 403, 422))
provinces_router = APIRouter(prefix="/provinces", tags=["provinces"],
                             responses=responses(401, 403, 422))
_GEOJSON: dict[int | str, dict[str, Any]] = {200: {"content": {"application/geo+json": {"schema": {
    "$ref": "#/components/schemas/GeoJSONFeatureCollection"}}}}}


class GeoFormat(StrEnum):
    json = "json"
    geojson = "geojson"


def _features(df: pd.DataFrame, extra: dict[str, Any]) -> Response:
    props = json.loads(records_json(df))
    features = [{"type": "Feature",
                 "geometry": {"type": "Point", "coordinates": [p["lon"], p["lat"]]},
                 "properties": p} for p in props]
    return Response(json.dumps({"type": "FeatureCollection", **extra, "features": features},
                               ensure_ascii=False), media_type="application/geo+json")


def _scoped(principal: Principal, province: str | None) -> str | None:
    """A scoped key sees its own province only."""
    if principal.province_code is None:
        return province
    if province is not None:
        check_scope(principal, province, f"province {province}")
    return principal.province_code


@communes_router.get("", response_model=Page[CommunePublic], operation_id="list_communes",
            summary="Commune-level units after 1 July 2025, with filters", responses=_GEOJSON)
def list_communes(
    viewer: Viewer,
    province: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
    unit_type: Annotated[str | None, Query(pattern="^(Xã|Phường|Đặc khu)$")] = None,  # data
    terrain: Annotated[str | None, Query(pattern="^(lowland|midland|mountain|island)$")] = None,
    q: Annotated[str | None, Query(max_length=100, pattern=NO_NUL,
                                   description="part of the name, with or without "
                                   "diacritics")] = None,
    format: Annotated[GeoFormat, Query()] = GeoFormat.json,
    limit: Annotated[int, Query(ge=1, le=5000)] = 100,
    offset: Offset = 0,
) -> Response:
    df = geo.communes()
    province = _scoped(viewer, province)
    mask = pd.Series(True, index=df.index)
    if province is not None:
        mask &= df["province_code"] == province
    if unit_type is not None:
        mask &= df["unit_type"] == unit_type
    if terrain is not None:
        mask &= df["terrain"] == terrain
    if q:
        # With or without diacritics, in either Unicode form (what a keyboard sends varies).
        keys = df["name"].map(search_key)
        mask &= keys.str.contains(search_key(q), regex=False)
    hits = df[mask.to_numpy()]
    page = hits.iloc[offset:offset + limit]
    meta = {"total": len(hits), "limit": limit, "offset": offset}
    if format == GeoFormat.geojson:
        return _features(page, meta)
    head = json.dumps(meta)[:-1]
    return Response(f'{head},"items":{records_json(page)}}}', media_type="application/json")


@communes_router.get("/{code}", response_model=CommunePublic, operation_id="get_commune",
            responses=responses(404), summary="One commune-level unit by its 5-digit code")
def get_commune(code: str, viewer: Viewer) -> Response:
    return _one(geo.communes(), "code", code, "commune", viewer)


def _one(df: pd.DataFrame, key: str, code: str, kind: str, viewer: Viewer) -> Response:
    """The row whose ``key`` is ``code`` as a JSON object; 404 when absent, 403 out of scope."""
    hit = df[df[key] == code]
    if hit.empty:
        raise not_found(kind, code)
    check_scope(viewer, str(hit["province_code"].iloc[0]), f"{kind} {code}")
    return Response(records_json(hit)[1:-1], media_type="application/json")


@provinces_router.get("", response_model=list[ProvincePublic], operation_id="list_provinces",
            summary="The 34 provinces (a scoped key: its own)", responses=_GEOJSON)
def list_provinces(viewer: Viewer,
                   format: Annotated[GeoFormat, Query()] = GeoFormat.json) -> Response:
    df = geo.provinces()
    if viewer.province_code is not None:
        df = df[df["province_code"] == viewer.province_code]
    if format == GeoFormat.geojson:
        return _features(df, {})
    return Response(records_json(df), media_type="application/json")


@provinces_router.get("/{code}", response_model=ProvincePublic, operation_id="get_province",
            responses=responses(404), summary="One province by its 2-digit code")
def get_province(code: str, viewer: Viewer) -> Response:
    return _one(geo.provinces(), "province_code", code, "province", viewer)
