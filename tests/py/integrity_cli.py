#!/usr/bin/env python3
"""CLI tests of sft hash, verify, compress and decompress (docs/cli.md).

Inputs are written by the reference package (safetensors + numpy + ml_dtypes):
a small BF16 model with normal(0, 0.02) weights, plus the real fixtures. The
checks go through the command line only:
  - hash: one line per file and tensor, --json agrees, a compressed file hashes
    like its original;
  - hash --embed: the copy loads in the reference with the same tensors, keeps
    the other metadata, and records exactly the digests `sft hash` prints;
  - verify: 0 when every digest matches, 1 naming the damaged tensor, 1 without
    digests, 2 on usage errors and unreadable files;
  - compress: `zstd -d` restores the input byte for byte (when the zstd CLI is
    installed), so does `sft decompress`; byte-plane files are refused by zstd
    and restored by sft; inspect/validate/hash/verify read compressed files;
  - failures leave no output file behind.

usage: integrity_cli.py SFT_BINARY FIXTURES_DIR WORK_DIR
Exit status 0 when every check passed, 1 otherwise, 77 when a module is missing.
"""
import json
import os
import shutil
import subprocess
import sys

try:
    import numpy as np
    import ml_dtypes
    from safetensors.numpy import save_file
    from safetensors import safe_open
except ImportError as e:  # pragma: no cover
    print(f"SKIP: {e}")
    sys.exit(77)
from sft_require import note_missing_fixtures  # noqa: E402

SFT, FIXTURES, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def sft(*args):
    p = subprocess.run([SFT, *args], capture_output=True)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def path(name):
    return os.path.join(WORK, name)


def same_bytes(a, b):
    with open(a, "rb") as f, open(b, "rb") as g:
        return f.read() == g.read()


def parse_hash(text):
    lines = [l.split("  ", 1) for l in text.splitlines()]
    return lines[0][0], [(name, d) for d, name in lines[1:]]


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
os.mkfifo(path("a-fifo"))  # must be refused without being opened (opening one blocks)

rng = np.random.default_rng(0)
model = {
    "model.embed.weight": rng.normal(0, 0.02, (512, 256)).astype(ml_dtypes.bfloat16),
    "model.layers.0.mlp.weight": rng.normal(0, 0.02, (256, 1024)).astype(ml_dtypes.bfloat16),
    "model.layers.0.norm.weight": np.ones(256, dtype=np.float32),
    "lm_head.bias": rng.normal(0, 1, 77).astype(np.float16),
    "step": np.array(1234, dtype=np.int64),
}
save_file(model, path("model.safetensors"), metadata={"format": "pt"})
with safe_open(path("model.safetensors"), "np") as f:
    names = set(f.keys())

# ---- hash ----------------------------------------------------------------------
rc, out, err = sft("hash", path("model.safetensors"))
check(rc == 0, f"hash exits 0 ({rc}: {err})")
file_digest, tensor_digests = parse_hash(out)
check(len(file_digest) == 32 and all(c in "0123456789abcdef" for c in file_digest), "file digest is 32 hex digits")
check({n for n, _ in tensor_digests} == names, "hash lists every tensor once")
check(len(tensor_digests) == len(names), "hash lists no tensor twice")
rc, jout, _ = sft("hash", "--json", path("model.safetensors"))
j = json.loads(jout)
check(rc == 0 and j["digest"] == file_digest and j["algorithm"] == "xxh3-128", "hash --json agrees with the text")
check([(t["name"], t["digest"]) for t in j["tensors"]] == tensor_digests, "hash --json lists the same tensors")
rc, _, err = sft("hash")
check(rc == 2, "hash without a FILE is a usage error")
rc, _, err = sft("hash", "--bogus", path("model.safetensors"))
check(rc == 2, "hash with an unknown option is a usage error")
rc, _, err = sft("hash", path("missing.safetensors"))
check(rc == 2 and "io_error" in err, "hash of a missing file exits 2")
with open(path("junk.bin"), "wb") as f:
    f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
rc, _, err = sft("hash", path("junk.bin"))
check(rc == 1, f"hash of an invalid file exits 1 ({rc}, {err})")

# ---- hash --embed and verify ------------------------------------------------------
rc, out, err = sft("hash", "--embed", path("model.safetensors"), path("embedded.safetensors"))
check(rc == 0, f"hash --embed exits 0 ({err})")
with safe_open(path("embedded.safetensors"), "np") as f:
    meta = f.metadata()
    check(meta.get("format") == "pt", "the other metadata is kept")
    recorded = json.loads(meta["sft.xxh3_128"])
    check(recorded == dict(tensor_digests), "the recorded digests are those sft hash prints")
    for k, v in model.items():
        check(f.get_tensor(k).tobytes() == np.asarray(v).tobytes(), f"tensor {k} unchanged")
rc, out, _ = sft("verify", path("embedded.safetensors"))
check(rc == 0 and out == f"{path('embedded.safetensors')}: ok ({len(names)} tensors)\n", f"verify passes ({rc}, {out})")
rc, _, err = sft("verify", path("model.safetensors"))
check(rc == 1 and "no_digest" in err, f"verify of a file without digests exits 1 ({rc}, {err})")

# Damage one byte of one tensor.
raw = bytearray(open(path("embedded.safetensors"), "rb").read())
n = int.from_bytes(raw[:8], "little")
header = json.loads(raw[8:8 + n])
begin = header["lm_head.bias"]["data_offsets"][0]
raw[8 + n + begin + 3] ^= 0x40
open(path("damaged.safetensors"), "wb").write(raw)
rc, _, err = sft("verify", path("damaged.safetensors"))
check(rc == 1 and "digest_mismatch" in err and "(tensor lm_head.bias)" in err, f"verify names the damaged tensor ({err})")
check(err.count("\n") == 1, "only the damaged tensor is reported")
rc, _, _ = sft("verify", "--tensor", "model.embed.weight", path("damaged.safetensors"))
check(rc == 0, "verify --tensor of an intact tensor passes")
rc, _, err = sft("verify", "--tensor", "lm_head.bias", path("damaged.safetensors"))
check(rc == 1 and "lm_head.bias" in err, "verify --tensor of the damaged tensor fails")
rc, _, err = sft("verify", "--tensor", "nope", path("embedded.safetensors"))
check(rc == 1 and "not_found" in err, "verify --tensor of an unknown tensor fails")
for args in (["verify"], ["verify", "--tensor"], ["verify", "--what", path("embedded.safetensors")]):
    rc, _, _ = sft(*args)
    check(rc == 2, f"{args} is a usage error")
rc, _, _ = sft("verify", path("missing.safetensors"))
check(rc == 2, "verify of a missing file exits 2")

# ---- compress / decompress ----------------------------------------------------------
have_zstd = shutil.which("zstd") is not None
inputs = [path("model.safetensors")]
if not os.path.isdir(os.path.join(FIXTURES, "real")):
    note_missing_fixtures(f"compressing the real fixtures: no {FIXTURES}/real", failures)
for name in sorted(os.listdir(os.path.join(FIXTURES, "real")) if os.path.isdir(os.path.join(FIXTURES, "real")) else []):
    if name.endswith(".safetensors"):
        inputs.append(os.path.join(FIXTURES, "real", name))
for i, src in enumerate(inputs):
    for planes in (False, True):
        z = path(f"c{i}{'p' if planes else ''}.zst")
        args = ["compress", "-l", "5", "--frame-size", "4096", src, z]
        if planes:
            args.insert(1, "--byte-planes")
        rc, out, err = sft(*args)
        check(rc == 0 and out.startswith(src + ": "), f"compress {src} ({err})")
        if have_zstd:
            r = subprocess.run(["zstd", "-q", "-d", "-f", z, "-o", z + ".zstd-out"], capture_output=True)
            if planes:
                check(r.returncode != 0, f"zstd -d refuses the byte-plane file of {src}")
            else:
                check(r.returncode == 0 and same_bytes(src, z + ".zstd-out"), f"zstd -d restores {src}")
        rc, _, err = sft("decompress", "--threads", "3", z, z + ".out")
        check(rc == 0 and same_bytes(src, z + ".out"), f"sft decompress restores {src} ({err})")
        rc, a, _ = sft("hash", src)
        rc2, b, _ = sft("hash", z)
        check(rc == rc2 == 0 and a.split("  ")[0] == b.split("  ")[0] and a.splitlines()[1:] == b.splitlines()[1:],
              f"a compressed file hashes like its original ({src})")
        rc, a, _ = sft("inspect", "--json", src)
        rc2, b, _ = sft("inspect", "--json", z)
        check(rc == rc2 == 0 and json.loads(a) == json.loads(b), f"inspect reads the compressed header ({src})")
        rc, _, err = sft("validate", z)
        check(rc == 0, f"validate accepts the compressed file ({src}: {err})")

rc, _, _ = sft("compress", path("embedded.safetensors"), path("embedded.zst"))
rc2, out, err = sft("verify", path("embedded.zst"))
check(rc == rc2 == 0, f"verify reads a compressed file ({err})")
rc, _, _ = sft("compress", "-l", "1", path("embedded.zst"), path("recompressed.zst"))
check(rc == 0, "a compressed file can be recompressed")
rc, _, _ = sft("decompress", path("recompressed.zst"), path("recompressed.out"))
check(rc == 0 and same_bytes(path("embedded.safetensors"), path("recompressed.out")), "recompression keeps the bytes")

# Commands that read tensors in place refuse a compressed file cleanly.
for args in (["diff", path("model.safetensors"), path("c0.zst")], ["convert", path("c0.zst"), path("o11"), "--dtype", "F16"],
             ["split", path("c0.zst"), path("o12"), "--max-shard-size", "100000"]):
    rc, _, err = sft(*args)
    check(rc == 1 and "compressed_unsupported" in err and "sft decompress" in err, f"{args[0]} refuses a compressed file ({rc}: {err})")

# Errors, and no partial output.
for args, want in ((["compress"], 2), (["compress", "-l"], 2), (["compress", "-l", "x", "a", "b"], 2),
                   (["compress", "-l", "99", path("model.safetensors"), path("o1.zst")], 2),
                   (["compress", "--frame-size", "0", path("model.safetensors"), path("o2.zst")], 2),
                   (["compress", "--frame-size", "4194305", path("model.safetensors"), path("o3.zst")], 2),
                   (["compress", path("missing.safetensors"), path("o4.zst")], 2),
                   (["compress", path("junk.bin"), path("o5.zst")], 1),
                   (["compress", path("model.safetensors"), path("no-such-dir/o6.zst")], 1),
                   (["compress", path("a-fifo"), path("o9.zst")], 2),
                   (["hash", path("a-fifo")], 2), (["verify", path("a-fifo")], 2),
                   (["decompress", path("a-fifo"), path("o10")], 2),
                   (["decompress"], 2), (["decompress", "--threads", "0", "a", "b"], 2),
                   (["decompress", path("model.safetensors"), path("o7")], 1),
                   (["decompress", path("missing.zst"), path("o8")], 2)):
    rc, _, err = sft(*args)
    check(rc == want, f"{args} exits {want} (got {rc}: {err.strip()})")
for o in ("o1.zst", "o2.zst", "o3.zst", "o4.zst", "o5.zst", "o7", "o8", "o9.zst", "o10", "o11", "o12"):
    check(not os.path.exists(path(o)), f"{o} was not created")

z = open(path("c0.zst"), "rb").read()
open(path("truncated.zst"), "wb").write(z[: len(z) // 2])
rc, _, err = sft("decompress", path("truncated.zst"), path("truncated.out"))
check(rc == 1 and "compressed_truncated" in err, f"a truncated file is reported ({err})")
check(not os.path.exists(path("truncated.out")), "no partial output for a truncated file")
check([f for f in os.listdir(WORK) if "sft-tmp" in f or f.startswith(".")] == [], "no temporary file left behind")
rc, _, err = sft("validate", path("truncated.zst"))
check(rc == 1 and "compressed_truncated" in err, f"validate reports a truncated compressed file ({err})")

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
