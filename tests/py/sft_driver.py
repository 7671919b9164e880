"""Shared helpers for the Python tests that compare sft with the reference package.

sft is driven through tests/tools/sft_dump (built by tests/conformance.cmake),
which answers one JSON line per request; many requests go through one process
(--batch) so that thousands of files take a second, not minutes.
"""

import json
import subprocess
import sys

SKIP = 77  # ctest SKIP_RETURN_CODE


def require_reference():
    """Imports the reference stack, or exits with SKIP and the reason."""
    missing = []
    for module in ("numpy", "ml_dtypes", "safetensors"):
        try:
            __import__(module)
        except ImportError as e:  # pragma: no cover - depends on the machine
            missing.append(f"{module} ({e})")
    if missing:
        print("SKIP: missing Python modules: " + ", ".join(missing) +
              "; install them with: pip install safetensors numpy ml_dtypes")
        sys.exit(SKIP)


def run_batch(dump, requests, mode="mmap"):
    """Sends request lines to one sft_dump --batch process and returns one parsed
    answer per request. If sft_dump dies part-way (a crash is always a bug), the
    remaining requests are retried one process each so the culprit is named, and
    its answer is {"ok": False, "error": "crash", ...}."""
    answers = []
    pending = list(requests)
    while pending:
        proc = subprocess.run([dump, "--mode", mode, "--batch"], input="\n".join(pending) + "\n",
                              capture_output=True, text=True, errors="replace")
        lines = [l for l in proc.stdout.split("\n") if l]
        for line in lines[:len(pending)]:
            answers.append(json.loads(line))
        done = len(lines)
        if done >= len(pending) and proc.returncode == 0:
            break
        # The request after the last answered one killed the process.
        culprit = pending[done]
        single = subprocess.run([dump, "--mode", mode, "--batch"], input=culprit + "\n",
                                capture_output=True, text=True, errors="replace")
        out = [l for l in single.stdout.split("\n") if l]
        if out and single.returncode == 0:
            answers.append(json.loads(out[0]))  # flaky ordering, not a crash
        else:
            answers.append({"ok": False, "error": "crash", "offset": None, "tensor": "",
                            "message": f"sft_dump exited with {single.returncode}: {single.stderr[-500:]}"})
        pending = pending[done + 1:]
    return answers


def hexname(name):
    """The hex form sft_dump uses for names: UTF-8 bytes of a Python str, or raw bytes."""
    if isinstance(name, str):
        name = name.encode("utf-8", "surrogatepass")
    return name.hex()
