#!/usr/bin/env python3
"""Counts and skip policy of ctest runs, from their JUnit files (ctest --output-junit).

usage: ctest_report.py JUNIT_XML...

Prints one line per run with its passed / failed / skipped counts, every
skipped test with ctest's reason, and a final line
"sft: N passed, N failed, N skipped". Exit 1 when a test failed or when a test
was skipped that the policy below does not allow: scripts/test.sh (and so CI)
requires every test to run, so that a missing runtime, package or fixture
directory cannot turn tests into silent skips.

Allowed: the CUDA backend's and the NCCL engine's tests (names ending in
/cuda, _cuda or _nccl) on a
machine without an NVIDIA driver (no /proc/driver/nvidia/version), where
they cannot run. On a machine with the driver they must run like the rest.
"""
import os
import re
import sys
import xml.etree.ElementTree as ET

CUDA_TEST = re.compile(r"(/|_)(cuda|nccl)(\s|$)")


def nvidia_driver_present():
    return os.path.exists("/proc/driver/nvidia/version")


def allowed_skip(name, driver):
    if CUDA_TEST.search(name) and not driver:
        return "CUDA (or NCCL, which needs CUDA devices) test on a machine without an NVIDIA driver"
    return None


def failed(case):
    """Whether ctest recorded this JUnit testcase as failed."""
    return case.find("failure") is not None or case.find("error") is not None or case.get("status") == "fail"


def skip_reason(case, skipped):
    # ctest's own message ("SKIP_REGULAR_EXPRESSION_MATCHED", "SKIP_RETURN_CODE=77")
    # says little; the test's output says why.
    lines = (case.findtext("system-out") or "").splitlines()
    said = []
    for i, line in enumerate(lines):
        if line.rstrip().endswith(": Skipped") and i + 1 < len(lines):  # GoogleTest: the reason follows
            said.append(lines[i + 1].strip())
        elif "skip" in line.lower() and "SKIPPED" not in line and "Skipped" not in line:
            said.append(line.strip())
    ctest = skipped.get("message", "") if skipped is not None else case.get("status", "")
    return "; ".join(said[:3] + [ctest]) if said else ctest


def main(paths):
    if not paths:
        print(__doc__)
        return 2
    driver = nvidia_driver_present()
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    refused = []
    for path in paths:
        counts = {"passed": 0, "failed": 0, "skipped": 0}
        for case in ET.parse(path).getroot().iter("testcase"):
            name = case.get("name", "?")
            skipped = case.find("skipped")
            if skipped is not None or case.get("status") in ("notrun", "disabled"):
                counts["skipped"] += 1
                why = allowed_skip(name, driver)
                reason = skip_reason(case, skipped)
                if why:
                    print(f"  skipped (allowed: {why}): {name}")
                else:
                    print(f"  SKIPPED, NOT ALLOWED: {name}: {reason}")
                    refused.append(name)
            elif failed(case):
                counts["failed"] += 1
            else:
                counts["passed"] += 1
                if case.get("retried"):  # scripts/lsan_tracer_retry.py
                    print(f"  retried: {name}: {case.get('retried')}")
        print(f"{path}: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
        for k in totals:
            totals[k] += counts[k]
    if refused:
        print(f"{len(refused)} test(s) skipped that must run here (scripts/ctest_report.py says which skips are "
              "allowed): install what they need, or fix what makes them skip")
    print(f"sft: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    return 1 if refused or totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
