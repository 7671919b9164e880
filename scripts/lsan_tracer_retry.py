#!/usr/bin/env python3
"""Reruns the tests whose only failure was LeakSanitizer's own tracer crashing.

usage: lsan_tracer_retry.py BUILD_DIR JUNIT_XML [--tries N] [--max-tests N]

Called by scripts/test.sh when stage 1 (the sanitizer build) fails. At exit,
LeakSanitizer stops every thread of the process with a helper "tracer" that
ptraces them; that helper sometimes dies of a segfault of its own
("Tracer caught signal 11 ... LeakSanitizer has encountered a fatal error"),
with no leak found and nothing wrong in the program: a known fault of the
sanitizer runtime (google/sanitizers issues 1353 and 1170), seen here in
multithreaded processes with PoCL's worker threads alive at exit. It turned a
passing CI run red once (stop 20, GpuTune.WrongVariantsAreRejectedAndNeverChosen
on OpenCL).

This script reads ctest's JUnit file and looks at every failed test. If each
one failed with that signature and nothing else (no leak report, no ASan or
UBSan error, no failed GoogleTest case), it reruns each of them alone, up to
--tries times, and writes the passing rerun into the JUnit file in place of
the failure, marked retried="..." so that scripts/ctest_report.py lists it. A
failure of any other kind is never rerun and the script exits 1 at once, so a
real failure, leak or flaky test cannot be hidden by this; nor can more than
--max-tests tracer crashes in one run (that would be a systemic problem to
look at, not a flake).

Exit 0: nothing failed, or every failure was the tracer's and passed on rerun.
Exit 1: otherwise (the JUnit file is then left as ctest wrote it).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

from ctest_report import failed  # the same verdict the final report counts (this script's directory)

TRACER_CRASH = ("Tracer caught signal", "LeakSanitizer has encountered a fatal error")
# Any of these means the test found something, whatever the tracer did after.
REAL_FAILURE = (
    "detected memory leaks",      # LeakSanitizer did its job
    "ERROR: AddressSanitizer",
    "runtime error:",             # UBSan
    "[  FAILED  ]",               # GoogleTest
    "Failure\n",                  # GoogleTest assertion text ("...: Failure")
)
CMAKE_REGEX_SPECIAL = set("^$.[]|()*+?\\")


def output_of(case):
    return "\n".join(filter(None, (case.findtext("system-out"), case.findtext("system-err"),
                                   *(e.get("message", "") + "\n" + (e.text or "")
                                     for e in case.findall("failure") + case.findall("error")))))


def is_tracer_crash(text):
    """True when the output shows the tracer's crash and no sign of a real failure."""
    return all(s in text for s in TRACER_CRASH) and not any(s in text for s in REAL_FAILURE)


def exact_name_regex(name):
    """A ctest -R pattern (CMake regex syntax) matching exactly this test name."""
    return "^" + "".join("\\" + c if c in CMAKE_REGEX_SPECIAL else c for c in name) + "$"


def rerun(build_dir, name, ctest):
    """Runs one test alone; returns its JUnit testcase element (or None)."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = os.path.join(tmp, "retry.xml")
        cmd = [ctest, "--test-dir", build_dir, "--output-on-failure", "--timeout", "600",
               "-R", exact_name_regex(name), "--output-junit", junit]
        subprocess.run(cmd, check=False)
        if not os.path.exists(junit):
            return None
        cases = [c for c in ET.parse(junit).getroot().iter("testcase") if c.get("name") == name]
        return cases[0] if len(cases) == 1 else None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build_dir")
    ap.add_argument("junit")
    ap.add_argument("--tries", type=int, default=2)
    ap.add_argument("--max-tests", type=int, default=3)
    ap.add_argument("--ctest", default=os.environ.get("CTEST", "ctest"))
    args = ap.parse_args(argv)

    tree = ET.parse(args.junit)
    root = tree.getroot()
    parents = {child: parent for parent in root.iter() for child in parent}
    failures = [c for c in root.iter("testcase") if failed(c)]
    if not failures:
        return 0
    other = [c.get("name", "?") for c in failures if not is_tracer_crash(output_of(c))]
    if other:
        print(f"lsan_tracer_retry: {len(other)} test(s) failed for a reason other than LeakSanitizer's tracer "
              f"crashing; nothing is rerun: {', '.join(other[:10])}")
        return 1
    if len(failures) > args.max_tests:
        print(f"lsan_tracer_retry: LeakSanitizer's tracer crashed in {len(failures)} tests, more than "
              f"--max-tests {args.max_tests}; not a flake to rerun")
        return 1

    replacements = []
    for case in failures:
        name = case.get("name")
        print(f"lsan_tracer_retry: {name}: passed, then LeakSanitizer's tracer crashed at exit; rerunning it")
        for attempt in range(1, args.tries + 1):
            again = rerun(args.build_dir, name, args.ctest)
            if again is not None and not failed(again) and again.find("skipped") is None:
                again.set("retried", f"passed on rerun {attempt} after LeakSanitizer's tracer crashed at exit")
                replacements.append((case, again))
                break
            print(f"lsan_tracer_retry: {name}: rerun {attempt} did not pass")
        else:
            return 1
    for old, new in replacements:
        parent = parents[old]
        parent.insert(list(parent).index(old), new)
        parent.remove(old)
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    for suite in suites:
        cases = list(suite.iter("testcase"))
        suite.set("failures", str(sum(1 for c in cases if failed(c))))
    tree.write(args.junit, encoding="utf-8", xml_declaration=True)
    print(f"lsan_tracer_retry: {len(replacements)} test(s) passed on rerun")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
