"""Reachable register states of a small mac, for proofs under a reachable-state invariant.

Register correspondence (``mutate.prove_same_as_original``) allows every register value, so a
mutant that differs from the original only on accumulator states no input sequence reaches (say an
e4m3 subnormal in a mac whose products are all multiples of 0.25) fails it although it is
equivalent. :func:`reachable_states` enumerates the states a mac can reach; a proof then only
needs the mutant to agree with the original on those (see ``mutate._invariant_proof``).

The set comes from the golden model (golden/mac.py's contract), but the proof does not trust it:
the set is asserted about the original's registers and k-induction checks that it holds from the
initial state and is closed under the original's RTL transitions. A wrong set makes that proof
fail; it can never make it pass wrongly.

A state is the value of the mac's ``acc_state`` output (rtl/mac.py ``mac_state_layout``): for a
rounded accumulator without sr, ``acc | flags << acc.nbits``, the accumulator's bit pattern and
the sticky OR of the update flags since the last clear. That is all the registers such a mac has
at latency 0 (a deeper latency adds the product-path cut registers; sr adds ``last_rand``).
"""

from __future__ import annotations

import numpy as np

from ..golden import ops
from ..golden.rounding import Flags

__all__ = ["MAX_STATE_BITS", "MAX_INPUT_BITS", "Unsupported", "state_bits", "reachable_states",
           "membership_verilog"]

#: largest mac state (acc_state bits) whose reachable set is enumerated
MAX_STATE_BITS = 16
#: largest operand space (a bits + b bits) a breadth-first step sweeps
MAX_INPUT_BITS = 16


class Unsupported(ValueError):
    """The unit is not a mac whose reachable states :func:`reachable_states` can enumerate."""


def state_bits(unit) -> int:
    """Bits of the mac's ``acc_state`` (its registers) when the reachable set can be enumerated.

    Raises
    ------
    Unsupported
        Not a mac, an exact (kulisch/quire) accumulator, sr rounding, latency > 0, more than
        :data:`MAX_STATE_BITS` state bits or more than :data:`MAX_INPUT_BITS` operand bits.
    """
    if unit.kind != "mac":
        raise Unsupported(f"{unit.name} is a {unit.kind}, not a mac")
    if unit.accumulator.exact:
        raise Unsupported(f"{unit.name} has an exact accumulator ({unit.acc}): only rounded "
                          "accumulation is enumerated")
    if unit.ctx.sr:
        raise Unsupported(f"{unit.name} rounds stochastically: its state includes last_rand")
    if unit.latency:
        raise Unsupported(f"{unit.name} has latency {unit.latency}: the product-path registers "
                          "are state too")
    bits = unit.fmt("acc").nbits + Flags.WIDTH
    if bits > MAX_STATE_BITS:
        raise Unsupported(f"{unit.name} has {bits} state bits (more than {MAX_STATE_BITS})")
    inputs = unit.fmt("a").nbits + unit.fmt("b").nbits
    if inputs > MAX_INPUT_BITS:
        raise Unsupported(f"{unit.name} has {inputs} operand bits (more than {MAX_INPUT_BITS})")
    return bits


def reachable_states(unit) -> frozenset[int]:
    """The ``acc_state`` values a latency-0 rounded-accumulator mac reaches from its initial state.

    Breadth-first search over the golden model's transitions, every (a, b) pair at once for the
    whole frontier (``golden.ops.fma`` with the accumulator as addend and as result format, which
    is golden/mac.py's update ``acc <- round_acc(acc + a*b)`` with one rounding):

    * initial state and ``rst``: acc +0 (code 0), flags 0, i.e. state 0;
    * ``in_valid`` low: the state stays;
    * ``in_valid`` and ``clear``: acc <- round(a*b + 0), flags <- that update's flags;
    * ``in_valid`` without ``clear``: acc <- round(a*b + acc), flags |= that update's flags.

    Raises
    ------
    Unsupported
        See :func:`state_bits`.
    """
    state_bits(unit)
    fa, fb, facc = unit.fmt("a"), unit.fmt("b"), unit.fmt("acc")
    shift = facc.nbits
    acc_mask = (1 << shift) - 1
    a, b = (x.ravel().astype(np.int64) for x in np.meshgrid(
        np.arange(1 << fa.nbits), np.arange(1 << fb.nbits), indexing="ij"))

    def update(acc_codes):
        """(new acc, update flags), shape (len(acc_codes), pairs)."""
        return ops.fma(fa, fb, facc, facc, unit.ctx, a[None, :], b[None, :],
                       np.asarray(acc_codes, dtype=np.int64)[:, None])

    # a clear forgets the state: its successors are the same from every state
    acc, flags = update([0])
    cleared = (acc.astype(np.int64) | flags.astype(np.int64) << shift).ravel()
    seen = {0} | set(cleared.tolist())
    frontier = np.array(sorted(seen), dtype=np.int64)
    while frontier.size:
        acc, flags = update(frontier & acc_mask)
        sticky = flags.astype(np.int64) | (frontier >> shift)[:, None]
        nxt = acc.astype(np.int64) | sticky << shift
        new = set(np.unique(nxt).tolist()) - seen
        seen |= new
        frontier = np.array(sorted(new), dtype=np.int64)
    return frozenset(seen)


def membership_verilog(states, width: int, signal: str, result: str) -> list[str]:
    """Verilog lines declaring ``wire result`` and setting it to whether the ``width``-bit
    ``signal`` is one of ``states``: one comparison per state into a vector, then its OR.

    Not a ``case``: Yosys' ``proc`` turns a large ``case`` of constants into a ROM (a ``$mem``
    cell), whose contents k-induction leaves free (still sound, but the induction then fails). Not
    one long ``|`` expression either: its depth exhausts the WASM Yosys' call stack."""
    codes = sorted(states)
    hits = f"{result}_hits"
    lines = [f"  wire [{len(codes) - 1}:0] {hits};"]
    for i in range(0, len(codes), 4):
        lines.append("  " + " ".join(f"assign {hits}[{j}] = {signal} == {width}'h{c:x};"
                                     for j, c in enumerate(codes[i:i + 4], start=i)))
    lines += [f"  wire {result} = |{hits};"]
    return lines
