#!/usr/bin/env python3
"""`sft inspect --json` and `sft validate` against independent sources of truth.

1. Every file in ../shared/fixtures/real: validate exits 0, and inspect --json
   reports exactly MANIFEST.json's header length, metadata and, per tensor,
   dtype, shape and data_offsets, with tensors in offset order and data_bytes
   equal to the last end offset. Every file in real-malformed: validate exits 1.
2. Every input of the CLI golden tests (tests/cli/files): validate accepts
   exactly the files the reference package (`safetensors`) accepts, apart from
   the documented deviation (a repeated tensor name), and for accepted files
   inspect --json agrees with the reference on metadata, dtypes and shapes.
3. validate --json over all those files parses as JSON and says, file by file,
   what validate without --json says through its exit status.

Usage: cli_inspect_manifest.py SFT_BINARY FIXTURES_DIR
Exit 0 pass, 1 fail. Parts 1 and 2 skip (with a message) without the fixtures
or without the safetensors and numpy packages.
"""
import json
import os
import struct
import subprocess
import sys

from sft_require import note_missing_fixtures

HERE = os.path.dirname(os.path.abspath(__file__))
CLI_FILES = os.path.join(HERE, "..", "cli", "files")
# Files the reference accepts and sft rejects on purpose (docs/format.md, deviations).
DEVIATIONS = {"duplicate_key.safetensors"}

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg)


def sft(binary, *args):
    return subprocess.run([binary, *args], capture_output=True, env={"LC_ALL": "C", "PATH": os.environ.get("PATH", "")})


def check_fixtures(binary, fixtures):
    real = os.path.join(fixtures, "real")
    with open(os.path.join(real, "MANIFEST.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    for name, want in sorted(manifest.items()):
        path = os.path.join(real, name)
        v = sft(binary, "validate", path)
        if v.returncode != 0:
            fail(f"validate {name}: exit {v.returncode}: {v.stderr!r}")
        p = sft(binary, "inspect", "--json", path)
        if p.returncode != 0:
            fail(f"inspect {name}: exit {p.returncode}: {p.stderr!r}")
            continue
        got = json.loads(p.stdout)
        if got["header_bytes"] != want["header_len"]:
            fail(f"{name}: header_bytes {got['header_bytes']} != {want['header_len']}")
        if got["metadata"] != want["metadata"]:
            fail(f"{name}: metadata {got['metadata']} != {want['metadata']}")
        tensors = {t["name"]: t for t in got["tensors"]}
        if set(tensors) != set(want["tensors"]) or len(tensors) != len(got["tensors"]):
            fail(f"{name}: tensor names differ")
            continue
        for tname, w in want["tensors"].items():
            t = tensors[tname]
            for field in ("dtype", "shape", "data_offsets"):
                if t[field] != w[field]:
                    fail(f"{name}: {tname}.{field} {t[field]} != {w[field]}")
        offsets = [tuple(t["data_offsets"]) for t in got["tensors"]]
        if offsets != sorted(offsets):
            fail(f"{name}: tensors not in offset order")
        end = offsets[-1][1] if offsets else 0
        if got["data_bytes"] != end:
            fail(f"{name}: data_bytes {got['data_bytes']} != last end {end}")
        if 8 + got["header_bytes"] + got["data_bytes"] != os.path.getsize(path):
            fail(f"{name}: sizes do not add up to the file size")
    malformed = os.path.join(fixtures, "real-malformed")
    for name in sorted(os.listdir(malformed)):
        v = sft(binary, "validate", os.path.join(malformed, name))
        if v.returncode != 1:
            fail(f"validate real-malformed/{name}: exit {v.returncode}, want 1")
    print(f"checked {len(manifest)} fixtures against MANIFEST.json")


def reference_view(path):
    """(metadata, {name: (dtype, shape)}) as the reference reads it, or None if it rejects the file."""
    from safetensors import safe_open

    try:
        with safe_open(path, framework="np") as f:
            meta = f.metadata()
            tensors = {}
            for k in f.keys():
                s = f.get_slice(k)
                tensors[k] = (s.get_dtype(), list(s.get_shape()))
            return meta, tensors
    except Exception:
        return None


def check_against_reference(binary):
    checked = 0
    for name in sorted(os.listdir(CLI_FILES)):
        path = os.path.join(CLI_FILES, name)
        ref = reference_view(path)
        v = sft(binary, "validate", path)
        sft_accepts = v.returncode == 0
        ref_accepts = ref is not None
        if name in DEVIATIONS:
            if not (ref_accepts and not sft_accepts):
                fail(f"{name}: listed as a deviation but reference={ref_accepts} sft={sft_accepts}")
            continue
        if sft_accepts != ref_accepts:
            fail(f"{name}: reference {'accepts' if ref_accepts else 'rejects'}, sft exit {v.returncode}")
            continue
        checked += 1
        if not ref_accepts:
            continue
        got = json.loads(sft(binary, "inspect", "--json", path).stdout)
        meta, tensors = ref
        if (got["metadata"] or None) != (meta or None):
            fail(f"{name}: metadata {got['metadata']} != reference {meta}")
        mine = {t["name"]: (t["dtype"], t["shape"]) for t in got["tensors"]}
        if mine != tensors or len(mine) != len(got["tensors"]):
            fail(f"{name}: tensors differ from the reference:\n  sft {mine}\n  ref {tensors}")
    print(f"checked {checked} CLI test files against the reference package")


def check_validate_json(binary):
    names = sorted(os.listdir(CLI_FILES))
    paths = [os.path.join(CLI_FILES, n) for n in names]
    p = sft(binary, "validate", "--json", *paths)
    try:
        results = json.loads(p.stdout)
    except ValueError as e:
        fail(f"validate --json output is not JSON: {e}")
        return
    if p.stderr:
        fail(f"validate --json wrote to stderr: {p.stderr!r}")
    if [r["file"] for r in results] != paths:
        fail("validate --json: files not in argument order")
        return
    status_of = {0: "valid", 1: "invalid", 2: "unreadable"}
    worst = 0
    for path, r in zip(paths, results):
        rc = sft(binary, "validate", path).returncode
        worst = max(worst, rc)
        if r["status"] != status_of.get(rc) or (r["status"] == "valid") != (r["errors"] == []):
            fail(f"validate --json says {r} for {path}, exit status {rc}")
    if p.returncode != worst:
        fail(f"validate --json exit {p.returncode}, want {worst}")
    print(f"checked validate --json on {len(paths)} files")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    binary, fixtures = sys.argv[1], sys.argv[2]
    check_validate_json(binary)
    if os.path.isfile(os.path.join(fixtures, "real", "MANIFEST.json")):
        check_fixtures(binary, fixtures)
    else:
        note_missing_fixtures(f"fixture checks: no {fixtures}/real/MANIFEST.json", failures)
    try:
        import safetensors  # noqa: F401
        import numpy  # noqa: F401
    except ImportError as e:
        print(f"SKIP reference checks: {e}")
    else:
        check_against_reference(binary)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
