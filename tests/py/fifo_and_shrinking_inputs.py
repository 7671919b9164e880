#!/usr/bin/env python3
"""FIFOs never hang a command; inputs that shrink while read never kill one.

1. FIFOs (issue 13, 2.2). A FIFO with no writer, given as a file argument, as
   a shard of a checkpoint directory, as the index path, and as the index a
   directory holds, to every command that reads it: each run has a timeout
   (a hang fails instead of blocking), exits 2 and names the FIFO with
   io_error.
2. Shrinking inputs (2.3, 2.5). Each command that reads whole files is
   stopped with SFT_TEST_STALL=inputs-open after it opened its inputs and
   before it read their data; the input is then truncated and SIGUSR1 lets
   the command go on. It must exit 2 with io_error naming the truncated file
   (never die of SIGBUS, never blame OUT), and leave no OUT behind.

usage: fifo_and_shrinking_inputs.py SFT_BINARY WORK_DIR
Exit 0 when every check passed, 1 otherwise.
"""
import os
import shutil
import signal
import struct
import subprocess
import sys

from cli_checks import check, finish, safetensors_header

SFT, WORK = sys.argv[1], os.path.abspath(sys.argv[2])
TIMEOUT = 20
HAS_GPU = " gpu " in subprocess.run([SFT, "--help"], capture_output=True, text=True).stdout.replace("\n", " ")


def run(args, **kw):
    """(returncode, stderr) of sft ARGS in WORK; returncode None on a timeout."""
    try:
        p = subprocess.run([SFT] + args, cwd=WORK, capture_output=True, timeout=TIMEOUT, **kw)
    except subprocess.TimeoutExpired:
        return None, "timed out (hung)"
    return p.returncode, p.stderr.decode(errors="replace")


def write_file(path, tensors, fill=b"\x01"):
    """A safetensors file of U8 tensors [(name, nbytes)], each byte `fill`."""
    head = safetensors_header([(n, "U8", [size], size) for n, size in tensors])
    with open(path, "wb") as f:
        f.write(head)
        for _, size in tensors:
            f.write(fill * size)


def write_checkpoint(d, shards):
    """A directory with an index and the given shards {file: [(name, nbytes)]}."""
    os.makedirs(d)
    weight_map, total = {}, 0
    for fname, tensors in shards.items():
        write_file(os.path.join(d, fname), tensors)
        for n, size in tensors:
            weight_map[n] = fname
            total += size
    import json
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f)


def write_npy(path, nbytes):
    """A version 1 .npy of nbytes '|u1' items."""
    d = "{'descr': '|u1', 'fortran_order': False, 'shape': (%d,), }" % nbytes
    pad = -(10 + len(d) + 1) % 64
    header = (d + " " * pad + "\n").encode()
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header)
        f.write(b"\x02" * nbytes)


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
os.chdir(WORK)

# ---------------------------------------------------------------------------
# 1. FIFOs
write_file("ok.safetensors", [("a", 8), ("b", 8)])
os.mkfifo("fifo.safetensors")
os.mkfifo("fifo.index.json")
os.mkfifo("fifo.npy")
SHARDS = {"model-00001-of-00002.safetensors": [("a", 8)], "model-00002-of-00002.safetensors": [("b", 8)]}
write_checkpoint("shard-fifo", SHARDS)
os.remove("shard-fifo/model-00002-of-00002.safetensors")
os.mkfifo("shard-fifo/model-00002-of-00002.safetensors")
write_checkpoint("index-fifo", SHARDS)
os.remove("index-fifo/model.safetensors.index.json")
os.mkfifo("index-fifo/model.safetensors.index.json")

# (the FIFO's path as sft may print it, the argument to give)
WHERE = [
    ("fifo.safetensors", "fifo.safetensors"),
    ("model-00002-of-00002.safetensors", "shard-fifo"),
    ("fifo.index.json", "fifo.index.json"),
    ("model.safetensors.index.json", "index-fifo"),
]


def commands(x):
    """Every command that reads X (file, checkpoint or index), with its arguments."""
    cmds = [
        ["validate", x], ["inspect", x], ["merge", x, "o.safetensors"], ["diff", x, "ok.safetensors"],
        ["diff", "ok.safetensors", x], ["convert", x, "o.safetensors", "--dtype", "F16"],
        ["split", x, "o-split", "--max-shard-size", "1000"], ["extract", x, "b", "o.npy"],
        ["hash", x], ["verify", x], ["hash", "--embed", x, "o.safetensors"], ["rewrite", x, "o.safetensors"],
        ["compress", x, "o.zst"], ["decompress", x, "o.safetensors"],
    ]
    if HAS_GPU:
        cmds += [["gpu", "load", "--backend", "cpu", x], ["gpu", "load", "--backend", "cpu", "--pread", x]]
    return cmds


for name, arg in WHERE:
    for args in commands(arg):
        rc, err = run(args)
        what = f"FIFO as {arg}: sft {' '.join(args)}"
        # Commands that take one file (hash, verify, rewrite, compress,
        # decompress) refuse a directory: that is io_error too, and naming it
        # is enough. Every other case must name the FIFO.
        named = name in err or (os.path.isdir(arg) and f"{arg}: io_error: cannot read: is a directory" in err)
        check(rc == 2 and "io_error" in err and named, f"{what}: exit 2, io_error naming it ({rc}: {err.strip()})")
rc, err = run(["create", "o.safetensors", "x=fifo.npy"])
check(rc == 2 and "io_error" in err and "fifo.npy" in err, f"create with a FIFO .npy: exit 2, io_error ({rc}: {err.strip()})")
check(not os.path.exists("o.safetensors") and not os.path.exists("o-split"), "no output written for a FIFO input")

# ---------------------------------------------------------------------------
# 2. Inputs truncated while they are read
BIG = 24 << 20  # several 16 MiB chunks
write_file("src.safetensors", [("t", BIG)])
# hash --embed's output carries digests, for verify.
subprocess.run([SFT, "hash", "--embed", "src.safetensors", "embedded.safetensors"], cwd=WORK, check=True,
               capture_output=True)
write_npy("src.npy", BIG)


def truncated_run(args, victim, source, keep=4096):
    """Run sft ARGS stalled after its inputs are open, truncate VICTIM (a copy of
    SOURCE) to KEEP bytes, let it go on. (returncode, stderr, stalled?)"""
    shutil.copyfile(source, victim)
    env = {**os.environ, "SFT_TEST_STALL": "inputs-open"}
    p = subprocess.Popen([SFT] + args, cwd=WORK, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        line = p.stderr.readline().decode(errors="replace")
        stalled = "stalled at inputs-open" in line
        os.truncate(victim, keep)
        p.send_signal(signal.SIGUSR1)
        _, rest = p.communicate(timeout=TIMEOUT * 3)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        return None, "timed out", False
    return p.returncode, rest.decode(errors="replace"), stalled


CASES = [
    (["hash", "in.safetensors"], "in.safetensors", "src.safetensors", None),
    (["hash", "--json", "in.safetensors"], "in.safetensors", "src.safetensors", None),
    (["verify", "in.safetensors"], "in.safetensors", "embedded.safetensors", None),
    (["hash", "--embed", "in.safetensors", "o.safetensors"], "in.safetensors", "src.safetensors", "o.safetensors"),
    (["convert", "in.safetensors", "o.safetensors", "--dtype", "F16"], "in.safetensors", "src.safetensors",
     "o.safetensors"),
    (["diff", "in.safetensors", "src.safetensors"], "in.safetensors", "src.safetensors", None),
    (["diff", "src.safetensors", "in.safetensors"], "in.safetensors", "src.safetensors", None),
    (["compress", "in.safetensors", "o.zst"], "in.safetensors", "src.safetensors", "o.zst"),
    (["split", "in.safetensors", "o-split", "--max-shard-size", "1000"], "in.safetensors", "src.safetensors",
     "o-split/model.safetensors"),
    (["merge", "in.safetensors", "o.safetensors"], "in.safetensors", "src.safetensors", "o.safetensors"),
    (["create", "o.safetensors", "x=in.npy"], "in.npy", "src.npy", "o.safetensors"),
]
if HAS_GPU:
    for extra in ([], ["--pread"], ["--direct"], ["--staged"], ["--verify"]):
        CASES.append((["gpu", "load", "--backend", "cpu"] + extra + ["in.safetensors"], "in.safetensors",
                      "src.safetensors", None))

for args, victim, source, out in CASES:
    what = "sft " + " ".join(args)
    rc, err, stalled = truncated_run(args, victim, source)
    check(stalled, f"{what}: reached the stall point")
    check(rc == 2, f"{what}: exit 2 for the truncated input, not a signal ({rc}: {err.strip()})")
    check("io_error" in err and victim in err, f"{what}: io_error naming {victim} ({err.strip()})")
    check("o.safetensors:" not in err and "o.zst:" not in err and "o-split:" not in err,
          f"{what}: the error is not blamed on OUT ({err.strip()})")
    if out:
        check(not os.path.exists(out), f"{what}: no {out} left")
    leftovers = [n for n in os.listdir(WORK) if ".sft-tmp-" in n]
    check(leftovers == [], f"{what}: no temporary left ({leftovers})")
    shutil.rmtree("o-split", ignore_errors=True)

# A sharded checkpoint whose second shard shrinks: the shard is named.
write_checkpoint("ckpt", {"model-00001-of-00002.safetensors": [("a", 8)],
                          "model-00002-of-00002.safetensors": [("b", BIG)]})
shutil.copyfile("ckpt/model-00002-of-00002.safetensors", "shard2.orig")
for args in (["merge", "ckpt", "o.safetensors"], ["split", "ckpt", "o-split", "--max-shard-size", "1000"],
             ["convert", "ckpt", "o.safetensors", "--dtype", "F16"], ["diff", "ckpt", "ckpt"]):
    rc, err, stalled = truncated_run(args, "ckpt/model-00002-of-00002.safetensors", "shard2.orig")
    what = "sft " + " ".join(args)
    check(stalled and rc == 2 and "io_error" in err and "model-00002-of-00002.safetensors" in err,
          f"{what}: a shard truncated meanwhile is io_error naming it, exit 2 ({rc}: {err.strip()})")
    shutil.rmtree("o-split", ignore_errors=True)

shutil.rmtree(WORK, ignore_errors=True)
finish()
