#!/usr/bin/env python3
"""Smoke test of bench/compare.py: run it with --quick and check its report's form.

Fails when compare.py fails, when a cross-check (same tensors, bytes and
checksums on both sides) fails, or when the Markdown table is malformed or
misses a row. Asserts no time. Exit 77 (skip) when compare.py reports that the
reference package is missing.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPARE = os.path.join(ROOT, "bench", "compare.py")
TIME = re.compile(r"^\d+(\.\d+)? (µs|ms|s)$")
RATIO = re.compile(r"^\d+(\.\d+)?×$")
COLUMNS = ["workload", "operation", "sft median", "reference median", "ratio", "CPU ratio", "sft min – max",
           "reference min – max", "sft GB/s", "reference GB/s", "reps"]
# Operations the driver always has; the others (write) only once their code lands.
CORE_OPS = {"open", "load", "load_plain", "touch", "touch_memmap", "cold"}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def results_table(md):
    """The rows of the table under '## Results' as lists of cells."""
    lines = md.splitlines()
    start = lines.index("## Results")
    table = []
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            table.append(cells(line))
    return table


def check_generators(driver, work):
    """bench/support/workload.cpp (through the driver) and bench/gen_workload.py write the same bytes."""
    gen = os.path.join(ROOT, "bench", "gen_workload.py")
    for name, args in (("small", ["--layers", "32", "--hidden", "256"]),
                       ("moe", ["--layers", "48", "--hidden", "64", "--experts", "128", "--sparse"])):
        c, py = os.path.join(work, f"c_{name}.safetensors"), os.path.join(work, f"py_{name}.safetensors")
        subprocess.run([driver, "gen", name, c], check=True, timeout=120)
        subprocess.run([sys.executable, gen, py, "transformer"] + args, check=True, timeout=120,
                       stdout=subprocess.DEVNULL)
        with open(c, "rb") as f1, open(py, "rb") as f2:
            check(f1.read() == f2.read(), f"{name}: the C++ and Python workload generators differ")
        os.unlink(c)
        os.unlink(py)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--work-dir", required=True)
    a = ap.parse_args()
    shutil.rmtree(a.work_dir, ignore_errors=True)
    os.makedirs(a.work_dir)
    md_path = os.path.join(a.work_dir, "RESULTS.md")
    json_path = os.path.join(a.work_dir, "results.json")
    p = subprocess.run([sys.executable, COMPARE, "--quick", "--driver", a.driver, "--out", md_path,
                        "--json", json_path, "--work-dir", os.path.join(a.work_dir, "data")],
                       capture_output=True, text=True, timeout=280)
    if p.returncode == 77:
        print(p.stderr.strip())
        return 77
    if p.returncode != 0:
        print(p.stdout, p.stderr, sep="\n")
        print(f"FAIL: compare.py exited {p.returncode}")
        return 1

    check_generators(a.driver, a.work_dir)
    with open(json_path) as f:
        res = json.load(f)
    with open(md_path, encoding="utf-8") as f:
        md = f.read()

    # The JSON: every cross-check passed, and there were some.
    check(res["checks"], "no cross-checks ran")
    for c in res["checks"]:
        check(c["ok"], "cross-check failed: " + c["what"])
    check(not res["notes"], f"problems reported: {res['notes']}")
    reading = ("load", "load_plain", "touch", "touch_memmap")
    expected = {("small", op) for op in ("open", "cold", "write") + reading}
    expected |= {("moe", op) for op in ("open", "write") + reading}
    expected |= {("dense", op) for op in ("open", "cold", "write") + reading}
    expected |= {("zeros", op) for op in ("open",) + reading}
    expected |= {("hole_big", "open"), ("hole_small", "open")}
    got = {(r["workload"], r["op"]) for r in res["rows"]}
    check(got == expected, f"rows differ: missing {sorted(expected - got)}, extra {sorted(got - expected)}")
    driver_ops = {o["name"] for o in res["driver"]["ops"]}
    for r in res["rows"]:
        sides = ["ref"] + (["sft"] if r["op"] in CORE_OPS or "write" in driver_ops else [])
        for side in sides:
            s = r.get(side)
            check(s is not None, f"{r['workload']} {r['op']}: no {side} figure")
            if s:
                check(0 < s["min"] <= s["median"] <= s["max"], f"{r['workload']} {r['op']} {side}: bad stats {s}")
                c = r.get(side + "_cpu")
                check(c is not None and 0 <= c["min"] <= c["median"] <= c["max"],
                      f"{r['workload']} {r['op']} {side}: bad CPU stats {c}")
                n = sum(len(x[side]["times_s"]) for x in r["rounds"] if x.get(side))
                check(n == r["reps"] * len(r["rounds"]), f"{r['workload']} {r['op']} {side}: {n} times")
    cold = res["cold"]
    for k in ("sft_resident_after_drop", "ref_resident_after_drop"):
        check(k in cold and cold[k] is not None, f"cold: {k} not measured")

    # The Markdown: the sections, and a well-formed results table with one row per measurement.
    for heading in ("## Machine", "## Workloads", "## Results", "## What each figure means", "## Checks",
                    "## Where sft is not ahead, and why"):
        check(heading in md.splitlines(), f"report lacks '{heading}'")
    check("safetensors" in md and res["machine"]["safetensors"] in md, "report lacks the safetensors version")
    table = results_table(md)
    check(len(table) >= 2 and table[0] == COLUMNS, f"table header is {table[:1]}")
    check(len(table) >= 2 and all(set(c) <= set("-:") for c in table[1]), "no separator row")
    body = table[2:]
    check(len(body) == len(res["rows"]), f"table has {len(body)} rows, JSON {len(res['rows'])}")
    for row in body:
        check(len(row) == len(COLUMNS), f"row with {len(row)} cells: {row}")
        if len(row) != len(COLUMNS):
            continue
        check(TIME.match(row[3]), f"reference median '{row[3]}'")
        if row[2] != "not in this driver":
            check(TIME.match(row[2]), f"sft median '{row[2]}'")
            check(RATIO.match(row[4]), f"ratio '{row[4]}'")
            check(RATIO.match(row[5]), f"CPU ratio '{row[5]}'")
        for c in (row[6], row[7]):
            check(c == "n/a" or all(TIME.match(t.strip()) for t in c.split("–")), f"min – max '{c}'")

    if failures:
        for f in failures:
            print("FAIL:", f)
        print(md)
        return 1
    print(f"bench smoke: {len(body)} rows, {len(res['checks'])} cross-checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
