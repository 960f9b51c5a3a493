"""Uses decided beforehand (``fixed_use``, a planner's decision): the option each such
property must take, and the budgets they alone would break."""
from __future__ import annotations

import numpy as np
import pandas as pd

from optimization.disposition.common import USES
from optimization.disposition.state import DispositionState
from optimization.result import InfeasibleInputError


class _Fixed(DispositionState):
    """Fixed uses."""

    def define_fixed(self) -> None:
        fixed = self.properties["fixed_use"].to_numpy()
        fu = pd.Index(USES).get_indexer(np.where(fixed == "", "hold", fixed))
        is_fixed = fixed != ""
        key = pd.MultiIndex.from_arrays([self.opt_p, self.opt_u])
        want = pd.MultiIndex.from_arrays([np.arange(self.n_p), fu])
        pos = key.get_indexer(want)
        bad = is_fixed & (pos < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InfeasibleInputError(
                f"{int(bad.sum())} property(ies) have a fixed use they are not eligible for, "
                f"e.g. {self.properties['property_id'].iloc[i]!r} fixed to {fixed[i]!r}")
        self.fixed_opt = np.where(is_fixed, pos, -1).astype(np.int64)

    def check_inputs(self) -> None:
        """Raise :class:`InfeasibleInputError` when fixed uses alone break a budget."""
        fixed = self.fixed_opt >= 0
        spent = self.opt_reno[self.fixed_opt[fixed]]
        if self.budget_vnd is not None and spent.sum() > self.budget_vnd:
            raise InfeasibleInputError(
                f"fixed uses need renovation of {int(spent.sum()):,} VND, above the national "
                f"budget of {self.budget_vnd:,} VND")
        prov = self.properties["province_code"].to_numpy()[fixed]
        by_prov = pd.Series(spent).groupby(prov).sum()
        for k, b in self.province_budget_vnd.items():
            if by_prov.get(k, 0) > b:
                raise InfeasibleInputError(
                    f"province {k!r}: fixed uses need renovation of {int(by_prov[k]):,} VND, "
                    f"above its budget of {b:,} VND")
