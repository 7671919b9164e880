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

Usage: cli_inspect_manifest.py SFT_BINARY FIXTURES_DIR
Exit 0 pass, 1 fail, 77 skip (no fixtures and no safetensors package).
"""
import json
import os
import struct
import subprocess
import sys

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


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    binary, fixtures = sys.argv[1], sys.argv[2]
    ran = False
    if os.path.isfile(os.path.join(fixtures, "real", "MANIFEST.json")):
        check_fixtures(binary, fixtures)
        ran = True
    else:
        print(f"SKIP fixture checks: no {fixtures}/real/MANIFEST.json")
    try:
        import safetensors  # noqa: F401
        import numpy  # noqa: F401
    except ImportError as e:
        print(f"SKIP reference checks: {e}")
    else:
        check_against_reference(binary)
        ran = True
    if failures:
        return 1
    return 0 if ran else 77


if __name__ == "__main__":
    sys.exit(main())
