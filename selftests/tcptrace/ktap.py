# SPDX-License-Identifier: GPL-2.0
"""Minimal kselftest (TAP 13) reporting for the tcptrace guest tests."""
import time
import traceback

_tests = []


def test(fn):
    """Register a test function; run in declaration order."""
    _tests.append(fn)
    return fn


class Skip(Exception):
    pass


def run(selected=None, after_each=None):
    todo = [t for t in _tests if not selected or t.__name__ in selected]
    # a misspelt name in a selection would silently run nothing
    unknown = sorted(set(selected or ()) - {t.__name__ for t in _tests})
    print("TAP version 13", flush=True)
    print("1..%d" % (len(todo) + len(unknown)), flush=True)
    failed = 0
    for i, t in enumerate(todo, 1):
        name = t.__name__
        t0 = time.monotonic()
        try:
            try:
                t()
            finally:
                if after_each:
                    after_each()
                # where a run's time goes (make check has a time budget)
                print("# %s: %.1f s" % (name, time.monotonic() - t0))
        except Skip as e:
            print("ok %d %s # SKIP %s" % (i, name, e), flush=True)
            continue
        except Exception:  # noqa: BLE001 - report every failure as TAP
            failed += 1
            for line in traceback.format_exc().splitlines():
                print("# " + line)
            print("not ok %d %s" % (i, name), flush=True)
            continue
        print("ok %d %s" % (i, name), flush=True)
    for i, name in enumerate(unknown, len(todo) + 1):
        failed += 1
        print("not ok %d %s # no such test" % (i, name), flush=True)
    print("# %d passed, %d failed" % (len(todo) + len(unknown) - failed,
                                       failed), flush=True)
    return 1 if failed else 0


def diag(msg):
    for line in str(msg).splitlines():
        print("# " + line, flush=True)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def eq(got, want, what):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))
