"""What the test command requires to be present (see tests/support/require.hpp).

A script that cannot run part of its checks here skips with a reason (exit
77, or a printed note for a part); scripts/test.sh states what must be
present, and then the same condition is a failure:
  SFT_REQUIRE_BACKENDS=cpu,opencl   these GPU-layer backends must open
  SFT_REQUIRE_FIXTURES=1            ../shared/fixtures must be there
"""
import os
import sys

SKIP = 77  # ctest SKIP_RETURN_CODE


def backend_required(backend):
    wanted = os.environ.get("SFT_REQUIRE_BACKENDS", "")
    return backend in [b.strip() for b in wanted.split(",") if b.strip()]


def fixtures_required():
    return os.environ.get("SFT_REQUIRE_FIXTURES") == "1"


def missing_backend(backend, reason):
    """Exit status for a backend that does not open: 77, or 1 when required."""
    if backend_required(backend):
        print(f"FAIL: {backend} is required (SFT_REQUIRE_BACKENDS) but does not open: {reason}")
        return 1
    print(f"skip: {backend}: {reason}")
    return SKIP


def missing_fixtures(reason):
    """Exit status for absent shared fixtures: 77, or 1 when required."""
    if fixtures_required():
        print(f"FAIL: {reason} (SFT_REQUIRE_FIXTURES=1: the shared fixtures must be present)")
        return 1
    print(f"skip: {reason}")
    return SKIP


def note_missing_fixtures(reason, failures):
    """For a part of a script: print the skip, or record a failure when required."""
    if fixtures_required():
        failures.append(f"{reason} (SFT_REQUIRE_FIXTURES=1: the shared fixtures must be present)")
    else:
        print(f"SKIP {reason}")


if __name__ == "__main__":
    sys.exit("a helper module, not a test")
