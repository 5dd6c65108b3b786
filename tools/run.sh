#!/usr/bin/env bash
# The two entry points of mpmac on a fresh Debian/Ubuntu machine with Python 3.11 (see README.md):
#
#   bash tools/run.sh main [ARGS...]   install what is missing, then run the default job (mpmac demo ARGS,
#                                      then the default cost sweep into out/sweep)
#   bash tools/run.sh test [ARGS...]   install what is missing, then python -m pytest -n auto ARGS
#
# Installs, each only when needed: Debian packages (apt-get, when root), a venv in .venv, and
# `pip install -e ".[test]"` (repeated only when pyproject.toml changed: a stamp in .venv records it).
# Environment: PYTHON picks the interpreter (default: python3.11, else python3 if it is >= 3.11).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
STAMP="$VENV/.mpmac-install-stamp"
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '[run.sh] %s\n' "$*"; }
die() { printf '[run.sh] error: %s\n' "$*" >&2; exit 1; }

usage() {
    cat <<'EOF'
usage: bash tools/run.sh main [ARGS...]   run the built-in default job (mpmac demo ARGS, then
                                         mpmac sweep --default -o out/sweep)
       bash tools/run.sh test [ARGS...]   run the tests (python -m pytest -n auto ARGS), e.g. test -m slow
EOF
}

# --- Debian packages ---------------------------------------------------------------------------
# One entry per package: "debian-package|shell test that succeeds when it is present"
# (@PYVER@ stands for the chosen Python's version, e.g. 3.11).
# BUILD_PACKAGES are needed only to pip-install (softposit builds from its sdist with gcc);
# RUN_PACKAGES are checked on every run: Icarus, g++/make for Verilator's C++ builds, native ABC
# (the solver of the combinational proofs; the WASM Yosys's own ABC runs out of call stack there),
# and OpenSTA with the OSU 180 nm liberty for the cost model.
BUILD_PACKAGES=(
    "build-essential|command -v gcc && command -v make"
    "python@PYVER@-dev|python_headers_present"
)
RUN_PACKAGES=(
    "iverilog|command -v iverilog && command -v vvp"
    "build-essential|command -v g++ && command -v make"
    "berkeley-abc|command -v berkeley-abc || command -v yosys-abc"
    # the cost model's osu018 flow (area and critical path on a 180 nm liberty; the default sweep)
    "opensta|command -v sta"
    "qflow-tech-osu018|test -f /usr/share/qflow/tech/osu018/osu018_stdcells.lib"
)

python_headers_present() {
    local inc
    inc="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
    [[ -f "$inc/Python.h" ]]
}

APT_UPDATED=0
apt_install() {
    # apt_install PKG... : install Debian packages, running apt-get update once per invocation.
    if [[ "$(id -u)" != 0 ]]; then
        die "missing Debian package(s): $*. Install them as root, e.g.: sudo apt-get update && sudo apt-get install -y $*  (then re-run this command)"
    fi
    command -v apt-get >/dev/null || die "missing package(s) $* and no apt-get on this machine: install them by hand"
    export DEBIAN_FRONTEND=noninteractive
    if [[ $APT_UPDATED == 0 ]]; then
        say "apt-get update"
        apt-get update -qq </dev/null >/dev/null || die "apt-get update failed"
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    apt-get install -y -qq --no-install-recommends "$@" </dev/null >/dev/null || die "apt-get install $* failed"
}

ensure_packages() {
    # ensure_packages ENTRY... : install every entry whose presence test fails, in one apt-get call.
    local entry pkg check missing=()
    for entry in "$@"; do
        pkg="${entry%%|*}"
        pkg="${pkg//@PYVER@/$PYVER}"
        check="${entry#*|}"
        if ! (eval "$check") >/dev/null 2>&1; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]})); then
        apt_install "${missing[@]}"
    fi
}

# --- Python ------------------------------------------------------------------------------------
pick_python() {
    local cand
    for cand in ${PYTHON:-} python3.11 python3; do
        if command -v "$cand" >/dev/null 2>&1 &&
            "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            PY="$(command -v "$cand")"
            PYVER="$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
            return
        fi
    done
    die "Python >= 3.11 not found (tried ${PYTHON:+$PYTHON, }python3.11, python3). Install it, e.g. apt-get install python3.11, or set PYTHON=/path/to/python3.11"
}

ensure_venv() {
    if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        return
    fi
    [[ -e "$VENV" ]] && { say "removing broken .venv"; rm -rf "$VENV"; }
    say "creating .venv with $PY ($PYVER)"
    if ! "$PY" -m venv "$VENV" >/dev/null 2>&1; then
        rm -rf "$VENV"
        # Debian splits venv/ensurepip into its own package
        apt_install "python${PYVER}-venv"
        "$PY" -m venv "$VENV" || die "could not create .venv with $PY"
    fi
}

ensure_install() {
    local want
    want="$(sha256sum pyproject.toml | cut -d' ' -f1) test"
    if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
        return
    fi
    ensure_packages "${BUILD_PACKAGES[@]}"
    say "pip install -e \".[test]\" (pyproject.toml is new or changed; this takes a few minutes the first time)"
    "$VENV/bin/python" -m pip install -q -e ".[test]" </dev/null || die "pip install failed (see the messages above)"
    printf '%s\n' "$want" >"$STAMP"
}

setup() {
    local t0=$SECONDS
    pick_python
    if ((${#RUN_PACKAGES[@]})); then
        ensure_packages "${RUN_PACKAGES[@]}"
    fi
    ensure_venv
    ensure_install
    say "environment ready ($((SECONDS - t0)) s): .venv, python $PYVER"
}

warm_kernels() {
    # The golden model's numba kernels compile on first use and are cached on disk (golden/__pycache__).
    # Compiling them in one process before pytest-xdist starts its workers takes ~1.5 min once; letting
    # every worker compile them at the same time took ~5x longer on 2 cores. Cached: about a second.
    local t0=$SECONDS
    say "golden kernels: loading from the numba cache, or compiling them (first run: ~2.5 min on 2 cores)"
    if "$VENV/bin/python" -c "from mpmac.golden.kernels import warm; warm()"; then
        say "golden kernels ready ($((SECONDS - t0)) s)"
    else
        say "warning: warming the golden kernels failed (see above); pytest will report the cause"
    fi
}

# --- commands ----------------------------------------------------------------------------------
cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    main)
        setup
        warm_kernels
        say "mpmac demo $*"
        "$VENV/bin/python" -m mpmac demo "$@"
        # the cost model's default sweep (docs/sweep.md); a rerun reuses the points in out/sweep
        say "mpmac sweep --default -o out/sweep"
        exec "$VENV/bin/python" -m mpmac sweep --default -o out/sweep
        ;;
    test)
        setup
        warm_kernels
        say "python -m pytest -n auto --durations=30 $*"
        rc=0
        "$VENV/bin/python" -m pytest -n auto --durations=30 "$@" </dev/null || rc=$?
        if [[ $rc == 5 ]]; then
            die "pytest collected no tests (exit code 5): a test run that runs nothing is a failure"
        fi
        exit "$rc"
        ;;
    -h | --help | help)
        usage
        ;;
    *)
        usage >&2
        [[ -n "$cmd" ]] && printf "[run.sh] error: unknown command '%s' (valid: main, test)\n" "$cmd" >&2
        exit 2
        ;;
esac
