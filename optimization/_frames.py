"""Input checks shared by the models: frames to typed columns, NaN and negatives refused."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray


def checked_frame(df: pd.DataFrame, name: str, required: Mapping[str, str],
                  optional: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Columns (or index levels) by kind ``id``/``int``/``float``/``bool``; NaN is an error
    except in ``float?``."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, not {type(df).__name__}")
    optional = optional or {}
    wanted = {**required, **optional}
    if any(level in wanted for level in df.index.names if level is not None):
        df = df.reset_index()
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; has {list(df.columns)}")
    out: dict[str, Any] = {}
    for col, kind in wanted.items():
        if col not in df.columns:
            continue
        out[col] = checked_column(df[col], f"{name}.{col}", kind)
    return pd.DataFrame(out)


def checked_column(s: pd.Series, what: str, kind: str) -> NDArray[Any]:
    """``kind``: id, bool, int or float; ``float?`` is a float that may be missing (NaN)."""
    if kind == "float?":
        given = s[s.notna()]
        checked_column(given, what, "float")
        return s.to_numpy(dtype=float)
    n_na = int(s.isna().sum())
    if n_na:
        first = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise ValueError(f"{what} has {n_na} missing value(s) (NaN); first at row {first}")
    if kind == "id":
        return s.to_numpy()
    if kind == "bool":
        if len(s) and not pd.api.types.is_bool_dtype(s):
            raise ValueError(f"{what} must be boolean, got dtype {s.dtype}")
        return s.to_numpy(dtype=bool)
    if len(s) and not (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)):
        raise ValueError(f"{what} must be numeric, got dtype {s.dtype}")
    v = s.to_numpy(dtype=float)
    if not np.isfinite(v).all():
        raise ValueError(f"{what} has infinite values")
    if (v < 0).any():
        raise ValueError(f"{what} must be >= 0")
    if kind == "int":
        if not np.array_equal(v, np.round(v)):
            raise ValueError(f"{what} must hold whole numbers")
        return v.astype(np.int64)
    return v


def require_unique(df: pd.DataFrame, keys: list[str], name: str) -> None:
    dup = df.duplicated(keys)
    if dup.any():
        row = df[dup].iloc[0]
        raise ValueError(f"{name} has {int(dup.sum())} duplicate ({', '.join(keys)}) rows, "
                         f"e.g. {tuple(row[k] for k in keys)}")
