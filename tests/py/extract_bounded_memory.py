#!/usr/bin/env python3
"""`sft extract` streams: a file that claims a tensor larger than the memory the
process may use is extracted in bounded chunks, never allocated whole.

The input is a compressed checkpoint built here by hand (no zstd needed): one
U8 tensor of SIZE bytes (1 GiB by default) whose 4 MiB frames are runs of one
byte value each, stored as zstd RLE blocks, so the whole file is a few tens of
kilobytes. `sft extract` then runs under an address-space limit (`ulimit -v`)
well below SIZE. Before streaming it died of an uncaught std::bad_alloc
(SIGABRT); now it must exit 0 and write the exact .npy.

Also checked: a frame that fails to decode halfway through the tensor makes
extract exit 1 naming the input, and leaves neither OUT nor a temporary.

usage: extract_bounded_memory.py SFT_BINARY WORK_DIR [--sanitized] [SIZE_MIB [LIMIT_MIB]]
--sanitized: the binary is built with ASan, whose shadow memory needs more
address space than any useful limit: skip (77) saying so.
Exit status 0 when every check passed, 1 otherwise, 77 when skipped.
"""
import os
import shutil
import struct
import subprocess
import sys

from cli_checks import check, finish, safetensors_header

SFT, WORK = sys.argv[1], sys.argv[2]
REST = [a for a in sys.argv[3:] if a != "--sanitized"]
if "--sanitized" in sys.argv[3:]:
    print("SKIP: an ASan build reserves terabytes of address space; ulimit -v cannot bound it "
          "(the release build runs this test)")
    sys.exit(77)
SIZE = int(REST[0] if len(REST) > 0 else 1024) << 20
LIMIT = int(REST[1] if len(REST) > 1 else 384) << 20
FRAME = 4 << 20
BLOCK = 128 << 10


def frame_header(content_size):
    # magic, descriptor: 4-byte content size, single segment (window = content)
    return struct.pack("<IBI", 0xFD2FB528, 0xA0, content_size)


def raw_frame(content):
    block = 1 | (len(content) << 3)  # last, raw
    return frame_header(len(content)) + struct.pack("<I", block)[:3] + content


def rle_frame(value, size, corrupt=False):
    out = frame_header(size)
    left = size
    while left:
        n = min(BLOCK, left)
        left -= n
        kind = 3 if corrupt and left == 0 else 1  # 3: reserved block type
        out += struct.pack("<I", (1 if left == 0 else 0) | kind << 1 | n << 3)[:3] + bytes([value])
    return out


def build(path, corrupt_frame=None):
    head = safetensors_header([("big", "U8", [SIZE], SIZE)])
    frames = [(raw_frame(head), len(head))]
    for i, at in enumerate(range(0, SIZE, FRAME)):
        n = min(FRAME, SIZE - at)
        frames.append((rle_frame(i % 251, n, corrupt=(i == corrupt_frame)), n))
    body = b"".join(struct.pack("<II", len(f), n) for f, n in frames)
    body += struct.pack("<IBI", len(frames), 0, 0x8F92EAB1)
    with open(path, "wb") as f:
        for fr, _ in frames:
            f.write(fr)
        f.write(struct.pack("<II", 0x184D2A5E, len(body)) + body)
    return len(head)


def extract(src, out):
    limit_kib = LIMIT >> 10
    cmd = f'ulimit -v {limit_kib} && exec "$0" extract "$1" big "$2"'
    return subprocess.run(["bash", "-c", cmd, SFT, src, out], capture_output=True)


def leftovers():
    return sorted(n for n in os.listdir(WORK) if n.startswith("."))


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
if subprocess.run(["bash", "-c", "ulimit -v 1000000"]).returncode != 0:
    print("SKIP: ulimit -v is not available")
    sys.exit(77)

src = os.path.join(WORK, "huge.zst")
build(src)
print(f"{src}: {os.path.getsize(src)} bytes claiming a {SIZE >> 20} MiB tensor; limit {LIMIT >> 20} MiB")
out = os.path.join(WORK, "big.npy")
p = extract(src, out)
check(p.returncode == 0, f"extract under ulimit -v exits 0 (got {p.returncode}: {p.stderr.decode()[-300:]})")
if p.returncode == 0:
    size = os.path.getsize(out)
    with open(out, "rb") as f:
        pre = f.read(128)
        check(pre[:6] == b"\x93NUMPY", "OUT is a .npy file")
        hlen = struct.unpack_from("<H", pre, 8)[0]
        dict_text = pre[10:10 + hlen].decode() if hlen <= 118 else ""
        check(f"'shape': ({SIZE},)" in dict_text and "'|u1'" in dict_text, f"the .npy header: {dict_text!r}")
        data_at = 10 + hlen
        check(size == data_at + SIZE, f".npy size {size} == {data_at} + {SIZE}")
        for i in (0, 1, 2, SIZE // FRAME // 2, (SIZE - 1) // FRAME):
            for pos in (i * FRAME, min(SIZE, (i + 1) * FRAME) - 1):
                f.seek(data_at + pos)
                check(f.read(1) == bytes([i % 251]), f"byte {pos} of the tensor")
    os.remove(out)
check(leftovers() == [], f"no temporary left: {leftovers()}")

# A frame deep inside the tensor does not decode: exit 1, the input named, no OUT.
bad = os.path.join(WORK, "bad.zst")
build(bad, corrupt_frame=(SIZE // FRAME) // 2)
p = extract(bad, out)
err = p.stderr.decode()
check(p.returncode == 1, f"a corrupt frame mid-tensor: exit 1 (got {p.returncode}: {err[-300:]})")
check(err.startswith(bad + ": compressed_corrupt"), f"the error names the input: {err!r}")
check(not os.path.exists(out), "no OUT after a failed extract")
check(leftovers() == [], f"no temporary left after a failed extract: {leftovers()}")

shutil.rmtree(WORK, ignore_errors=True)
finish()
