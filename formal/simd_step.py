"""The ``simd_step`` obligation: a simd engine equals the reference engine of each mode.

One proof per mode ``k`` of the spec. The miter ties the engine's ``mode`` input to the constant
``k`` (the per-mode assumption, as a constant so that the other modes' logic folds away) and
compares the engine with :class:`~mpmac.formal.simd_reference.SimdReference` of mode ``k``: from
reset on, for every sequence of ``a``, ``b``, ``in_valid``, ``clear`` and ``rst``, the
accumulator state (``acc_state``), ``y`` and ``flags`` are equal.

The unit's own engine (reduce="dot") is proven in its one-step form (:func:`step_form`): every
flip-flop becomes an input (before the edge) and an output (after it), both sides read one free
state, and a combinational miter asserts equal ``y``/``flags``, equal next state and next state
+0 under ``rst``: the induction step of ``mac_step`` from every state. An exact
(Kulisch) accumulator's step is decided by native ABC; a rounded accumulator's step is an fma of
the lane sum and ``acc`` (the engine aligns and normalizes, the reference adds exactly and rounds
once), where ABC's sweeping finds nothing to hold on to and CaDiCaL on the miter's CNF does
(formal/sat.py; the fp32 engine's 4xe2m1 step: ABC UNKNOWN, CaDiCaL 120 s), whole in the modes
of narrow lanes and in cases of the accumulator's exponent in the wide-lane ones. A rounded
accumulator also gets that step with ``clear`` tied high (label ``mode k: <lanes>, clear``): the
lane sum rounded once into ``acc``, far cheaper, and still a proof of the first step of every dot
product where the whole step does not finish (the 1xposit16_1 mode of the fp32 engine). An
external DUT, and reduce="lanes" (whose registered
``y``/``flags`` are the whole state), get the sequential miter (smtbmc induction, as mac_step).

The multiplier, per mode (``product="auto"``): lanes of at most :data:`FULL_LANE_BITS` bits keep
the partitioned multiplier inside the engine and a multiplier per lane inside the reference (one
complete proof). Wider lanes: both sides with ``product="port"`` and one shared block product (the
miter multiplies each lane field of the engine's ``mul_x`` and ``mul_y`` once, feeds the blocks to
both sides and asserts that the reference asks for the same operands and that the engine selects
the mode's multiplier rows), plus a second proof, ``multiplier``: the engine's
:class:`~mpmac.rtl.simd.PartitionedMultiplier` with that mode selected equals
:class:`~mpmac.formal.simd_reference.LaneProducts` (a ``*`` per lane) for every operand word. The
two compose into the complete statement: the engine's own product is the shared block product.
(A full proof of the 2xposit8_0 mode did not finish in 900 s; a cut product, ``mul_p`` free, is
refuted there, because the datapath may rely on ``mul_p`` being a product.) ``product="cut"``
remains available and says what it proves.
"""

from __future__ import annotations

from dataclasses import replace

from . import miter as M
from .proofs import MAC_BMC_DEPTH, Case, Proof, _data_ports, _own
from .simd_reference import LaneProducts, port_fields, port_width, simd_reference_verilog

__all__ = ["simd_steps", "mode_product", "multiplier_proof", "FULL_LANE_BITS",
           "MULTIPLIER_PROOF_BITS"]

#: lanes of at most this many bits get the multiplier inside the step proof (4xe2m1 and
#: 4xposit4_1: 35 s and 65 s); wider lanes a shared block product and a multiplier proof
FULL_LANE_BITS = 4

#: the multiplier proof is planned for lane significands of at most this many bits (the two 6x6
#: blocks of 2xposit8_0: 2 s); a 13x13 one (1xposit16_1) did not finish in 900 s unsplit, nor
#: in 25 min of cases (docs/formal.md), so wider lanes state the product as shared, which
#: issue 8 allows for the 16-bit lane; multiplier_proof() runs it on request
MULTIPLIER_PROOF_BITS = 8


def mode_product(lanes, product: str) -> str:
    """How the mode ``lanes`` treats the multiplier: ``full``, ``shared`` or ``cut``."""
    if product == "auto":
        return "full" if lanes.fmt.nbits <= FULL_LANE_BITS else "shared"
    return product


def _scope(unit, k: int, who: str, multiplier: str, state: bool, latency: int) -> str:
    lanes = unit.lanes[k]
    later = f", fed the same inputs {latency} cycles later" if latency else ""
    compared = "the accumulator state, y and flags" if state else "y and flags"
    text = (f"mode {k} ({lanes.name}) fixed: from reset on, for every input sequence (a, b, "
            f"in_valid, clear, rst) with mode = {k}, {compared} of {who} equal those of the "
            f"reference engine of that mode{later} (induction)")
    if multiplier == "full":
        return "complete: " + text
    p = lanes.fmt.precision
    if multiplier == "shared":
        text = (f"{text}; the {lanes.count} {p}x{p} lane product(s) are shared: the miter "
                f"multiplies each lane field of the engine's mul_x and mul_y once and feeds the "
                f"block product to both sides, the reference's lane significands are proven equal "
                f"to the engine's multiplier operands and the engine's mul_select to mode {k}'s "
                f"rows")
        if _multiplier_planned(lanes):
            return (f"{text}; the engine's partitioned multiplier is proven equal to that block "
                    f"product by the proof labelled '{_multiplier_label(k, lanes)}' (both PASS: "
                    f"complete)")
        return (f"{text}; the engine's partitioned multiplier itself is not compared in this mode "
                f"(simd_step.multiplier_proof proves it on request)")
    return (f"{text}; the {p}x{p} lane products are cut: mul_p is a free input read by both "
            f"sides, the lane significands are proven equal to the engine's multiplier operands, "
            f"and the datapath after the multiplier is proven equal for every value of mul_p; "
            f"the partitioned multiplier itself is not compared in this mode")


def _reference(unit, k: int, knob: str, state: bool):
    spec = replace(unit, latency=0) if unit.latency else unit
    name = f"{spec.name}_ref_m{k}"
    text = simd_reference_verilog(spec, k, name=name, product=knob, expose_state=state)
    return text, M.Side(name, dict(M.read_modules(text)[name].ports))


def simd_steps(unit, dut, product: str = "auto") -> list[Proof]:
    """The ``simd_step`` proofs of ``unit``, one per mode (see the module docstring).

    ``dut``: ``(text, side, has acc_state)`` of an external DUT (proofs._external), or None for the
    unit's own Verilog. An external DUT is proven with the full multiplier; one without
    ``acc_state`` (reduce="dot") only by BMC over :data:`~mpmac.formal.proofs.MAC_BMC_DEPTH`
    cycles.
    """
    data = _data_ports(unit)
    dot = unit.reduce == "dot"
    compare = ("y", "flags", "acc_state") if dot else ("y", "flags")
    own, steps = {}, {}  # per multiplier knob: the engine's Verilog, its one-step form
    proofs = []
    for k, lanes in enumerate(unit.lanes):
        multiplier = mode_product(lanes, "full" if dut is not None and product == "auto"
                                  else product)
        if multiplier != "full" and dut is not None:
            raise ValueError(f"product={multiplier!r} needs the unit's own Verilog (an external DUT "
                             f"has no multiplier ports); use product='full'")
        knob = "internal" if multiplier == "full" else "port"
        if dut is None:
            if knob not in own:
                own[knob] = _own(unit, 0, product=knob, expose_state=dot)
            dut_text, side = own[knob]
            state, latency, top = dot, 0, ""
        else:
            dut_text, side, state = dut
            state = state or not dot
            latency, top = unit.latency, side.module
        ref_text, ref = _reference(unit, k, knob, dot and state)
        ref = replace(ref, delay=latency)
        files = {"dut.v": dut_text, "ref.v": ref_text}
        label = f"mode {k}: {lanes.name}"
        shared = multiplier == "shared"
        common = dict(product=None if multiplier == "full" else multiplier, reset="first",
                      spec=replace(unit, latency=latency) if unit.latency != latency else unit,
                      dut_text=dut_text, dut_top=top, fixed={"mode": k}, label=label,
                      blocks=port_fields(lanes) if shared else None,
                      invariant=(f"dut_mul_select == {len(unit.lanes)}'d{1 << k}"
                                 if shared else None))
        if state:
            sequential = Proof("simd_step", side, ref, files, data, compare, mode="prove",
                               depth=latency + 2,
                               scope=_scope(unit, k, side.module, multiplier, dot, latency),
                               **common)
            if dut is None and dot:
                step = _step(unit, sequential, steps)
                proofs.append(step)
                if not unit.accumulator.exact:
                    proofs.append(_from_clear(step))
            else:
                proofs.append(sequential)
        else:
            scope = (f"bounded: mode {k} ({lanes.name}) fixed, for every input sequence of "
                     f"{MAC_BMC_DEPTH} cycles from reset, y and flags of {side.module} equal "
                     f"those of the reference engine of that mode (BMC depth {MAC_BMC_DEPTH}; "
                     f"the DUT has no acc_state output, so nothing beyond is proven)")
            proofs.append(Proof("simd_step", side, ref, files, data, ("y", "flags"), mode="bmc",
                                depth=MAC_BMC_DEPTH + latency, scope=scope, **common))
        if shared and _multiplier_planned(lanes):
            proofs.append(multiplier_proof(unit, k))
    return proofs


def _multiplier_planned(lanes) -> bool:
    """Whether a shared-product mode gets its multiplier proof planned (MULTIPLIER_PROOF_BITS)."""
    return lanes.fmt.precision <= MULTIPLIER_PROOF_BITS


def _multiplier_label(k: int, lanes) -> str:
    return f"mode {k}: {lanes.name}, multiplier"


def multiplier_proof(unit, k: int) -> Proof:
    """The multiplier proof of mode ``k``: the engine's partitioned multiplier with mode ``k``'s
    rows selected equals the block product of that mode's lanes, for every operand word."""
    from ..rtl.emit import to_verilog
    from ..rtl.simd import PartitionedMultiplier, lane_fields, multiplier_width
    lanes, n = unit.lanes[k], len(unit.lanes)
    width = multiplier_width(unit)
    if width != port_width(unit) or lane_fields(unit)[k] != port_fields(lanes):
        raise ValueError(f"{unit.name}: the engine's multiplier layout differs from the port "
                         f"contract in mode {k}")
    names = f"{unit.name}_pm", f"{unit.name}_lp_m{k}"
    texts = (to_verilog(PartitionedMultiplier(width, lane_fields(unit)), names[0]),
             to_verilog(LaneProducts(unit, k), names[1]))
    ports = {"x": ("in", width), "y": ("in", width), "select": ("in", n), "p": ("out", 2 * width)}
    sides = [M.Side(name, dict(ports)) for name in names]
    p = lanes.fmt.precision
    scope = (f"complete: with mode {k}'s rows selected (select = {n}'d{1 << k}), for every "
             f"{width}-bit x and y, the product p of the partitioned multiplier equals the block "
             f"product of the {lanes.count} {p}x{p} lane fields (a multiplier per lane)")
    cases = (None,)
    if p > MULTIPLIER_PROOF_BITS:  # fix y's top bits: the rows left free are a narrow multiplier
        fixed_rows = width - ROWS_PER_CASE
        cases = tuple(Case(M.input_name("y"), width - 1, ROWS_PER_CASE, v)
                      for v in range(1 << fixed_rows))
        scope += f" ({len(cases)} cases of y's top {fixed_rows} bits)"
    return Proof("simd_step", sides[0], sides[1], {"dut.v": texts[0], "ref.v": texts[1]},
                 {"x": width, "y": width, "select": n}, ("p",), fixed={"select": 1 << k},
                 scope=scope, spec=unit, label=_multiplier_label(k, lanes), replayable=False,
                 cases=cases)


#: rows of the array a case of a wide multiplier proof leaves free (each case: a 5-row multiplier
#: against the product with y's other bits constant; 2.6-10 s in ABC for the first cases of the
#: 13x13 array, more than 15 s for most others)
ROWS_PER_CASE = 5


def _step(unit, sequential: Proof, steps: dict) -> Proof:
    """The one-step proof of ``sequential``'s mode: both sides in their one-step form (:func:`step_form`),
    one combinational miter from a free ``state``: ABC for an exact accumulator, CaDiCaL for a
    rounded one (module docstring), in cases of the accumulator's top exponent bits where the
    mode shares a block product (its lane sum spans many binades). On a FAIL, ``sequential`` run as a bounded check from reset gives a trace
    that replays in simulation (:func:`~mpmac.formal.proofs.run_proof`)."""
    from .proofs import _top_bits
    key = sequential.dut.module, sequential.product
    if key not in steps:
        steps[key] = step_form(sequential.files["dut.v"], sequential.dut.module,
                               f"{sequential.dut.module}_step")
    dut_text, dut = steps[key]
    ref_text, ref = step_form(sequential.files["ref.v"], sequential.ref.module,
                              f"{sequential.ref.module}_step")
    width = dut.ports[STATE][1]
    data = {**sequential.data, STATE: width, STEP_RST: 1}
    acc = unit.accumulator
    solver = "abc" if acc.exact else "cadical"
    # a wide-lane mode's products span many binades, and its whole step did not finish (2xposit8_0:
    # UNKNOWN after 1000 s); cases of the accumulator's exponent did (the hardest 215 s)
    cases = (_top_bits(M.input_name(STATE), acc.fmt.nbits - 1)
             if sequential.product == "shared" and not acc.exact else (None,))
    scope = sequential.scope.replace(
        "from reset on, for every input sequence (a, b, in_valid, clear, rst)",
        "from every accumulator state, for every input (a, b, in_valid, clear, rst)").replace(
        "(induction)", "after one clock edge, and rst clears it to +0 without flags (one "
        "combinational step of the flip-flop inputs, from any equal state; with both sides "
        "reset to +0 this is the induction of mac_step)")
    trace = replace(sequential, mode="bmc", depth=TRACE_DEPTH)
    return replace(sequential, dut=dut, ref=ref, files={"dut.v": dut_text, "ref.v": ref_text},
                   data=data, compare=("y", "flags", NEXT), reset="none", mode="bmc", depth=1,
                   scope=scope, cases=cases, solver=solver,
                   invariant=" && ".join(f"({c})" for c in (
                       f"!{M.input_name(STEP_RST)} || ref_{NEXT} == 0", sequential.invariant) if c),
                   trace=trace)


#: cycles from reset of the bounded check that turns a failed step into a replayable trace
TRACE_DEPTH = 4


def _from_clear(step: Proof) -> Proof:
    """``step`` with ``clear`` tied high: the first step of every dot product, where a rounded
    accumulator takes the exact lane sum rounded once (``acc + lane sum`` is not formed). Decode,
    multiplier, lane sum, rounding into ``acc``, readout and flags are proven by it; ``step``
    itself adds the step with ``clear`` low, an fma of the lane sum and the accumulator, which
    takes far longer (the 1xposit16_1 mode of the fp32 engine: UNKNOWN; docs/formal.md)."""
    scope = step.scope.removeprefix("complete: ").replace(
        "for every input (a, b, in_valid, clear, rst)",
        "for every input (a, b, in_valid, rst) with clear high (the lane sum rounded into acc)")
    fixed = {**step.fixed, "clear": 1}
    return replace(step, fixed=fixed, cases=(None,), label=f"{step.label}, clear",
                   scope="clear high only: " + scope,
                   trace=replace(step.trace, fixed={**step.trace.fixed, "clear": 1}))


# --- the one-step (combinational) form of a side ---------------------------------------------------
#: the step form's ports beside the unit's data inputs: the state before the edge, rst during it,
#: and the state after it
STATE, NEXT, STEP_RST = "state", "next", "step_rst"


def step_form(text: str, top: str, name: str) -> tuple[str, M.Side]:
    """A side's one-step form: module ``name`` whose state is an input.

    Yosys turns every flip-flop of ``top`` (flattened; enables and resets unmapped into logic)
    into an input (its output before the edge) and an output (its input, the value after the
    edge). The state must be exactly the ``acc_state`` output: each flip-flop bit is bound to the
    ``acc_state`` bit it drives, and a flip-flop that drives no ``acc_state`` bit but feeds
    logic is hidden state, which raises ValueError (the step would not be a proof then).
    Ports: the data inputs, ``step_rst`` (the unit's rst), ``state`` and ``next`` (``acc_state``
    before and after the edge), ``y`` and ``flags`` (read from ``state``).
    """
    core = f"{name}_core"
    script = (f"read_verilog -sv in.v; prep -top {top}; flatten; dffunmap; opt_clean; "
              f"expose -evert-dff -dff -sep __; opt_clean; rename {top} {core}; "
              f"write_verilog -noattr out.v; write_json out.json")
    verilog, data = _yosys(text, script)
    module = data["modules"][core]
    ports = module["ports"]
    state = ports["acc_state"]["bits"]
    q_ports = {p: v["bits"] for p, v in ports.items() if p.endswith("__q")}
    where = {net: (p, j) for p, bits in q_ports.items() for j, net in enumerate(bits)
             if not isinstance(net, str)}
    bound, source = {}, []  # flip-flop bit -> first state bit; state bit -> flip-flop bit
    for i, net in enumerate(state):
        if isinstance(net, str) or net not in where:
            raise ValueError(f"{top}: acc_state bit {i} is not driven by a flip-flop")
        bound.setdefault(where[net], i)
        source.append(where[net])
    used = {n for c in module["cells"].values() for bits in c["connections"].values()
            for n in bits}
    used |= {n for p, v in ports.items() if v["direction"] == "output" for n in v["bits"]}
    hidden = [f"{p}[{j}]" for p, bits in q_ports.items() for j, n in enumerate(bits)
              if (p, j) not in bound and n in used and n not in state]
    if hidden:
        raise ValueError(f"{top}: flip-flops outside acc_state ({', '.join(hidden[:4])}): the "
                         f"one-step form needs the whole state in acc_state")
    text = verilog + _step_wrapper(name, core, ports, q_ports, bound, source)
    side_ports = {p: ("in" if v["direction"] == "input" else "out", len(v["bits"]))
                  for p, v in ports.items()
                  if "__" not in p and p not in ("clk", "rst", "acc_state")}
    side_ports.update({STATE: ("in", len(state)), NEXT: ("out", len(state)),
                       STEP_RST: ("in", 1)})
    return text, M.Side(name, side_ports)


def _yosys(text: str, script: str) -> tuple[str, dict]:
    """Run Yosys' ``script`` on ``text`` (file in.v); returns (out.v, out.json)."""
    import json
    import subprocess
    import tempfile
    from pathlib import Path
    from .sby import tool_paths
    with tempfile.TemporaryDirectory(prefix="mpmac-step-") as d:
        (Path(d) / "in.v").write_text(text)
        proc = subprocess.run([tool_paths()["--yosys"], "-q", "-l", "step.log", "-p", script],
                              cwd=d, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode:
            log = (Path(d) / "step.log").read_text(errors="replace").splitlines()
            raise ValueError("Yosys cannot build the one-step form: "
                             + "\n".join([ln for ln in log if "ERROR" in ln] or log[-5:]))
        return (Path(d) / "out.v").read_text(), json.loads((Path(d) / "out.json").read_text())


def _step_wrapper(name, core, ports, q_ports, bound, source) -> str:
    width = len(source)
    data = {p: v for p, v in ports.items() if "__" not in p and p not in ("clk", "rst")}
    decl = [f"  input [{len(v['bits']) - 1}:0] \\{p} ;" if v["direction"] == "input" else
            f"  output [{len(v['bits']) - 1}:0] \\{p} ;" for p, v in data.items()
            if p != "acc_state"]
    names = [M._esc(p) for p in data if p != "acc_state"]
    lines = [f"module {M._esc(name)}({', '.join(names)}, {STATE}, {NEXT}, {STEP_RST});", *decl,
             f"  input [{width - 1}:0] {STATE};", f"  output [{width - 1}:0] {NEXT};",
             f"  input {STEP_RST};"]
    conns = [f".\\{p} (\\{p} )" for p in data if p != "acc_state"]
    conns += [".clk(1'b0)", f".rst({STEP_RST})"]
    d_wire = {}
    for p, bits in q_ports.items():
        src = [f"{STATE}[{bound[(p, j)]}]" if (p, j) in bound else "1'b0"
               for j in range(len(bits))]
        conns.append(f".\\{p} ({{{', '.join(reversed(src))}}})")
        d = p[:-3] + "__d"
        if any((p, j) in bound for j in range(len(bits))):
            wire = f"d_{len(conns)}"
            lines.append(f"  wire [{len(bits) - 1}:0] {wire};")
            conns.append(f".\\{d} ({wire})")
            d_wire[p] = wire
    nxt = [f"{d_wire[p]}[{j}]" for p, j in source]
    lines.append(f"  \\{core} u_core ({', '.join(conns)});")
    lines.append(f"  assign {NEXT} = {{{', '.join(reversed(nxt))}}};")
    return "\n" + "\n".join(lines + ["endmodule", ""])
