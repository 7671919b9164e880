"""Shared by the scripted CLI tests (tests/cli_robustness.cmake): collecting
failed checks, and writing small safetensors files without any package."""
import json
import struct
import sys

failures = []


def check(cond, what):
    """Records (and prints) a failed check; the script goes on."""
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def finish():
    """Exit 1 naming how many checks failed, else 0."""
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)


def safetensors_header(tensors):
    """The 8-byte length and padded JSON header for [(name, dtype, shape, nbytes)],
    laid out back to back in the order given."""
    entries, at = {}, 0
    for name, dtype, shape, nbytes in tensors:
        entries[name] = {"dtype": dtype, "shape": shape, "data_offsets": [at, at + nbytes]}
        at += nbytes
    header = json.dumps(entries, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header
