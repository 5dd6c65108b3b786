"""Scalar exact-arithmetic kernels: decode, exact product and sum, and the one rounder.

This module is written in the subset of Python that numba compiles. :mod:`.kernels` loads it twice:
compiled (int64 arithmetic, used whenever every intermediate fits in 61 bits) and as plain Python
(Python ints, exact at any width: fp64 products, Kulisch and quire readout). Both run this same
source, so there is one definition of the semantics.

Conventions
    A format is described by a tuple of ints indexed by the ``F_*`` constants (built by
    :func:`.kernels.describe` from a format object). A value is a *term*
    ``(cls, sign, mag, exp, invalid)``: for ZERO/FINITE it is ``(-1)^sign * mag * 2^exp`` exactly, or
    a round-to-odd representative (an odd ``mag`` standing for a value strictly between its
    neighbours) that every later rounding to at least 2 fewer bits treats exactly like the true value.
    ``invalid`` records an invalid operation on the way.

Semantics are documented in :mod:`.rounding` (modes, flags, overflow, tininess, posit rounding) and
:mod:`.arith` (special operands); this is their only implementation.
"""

# -- format descriptor fields --------------------------------------------------------------------
F_POSIT = 0
F_NBITS = 1
F_EBITS = 2
F_MBITS = 3
F_BIAS = 4
F_SPECIALS = 5
F_SUBNORMALS = 6
F_ES = 7
F_MAXCODE = 8
F_NANCODE = 9
F_HASNAN = 10
F_HASINF = 11
F_QMIN = 12
F_EMIN = 13
F_PREC = 14
F_EFMAX = 15
F_MAXREG = 16
F_SIGNMASK = 17
F_MAGMASK = 18
F_CODEMASK = 19
F_FIELDS = 20

# specials policies
SP_IEEE = 0
SP_FN = 1
SP_FINITE = 2
SP_FNUZ = 3

# value classes
ZERO = 0
FINITE = 1
INF = 2
NAN = 3  # quiet
SNAN = 4  # only from decode; terms carry it as NAN + invalid

# rounding context fields and modes
C_MODE = 0
C_RANDBITS = 1
C_SATURATE = 2
C_TIN_BEFORE = 3
RNE = 0
RTZ = 1
RDN = 2
RUP = 3
RMM = 4
SR = 5

# flags (Berkeley SoftFloat order)
INEXACT = 1
UNDERFLOW = 2
OVERFLOW = 4
INVALID = 16

#: magnitudes below this never need a shift of 62 or more on the compiled path
SMALL = 1 << 61


# -- integer helpers ------------------------------------------------------------------------------
def bitlen(x):
    """Bit length of x >= 0."""
    n = 0
    while x >= SMALL:  # only Python ints get here
        x >>= 32
        n += 32
    if x >= (1 << 32):
        x >>= 32
        n += 32
    if x >= (1 << 16):
        x >>= 16
        n += 16
    if x >= (1 << 8):
        x >>= 8
        n += 8
    if x >= (1 << 4):
        x >>= 4
        n += 4
    if x >= (1 << 2):
        x >>= 2
        n += 2
    if x >= (1 << 1):
        x >>= 1
        n += 1
    return n + x


def shr(x, n):
    """x >> n for x >= 0, n >= 0, also for shift counts beyond the machine word."""
    if n > 61 and x < SMALL:
        return 0
    return x >> n


def shr_jam(x, n):
    """x >> n with round-to-odd: a nonzero shifted-out part sets the LSB."""
    kept = shr(x, n)
    lost = x if kept == 0 else x - (kept << n)
    return kept | (1 if lost != 0 else 0)


def cmp_half(rem, sh):
    """Sign of rem - 2^(sh-1), for sh >= 1."""
    if sh > 62 and rem < SMALL:
        return -1
    half = 1 << (sh - 1)
    if rem > half:
        return 1
    if rem < half:
        return -1
    return 0


# -- decode ---------------------------------------------------------------------------------------
def decode(f, bits):
    """Bit pattern -> (cls, sign, sig, exp) with cls one of ZERO FINITE INF NAN SNAN."""
    if f[F_POSIT]:
        return decode_posit(f, bits)
    mb = f[F_MBITS]
    sign = (bits >> (f[F_NBITS] - 1)) & 1
    e = (bits >> mb) & f[F_EFMAX]
    m = bits & ((1 << mb) - 1)
    spec = f[F_SPECIALS]
    if spec == SP_IEEE and e == f[F_EFMAX]:
        if m == 0:
            return INF, sign, 0, 0
        if (m >> (mb - 1)) & 1:
            return NAN, sign, 0, 0
        return SNAN, sign, 0, 0
    if spec == SP_FN and (bits & f[F_MAGMASK]) == f[F_NANCODE]:
        return NAN, sign, 0, 0
    if spec == SP_FNUZ and bits == f[F_NANCODE]:
        return NAN, 0, 0, 0
    if e == 0:
        if m == 0 or not f[F_SUBNORMALS]:
            return ZERO, sign, 0, 0
        return FINITE, sign, m, f[F_QMIN]
    return FINITE, sign, m | (1 << mb), e - f[F_BIAS] - mb


def decode_posit(f, bits):
    n = f[F_NBITS]
    es = f[F_ES]
    x = bits & f[F_CODEMASK]
    if x == 0:
        return ZERO, 0, 0, 0
    if x == f[F_SIGNMASK]:
        return NAN, 0, 0, 0
    sign = x >> (n - 1)
    mag = ((-x) & f[F_CODEMASK]) if sign else x
    body = mag & f[F_MAGMASK]  # the n-1 bits after the sign
    lead = body >> (n - 2)
    run = (n - 1) - bitlen(((~body) & f[F_MAGMASK]) if lead else body)
    regime = run - 1 if lead else -run
    rest_len = max(n - 2 - run, 0)  # bits after the regime's terminating bit
    rest = body & ((1 << rest_len) - 1)
    frac_len = max(rest_len - es, 0)
    e_field = (rest >> frac_len) << max(es - rest_len, 0)  # cut-off exponent bits count as 0
    frac = rest & ((1 << frac_len) - 1)
    return FINITE, sign, (1 << frac_len) | frac, regime * (1 << es) + e_field - frac_len


def operand(f, bits):
    """Decode into a term."""
    cls, sign, sig, exp = decode(f, bits)
    if cls == SNAN:
        return NAN, sign, 0, 0, 1
    return cls, sign, sig, exp, 0


# -- exact core -----------------------------------------------------------------------------------
def product(a, b):
    """Exact a * b of two terms."""
    ca, sa, ma, ea, ia = a
    cb, sb, mb, eb, ib = b
    invalid = ia | ib
    if ca == NAN or cb == NAN:
        return NAN, 0, 0, 0, invalid
    inf = ca == INF or cb == INF
    zero = ca == ZERO or cb == ZERO
    if inf and zero:
        return NAN, 0, 0, 0, 1
    s = sa ^ sb
    if inf:
        return INF, s, 0, 0, invalid
    if zero:
        return ZERO, s, 0, 0, invalid
    return FINITE, s, ma * mb, ea + eb, invalid


def place(m, offset):
    """m * 2^(offset+1); for offset < 0 a round-to-odd representative one bit finer than the window."""
    if offset >= 0:
        return m << (offset + 1)
    kept = shr(m, -offset)
    lost = m if kept == 0 else m - (kept << (-offset))
    return (kept << 1) | (1 if lost != 0 else 0)


def add_terms(a, b, window, mode):
    """a + b: exact when it fits ``window`` bits, else faithful for rounding to window-1 bits.

    Both terms are placed below the larger MSB. Only the smaller term can reach below the window,
    and then the sum's MSB is at most one below the larger's, so its low bits may become an odd
    sticky LSB (one bit finer than the window, so it stays strictly between two window values
    under subtraction too).
    """
    ca, sa, ma, ea, ia = a
    cb, sb, mb, eb, ib = b
    invalid = ia | ib
    if ca == NAN or cb == NAN:
        return NAN, 0, 0, 0, invalid
    if ca == INF or cb == INF:
        if ca == INF and cb == INF and sa != sb:
            return NAN, 0, 0, 0, 1
        return INF, sa if ca == INF else sb, 0, 0, invalid
    if ca == ZERO and cb == ZERO:
        return ZERO, sa if sa == sb else (1 if mode == RDN else 0), 0, 0, invalid
    if ca == ZERO:
        return cb, sb, mb, eb, invalid
    if cb == ZERO:
        return ca, sa, ma, ea, invalid
    top = max(ea + bitlen(ma), eb + bitlen(mb)) - 1
    lsb = top - window + 1
    pa = place(ma, ea - lsb)
    pb = place(mb, eb - lsb)
    total = (pb if sb == 0 else -pb) + (pa if sa == 0 else -pa)
    if total == 0:
        return ZERO, 1 if mode == RDN else 0, 0, 0, invalid
    if total < 0:
        return FINITE, 1, -total, lsb - 1, invalid
    return FINITE, 0, total, lsb - 1, invalid


# -- rounding -------------------------------------------------------------------------------------
def round_int(mag, sh, sign, ctx, rand):
    """Round mag to a multiple of 2^sh (sh <= 0 is exact). Returns (mag / 2^sh rounded, inexact)."""
    if sh <= 0:
        return mag << (-sh), 0
    kept = shr(mag, sh)
    rem = mag if kept == 0 else mag - (kept << sh)
    if rem == 0:
        return kept, 0
    mode = ctx[C_MODE]
    up = 0
    if mode == RNE:
        c = cmp_half(rem, sh)
        up = 1 if c > 0 or (c == 0 and (kept & 1)) else 0
    elif mode == RMM:
        up = 1 if cmp_half(rem, sh) >= 0 else 0
    elif mode == RUP:
        up = 1 - sign
    elif mode == RDN:
        up = sign
    elif mode == SR:
        r = ctx[C_RANDBITS]
        top = shr(rem, sh - r) if sh >= r else rem << (r - sh)
        up = (top + rand) >> r
    return kept + up, 1


def signed_zero(f, sign):
    if sign and f[F_SPECIALS] != SP_FNUZ:
        return f[F_SIGNMASK]
    return 0


def infinite_result(f, sign, ctx):
    """Code of an infinite result: Inf, or max finite (saturate / finite formats), or NaN (fn, fnuz)."""
    if ctx[C_SATURATE] or f[F_SPECIALS] == SP_FINITE:
        return f[F_MAXCODE] | (f[F_SIGNMASK] if sign else 0)
    if f[F_HASINF]:
        return (f[F_EFMAX] << f[F_MBITS]) | (f[F_SIGNMASK] if sign else 0)
    return f[F_NANCODE]


def round_float(f, sign, mag, exp, ctx, rand):
    """IEEE-style rounding of (-1)^sign * mag * 2^exp into a float format. Returns (code, flags)."""
    if mag == 0:
        return signed_zero(f, sign), 0
    p = f[F_PREC]
    qmin = f[F_QMIN]
    emin = f[F_EMIN]
    top = exp + bitlen(mag) - 1
    q_unbounded = top - (p - 1)
    q = q_unbounded
    if f[F_SUBNORMALS] and q < qmin:
        q = qmin
    rounded, inexact = round_int(mag, q - exp, sign, ctx, rand)
    if ctx[C_TIN_BEFORE]:
        tiny = top < emin
    elif not f[F_SUBNORMALS]:
        tiny = q + bitlen(rounded) - 1 < emin
    elif top < emin - 1:
        tiny = True
    elif top == emin - 1:  # only here can rounding at unbounded exponent reach 2^emin
        unbounded, _ = round_int(mag, q_unbounded - exp, sign, ctx, rand)
        tiny = unbounded < (1 << p)
    else:
        tiny = False
    if tiny and not f[F_SUBNORMALS]:
        return signed_zero(f, sign), UNDERFLOW | INEXACT
    flags = (INEXACT | (UNDERFLOW if tiny else 0)) if inexact else 0
    return pack_float(f, sign, rounded, q, flags, ctx)


def pack_float(f, sign, rounded, q, flags, ctx):
    """Code of (-1)^sign * rounded * 2^q (rounded normalized: p bits, or fewer only at q == qmin),
    with overflow handled per the rounding context. Returns (code, flags)."""
    qmin = f[F_QMIN]
    mb = f[F_MBITS]
    # fields without renormalising: a carry out of the significand moves into the exponent
    e_field = min(q - qmin, f[F_EFMAX]) + (rounded >> mb)
    m_field = rounded & ((1 << mb) - 1)
    max_e = f[F_MAXCODE] >> mb
    if e_field > max_e or (e_field == max_e and m_field > (f[F_MAXCODE] & ((1 << mb) - 1))):
        mode = ctx[C_MODE]
        to_inf = mode == RNE or mode == RMM or mode == SR or (mode == RUP and sign == 0) \
            or (mode == RDN and sign == 1)
        code = infinite_result(f, sign, ctx) if to_inf else f[F_MAXCODE] | (f[F_SIGNMASK] if sign else 0)
        return code, flags | OVERFLOW | INEXACT
    code = (e_field << mb) | m_field
    if code == 0:  # rounded to zero: fnuz has no -0
        return signed_zero(f, sign), flags
    return code | (f[F_SIGNMASK] if sign else 0), flags


def round_posit(f, sign, mag, exp, ctx, rand):
    """Round on the posit bit string (rne or sr), saturating to minpos/maxpos. Returns (code, flags)."""
    if mag == 0:
        return 0, 0
    n = f[F_NBITS]
    es = f[F_ES]
    L = bitlen(mag)
    scale = exp + L - 1
    regime = scale >> es
    e_field = scale & ((1 << es) - 1)
    max_regime = f[F_MAXREG]
    if regime >= max_regime:  # |x| >= maxpos
        code = f[F_MAXCODE]
        inexact = 0 if (regime == max_regime and e_field == 0 and mag == (1 << (L - 1))) else 1
    elif regime < -max_regime:  # |x| < minpos
        code = 1
        inexact = 1
    else:
        if regime >= 0:
            reg_len = regime + 2
            reg_bits = ((1 << (regime + 1)) - 1) << 1
        else:
            reg_len = 1 - regime
            reg_bits = 1
        # enough fraction for the n-1 kept bits, rand_bits exact discarded bits and a sticky bit
        frac_keep = max(n + 1 + ctx[C_RANDBITS] - reg_len - es, 2)
        frac_len = L - 1
        if frac_len > frac_keep:
            frac = shr_jam(mag, frac_len - frac_keep) - (1 << frac_keep)
            frac_len = frac_keep
        else:
            frac = mag - (1 << frac_len)
        string = (((reg_bits << es) | e_field) << frac_len) | frac
        code, inexact = round_int(string, reg_len + es + frac_len - (n - 1), 0, ctx, rand)
    if sign:
        code = (-code) & f[F_CODEMASK]
    return code, INEXACT if inexact else 0


def round_term(f, t, ctx, rand):
    """Round a term into format f: the last stage of every operation. Returns (code, flags)."""
    cls, sign, mag, exp, invalid = t
    if cls == ZERO or cls == FINITE:
        if f[F_POSIT]:
            code, flags = round_posit(f, sign, mag, exp, ctx, rand)
        else:
            code, flags = round_float(f, sign, mag, exp, ctx, rand)
        return code, flags | (INVALID if invalid else 0)
    if f[F_POSIT]:  # NaN and Inf both become NaR; only an Inf is a new invalid operation
        return f[F_NANCODE], INVALID if (invalid or cls == INF) else 0
    if cls == INF:
        lost = not f[F_HASINF] and not ctx[C_SATURATE]
        return infinite_result(f, sign, ctx), INVALID if (invalid or lost) else 0
    if f[F_HASNAN]:
        return f[F_NANCODE], INVALID if invalid else 0
    return 0, INVALID  # a NaN that a format without NaN cannot hold


# -- elementwise operations -----------------------------------------------------------------------
def mul_elem(fa, fb, fo, ctx, a, b, rand):
    return round_term(fo, product(operand(fa, a), operand(fb, b)), ctx, rand)


def add_elem(fa, fb, fo, ctx, window, a, b, rand):
    return round_term(fo, add_terms(operand(fa, a), operand(fb, b), window, ctx[C_MODE]), ctx, rand)


def fma_elem(fa, fb, fc, fo, ctx, window, a, b, c, rand):
    t = add_terms(product(operand(fa, a), operand(fb, b)), operand(fc, c), window, ctx[C_MODE])
    return round_term(fo, t, ctx, rand)


def convert_elem(fa, fo, ctx, a, rand):
    return round_term(fo, operand(fa, a), ctx, rand)


def mul_loop(fa, fb, fo, ctx, A, B, R, Y, F):
    for i in range(len(Y)):
        Y[i], F[i] = mul_elem(fa, fb, fo, ctx, A[i], B[i], R[i])


def add_loop(fa, fb, fo, ctx, window, A, B, R, Y, F):
    for i in range(len(Y)):
        Y[i], F[i] = add_elem(fa, fb, fo, ctx, window, A[i], B[i], R[i])


def fma_loop(fa, fb, fc, fo, ctx, window, A, B, C, R, Y, F):
    for i in range(len(Y)):
        Y[i], F[i] = fma_elem(fa, fb, fc, fo, ctx, window, A[i], B[i], C[i], R[i])


def convert_loop(fa, fo, ctx, A, R, Y, F):
    for i in range(len(Y)):
        Y[i], F[i] = convert_elem(fa, fo, ctx, A[i], R[i])


def decode_loop(f, A, CLS, S, M, E):
    for i in range(len(A)):
        CLS[i], S[i], M[i], E[i] = decode(f, A[i])


# -- approximate variants: the L-Mul product and approximate normalization ------------------------
# (docs/approximate.md states the semantics; mpmac/golden/variants.py parses the parameters)
N_EXACT = 0
N_COARSE = 1
N_WINDOW = 2
M_EXACT = 0
M_LMUL = 1


def field_top(f, t, fields):
    """Exponent of the top bit of a FINITE operand's significand field in the datapath: its leading
    one, or with ``fields`` (window:L units take subnormal operands as they are) a float's
    hidden-bit position: emin for a subnormal, whose field starts with zeros."""
    if fields and not f[F_POSIT]:
        return t[3] + f[F_MBITS]
    return t[3] + bitlen(t[2]) - 1


def lmul_offset(m):
    """L-Mul's constant 2^-l(m) in units of the mantissa LSB 2^-m: l(m) = m (m <= 3), 3 (m = 4),
    4 (m > 4)."""
    if m <= 3:
        return 1
    if m == 4:
        return 2
    return 1 << (m - 4)


def lmul_product(fa, fb, a, b):
    """L-Mul of two floats of one format as (term, field top), in the integer-add form.

    The magnitude codes add as integers: exponent fields add (minus the bias) and the mantissa
    fields plus the offset add below them, so a mantissa sum of c * 2^m (c = 0, 1 or 2) carries c
    into the exponent: 2^(E+c) * (1 + (M - c 2^m) / 2^m) with E = ex + ey, M = mx + my + offset.
    Subnormal operands count as zero (the form needs the hidden one); specials as in the exact
    product. The exponent is unbounded here: the unit's rounder handles the range.
    """
    x = operand(fa, a)
    y = operand(fb, b)
    m = fa[F_MBITS]
    if x[0] == FINITE and x[2] < (1 << m):
        x = (ZERO, x[1], 0, 0, x[4])
    if y[0] == FINITE and y[2] < (1 << m):
        y = (ZERO, y[1], 0, 0, y[4])
    t = product(x, y)
    if t[0] != FINITE:
        return t, 0
    M = (x[2] - (1 << m)) + (y[2] - (1 << m)) + lmul_offset(m)
    c = M >> m
    top = (x[3] + m) + (y[3] + m) + c
    return (FINITE, t[1], (1 << m) + M - (c << m), top - m, t[4]), top


def unnormalized_operands(nkind):
    """1 when the units of normalization kind ``nkind`` take subnormal operands unnormalized
    (window:L: their field top is emin), else 0."""
    return 1 if nkind == N_WINDOW else 0


def product_top(fa, fb, a, b, mk, fields):
    """The product term of a unit's multiplier (exact or L-Mul) and its field top (the exact
    product's field is the two operand fields side by side: its top is one above their sum)."""
    if mk == M_LMUL:
        return lmul_product(fa, fb, a, b)
    x = operand(fa, a)
    y = operand(fb, b)
    return product(x, y), field_top(fa, x, fields) + field_top(fb, y, fields) + 1


def sum_anchor(x, tx, y, ty):
    """Exponent of the align-add window's top (carry) bit: one above the larger nonzero operand's
    field top. Leading zeros of the sum are counted from here."""
    if x[0] != FINITE:
        return ty + 1
    if y[0] != FINITE:
        return tx + 1
    return max(tx, ty) + 1


def product_zone(mk):
    """Exactly normalized top positions of a window holding a product: the carry position and the
    exact product's two integer positions (2), or the carry and an L-Mul product's top (1)."""
    return 2 if mk == M_EXACT else 1


def norm_shift(lz, nkind, nk, zone):
    """The normalizing left shift for ``lz`` leading zeros below the anchor: exact within the top
    ``zone`` positions (the carry and the terms' own leading positions), approximate below."""
    if lz <= zone or nkind == N_EXACT:
        return lz
    if nkind == N_COARSE:
        return zone + ((lz - zone) // nk) * nk
    return zone + min(lz - zone, nk)


def round_float_at(f, sign, mag, exp, top, ctx, rand):
    """Round (-1)^sign * mag * 2^exp to p bits below ``top`` (>= the value's own top bit), i.e. at
    2^max(top - p + 1, qmin); the rounded value is then packed normalized. Underflow: inexact and
    the delivered magnitude below 2^emin (a nonzero value delivered as 0 included); without
    subnormals such a result flushes to zero. Returns (code, flags)."""
    p = f[F_PREC]
    qmin = f[F_QMIN]
    q = top - (p - 1)
    if f[F_SUBNORMALS] and q < qmin:
        q = qmin
    rounded, inexact = round_int(mag, q - exp, sign, ctx, rand)
    if rounded == 0:
        return signed_zero(f, sign), UNDERFLOW | INEXACT
    top_v = q + bitlen(rounded) - 1
    tiny = top_v < f[F_EMIN]
    if tiny and not f[F_SUBNORMALS]:
        return signed_zero(f, sign), UNDERFLOW | INEXACT
    q2 = top_v - (p - 1)
    if f[F_SUBNORMALS] and q2 < qmin:
        q2 = qmin
    if q2 > q:  # only a carry to 2^p: exact
        rounded = rounded >> (q2 - q)
    else:
        rounded = rounded << (q - q2)
    flags = (INEXACT | (UNDERFLOW if tiny else 0)) if inexact else 0
    return pack_float(f, sign, rounded, q2, flags, ctx)


def round_term_at(f, t, anchor, nkind, nk, zone, ctx, rand):
    """round_term with approximate normalization of a sum whose window top is ``anchor``."""
    cls, sign, mag, exp, invalid = t
    if cls != FINITE or nkind == N_EXACT:
        return round_term(f, t, ctx, rand)
    lz = anchor - (exp + bitlen(mag) - 1)
    if nkind == N_WINDOW and lz > zone + nk:  # cancellation beyond the window: flushed
        code, flags = signed_zero(f, sign), UNDERFLOW | INEXACT
    else:
        code, flags = round_float_at(f, sign, mag, exp, anchor - norm_shift(lz, nkind, nk, zone),
                                     ctx, rand)
    return code, flags | (INVALID if invalid else 0)


def mulv_elem(fa, fb, fo, ctx, mk, a, b, rand):
    t, top = product_top(fa, fb, a, b, mk, 0)
    return round_term(fo, t, ctx, rand)


def addv_elem(fa, fb, fo, ctx, window, nkind, nk, a, b, rand):
    x = operand(fa, a)
    y = operand(fb, b)
    fields = unnormalized_operands(nkind)
    anchor = sum_anchor(x, field_top(fa, x, fields), y, field_top(fb, y, fields))
    t = add_terms(x, y, window, ctx[C_MODE])
    return round_term_at(fo, t, anchor, nkind, nk, 1, ctx, rand)


def fmav_elem(fa, fb, fc, fo, ctx, window, mk, nkind, nk, a, b, c, rand):
    fields = unnormalized_operands(nkind)
    prod, top = product_top(fa, fb, a, b, mk, fields)
    z = operand(fc, c)
    anchor = sum_anchor(prod, top, z, field_top(fc, z, fields))
    t = add_terms(prod, z, window, ctx[C_MODE])
    return round_term_at(fo, t, anchor, nkind, nk, product_zone(mk), ctx, rand)


def mulv_loop(fa, fb, fo, ctx, mk, A, B, R, Y, F):
    for i in range(len(Y)):
        Y[i], F[i] = mulv_elem(fa, fb, fo, ctx, mk, A[i], B[i], R[i])


def addv_loop(fa, fb, fo, ctx, window, nkind, nk, A, B, R, Y, F):
    for i in range(len(Y)):
        Y[i], F[i] = addv_elem(fa, fb, fo, ctx, window, nkind, nk, A[i], B[i], R[i])


def fmav_loop(fa, fb, fc, fo, ctx, window, mk, nkind, nk, A, B, C, R, Y, F):
    for i in range(len(Y)):
        Y[i], F[i] = fmav_elem(fa, fb, fc, fo, ctx, window, mk, nkind, nk, A[i], B[i], C[i], R[i])
