"""The generic cocotb testbench: drives any unit's Verilog from a vector file and checks its outputs.

Not imported by mpmac itself: :func:`mpmac.sim.runner.cocotb_run` copies it into the run directory as
``mpmac_tb_unit`` and the simulator's embedded Python loads it from there (``COCOTB_TEST_MODULES``),
so it imports nothing of mpmac (whose golden model would load numba at every simulation start). It
finds its input and output through environment variables set by :func:`mpmac.sim.verify`:

``MPMAC_TB_VECTORS``
    an ``.npz`` file written by :meth:`mpmac.sim.plan.Plan.write_npz`: ``meta`` (JSON: input port names,
    ``clocked``, ``delay``), one ``in_<port>`` column per input port, ``rst`` (clocked units),
    ``exp_y``, ``exp_flags`` and ``check`` (steps whose outputs are compared), one entry per step.
``MPMAC_TB_RESULT``
    where to write the JSON result: ``checked``, ``mismatches``, ``first`` (the first few mismatches:
    step, expected and observed y/flags, raw bit strings when an output holds X/Z), ``steps``,
    ``seconds``; the outputs of every observation (``steps + delay`` of them, observation ``k`` shows
    step ``k - delay``) go to ``<result>.npz`` (``got_y``, ``got_flags``, ``got_valid``) for the
    latency diagnosis of :mod:`mpmac.sim`.

Protocol
    combinational (no clk): per step, set the inputs, wait 1 ns, read ``y`` and ``flags``.
    clocked (pipelined units and mac): a 10 ns clock; ``rst`` high for two rising edges, then per
    step the inputs (and ``rst``) are set at a falling edge, sampled at the next rising edge ``k``,
    and the outputs read at the falling edge after it are compared with step ``k - delay``
    (``delay = latency - 1`` for pipelined units, ``latency`` for mac, whose ``y[t]`` is readable
    right after the edge of step ``t``).

Per-step Python work is kept to plain-int writes and reads; the outputs are compared as ints.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, Timer

#: mismatches recorded in detail (the count covers all of them)
MAX_RECORDED = 10


#: MPMAC_TB_PUBLIC_API=1 uses cocotb's public handle API for every read and write (slower; kept
#: to measure what the direct GPI calls below save, see docs/simulation.md)
_PUBLIC = os.environ.get("MPMAC_TB_PUBLIC_API") == "1"


def _reader(handle):
    """A function returning the handle's value as an int, or its bit string when it holds X/Z."""
    get = getattr(getattr(handle, "_handle", None), "get_signal_val_binstr", None)
    if _PUBLIC or get is None:
        def read():
            v = handle.value
            return v.to_unsigned() if v.is_resolvable else str(v)
        return read

    def read():
        s = get()
        try:
            return int(s, 2)
        except ValueError:
            return s
    return read


def _writer(handle):
    """A function depositing an int on the handle at once.

    Inputs are set half a clock period before they are sampled (clocked units) or a nanosecond
    before the outputs are read (combinational units), so the deposit needs none of the public
    setter's scheduling (cocotb queues writes until the next ReadWrite phase on Icarus) nor its type
    dispatch: the direct GPI call is cocotb's own write under COCOTB_TRUST_INERTIAL_WRITES. (A
    no-delay write, cocotb's ``Immediate``, does not stick on Icarus' scalar input nets.)
    """
    from cocotb.handle import _GPISetAction
    raw = getattr(handle, "_handle", None)
    width = len(handle)
    set_int = getattr(raw, "set_signal_val_int", None)
    set_str = getattr(raw, "set_signal_val_binstr", None)
    if _PUBLIC or set_int is None or set_str is None:
        def write(v):
            handle.value = v
        return write
    action = _GPISetAction.DEPOSIT.value
    if width <= 32:
        return lambda v: set_int(action, v)
    return lambda v: set_str(action, format(v, f"0{width}b"))


@cocotb.test()
async def run_vectors(dut):
    plan = np.load(os.environ["MPMAC_TB_VECTORS"])
    result_path = os.environ["MPMAC_TB_RESULT"]
    meta = json.loads(str(plan["meta"]))
    inputs = meta["inputs"]
    cols = [plan["in_" + p].tolist() for p in inputs]
    writers = [_writer(getattr(dut, p)) for p in inputs]
    exp_y = plan["exp_y"].tolist()
    exp_f = plan["exp_flags"].tolist()
    check = plan["check"].tolist()
    read_y, read_f = _reader(dut.y), _reader(dut.flags)
    steps = len(exp_y)
    delay = meta["delay"] if meta["clocked"] else 0
    observed = steps + delay
    got_y = [0] * observed
    got_f = [0] * observed
    got_ok = [True] * observed
    state = {"checked": 0, "mismatches": 0}
    first = []

    def observe(k):
        """Read the outputs of observation k (the result of step k - delay) and compare them."""
        gy, gf = read_y(), read_f()
        ok = type(gy) is int and type(gf) is int
        if ok:
            got_y[k], got_f[k] = gy, gf
        else:
            got_ok[k] = False
        s = k - delay
        if s < 0 or not check[s]:
            return
        state["checked"] += 1
        if not ok or gy != exp_y[s] or gf != exp_f[s]:
            state["mismatches"] += 1
            if len(first) < MAX_RECORDED:
                first.append({"step": s, "expected": [exp_y[s], exp_f[s]], "got": [gy, gf]})

    def drive(s):
        for w, col in zip(writers, cols):
            w(col[s])

    t0 = time.perf_counter()
    if not meta["clocked"]:
        wait = Timer(1, "ns")
        for s in range(steps):
            drive(s)
            await wait
            observe(s)
    else:
        rst_col = plan["rst"].tolist()
        write_rst = _writer(dut.rst)
        write_rst(1)
        for w in writers:
            w(0)
        Clock(dut.clk, 10, unit="ns").start(start_high=False)
        edge = FallingEdge(dut.clk)
        await edge
        await edge  # two rising edges with rst high
        if steps:
            write_rst(rst_col[0])
            drive(0)
        for k in range(observed):
            await edge  # rising edge k sampled step k; the outputs show step k - delay
            observe(k)
            if k + 1 < steps:
                write_rst(rst_col[k + 1])
                drive(k + 1)
            elif k + 1 == steps:  # idle inputs while the pipeline drains
                write_rst(0)
                for w in writers:
                    w(0)
    seconds = time.perf_counter() - t0
    np.savez(result_path + ".npz", got_y=np.asarray(got_y, dtype=np.uint64),
             got_flags=np.asarray(got_f, dtype=np.uint8), got_valid=np.asarray(got_ok))
    with open(result_path, "w") as f:
        json.dump({**state, "first": first, "steps": steps, "seconds": seconds}, f)
