#!/usr/bin/env python3
"""`sft gpu info` and `sft gpu load` end to end on one backend.

Uploads the real fixtures (each file, and a checkpoint split from one of them)
with --verify and with --convert, and checks exit statuses and the report
lines; a checkpoint directory is the model its index describes (files it does
not list are never read; an invalid one is refused as validate refuses it);
then usage and input errors. Exit 0: passed, 1: failed, 77: skipped
(the backend has no device here, or the fixtures are absent; a failure instead
when SFT_REQUIRE_BACKENDS lists the backend or SFT_REQUIRE_FIXTURES=1).
"""
import os
import subprocess
import sys
import tempfile

from sft_require import SKIP, missing_backend, missing_fixtures


def run(sft, *args):
    p = subprocess.run([sft, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def main():
    sft, backend, fixtures = sys.argv[1], sys.argv[2], sys.argv[3]
    failures = []
    # sft's kernel cache in a fresh directory unless the test command chose one.
    if not os.environ.get("SFT_KERNEL_CACHE"):
        kernel_cache = tempfile.TemporaryDirectory(prefix="sft-kernel-cache-")
        os.environ["SFT_KERNEL_CACHE"] = kernel_cache.name

    def check(cond, what, out=""):
        if not cond:
            failures.append(f"{what}\n{out}")

    rc, out, err = run(sft, "gpu", "info")
    check(rc == 0, "gpu info exits 0", out + err)
    check("cpu: 1 device(s)" in out and "auto selects: " in out, "gpu info lists the cpu backend", out)

    real = os.path.join(fixtures, "real")
    files = sorted(f for f in os.listdir(real) if f.endswith(".safetensors")) if os.path.isdir(real) else []
    if not files:
        return missing_fixtures(f"no fixtures under {real}")
    rc, out, err = run(sft, "gpu", "load", "--backend", backend, "--verify", os.path.join(real, files[0]))
    if rc == 2 and any(c in err for c in ("gpu_no_device", "gpu_driver", "gpu_no_backend")):
        return missing_backend(backend, err.strip())

    for f in files:
        rc, out, err = run(sft, "gpu", "load", "--backend", backend, "--verify", os.path.join(real, f))
        check(rc == 0, f"load --verify {f} exits 0", out + err)
        check(f"device: {backend} device 0" in out, f"{f}: names the device", out)
        check("verified: the device's digest of every region matches" in out, f"{f}: verified", out)
        check(" GB/s" in out and "read " in out and "copy " in out and "kernels " in out, f"{f}: speed and split", out)

    with tempfile.TemporaryDirectory(prefix="sft-gpu-cli-ckpt-") as tmp:
        # A checkpoint directory: burn-mnist split into shards with an index.
        ckpt = os.path.join(tmp, "ckpt")
        rc, out, err = run(sft, "split", os.path.join(real, "burn-mnist.safetensors"), ckpt, "--max-shard-size", "10KB")
        check(rc == 0, "split burn-mnist into a checkpoint", out + err)
        shards = sorted(f for f in os.listdir(ckpt) if f.endswith(".safetensors"))
        rc, out, err = run(sft, "gpu", "load", "--backend", backend, "--verify", "--convert", "BF16", "--staged",
                           "--staging", "2x1", "--threads", "3", "--pread", ckpt)
        check(rc == 0, "load a checkpoint directory, staged, converted", out + err)
        check(f"{len(shards)} file(s), 20 tensors" in out and "staged through pinned buffers" in out and
              "to BF16 on the device" in out, "checkpoint report", out)
        rc, out2, err = run(sft, "gpu", "load", "--backend", backend,
                            os.path.join(ckpt, "model.safetensors.index.json"))
        check(rc == 0 and f"{len(shards)} file(s), 20 tensors" in out2, "load the checkpoint through its index",
              out2 + err)

        # The directory gains files its index does not list: a symlink to a
        # file outside it and a copy of a shard repeating its tensor names.
        # gpu load sees the model the index describes, as validate does.
        outside = os.path.join(tmp, "outside.safetensors")
        with open(os.path.join(real, files[0]), "rb") as f, open(outside, "wb") as g:
            g.write(f.read())
        os.symlink(outside, os.path.join(ckpt, "zz-outside.safetensors"))
        with open(os.path.join(ckpt, shards[0]), "rb") as f, open(os.path.join(ckpt, "model-extra.safetensors"), "wb") as g:
            g.write(f.read())
        rc, out, err = run(sft, "validate", ckpt)
        check(rc == 0, "validate: unlisted files do not belong to the checkpoint", out + err)
        rc, out, err = run(sft, "gpu", "load", "--backend", backend, "--verify", ckpt)
        check(rc == 0 and f"{len(shards)} file(s), 20 tensors" in out,
              "gpu load ignores the files the index does not list", out + err)

        # A listed shard holding a tensor the index does not list: invalid for
        # validate, so gpu load refuses it too (exit 1, the same error).
        index = os.path.join(ckpt, "model.safetensors.index.json")
        with open(index) as f:
            text = f.read()
        with open(index, "w") as f:
            f.write(text.replace('"conv1.bias": ', '"conv1.bias-renamed": ', 1))
        rc, vout, verr = run(sft, "validate", ckpt)
        rc2, out, err = run(sft, "gpu", "load", "--backend", backend, ckpt)
        check(rc == 1 and rc2 == 1 and "shard_unlisted_tensor" in err and "shard_missing_tensor" in err,
              "gpu load refuses a checkpoint validate refuses", vout + verr + out + err)

    # A directory of unrelated files with no index is no checkpoint.
    rc, out, err = run(sft, "gpu", "load", "--backend", backend, real)
    check(rc == 2 and "no_checkpoint" in err, "a directory without an index: no_checkpoint, exit 2", out + err)

    for args, what in [(["load"], "no input"), (["load", "--convert", "I8", real], "bad dtype"),
                       (["load", "--staging", "1x4", real], "ring too small"), (["frob"], "unknown subcommand"),
                       (["load", "--backend", "vulkan", real], "unknown backend")]:
        rc, out, err = run(sft, "gpu", *args)
        check(rc == 2 and err, f"{what}: exit 2 with a message", out + err)
    rc, out, err = run(sft, "gpu", "load", "--backend", backend, os.path.join(fixtures, "no-such-file.safetensors"))
    check(rc == 2 and "io_error" in err, "missing file: exit 2, io_error", out + err)

    # sft tune: a corrupt cache is reported and replaced; the next run reads it cleanly.
    with tempfile.TemporaryDirectory(prefix="sft-gpu-cli-") as tmp:
        cache = os.path.join(tmp, "cache", "tune.json")
        os.makedirs(os.path.dirname(cache))
        with open(cache, "wb") as f:
            f.write(b'{"format":"sft-tune-cache","version":1,"entries":[{"backend":')
        # One candidate per key (the default: its variant is built once for all dtypes): CI time.
        rc, out, err = run(sft, "tune", "--backend", backend, "--quick", "--max-candidates", "1", "--cache", cache)
        check(rc == 0, "tune over a corrupt cache exits 0", out + err)
        check("warning" in err and "ignored" in err, "tune warns about the corrupt cache", err)
        check("saved 12 entries" in out and out.count(" tried, ") == 12, "tune reports 12 kernels", out)
        check(out.count(" in the space)\n") == 12, "each line ends with the size of the space", out)
        rc, out, err = run(sft, "tune", "--backend", backend, "--quick", "--max-candidates", "1", "--cache", cache)
        check(rc == 0 and "warning" not in err, "tune over its own cache: no warning", out + err)
        env_rc = subprocess.run([sft, "gpu", "load", "--backend", backend, "--verify", os.path.join(real, files[0])],
                                capture_output=True, text=True, env={**os.environ, "SFT_TUNE_CACHE": cache})
        check(env_rc.returncode == 0 and "warning" not in env_rc.stderr, "load with the tuned cache", env_rc.stderr)
        # One kernel, a budget, and the ahead-of-time table it writes, then loads.
        table = os.path.join(tmp, "table.json")
        rc, out, err = run(sft, "tune", "--backend", backend, "--quick", "--cache", cache, "--kernel", "checksum",
                           "--budget", "5", "--max-candidates", "2", "--ahead", "--sizes", "12,14", "--table", table)
        check(rc == 0 and out.count(" tried, ") == 2 and "wrote a table of 2 buckets" in out,
              "tune --kernel checksum --ahead: two buckets", out + err)
        check(os.path.exists(table), "the table exists", out)
        env_rc = subprocess.run([sft, "gpu", "load", "--backend", backend, "--verify", os.path.join(real, files[0])],
                                capture_output=True, text=True, env={**os.environ, "SFT_TUNE_TABLE": table})
        check(env_rc.returncode == 0 and "warning" not in env_rc.stderr, "load with the table", env_rc.stderr)
        with open(table, "r+b") as f:  # a damaged table is refused with a warning, the load goes on
            f.seek(40)
            f.write(b"#")
        env_rc = subprocess.run([sft, "gpu", "load", "--backend", backend, "--verify", os.path.join(real, files[0])],
                                capture_output=True, text=True, env={**os.environ, "SFT_TUNE_TABLE": table})
        check(env_rc.returncode == 0 and "tune_cache" in env_rc.stderr and "refused" in env_rc.stderr,
              "a damaged table: a warning naming tune_cache", env_rc.stderr)
    for args, what in [(["--bogus"], "unknown argument"), (["--kernel", "fft"], "unknown kernel"),
                       (["--budget", "0"], "a zero budget"), (["--budget", "soon"], "a budget that is no number"),
                       (["--ahead"], "--ahead without --table"), (["--table", "t.json"], "--table without --ahead"),
                       (["--strategy", "random"], "unknown strategy"), (["--sizes", "99", "--ahead", "--table", "t"], "a bucket above 40")]:
        rc, out, err = run(sft, "tune", *args)
        check(rc == 2 and err, f"tune: {what}, exit 2", out + err)

    for f in failures:
        print("FAIL", f)
    if not failures:
        print(f"ok: sft gpu on {backend}: {len(files)} fixtures loaded and verified")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
