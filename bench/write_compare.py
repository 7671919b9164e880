#!/usr/bin/env python3
"""Whole-file write speed: sft's Writer against the reference's save_file and
against a plain sequential write of the same bytes, side by side in one run.

    python3 bench/write_compare.py --driver build/bin/sft_write_driver [--size-mib 1024] [--reps 5]
                                   [--dir /tmp] [--out report.md]

The workload is a transformer-like set of BF16 weights and F32 norms whose
data comes to about --size-mib MiB. Each repetition, in this order:
  ref         safetensors.numpy.save_file(tensors, path) in this process
  sft         Writer::write_file, durable = false (no fsync: what save_file does)
  plain       open + write() of the same file bytes from one buffer + close
  sft_sync    Writer::write_file, durable = true (fsync of file and directory)
  plain_sync  the plain write followed by fsync
The sft side runs in sft_write_driver (bench/write_driver.cpp), which times
itself with the steady clock; process start-up and building the tensors in
memory are outside every timed region on both sides. Before timing, the bytes
sft writes are checked to equal the bytes the reference writes.

Exit status: 0 when every run succeeded and the cross-check passed, 1 when it
did not, 77 when a Python module is missing.
"""
import argparse
import ctypes
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    import ml_dtypes
    import safetensors
    from safetensors.numpy import save_file
except ImportError as e:
    print(f"SKIP: {e} (pip install safetensors numpy ml_dtypes)")
    sys.exit(77)

MIB = 1 << 20


def workload(size_mib, hidden=2048):
    """(name, dtype, shape) of a dense transformer of about size_mib MiB."""
    per_layer = (4 * hidden * hidden + 3 * hidden * 4 * hidden) * 2 + 2 * hidden * 4
    layers = max(1, round(size_mib * MIB / per_layer))
    t = [("model.embed_tokens.weight", "BF16", [8192, hidden])]
    for i in range(layers):
        p = f"model.layers.{i}."
        for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
            t.append((p + "self_attn." + n + ".weight", "BF16", [hidden, hidden]))
        t.append((p + "mlp.gate_proj.weight", "BF16", [4 * hidden, hidden]))
        t.append((p + "mlp.up_proj.weight", "BF16", [4 * hidden, hidden]))
        t.append((p + "mlp.down_proj.weight", "BF16", [hidden, 4 * hidden]))
        t.append((p + "input_layernorm.weight", "F32", [hidden]))
        t.append((p + "post_attention_layernorm.weight", "F32", [hidden]))
    t.append(("model.norm.weight", "F32", [hidden]))
    return t


NP_TYPES = {"BF16": ml_dtypes.bfloat16, "F32": np.float32}


def build_arrays(spec):
    """Tensor k's byte i is (i * 31 + k * 7) & 0xff, as in write_driver.cpp."""
    out = {}
    base = np.arange(256, dtype=np.uint32)
    for k, (name, dt, shape) in enumerate(spec):
        dtype = np.dtype(NP_TYPES[dt])
        nbytes = int(np.prod(shape)) * dtype.itemsize
        pattern = ((base * 31 + k * 7) & 0xFF).astype(np.uint8)
        out[name] = np.resize(pattern, nbytes).view(dtype).reshape(shape)
    return out


def settle(directory):
    """Flush what earlier writes and deletions left pending on this file system."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        ctypes.CDLL(None, use_errno=True).syncfs(fd)  # Python has no os.syncfs
    finally:
        os.close(fd)


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(16 * MIB):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--dir", default=None, help="where the files go (default: the system temp dir)")
    ap.add_argument("--out", default=None, help="also write the Markdown report here")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="sft-write-compare-", dir=a.dir)
    try:
        spec = workload(a.size_mib)
        spec_path = os.path.join(work, "spec.txt")
        with open(spec_path, "w") as f:
            for name, dt, shape in spec:
                f.write(f"{name} {dt} {' '.join(map(str, shape))}\n")
        arrays = build_arrays(spec)
        ref_path = os.path.join(work, "ref.safetensors")

        def run_driver(*extra):
            r = subprocess.run([a.driver, "compare", spec_path, work, *extra], capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"sft_write_driver failed: {r.stderr}")
            return json.loads(r.stdout)

        # Cross-check first: identical bytes.
        save_file(arrays, ref_path)
        first = run_driver("--keep")
        same = digest(ref_path) == digest(os.path.join(work, "sft.safetensors"))
        os.remove(os.path.join(work, "sft.safetensors"))
        os.remove(ref_path)
        file_bytes = first["bytes"]

        times = {k: [] for k in ("ref", "sft", "plain", "sft_sync", "plain_sync")}
        # Every timed write (here and in the driver) follows the deletion of an
        # equally large file and a syncfs: see write_driver.cpp for why.
        for _ in range(a.reps):
            settle(work)
            t0 = time.perf_counter()
            save_file(arrays, ref_path)
            times["ref"].append(time.perf_counter() - t0)
            os.remove(ref_path)
            d = run_driver()
            for k in ("sft", "plain", "sft_sync", "plain_sync"):
                times[k].append(d[k])
        med = {k: statistics.median(v) for k, v in times.items()}

        def rate(k):
            return file_bytes / med[k] / 1e9

        lines = [
            f"Whole-file write, {len(spec)} tensors, {file_bytes / MIB:.0f} MiB, median of {a.reps} "
            f"(safetensors {safetensors.__version__}, {platform.machine()}, {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f}):",
            "",
            "| writer | median s | GB/s | min s | max s |",
            "|---|---|---|---|---|",
        ]
        labels = {"ref": "reference save_file (no fsync)", "sft": "sft Writer::write_file, durable=false",
                  "plain": "plain write() of the same bytes", "sft_sync": "sft Writer::write_file, durable=true",
                  "plain_sync": "plain write() + fsync"}
        for k in times:
            lines.append(f"| {labels[k]} | {med[k]:.3f} | {rate(k):.2f} | {min(times[k]):.3f} | {max(times[k]):.3f} |")
        lines += [
            "",
            f"- sft vs reference (time ratio ref/sft, >= 1 means sft is at least as fast): "
            f"**{med['ref'] / med['sft']:.2f}x**",
            f"- sft vs plain write (plain/sft, target >= 0.80): **{med['plain'] / med['sft']:.2f}** "
            f"(durable: {med['plain_sync'] / med['sft_sync']:.2f})",
            f"- bytes identical to the reference's: {'yes' if same else 'NO'}",
            "",
            "Every repetition, in run order (seconds):",
            "",
        ]
        for k in times:
            lines.append(f"- {k}: " + ", ".join(f"{x:.3f}" for x in times[k]))
        report = "\n".join(lines) + "\n"
        print(report)
        if a.out:
            with open(a.out, "w") as f:
                f.write(report)
        return 0 if same else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
