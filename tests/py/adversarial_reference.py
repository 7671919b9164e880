#!/usr/bin/env python3
"""Check the adversarial corpus against the reference package.

For every file in tests/adversarial/expectations.tsv the reference Python
package `safetensors` must do what the `reference` column says: reject the
file, or accept it (the positive controls, and the documented deviations where
sft is deliberately stricter). Also checks the two near-100 MB headers that are
too big to commit: exactly 100,000,000 bytes is accepted, one byte more is not.

Exit 0: all agree; 1: a disagreement; 77: safetensors is not installed (skip).

    python3 tests/py/adversarial_reference.py [tests/adversarial]
"""
import os
import struct
import sys
import tempfile

try:
    from safetensors import safe_open
except ImportError as e:  # registered with SKIP_RETURN_CODE 77
    print("SKIP: the reference package is not importable (%s); pip install safetensors numpy" % e)
    sys.exit(77)
try:
    import numpy  # noqa: F401  (safe_open(framework="np") needs it)
except ImportError as e:
    print("SKIP: numpy is not importable (%s)" % e)
    sys.exit(77)


def reference_accepts(path):
    """True if the reference opens the file and reads every tensor."""
    try:
        with safe_open(path, framework="np") as f:
            for k in f.keys():
                f.get_slice(k)  # the header entry, without copying data
            return True, ""
    except Exception as e:  # the reference raises SafetensorError, but any exception is a rejection
        return False, "%s: %s" % (type(e).__name__, str(e)[:120])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "adversarial")
    failures, count = 0, 0
    with open(os.path.join(corpus, "expectations.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, errc, _off, _tensor, reference, what = line.rstrip("\n").split("\t")
            ok, why = reference_accepts(os.path.join(corpus, "files", name))
            count += 1
            want = reference == "accept"
            if ok != want:
                failures += 1
                print("MISMATCH %s: sft %s, expected reference to %s, it %s %s" %
                      (name, errc, reference, "accepted" if ok else "rejected", why))

    # Near the 100 MB header limit (generated here, not committed).
    with tempfile.TemporaryDirectory() as tmp:
        for n, want in ((100_000_000, True), (100_000_001, False)):
            p = os.path.join(tmp, "big.safetensors")
            with open(p, "wb") as out:
                out.write(struct.pack("<Q", n) + b"{}" + b" " * (n - 2))
            ok, why = reference_accepts(p)
            count += 1
            if ok != want:
                failures += 1
                print("MISMATCH header of %d bytes: reference %s %s" % (n, "accepted" if ok else "rejected", why))
            os.remove(p)
    print("%d files checked against the reference, %d mismatches" % (count, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
