"""taplib.py - TAP output for the Python tests (test_feedparser.py,
test_keystone.py): numbered points, diagnostics for the failed ones, and
the plan at the end. Imported from the tests' own folder (sys.path[0])."""
import sys

_count = 0
_failed = 0


def ok(cond, name, detail=None):
    """One test point; detail is shown (as # lines) when it failed."""
    global _count, _failed
    _count += 1
    if not cond:
        _failed += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", _count, name))
    if not cond and detail is not None:
        for line in str(detail).splitlines():
            print("# " + line)
    sys.stdout.flush()
    return cond


def is_(got, want, name, detail=None):
    return ok(got == want, name,
              "got:  %r\nwant: %r%s" % (got, want,
                                       "\n" + str(detail) if detail else ""))


def fail_unnumbered():
    """A failure that is no test point (a bail out): the run fails."""
    global _failed
    _failed += 1


def count():
    return _count


def failed():
    return _failed


def plan():
    print("1..%d" % _count)
