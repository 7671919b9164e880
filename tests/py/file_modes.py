#!/usr/bin/env python3
"""A file sft replaces keeps its permission bits (and owner and group where
the process may set them); a file sft creates gets 0666 less the umask.

Checked through the CLI on every command that can write over an existing
file: rewrite F F, hash --embed F F, convert, compress, decompress, extract;
with modes 0600, 0640 and 0755 on the old file. As root the old file is also
given to user and group nobody (65534) first, and must stay theirs. New files
are written under umask 027 and must be 0640.
Exit 0 when every check passed, 1 otherwise.

usage: file_modes.py SFT_BINARY WORK_DIR
"""
import os
import shutil
import stat
import struct
import subprocess
import sys

from cli_checks import check, finish, safetensors_header

SFT, WORK = sys.argv[1], sys.argv[2]


def write_model(path):
    data = struct.pack("<8f", *range(8))
    with open(path, "wb") as f:
        f.write(safetensors_header([("w", "F32", [2, 4], len(data))]) + data)


def sft(*args):
    return subprocess.run([SFT, *args], capture_output=True)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
root = os.geteuid() == 0
model = os.path.join(WORK, "model.safetensors")
write_model(model)
packed = os.path.join(WORK, "model.zst")
check(sft("compress", model, packed).returncode == 0, "compress the model")

# (what, arguments given the target path, in place?)
commands = [
    ("rewrite F F", lambda t: ["rewrite", t, t], True),
    ("hash --embed F F", lambda t: ["hash", "--embed", t, t], True),
    ("rewrite IN OUT", lambda t: ["rewrite", model, t], False),
    ("convert", lambda t: ["convert", model, t, "--dtype", "BF16"], False),
    ("compress", lambda t: ["compress", model, t], False),
    ("decompress", lambda t: ["decompress", packed, t], False),
    ("extract", lambda t: ["extract", model, "w", t], False),
]
for what, argv, in_place in commands:
    for m in (0o600, 0o640, 0o755):
        target = os.path.join(WORK, f"target-{m:o}")
        if in_place:
            write_model(target)
        else:
            with open(target, "wb") as f:
                f.write(b"old contents")
        os.chmod(target, m)
        if root:
            os.chown(target, 65534, 65534)
        r = sft(*argv(target))
        check(r.returncode == 0, f"{what}: exit 0 over a {m:o} file ({r.stderr.decode().strip()})")
        check(mode(target) == m, f"{what}: mode {m:o} kept (now {mode(target):o})")
        if root:
            st = os.stat(target)
            check((st.st_uid, st.st_gid) == (65534, 65534), f"{what}: owner and group kept ({st.st_uid}:{st.st_gid})")
        os.remove(target)

# New files: 0666 less the umask, as before.
for what, argv, in_place in commands:
    if in_place:
        continue
    target = os.path.join(WORK, "fresh")
    r = subprocess.run(["sh", "-c", 'umask 027 && exec "$@"', "sh", SFT, *argv(target)], capture_output=True)
    written = os.path.exists(target)
    check(r.returncode == 0 and written, f"{what}: writes a new file ({r.stderr.decode().strip()})")
    if written:
        check(mode(target) == 0o640, f"{what}: a new file under umask 027 is 640 (now {mode(target):o})")
        os.remove(target)

shutil.rmtree(WORK, ignore_errors=True)
finish()
