#!/usr/bin/env python3
"""Checks scripts/lsan_tracer_retry.py against real ctest runs.

A scratch CMake project registers tests that print what a sanitizer run
prints and exit 1, counting their runs in files:
  - one whose first run ends with LeakSanitizer's tracer crash and whose
    second passes, named like a parameterised GoogleTest (slashes, dots,
    spaces, quotes, parentheses) so the exact-name pattern is exercised;
  - one where the tracer crashed after a leak report, one after a failed
    GoogleTest case, one after a UBSan error: never rerun;
  - one whose tracer crashes every time: rerun --tries times, then fail.
Each scenario runs ctest for real, then the script on its JUnit file, and
checks the exit status, how often each test ran, the rewritten JUnit file and
what scripts/ctest_report.py counts from it.

usage: lsan_tracer_retry_check.py REPO_ROOT CMAKE CTEST WORK_DIR
"""
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

PASSED = "[==========] 1 test from 1 test suite ran.\n[  PASSED  ] 1 test.\n"
TRACER = ("Tracer caught signal 11: addr=0x200005e60 pc=0x55c41e75006a sp=0x7fd78c1f6d40\n"
          "==8937==LeakSanitizer has encountered a fatal error.\n")
LEAK = "==1==ERROR: LeakSanitizer: detected memory leaks\n"
GTEST_FAIL = "x_test.cpp:10: Failure\nExpected equality\n[  FAILED  ] X.Y\n"
UBSAN = "x.cpp:3:5: runtime error: signed integer overflow\n"

FLAKY = 'Backends/GpuTune.Wrong(Variants)/opencl  # GetParam() = "opencl"'
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAILED: ") + what)
    if not cond:
        failures.append(what)


def script(path, outputs):
    """A test body: run k prints outputs[min(k, len-1)] (text, exit code)."""
    with open(path, "w") as f:
        f.write("import os, sys\n")
        f.write(f"outputs = {outputs!r}\n")
        f.write("count = __file__ + '.runs'\n")
        f.write("n = int(open(count).read()) if os.path.exists(count) else 0\n")
        f.write("open(count, 'w').write(str(n + 1))\n")
        f.write("text, rc = outputs[min(n, len(outputs) - 1)]\n")
        f.write("sys.stdout.write(text); sys.stdout.flush(); sys.exit(rc)\n")


def runs(path):
    return int(open(path + ".runs").read()) if os.path.exists(path + ".runs") else 0


def scenario(name, root, cmake, ctest, work, tests, expect_rc, expect_runs, expect_report):
    """tests: [(ctest name, [(output, rc), ...])]; expect_runs: runs per test after the script."""
    src = os.path.join(work, name, "src")
    build = os.path.join(work, name, "build")
    os.makedirs(src)
    lines = ["cmake_minimum_required(VERSION 3.20)", "project(p NONE)", "enable_testing()"]
    bodies = []
    for i, (tname, outputs) in enumerate(tests):
        body = os.path.join(src, f"t{i}.py")
        script(body, outputs)
        bodies.append(body)
        lines.append(f"add_test(NAME [==[{tname}]==] COMMAND [==[{sys.executable}]==] [==[{body}]==])")
    with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run([cmake, "-S", src, "-B", build], check=True, stdout=subprocess.DEVNULL)
    junit = os.path.join(work, name, "junit.xml")
    first = subprocess.run([ctest, "--test-dir", build, "--output-junit", junit], stdout=subprocess.DEVNULL)
    check(first.returncode != 0, f"{name}: the first ctest run fails")
    before = open(junit, "rb").read()
    env = dict(os.environ, CTEST=ctest)
    r = subprocess.run([sys.executable, os.path.join(root, "scripts", "lsan_tracer_retry.py"), build, junit],
                       env=env, capture_output=True, text=True)
    print(r.stdout + r.stderr)
    check(r.returncode == expect_rc, f"{name}: lsan_tracer_retry exits {expect_rc} (got {r.returncode})")
    for body, n, (tname, _) in zip(bodies, expect_runs, tests):
        check(runs(body) == n, f"{name}: {tname!r} ran {n} time(s) (got {runs(body)})")
    if expect_rc != 0:
        check(open(junit, "rb").read() == before, f"{name}: the JUnit file is left as ctest wrote it")
    rep = subprocess.run([sys.executable, os.path.join(root, "scripts", "ctest_report.py"), junit],
                         capture_output=True, text=True)
    print(rep.stdout)
    check(expect_report in rep.stdout, f"{name}: ctest_report says {expect_report!r}")
    return junit


def main(root, cmake, ctest, work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    ok = ("ok\n", 0)

    junit = scenario("flaky", root, cmake, ctest, work,
                     [(FLAKY, [(PASSED + TRACER, 1), (PASSED, 0)]), ("plain", [ok])],
                     0, [2, 1], "sft: 2 passed, 0 failed, 0 skipped")
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    check(FLAKY in cases and "retried" in cases[FLAKY].attrib and cases[FLAKY].find("failure") is None,
          "flaky: the rerun replaces the failure in the JUnit file, marked retried")
    check(ET.parse(junit).getroot().get("failures") == "0", "flaky: the suite's failure count is updated")
    rep = subprocess.run([sys.executable, os.path.join(root, "scripts", "ctest_report.py"), junit],
                         capture_output=True, text=True).stdout
    check(f"retried: {FLAKY}" in rep, "flaky: ctest_report lists the retried test")

    for kind, text in (("leak", LEAK), ("gtest-failure", GTEST_FAIL), ("ubsan", UBSAN)):
        scenario(kind, root, cmake, ctest, work,
                 [("crash", [(PASSED + TRACER, 1), (PASSED, 0)]), ("real", [(text + TRACER, 1), ok])],
                 1, [1, 1], "0 passed, 2 failed")
    scenario("always", root, cmake, ctest, work, [("always", [(PASSED + TRACER, 1)])],
             1, [3], "0 passed, 1 failed")
    scenario("too-many", root, cmake, ctest, work,
             [(f"c{i}", [(PASSED + TRACER, 1), (PASSED, 0)]) for i in range(4)],
             1, [1, 1, 1, 1], "0 passed, 4 failed")
    print(f"{len(failures)} check(s) failed" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
