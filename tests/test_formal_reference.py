"""The formal reference datapath (mpmac.formal.reference) against the golden model, in simulation.

The reference is what the proofs compare the optimized units with, so it is checked on its own
against the golden model: its Verilog is simulated in place of the unit's (``sim.verify(...,
verilog=reference_verilog(u, name=u.name))``, streaming engine on Icarus) and every output is
compared bit for bit through the ``tally`` fixture.

Default tier (about 60 s on one core): exhaustive e4m3 mul/add (rne and one other mode), e2m1 fma,
posit8_0 add/mul, a posit/float mix; random e4m3 x e4m3 + bf16 fma (20k), fp32 -> e4m3 saturating
sr convert; rounded, Kulisch and quire mac sequences. Also: the check fails for a wrong reference,
the proof knobs' ports match the optimized units' (widths, and in Amaranth simulation the values of
``mul_x``/``mul_y`` and ``acc_state``), and bad knob values raise.

Slow tier (``-m slow``): every rounding mode, flush-to-zero, tininess before, the fnuz/ieee/finite
specials, posit4_1/8_1/8_2, mixes, sr with ``rand`` enumerated, bf16/fp16/fp32 and posit16/32
random vectors, and more mac accumulators.
"""

from __future__ import annotations

import pytest
from amaranth.hdl import ClockDomain, Module, Shape
from amaranth.sim import Simulator

import mpmac
from mpmac import sim
from mpmac.formal.reference import ReferenceUnit, reference_verilog, state_invariant
from mpmac.rtl.mac import mac_state_layout
from mpmac.rtl.layouts import MULTIPLYING_KINDS
from mpmac.sim.vectors import exhaustive_vectors, input_bits

# the knob tests build components only to read their signatures
pytestmark = pytest.mark.filterwarnings("ignore::amaranth._unused.UnusedMustUse")


def _id(params: dict) -> str:
    return "-".join(f"{k}={v}" for k, v in params.items())


def check_reference(tally, u, vectors=None, *, expected, n=10_000, seed=0, label=""):
    """Simulate the reference of ``u`` as if it were ``u`` and record the comparison."""
    text = reference_verilog(u, name=u.name)
    r = sim.verify(u, vectors, n=n, seed=seed, sim="icarus", engine="stream", verilog=text)
    tally(f"{u.name} reference{' ' + label if label else ''}", r.checked, r.mismatches,
          expected=expected, detail="\n".join(r.notes + r.first))
    return r


def mac_expected(sequences) -> int:
    """Checked steps of latency-0 mac sequences: every cycle and the rst step between sequences."""
    return sum(len(s["a"]) for s in sequences) + len(sequences) - 1


# --- default tier --------------------------------------------------------------------------------
EXHAUSTIVE = [
    ("mul", dict(a="e4m3")),
    ("mul", dict(a="e4m3", rounding="rup")),
    ("add", dict(a="e4m3")),
    ("add", dict(a="e4m3", rounding="rdn")),
    ("fma", dict(a="e2m1")),
    ("add", dict(a="posit8_0")),
    ("mul", dict(a="posit8_0")),
    ("mul", dict(a="e4m3", b="posit8_0", out="bf16")),
]


@pytest.mark.parametrize("kind,params", EXHAUSTIVE, ids=lambda x: x if isinstance(x, str) else _id(x))
def test_reference_exhaustive(tally, kind, params):
    u = mpmac.unit(kind, **params)
    check_reference(tally, u, expected=1 << input_bits(u))


RANDOM = [
    ("fma", dict(a="e4m3", c="bf16", out="bf16")),
    ("convert", dict(a="fp32", out="e4m3", saturate=True, rounding="sr", rand_bits=4)),
]


@pytest.mark.parametrize("kind,params", RANDOM, ids=lambda x: x if isinstance(x, str) else _id(x))
def test_reference_random(tally, kind, params):
    u = mpmac.unit(kind, **params)
    check_reference(tally, u, n=20_000, seed=5, expected=20_000)


MACS = [
    dict(a="e4m3", acc="fp32"),
    dict(a="e4m3", acc="kulisch", out="bf16"),
    dict(a="posit8_0", acc="quire"),
]


@pytest.mark.parametrize("params", MACS, ids=_id)
def test_reference_mac_sequences(tally, params):
    u = mpmac.unit("mac", **params)
    seqs = sim.generate(u, 3000, 17)
    check_reference(tally, u, seqs, expected=mac_expected(seqs), label="sequences")


def test_a_wrong_reference_is_caught(tally):
    """The comparison bites: the rup reference simulated as the rne unit mismatches."""
    u = mpmac.unit("fma", a="e2m1")
    wrong = reference_verilog(mpmac.unit("fma", a="e2m1", rounding="rup"), name=u.name)
    r = sim.verify(u, sim="icarus", engine="stream", verilog=wrong)
    assert r.checked == 1 << 12 and r.mismatches > 0


# --- approximate variants (docs/approximate.md) --------------------------------------------------
APPROXIMATE_EXHAUSTIVE = [
    ("add", dict(a="e4m3", normalize="coarse:2")),
    ("add", dict(a="e4m3", normalize="window:1")),
    ("mul", dict(a="e4m3", mul_approx="lmul")),
    ("fma", dict(a="e2m1", normalize="window:1")),
    ("fma", dict(a="e2m1", normalize="coarse:2", mul_approx="lmul")),
]


@pytest.mark.parametrize("kind,params", APPROXIMATE_EXHAUSTIVE,
                         ids=lambda x: x if isinstance(x, str) else _id(x))
def test_approximate_reference_exhaustive(tally, kind, params):
    u = mpmac.unit(kind, **params)
    check_reference(tally, u, expected=1 << input_bits(u))


@pytest.mark.parametrize("params", [
    dict(a="e4m3", normalize="coarse:2"),
    dict(a="e4m3", normalize="window:2", mul_approx="lmul"),
], ids=_id)
def test_approximate_reference_random_fma(tally, params):
    u = mpmac.unit("fma", **params)
    check_reference(tally, u, n=10_000, seed=5, expected=10_000)


APPROXIMATE_MACS = [
    dict(a="e2m1", acc="e4m3", normalize="window:2"),
    dict(a="e4m3", acc="fp16", normalize="coarse:2", mul_approx="lmul"),
    dict(a="e2m1", acc="e4m3", normalize="lazy:2"),
    dict(a="e4m3", acc="fp16", out="e5m2", normalize="lazy:3", rounding="sr", rand_bits=3),
]


@pytest.mark.parametrize("params", APPROXIMATE_MACS, ids=_id)
def test_approximate_reference_mac_sequences(tally, params):
    u = mpmac.unit("mac", **params)
    seqs = sim.generate(u, 3000, 17)
    check_reference(tally, u, seqs, expected=mac_expected(seqs), label="sequences")


@pytest.mark.parametrize("kind,params,exact", [
    ("add", dict(a="e4m3", normalize="coarse:2"), dict(a="e4m3")),
    ("add", dict(a="e4m3", normalize="window:1"), dict(a="e4m3", normalize="coarse:2")),
    ("mul", dict(a="e4m3", mul_approx="lmul"), dict(a="e4m3")),
    ("fma", dict(a="e2m1", normalize="window:1"), dict(a="e2m1")),
    ("mac", dict(a="e2m1", acc="e4m3", normalize="lazy:2"), dict(a="e2m1", acc="e4m3")),
], ids=lambda x: x if isinstance(x, str) else _id(x))
def test_the_approximate_check_bites(kind, params, exact):
    """The reference of another variant (exact, or another approximation) simulated as the
    approximate unit mismatches: the vectors reach the cases where the variants differ."""
    u = mpmac.unit(kind, **params)
    wrong = reference_verilog(mpmac.unit(kind, **exact), name=u.name)
    vectors = sim.generate(u, 3000, 17) if kind == "mac" else None
    r = sim.verify(u, vectors, sim="icarus", engine="stream", verilog=wrong)
    assert r.mismatches > 0, f"{r.checked} checked"


def test_lazy_state_invariant_names_the_state_fields():
    """The well-formedness condition of a lazy accumulator's state (asserted by its mac_step
    proof) reads the fields at their offsets in ``acc_state``; other units have none."""
    u = mpmac.unit("mac", a="e2m1", acc="e4m3", normalize="lazy:2")
    text = state_invariant(u, "s")
    layout = mac_state_layout(u)
    sig = layout["sig"]
    assert f"s[{sig.offset + Shape.cast(sig.shape).width - 1}:{sig.offset}] != 0" in text
    assert f">= {u.fmt('acc').emin}" in text and f"<= {u.fmt('acc').emax}" in text
    assert state_invariant(mpmac.unit("mac", a="e2m1", acc="e4m3", normalize="window:2"),
                           "s") is None
    assert state_invariant(mpmac.unit("add", a="e4m3"), "s") is None


# --- the proof knobs -----------------------------------------------------------------------------
KNOB_UNITS = [
    ("mul", dict(a="e4m3")),
    ("mul", dict(a="fp32", latency=2)),
    ("fma", dict(a="posit8_1", b="e2m1", c="bf16", out="posit16_1", latency=3)),
    ("fma", dict(a="e5m2_fnuz", subnormals=False, c="fp16", out="fp16")),
    ("mac", dict(a="e4m3", acc="fp32")),
    ("mac", dict(a="e5m2", b="posit8_0", acc="kulisch", rounding="sr", rand_bits=3, latency=2)),
    ("mac", dict(a="posit8_2", acc="quire", out="e4m3", rounding="sr", rand_bits=2)),
    ("mac", dict(a="e4m3", acc="fp16", out="e5m2", normalize="lazy:3")),
]


def _shape(component, name):
    return component.signature.members[name].shape


@pytest.mark.parametrize("kind,params", KNOB_UNITS, ids=lambda x: x if isinstance(x, str) else _id(x))
def test_knob_ports_match_the_optimized_unit(kind, params):
    u = mpmac.unit(kind, **params)
    mac = kind == "mac"
    ref = ReferenceUnit(u, product="port", expose_state=mac)
    opt = u.component(product="port", expose_state=mac)
    names = ["mul_x", "mul_y", "mul_p"] + (["acc_state"] if mac else [])
    for name in names:
        assert _shape(ref, name) == _shape(opt, name), name
        assert ref.signature.members[name].flow == opt.signature.members[name].flow, name
    width = {n: Shape.cast(_shape(ref, n)).width for n in ("mul_x", "mul_y", "mul_p")}
    assert width["mul_p"] == width["mul_x"] + width["mul_y"]
    # every other member is the unit's port contract
    plain = {n: (m.flow.value, m.shape) for n, m in ReferenceUnit(u).signature.members.items()}
    assert plain == {n: (m.flow.value, m.shape) for n, m in ref.signature.members.items()
                     if n not in names}


def test_default_knobs_keep_the_plain_verilog():
    u = mpmac.unit("fma", a="e4m3", latency=2)
    plain = u.verilog()
    assert "mul_p" not in plain and "acc_state" not in plain
    assert "multiplier" in plain
    ported = u.verilog(product="port")
    assert "mul_p" in ported and "multiplier" not in ported
    ref = reference_verilog(u)
    assert f"module {u.name}_ref(" in ref and "mul_p" not in ref and "multiplier" in ref
    assert "multiplier" not in reference_verilog(u, product="port")


@pytest.mark.parametrize("factory", [ReferenceUnit, lambda u, **kw: u.component(**kw)],
                         ids=["reference", "optimized"])
def test_bad_knobs_raise(factory):
    with pytest.raises(ValueError, match="'bogus'"):
        factory(mpmac.unit("mul", a="e4m3"), product="bogus")
    with pytest.raises(ValueError, match="add"):
        factory(mpmac.unit("add", a="e4m3"), product="port")
    with pytest.raises(ValueError, match="mul"):
        factory(mpmac.unit("mul", a="e4m3"), expose_state=True)
    with pytest.raises(TypeError, match="expose_state"):
        factory(mpmac.unit("mac", a="e4m3"), expose_state="yes")
    assert set(MULTIPLYING_KINDS) == {"mul", "fma", "mac", "simd"}


@pytest.mark.parametrize("kind,params", [
    ("mul", dict(a="e4m3", b="e5m2", out="bf16")),
    ("fma", dict(a="posit8_1", b="e2m3", c="fp16", out="fp16")),
], ids=lambda x: x if isinstance(x, str) else _id(x))
def test_port_significands_equal_the_optimized_ones(kind, params):
    """In Amaranth simulation, the reference's mul_x/mul_y equal what the optimized unit feeds its
    multiplier: every a with every 7th b (subnormals, specials and posit regimes included)."""
    u = mpmac.unit(kind, **params)
    m = Module()
    m.submodules.ref = ref = ReferenceUnit(u, product="port")
    m.submodules.opt = opt = u.component(product="port")
    fa, fb = u.fmt("a"), u.fmt("b")
    pairs = [(x, y) for x in range(1 << fa.nbits) for y in range(0, 1 << fb.nbits, 7)]
    mismatches = []

    async def bench(ctx):
        for x, y in pairs:
            for unit in (ref, opt):
                ctx.set(unit.a, x)
                ctx.set(unit.b, y)
            got = [ctx.get(s) for s in (ref.mul_x, ref.mul_y, opt.mul_x, opt.mul_y)]
            if got[:2] != got[2:]:
                mismatches.append((x, y, got))

    s = Simulator(m)
    s.add_testbench(bench)
    s.run()
    assert not mismatches, mismatches[:5]
    assert len(pairs) > 1000


@pytest.mark.parametrize("params", [
    dict(a="e4m3", acc="fp16", out="e5m2", rounding="sr", rand_bits=3),
    dict(a="e2m1", b="posit8_0", acc="kulisch:24", out="fp16"),
    dict(a="posit8_0", acc="quire", rounding="sr", rand_bits=2),
    dict(a="e4m3", acc="bf16", out="e4m3", normalize="lazy:2", rounding="sr", rand_bits=3),
    dict(a="e2m1", acc="e4m3", normalize="lazy:0", mul_approx="lmul", rounding="rdn"),
], ids=_id)
def test_acc_state_equals_the_optimized_register(params):
    """Reference and optimized mac run the same random stream in Amaranth simulation; their
    exposed accumulator state agrees after every edge (so a miter can assert it)."""
    u = mpmac.unit("mac", **params)
    m = Module()
    m.domains.sync = sync = ClockDomain()
    m.submodules.ref = ref = ReferenceUnit(u, expose_state=True)
    m.submodules.opt = opt = u.component(expose_state=True)
    seq = sim.generate(u, 300, 3)
    inputs = [n for n, (d, _) in u.ports.items() if d == "in" and n not in ("clk", "rst")]
    log = []

    async def bench(ctx):
        for s in seq:
            ctx.set(sync.rst, 1)  # each sequence starts from reset, as in the stream bench
            await ctx.tick()
            ctx.set(sync.rst, 0)
            for t in range(len(s["a"])):
                for unit in (ref, opt):
                    for name in inputs:
                        ctx.set(getattr(unit, name), int(s[name][t]) if name in s else 0)
                await ctx.tick()
                log.append([(ctx.get(getattr(unit, "acc_state").as_value()), ctx.get(unit.y),
                             ctx.get(unit.flags)) for unit in (ref, opt)])

    s = Simulator(m)
    s.add_clock(1e-6)
    s.add_testbench(bench)
    s.run()
    bad = [(t, r, o) for t, (r, o) in enumerate(log) if r != o]
    assert not bad, bad[:3]
    assert len(log) == sum(len(x["a"]) for x in seq)
    assert len({r[0] for r, _ in log}) > 20  # the state really moved


# --- slow tier -----------------------------------------------------------------------------------
MODES = ("rne", "rtz", "rdn", "rup", "rmm")


def _slow_exhaustive():
    cases = []
    for kind in ("mul", "add"):
        for f in ("e4m3", "e5m2", "e2m3", "e3m2"):
            cases += [(kind, dict(a=f, rounding=mode)) for mode in MODES]
        cases += [(kind, dict(a="e4m3", subnormals=False)), (kind, dict(a="e5m2", subnormals=False,
                                                                        rounding="rup")),
                  (kind, dict(a="e4m3", tininess="before")),
                  (kind, dict(a="e5m2", tininess="before", rounding="rdn")),
                  (kind, dict(a="e4m3_fnuz")), (kind, dict(a="e5m2_fnuz", rounding="rdn")),
                  (kind, dict(a="e4m3_ieee", saturate=True)), (kind, dict(a="e5m2", saturate=True,
                                                                          rounding="rmm")),
                  (kind, dict(a="e2m3", b="e3m2", out="e2m1", rounding="rmm")),
                  (kind, dict(a="e5m2", b="e4m3", out="fp16")),
                  (kind, dict(a="posit8_1")), (kind, dict(a="posit8_2")),
                  (kind, dict(a="posit4_1")),
                  (kind, dict(a="posit8_0", b="e4m3", out="e5m2", rounding="rup")),
                  (kind, dict(a="e4m3", out="posit8_1"))]
    cases += [("fma", dict(a="e2m1", rounding=mode)) for mode in MODES]
    cases += [("fma", dict(a="posit4_1")), ("fma", dict(a="e2m1", c="e2m3", out="posit8_0"))]
    cases += [("convert", dict(a="fp16", out=o, rounding=mode))
              for o in ("e4m3", "e5m2", "e2m1", "posit8_1") for mode in ("rne", "rdn")
              if not (o.startswith("posit") and mode != "rne")]
    cases += [("convert", dict(a="bf16", out="e4m3_fnuz", saturate=True, rounding="rtz")),
              ("convert", dict(a="posit16_1", out="fp32")),
              ("convert", dict(a="fp16", out="e3m2", subnormals=False, tininess="before"))]
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("kind,params", _slow_exhaustive(),
                         ids=lambda x: x if isinstance(x, str) else _id(x))
def test_slow_reference_exhaustive(tally, kind, params):
    u = mpmac.unit(kind, **params)
    check_reference(tally, u, expected=1 << input_bits(u))


@pytest.mark.slow
@pytest.mark.parametrize("kind,params", [
    ("mul", dict(a="e4m3", rounding="sr", rand_bits=2)),
    ("add", dict(a="e5m2", rounding="sr", rand_bits=2, saturate=True)),
    ("add", dict(a="posit8_1", rounding="sr", rand_bits=3)),
    ("mul", dict(a="e2m3", b="e3m2", out="e2m1", rounding="sr", rand_bits=3, subnormals=False)),
    ("fma", dict(a="e2m1", rounding="sr", rand_bits=4)),
], ids=lambda x: x if isinstance(x, str) else _id(x))
def test_slow_reference_sr_enumerated(tally, kind, params):
    """Every operand and every ``rand`` value."""
    u = mpmac.unit(kind, **params)
    vec = exhaustive_vectors(u)
    check_reference(tally, u, vec, expected=len(vec["a"]), label="all rand")


def _slow_random():
    cases = []
    for f in ("bf16", "fp16", "fp32"):
        cases += [("mul", dict(a=f, rounding=mode)) for mode in ("rne", "rdn", "rmm")]
        cases += [("add", dict(a=f, rounding=mode)) for mode in ("rne", "rup", "rtz")]
        cases += [("fma", dict(a=f)), ("fma", dict(a=f, rounding="sr", rand_bits=7))]
    cases += [("mul", dict(a="bf16", subnormals=False)), ("add", dict(a="fp16", tininess="before")),
              ("fma", dict(a="e4m3", c="fp32", out="fp32", rounding="rdn")),
              ("fma", dict(a="e5m2", b="e4m3", c="fp16", out="e4m3", saturate=True)),
              ("fma", dict(a="e4m3", c="bf16", out="bf16", rounding="sr", rand_bits=5))]
    for f in ("posit16_1", "posit16_2", "posit32_2"):
        cases += [("mul", dict(a=f)), ("add", dict(a=f)), ("fma", dict(a=f, rounding="sr",
                                                                      rand_bits=6))]
    cases += [("convert", dict(a="fp32", out="bf16")), ("convert", dict(a="fp32", out="fp16",
                                                                        rounding="rmm")),
              ("convert", dict(a="posit32_2", out="fp32", rounding="rdn")),
              ("convert", dict(a="fp32", out="posit16_1")),
              ("fma", dict(a="posit8_0", b="bf16", c="posit16_1", out="fp32", rounding="rup"))]
    return cases


@pytest.mark.slow
@pytest.mark.parametrize("kind,params", _slow_random(), ids=lambda x: x if isinstance(x, str) else _id(x))
def test_slow_reference_random(tally, kind, params):
    u = mpmac.unit(kind, **params)
    check_reference(tally, u, n=20_000, seed=9, expected=20_000)


@pytest.mark.slow
@pytest.mark.parametrize("params", [
    dict(a="e4m3", acc="fp16", out="e5m2", rounding="rdn"),
    dict(a="e4m3", acc="bf16", rounding="rtz", subnormals=False),
    dict(a="e2m1", acc="e4m3", out="e4m3", rounding="rup", saturate=True),
    dict(a="e5m2", acc="bf16", out="e4m3", rounding="sr", rand_bits=3),
    dict(a="e4m3", acc="kulisch:38", out="e4m3"),
    dict(a="e2m1", acc="kulisch:9", out="e2m1", rounding="rdn"),
    dict(a="e5m2", acc="kulisch", out="e4m3", rounding="sr", rand_bits=3),
    dict(a="e5m2", b="posit8_0", acc="kulisch", out="posit8_1"),
    dict(a="posit16_1", acc="quire"),
    dict(a="posit8_2", acc="quire:300", rounding="sr", rand_bits=4),
    dict(a="posit8_0", acc="posit16_1", out="posit8_0"),
    dict(a="fp16", acc="fp32", out="bf16", rounding="rup"),
], ids=_id)
def test_slow_reference_mac_sequences(tally, params):
    u = mpmac.unit("mac", **params)
    seqs = sim.generate(u, 20_000, 23)
    check_reference(tally, u, seqs, expected=mac_expected(seqs), label="sequences")


@pytest.mark.slow
@pytest.mark.parametrize("kind,params", [
    ("add", dict(a="e5m2", normalize="coarse:3", rounding="rdn")),
    ("add", dict(a="e4m3", b="e5m2", out="bf16", normalize="window:3", rounding="rup")),
    ("add", dict(a="e4m3", normalize="coarse:2", subnormals=False)),
    ("mul", dict(a="e5m2", mul_approx="lmul", rounding="rtz")),
    ("mul", dict(a="e4m3", mul_approx="lmul", out="bf16")),
    ("mul", dict(a="e2m3", mul_approx="lmul", saturate=True, rounding="rmm")),
    ("fma", dict(a="e2m1", normalize="coarse:2")),
    ("fma", dict(a="e2m1", mul_approx="lmul", normalize="window:1", rounding="sr", rand_bits=2)),
], ids=lambda x: x if isinstance(x, str) else _id(x))
def test_slow_approximate_reference_exhaustive(tally, kind, params):
    u = mpmac.unit(kind, **params)
    vec = exhaustive_vectors(u)  # with sr, every rand value too
    check_reference(tally, u, vec, expected=len(vec["a"]))


@pytest.mark.slow
@pytest.mark.parametrize("params", [
    dict(a="e4m3", normalize="window:2"),
    dict(a="e4m3", mul_approx="lmul", normalize="coarse:3", rounding="rup"),
    dict(a="e4m3", c="bf16", out="bf16", normalize="window:4"),
    dict(a="bf16", normalize="window:4"),
    dict(a="bf16", normalize="coarse:4", mul_approx="lmul", rounding="sr", rand_bits=5),
], ids=_id)
def test_slow_approximate_reference_random_fma(tally, params):
    u = mpmac.unit("fma", **params)
    check_reference(tally, u, n=20_000, seed=9, expected=20_000)


@pytest.mark.slow
@pytest.mark.parametrize("params", [
    dict(a="e2m1", acc="bf16", normalize="window:2"),
    dict(a="e4m3", acc="bf16", normalize="lazy"),
    dict(a="e4m3", acc="e5m2", normalize="lazy:0", mul_approx="lmul", rounding="rdn"),
    dict(a="e5m2", acc="fp16", out="e4m3", normalize="coarse:3", rounding="sr", rand_bits=3),
], ids=_id)
def test_slow_approximate_reference_mac_sequences(tally, params):
    u = mpmac.unit("mac", **params)
    seqs = sim.generate(u, 20_000, 23)
    check_reference(tally, u, seqs, expected=mac_expected(seqs), label="sequences")
