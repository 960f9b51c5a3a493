"""Classic location models on sparse candidate pairs: p-median, MCLP, LSCP (capacitated too),
LSCP-B (backup coverage) and p-center.

Each model is one class with ``from_cost_matrix`` (spopt's parameter names) and ``from_pairs``
(numpy arrays of candidate pairs) constructors, ``build()``, ``solve()``, ``run()`` and
``check_solution()``; results are ``info`` (``optimization.result.SolveInfo``),
``selected_sites`` and the ``assignment`` frame.
"""

from optimization.location.coverage import MCLP
from optimization.location.lscp import LSCP
from optimization.location.lscpb import LSCPB
from optimization.location.pcenter import PCenter
from optimization.location.pmedian import PMedian

__all__ = ["LSCP", "LSCPB", "MCLP", "PCenter", "PMedian"]
