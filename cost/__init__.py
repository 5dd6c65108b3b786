"""Cost model: area, timing, energy and numerical quality of a unit, with the tool versions behind
every number (docs/cost.md).

:func:`evaluate` is the entry point (:mod:`mpmac.cost.model`); the flows are in
:mod:`mpmac.cost.flows`, the analytic widths in :mod:`mpmac.cost.analytic` and the floor references
in :mod:`mpmac.cost.floor`.
"""

from .flows import FAST_FLOWS, FLOWS, available_flows
from .model import evaluate

__all__ = ["evaluate", "FLOWS", "FAST_FLOWS", "available_flows"]
