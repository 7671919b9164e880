#!/usr/bin/env python3
"""SIGINT, SIGTERM and SIGHUP during a write remove sft's temporary file.

`sft rewrite IN OUT` is stopped at a known point (SFT_TEST_STALL=rewrite: after
the first 16 MiB chunk went into the temporary, which Writer has already
extended to its full size), then signalled. Checked for each signal, with OUT
absent, OUT an existing file, and OUT the input itself:
  - sft dies of that signal (the shell sees "killed by signal"),
  - no `.OUT.sft-tmp-*` is left in the directory,
  - OUT is exactly what it was before (or still absent).
Then the same with two rewrites running at once in one directory, signalled
together. Exit 0 when every check passed, 1 otherwise.

usage: signal_temporaries.py SFT_BINARY WORK_DIR
"""
import os
import shutil
import signal
import subprocess
import sys

from cli_checks import check, finish, safetensors_header

SFT, WORK = sys.argv[1], sys.argv[2]


def write_input(path, size):
    # One U8 tensor of `size` bytes, a hole on disk (sparse): big enough for
    # several chunks, cheap to create.
    head = safetensors_header([("t", "U8", [size], size)])
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(len(head) + size)
    return len(head) + size


def temporaries(directory):
    return sorted(n for n in os.listdir(directory) if ".sft-tmp-" in n)


def start_stalled(src, out):
    env = {**os.environ, "SFT_TEST_STALL": "rewrite"}
    p = subprocess.Popen([SFT, "rewrite", src, out], stderr=subprocess.PIPE, env=env)
    line = p.stderr.readline().decode()
    return p, line


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
SIZE = 48 << 20
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    for case in ("absent", "existing", "in-place"):
        d = os.path.join(WORK, f"{sig.name}-{case}")
        os.makedirs(d)
        src = os.path.join(d, "in.safetensors")
        total = write_input(src, SIZE)
        out = src if case == "in-place" else os.path.join(d, "out.safetensors")
        before = None
        if case == "existing":
            with open(out, "wb") as f:
                f.write(b"the previous contents of OUT")
        if os.path.exists(out):
            with open(out, "rb") as f:
                before = f.read()
        p, line = start_stalled(src, out)
        what = f"{sig.name}, OUT {case}"
        check("stalled at rewrite" in line, f"{what}: sft reached the stall point ({line!r})")
        tmp = temporaries(d)
        check(len(tmp) == 1 and os.path.getsize(os.path.join(d, tmp[0])) == total,
              f"{what}: one temporary at full size while writing ({tmp})")
        p.send_signal(sig)
        p.wait(timeout=60)
        p.stderr.close()
        check(p.returncode == -sig, f"{what}: sft dies of the signal (returncode {p.returncode})")
        check(temporaries(d) == [], f"{what}: no temporary left ({temporaries(d)})")
        if before is None:
            check(not os.path.exists(out), f"{what}: OUT still absent")
        else:
            with open(out, "rb") as f:
                check(f.read() == before, f"{what}: OUT unchanged")

# Two writers in one directory, both signalled: each removes its own.
d = os.path.join(WORK, "two")
os.makedirs(d)
src = os.path.join(d, "in.safetensors")
write_input(src, SIZE)
procs = [start_stalled(src, os.path.join(d, f"out{i}.safetensors"))[0] for i in range(2)]
check(len(temporaries(d)) == 2, f"two writers: two temporaries ({temporaries(d)})")
for p in procs:
    p.send_signal(signal.SIGTERM)
for p in procs:
    p.wait(timeout=60)
    p.stderr.close()
check(all(p.returncode == -signal.SIGTERM for p in procs), "two writers: both die of SIGTERM")
check(temporaries(d) == [], f"two writers: no temporary left ({temporaries(d)})")

# Not stalled, not signalled: the rewrite completes and leaves nothing else.
d = os.path.join(WORK, "complete")
os.makedirs(d)
src = os.path.join(d, "in.safetensors")
write_input(src, 1 << 20)
r = subprocess.run([SFT, "rewrite", src, os.path.join(d, "out.safetensors")], capture_output=True)
check(r.returncode == 0 and sorted(os.listdir(d)) == ["in.safetensors", "out.safetensors"],
      f"an uninterrupted rewrite: {r.returncode} {r.stderr!r} {sorted(os.listdir(d))}")

shutil.rmtree(WORK, ignore_errors=True)
finish()
