"""Shared test plumbing: a tally of vectors checked / mismatches per comparison, summarised at the end.

Tests call the ``tally`` fixture: ``tally(label, checked, mismatches, expected=N)`` records one
comparison (kept in the test report's ``user_properties``, so the summary also works under
pytest-xdist), prints it (visible with ``-s``) and asserts that the comparison was not vacuous
(``checked == expected``) and found no mismatch. The terminal summary lists the totals per test
function, or per comparison with ``-v``.

Tests marked ``slow`` are deselected unless a ``-m`` expression is given (``-m slow``, or
``-m "slow or not slow"`` for everything), as README.md's test tiers describe.

Tests marked ``early`` are moved to the front of the run: pytest-xdist (``-n auto``) hands each
worker a block of consecutive tests, so the first worker starts with them and a test that takes
minutes runs while the short ones fill the other workers, instead of starting late and forming the
tail of the run. (All early tests land on that one worker: mark only the few longest.)
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

_KEY = "mpmac_tally"


def pytest_configure(config):
    config.addinivalue_line("markers", "early: a long test that starts first (see tests/conftest.py)")


def pytest_collection_modifyitems(config, items):
    if not config.getoption("markexpr", ""):
        slow = [item for item in items if item.get_closest_marker("slow")]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if not item.get_closest_marker("slow")]
    # a stable sort: the early tests keep their order, and so does everything else
    items.sort(key=lambda item: item.get_closest_marker("early") is None)


class Mismatch(AssertionError):
    pass


@pytest.fixture
def tally(request):
    def record(label: str, checked: int, mismatches: int, expected: int | None = None, detail: str = ""):
        checked, mismatches = int(checked), int(mismatches)
        request.node.user_properties.append((_KEY, (label, checked, mismatches)))
        print(f"[tally] {request.node.name} | {label}: {checked} vectors, {mismatches} mismatches")
        if expected is not None:
            assert checked == expected, f"{label}: checked {checked} vectors, expected {expected}"
        assert checked > 0, f"{label}: no vectors checked"
        if mismatches:
            raise Mismatch(f"{label}: {mismatches} mismatches in {checked} vectors\n{detail}")
    return record


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    rows = []
    for reports in terminalreporter.stats.values():
        for rep in reports:
            if getattr(rep, "when", None) != "call":
                continue
            for name, value in getattr(rep, "user_properties", ()):
                if name == _KEY:
                    rows.append((rep.nodeid, *value))
    if not rows:
        return
    tw = terminalreporter
    tw.section("mpmac vector tally")
    verbose = config.getoption("verbose") > 0
    if verbose:
        for nodeid, label, checked, bad in sorted(rows):
            tw.write_line(f"{checked:>11,} vectors {bad:>7,} mismatches  {nodeid} | {label}")
    groups = defaultdict(lambda: [0, 0, 0])
    for nodeid, label, checked, bad in rows:
        g = groups[re.sub(r"\[.*\]$", "", nodeid)]
        g[0] += 1
        g[1] += checked
        g[2] += bad
    for func, (n, checked, bad) in sorted(groups.items()):
        tw.write_line(f"{checked:>11,} vectors {bad:>7,} mismatches  in {n:>4} comparisons  {func}")
    total = sum(r[2] for r in rows), sum(r[3] for r in rows)
    tw.write_line(f"{total[0]:>11,} vectors {total[1]:>7,} mismatches  total ({len(rows)} comparisons)")
