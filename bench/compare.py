#!/usr/bin/env python3
"""sft against the reference safetensors package, side by side, in one run.

    python3 bench/compare.py [--quick] [--driver PATH] [--out bench/RESULTS.md]

Builds nothing: it needs a built sft_bench_driver (the sft side; by default
build/bin/sft_bench_driver or build/bench/sft_bench_driver under the source
tree) and the Python packages safetensors, numpy and ml_dtypes (the reference
side; exit status 77 when one is missing). It generates the workloads into a
scratch directory, times every operation on both sides with the same number of
repetitions (the reference in this process with time.perf_counter, sft inside
the driver with the steady clock, neither counting process start-up), checks
that both read the same bytes, and writes a Markdown report with the machine,
a table of medians, ratios and min/max, and what each figure means.

Exit status: 0 when every run succeeded and every cross-check passed, 1 when
something failed (the report still says what), 2 on a usage error, 77 when a
Python module of the reference side is missing.
"""
import argparse
import datetime
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import gen_workload  # noqa: E402  (bench/gen_workload.py)

MASK64 = (1 << 64) - 1
GIB = 1 << 30


# ---------------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------------

def dense_layers(gib, hidden):
    """Layers of the dense transformer that bring its data closest to `gib` GiB."""
    per_layer = sum(gen_workload.tensor_bytes(dt, s)
                    for _, dt, s in gen_workload.transformer_tensors(1, hidden)[1:-1])
    fixed = gen_workload.tensor_bytes("BF16", [1024, hidden]) + 4 * hidden
    return max(1, round((gib * GIB - fixed) / per_layer))


def workload_specs(a):
    """Name -> (description, tensors, sparse, ops) for this run's sizes."""
    q = a.quick
    dl = dense_layers(a.dense_gib, a.dense_hidden)
    moe = (2, 64, 8) if q else (48, 64, 128)
    small = (2, 64) if q else (32, 256)
    hole_hidden = 2048 if q else 16384
    small_hole_hidden = 64 if q else 336
    return {
        "small": (f"small transformer ({small[0]} layers, hidden {small[1]})",
                  gen_workload.transformer_tensors(small[0], small[1]), False,
                  ["open", "load", "touch", "cold", "write"]),
        "moe": (f"mixture-of-experts ({moe[0]} layers x {moe[2]} experts, hidden {moe[1]})",
                gen_workload.transformer_tensors(moe[0], moe[1], moe[2]), False,
                ["open", "load", "touch", "write"]),
        "dense": (f"dense checkpoint ({dl} layers, hidden {a.dense_hidden}, ~{a.dense_gib:g} GiB)",
                  gen_workload.transformer_tensors(dl, a.dense_hidden), False,
                  ["open", "load", "touch", "cold", "write"]),
        "zeros": (f"{a.zero_count:,} zero-size tensors (header ~{a.zero_header_bytes / 1e6:g} MB)",
                  gen_workload.zero_size_tensors(a.zero_count, a.zero_header_bytes), False,
                  ["open", "load", "touch"]),
        "hole_big": (f"sparse file, data as a hole (2 layers, hidden {hole_hidden})",
                     gen_workload.transformer_tensors(2, hole_hidden), True, ["open"]),
        "hole_small": (f"same tensor names, small data (2 layers, hidden {small_hole_hidden})",
                       gen_workload.transformer_tensors(2, small_hole_hidden), True, ["open"]),
    }


# ---------------------------------------------------------------------------------------------
# The reference side
# ---------------------------------------------------------------------------------------------

def import_reference():
    """The reference modules, or exit 77 naming the one that is missing."""
    try:
        import numpy  # noqa: F401
        import ml_dtypes  # noqa: F401  (registers bfloat16 & co. with numpy, needed for BF16 files)
        import safetensors  # noqa: F401
        from safetensors import safe_open  # noqa: F401
        from safetensors.numpy import load_file, save_file  # noqa: F401
    except ImportError as e:
        print(f"compare.py: skipped: the reference side needs numpy, ml_dtypes and safetensors ({e})",
              file=sys.stderr)
        sys.exit(77)


def np_checksum(a):
    """bench/support/checksum.hpp in numpy: little-endian u64 words plus tail bytes, mod 2^64."""
    import numpy as np
    b = a.reshape(-1).view(np.uint8)
    n8 = b.size // 8 * 8
    s = int(b[:n8].view(np.uint64).sum(dtype=np.uint64)) if n8 else 0
    if n8 != b.size:
        s += int(b[n8:].sum(dtype=np.uint64))
    return s & MASK64


def drop_pages(path):
    """Flush the file and drop its pages from the page cache, as the driver does."""
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            os.fdatasync(fd)
        except OSError:
            pass
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


class Clock:
    """Wall-clock (perf_counter) and process CPU time (process_time) of one timed region."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self):
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def ref_open(path, _out):
    from safetensors import safe_open
    t0 = Clock()
    with safe_open(path, framework="np") as f:
        keys = f.keys()
    dt = t0.stop()
    return dt, {"tensors": len(keys), "bytes": 0, "checksum": 0}


def ref_load(path, _out):
    from safetensors.numpy import load_file
    t0 = Clock()
    d = load_file(path)
    dt = t0.stop()
    cs = nbytes = 0
    for a in d.values():
        cs = (cs + np_checksum(a)) & MASK64
        nbytes += a.nbytes
    n = len(d)
    del d
    return dt, {"tensors": n, "bytes": nbytes, "checksum": cs}


def ref_touch(path, _out):
    from safetensors import safe_open
    cs = nbytes = n = 0
    t0 = Clock()
    with safe_open(path, framework="np") as f:
        for k in f.keys():
            a = f.get_tensor(k)
            cs = (cs + np_checksum(a)) & MASK64
            nbytes += a.nbytes
            n += 1
    dt = t0.stop()
    return dt, {"tensors": n, "bytes": nbytes, "checksum": cs}


def ref_touch_memmap(path, _out):
    """Not the safetensors package: json + numpy.memmap, the zero-copy way to read in numpy."""
    import numpy as np
    cs = nbytes = n = 0
    t0 = Clock()
    with open(path, "rb") as fh:
        hlen = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(hlen))
    header.pop("__metadata__", None)
    data_size = os.path.getsize(path) - 8 - hlen
    mm = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + hlen, shape=(data_size,)) if data_size else None
    for info in header.values():
        b, e = info["data_offsets"]
        if e > b:
            cs = (cs + np_checksum(mm[b:e])) & MASK64
        nbytes += e - b
        n += 1
    del mm
    dt = t0.stop()
    return dt, {"tensors": n, "bytes": nbytes, "checksum": cs}


class RefWriter:
    """save_file of tensors loaded once beforehand (the load is not timed)."""

    def __init__(self):
        self.path = None
        self.tensors = None

    def __call__(self, path, out):
        from safetensors.numpy import load_file, save_file
        if self.path != path:
            self.tensors, self.path = load_file(path), path
        t0 = Clock()
        save_file(self.tensors, out)
        dt = t0.stop()
        nbytes = sum(a.nbytes for a in self.tensors.values())
        os.unlink(out)
        return dt, {"tensors": len(self.tensors), "bytes": nbytes, "checksum": 0}

    def release(self):
        self.path = self.tensors = None


def run_reference(fn, path, out, reps, warmup, drop):
    times, cpu, first = [], [], None
    for i in range(warmup + reps):
        timed = i >= warmup
        if timed and drop:
            drop_pages(path)
        gc.collect()
        (dt, dc), seen = fn(path, out)
        if not timed:
            continue
        if first is not None and seen != first:
            raise RuntimeError(f"reference repetitions disagree on what they read: {seen} != {first}")
        first = first or seen
        times.append(dt)
        cpu.append(dc)
    return {"times_s": times, "cpu_s": cpu, **first}


# ---------------------------------------------------------------------------------------------
# The sft side
# ---------------------------------------------------------------------------------------------

def find_driver(given):
    if given:
        return given
    for sub in ("build/bin", "build/bench"):
        p = os.path.join(ROOT, sub, "sft_bench_driver")
        if os.access(p, os.X_OK):
            return p
    return None


def driver_json(driver, args, timeout):
    p = subprocess.run([driver] + args, capture_output=True, text=True, timeout=timeout)
    try:
        out = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError(f"{driver} {' '.join(args)}: exit {p.returncode}: {p.stderr.strip() or p.stdout.strip()}")
    if p.returncode != 0 or "error" in out and out["error"]:
        raise RuntimeError(f"sft_bench_driver {' '.join(args[:1])}: {out.get('error') or p.stderr.strip()}")
    return out


def run_sft(driver, op, path, out, reps, warmup, drop, timeout, extra=()):
    args = [op, path, "--reps", str(reps), "--warmup", str(warmup)] + list(extra)
    if drop:
        args.append("--drop-cache")
    if out:
        args += ["--output", out]
    r = driver_json(driver, args, timeout)
    return {k: r[k] for k in ("times_s", "cpu_s", "tensors", "bytes", "checksum")} | (
        {"resident_after_drop": r.get("resident_after_drop")} if drop else {})


# ---------------------------------------------------------------------------------------------
# Operations: which function on each side, and what the figure means
# ---------------------------------------------------------------------------------------------

OPS = {
    "open": {
        "label": "open",
        "sft": "open", "ref": ref_open,
        "means": "Parse + validate + index the header, then close. Reference: `with safe_open(path, \"np\") as f: "
                 "f.keys()` (keys() builds the list of names, which sft's index already holds). sft: "
                 "`File::open(path)` (open, fstat, mmap, parse, validate, index) and its destructor.",
    },
    "load": {
        "label": "load all",
        "sft": "load", "ref": ref_load,
        "means": "Every tensor copied into its own freshly allocated buffer. Reference: "
                 "`safetensors.numpy.load_file(path)` -> dict of numpy arrays. sft: open, one new buffer "
                 "per tensor, `File::read` into it (memcpy from the mapping), close. The driver allocates "
                 "as numpy's own allocator does: buffers of 4 MiB or more are advised to use transparent huge "
                 "pages (MADV_HUGEPAGE). The reference's arrays do not get that advice (they wrap buffers its "
                 "extension allocates through Python, a memoryview at their base), so part of sft's lead "
                 "here is this allocation choice of the caller, not the library: the next row shows sft "
                 "without it.",
    },
    "load_plain": {
        "label": "load all (sft: no huge-page advice)",
        "sft": "load", "sft_args": ["--plain-alloc"], "ref": ref_load,
        "means": "The same as 'load all' (the reference figure is the same measurement), but sft's buffers "
                 "come from plain malloc, without the huge-page advice that numpy's allocator gives large "
                 "arrays and that the 'load all' row's buffers get too. Shows how much of loading is the "
                 "kernel faulting in and zeroing fresh 4 KiB pages rather than copying.",
    },
    "touch": {
        "label": "touch every byte",
        "sft": "touch", "ref": ref_touch,
        "means": "Open, then read every byte of every tensor (a 64-bit checksum, the same arithmetic on both "
                 "sides, so no byte can be skipped), close. sft reads through zero-copy views of the mapping. "
                 "The reference package has no zero-copy numpy API: `safe_open(...).get_tensor(name)` copies "
                 "each tensor into a new array, so this row compares sft's views with the package's "
                 "get_tensor path (copy included). The `numpy.memmap` row below is the zero-copy way in "
                 "numpy, without the package (and without any validation).",
    },
    "touch_memmap": {
        "label": "touch every byte (numpy.memmap, no safetensors)",
        "sft": "touch", "ref": ref_touch_memmap,
        "means": "Same sft figure as 'touch every byte'; the other side reads the header with `json.loads` and "
                 "maps the data with `numpy.memmap`, checksumming each tensor's slice: zero-copy, but no "
                 "validation at all. Not the reference package; shown because it is what a numpy user "
                 "would write to avoid copies.",
    },
    "cold": {
        "label": "load all, cold cache",
        "sft": "load", "ref": ref_load,
        "means": "'load all' with the file's pages dropped from the page cache before every repetition "
                 "(fdatasync, then posix_fadvise(POSIX_FADV_DONTNEED) on the whole file, identically on "
                 "both sides), so the bytes come from the storage device.",
    },
    "write": {
        "label": "write",
        "sft": "write", "ref": None,  # RefWriter, one per run
        "means": "Write every tensor to a new file. Reference: `safetensors.numpy.save_file(tensors, out)` "
                 "with the tensors already in memory (loaded before the timer). sft: the Writer, from the "
                 "tensors of the open source file. The output is deleted after each repetition, untimed.",
    },
}

NOT_AHEAD_WHY = {
    "open": "Opening a file with a handful of tensors costs a few system calls (open, fstat, mmap, munmap, "
            "close) on both sides; parsing 2 KB of JSON is a small part of it, so there is little for a "
            "faster parser to win. What remains on the reference side is the Python call overhead.",
    "load": "Loading copies every byte from the page cache into new memory on both sides, and the reference's "
            "copy is Rust code too. Most of the time is not the copy but the kernel: faulting in the file's "
            "pages and, above all, faulting in and zeroing the fresh buffers (a perf profile of sft's load "
            "of a 0.5 GiB file with 4 KiB pages: about 60% in page-fault handling, 9% in memcpy). Both sides "
            "pay that; sft can only win the per-tensor overhead, small next to it when tensors are large.",
    "load_plain": "Without huge-page advice sft's buffers fault in 4 KiB at a time, like the reference's: both "
                  "sides then spend most of their time in the kernel's page-fault path (see 'load all').",
    "cold": "A cold read waits for the storage device on both sides; the parser and the copy are hidden "
            "behind it, so the ratio tends to 1.",
    "touch": "Touching every byte is bound by memory bandwidth and page faults once tensors are large; "
             "with the copy that get_tensor makes, the reference does about twice the memory traffic, "
             "but both are dominated by the same reads.",
    "touch_memmap": "numpy.memmap is zero-copy as well and skips validation entirely; on large tensors both "
                    "sides are bound by the same page faults and memory reads, so the ratio tends to 1.",
    "write": "Writing is bound by the kernel's write path (copying every byte into the page cache, and "
             "the file system's block allocation), the same for both; the header serialisation both do on "
             "top is small next to it for large tensors. Neither side fsyncs in this measurement.",
}


# ---------------------------------------------------------------------------------------------
# Machine description
# ---------------------------------------------------------------------------------------------

def read_first(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def filesystem_of(path):
    best, fs = "", "unknown"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and path.startswith(parts[1]) and len(parts[1]) > len(best):
                    best, fs = parts[1], parts[2]
    except OSError:
        pass
    return fs


def machine(driver_caps, work_dir):
    import numpy
    import ml_dtypes
    import safetensors
    mem = read_first("/proc/meminfo", "MemTotal")
    os_name = None
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "cpu": read_first("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "memory": f"{int(mem.split()[0]) / (1 << 20):.1f} GiB" if mem else "unknown",
        "kernel": platform.release(),
        "os": os_name or platform.platform(),
        "compiler": driver_caps.get("compiler", "unknown"),
        "build_type": driver_caps.get("build_type", "") or "(none)",
        "python": platform.python_version(),
        "safetensors": safetensors.__version__,
        "numpy": numpy.__version__,
        "ml_dtypes": ml_dtypes.__version__,
        "filesystem": filesystem_of(os.path.realpath(work_dir)),
        "sft_commit": commit or "unknown",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


# ---------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------

def fmt_time(s):
    if s is None:
        return "n/a"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.3f} s"


def fmt_bytes(n):
    for unit, k in (("GiB", GIB), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k:
            return f"{n / k:.1f} {unit}"
    return f"{n} B"


def stats(times):
    return {"min": min(times), "median": statistics.median(times), "max": max(times)}


def ratio(row, cpu=False):
    s, r = (row.get("sft_cpu"), row.get("ref_cpu")) if cpu else (row.get("sft"), row.get("ref"))
    if s and r and s["median"] > 0:
        return r["median"] / s["median"]
    return None


def fmt_ratio(r):
    if r is None:
        return "n/a"
    return f"{r:.1f}×" if r >= 10 else f"{r:.2f}×"


def throughput(side, nbytes):
    if not side or not nbytes:
        return "–"
    return f"{nbytes / side['median'] / 1e9:.2f}"


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes and few repetitions (CI smoke)")
    ap.add_argument("--driver", help="path of a built sft_bench_driver (default: build/bin or build/bench)")
    ap.add_argument("--out", help="the Markdown report (default: bench/RESULTS.md; --quick: stdout only)")
    ap.add_argument("--json", help="also write every measurement as JSON here")
    ap.add_argument("--work-dir", help="where to generate the workloads (default: a new dir under $TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--reps", type=int, help="timed repetitions of each operation (default 5, --quick 2)")
    ap.add_argument("--open-reps", type=int, help="repetitions of open on small headers (default 21, --quick 3)")
    ap.add_argument("--big-reps", type=int, help="repetitions on the dense checkpoint (default 3, --quick 2)")
    ap.add_argument("--moe-rounds", type=int, help="times the MoE open comparison is repeated (default 3, --quick 1)")
    ap.add_argument("--dense-gib", type=float, help="size of the dense checkpoint (default 4, --quick 0.004)")
    ap.add_argument("--dense-hidden", type=int, help="hidden size of the dense checkpoint (default 4096, --quick 128)")
    ap.add_argument("--zero-count", type=int, help="zero-size tensors (default 1,000,000, --quick 2,000)")
    ap.add_argument("--zero-header-bytes", type=int, help="their header size (default 99,900,000, --quick 200,000)")
    ap.add_argument("--workloads", help="comma-separated subset of: small,moe,dense,zeros,hole_big,hole_small")
    ap.add_argument("--ops", help="comma-separated subset of: " + ",".join(OPS))
    ap.add_argument("--timeout", type=int, default=3600, help="seconds allowed for one driver run")
    a = ap.parse_args(argv)
    q = a.quick
    defaults = {"reps": (5, 2), "open_reps": (21, 3), "big_reps": (3, 2), "moe_rounds": (3, 1),
                "dense_gib": (4.0, 0.004), "dense_hidden": (4096, 128), "zero_count": (1_000_000, 2_000),
                "zero_header_bytes": (99_900_000, 200_000)}
    for k, (full, quick) in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, quick if q else full)
    if a.out is None and not q:
        a.out = os.path.join(HERE, "RESULTS.md")
    for k in ("reps", "open_reps", "big_reps", "moe_rounds", "zero_count", "dense_hidden"):
        if getattr(a, k) < 1:
            ap.error(f"--{k.replace('_', '-')} must be at least 1")
    if a.dense_gib <= 0:
        ap.error("--dense-gib must be positive")
    return a


def main(argv=None):
    a = parse_args(argv)
    import_reference()
    driver = find_driver(a.driver)
    if not driver or not os.access(driver, os.X_OK):
        print("compare.py: no sft_bench_driver: build it first (cmake -DSFT_BUILD_BENCH=ON ...; ninja "
              "sft_bench_driver) or pass --driver PATH", file=sys.stderr)
        return 2
    caps = driver_json(driver, ["caps"], 60)
    driver_ops = {o["name"] for o in caps["ops"]}

    specs = workload_specs(a)
    wanted_w = a.workloads.split(",") if a.workloads else list(specs)
    wanted_o = a.ops.split(",") if a.ops else list(OPS)
    for w in wanted_w:
        if w not in specs:
            print(f"compare.py: unknown workload {w}", file=sys.stderr)
            return 2
    for o in wanted_o:
        if o not in OPS:
            print(f"compare.py: unknown operation {o}", file=sys.stderr)
            return 2

    own_dir = a.work_dir is None
    work = a.work_dir or tempfile.mkdtemp(prefix="sft-compare-")
    os.makedirs(work, exist_ok=True)
    info = machine(caps, work)
    info["load_before"] = "%.2f %.2f %.2f" % os.getloadavg()
    rows, workloads, checks, notes = [], {}, [], []
    cold_state = {}
    failed = False

    try:
        for wname in wanted_w:
            desc, tensors, sparse, ops = specs[wname]
            ops = [o for o in ops if o in wanted_o]
            if "touch" in ops and "touch_memmap" in wanted_o:
                ops.insert(ops.index("touch") + 1, "touch_memmap")
            if "load" in ops and "load_plain" in wanted_o:
                ops.insert(ops.index("load") + 1, "load_plain")
            if not ops:
                continue
            path = os.path.join(work, wname + ".safetensors")
            need = 0 if sparse else 2 * gen_workload.header_json(tensors)[1] + (64 << 20)
            if need and shutil.disk_usage(work).free < need:
                notes.append(f"{wname}: skipped, {fmt_bytes(need)} of free disk needed in {work}")
                failed = True
                continue
            print(f"[compare] generating {wname}: {desc}", file=sys.stderr, flush=True)
            winfo = gen_workload.write_file(path, tensors, {"format": "pt"}, sparse)
            winfo["description"] = desc
            workloads[wname] = winfo
            del tensors
            out_path = os.path.join(work, wname + ".out.safetensors")
            ref_writer = RefWriter()
            seen = {}
            done = {}  # measurement key -> results, so a measurement two rows share runs once
            for op in ops:
                reps = a.reps
                if op == "open" and wname != "zeros":
                    reps = a.open_reps
                if wname == "dense" and op != "open":
                    reps = a.big_reps
                warmup = 0 if wname == "zeros" else 1
                rounds = a.moe_rounds if (wname == "moe" and op == "open") else 1
                drop = op == "cold"
                spec = OPS[op]
                row = {"workload": wname, "op": op, "reps": reps, "rounds": []}
                if drop and not hasattr(os, "posix_fadvise"):
                    notes.append("cold: os.posix_fadvise is not available on this system; cold rows skipped")
                    continue
                for rnd in range(rounds):
                    print(f"[compare] {wname} {op}" + (f" round {rnd + 1}/{rounds}" if rounds > 1 else ""),
                          file=sys.stderr, flush=True)
                    sft_res = ref_res = None
                    try:
                        # A measurement two rows share (touch for touch_memmap, ref load for
                        # load_plain) runs once; write always runs afresh.
                        extra = tuple(spec.get("sft_args", ()))
                        key = (spec["sft"], extra, reps, warmup, drop, rnd)
                        if spec["sft"] in driver_ops:
                            sft_res = done.get(key) or run_sft(driver, spec["sft"], path,
                                                               out_path if op == "write" else None,
                                                               reps, warmup, drop, a.timeout, extra)
                            if op != "write":
                                done[key] = sft_res
                        fn = ref_writer if op == "write" else spec["ref"]
                        rkey = (fn, reps, warmup, drop, rnd)
                        ref_res = done.get(rkey) or run_reference(fn, path, out_path, reps, warmup, drop)
                        if op != "write":
                            done[rkey] = ref_res
                    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                        notes.append(f"{wname} {op}: failed: {e}")
                        failed = True
                    row["rounds"].append({"sft": sft_res, "ref": ref_res})
                if op == "write":
                    ref_writer.release()
                for side in ("sft", "ref"):
                    runs = [r[side] for r in row["rounds"] if r[side]]
                    if runs:
                        row[side] = stats([t for r in runs for t in r["times_s"]])
                        row[side + "_cpu"] = stats([t for r in runs for t in r["cpu_s"]])
                        row[side + "_seen"] = {k: runs[0][k] for k in ("tensors", "bytes", "checksum")}
                        if drop and side == "sft":
                            cold_state["sft_resident_after_drop"] = runs[0].get("resident_after_drop")
                if drop and os.path.exists(path):
                    drop_pages(path)
                    cold_state["ref_resident_after_drop"] = driver_json(driver, ["residency", path], 60).get(
                        "resident_after")
                if spec["sft"] not in driver_ops:
                    row["sft_missing"] = True
                rows.append(row)
                # Cross-checks: both sides saw the same tensors and, where they read data, the same bytes.
                for side in ("sft", "ref"):
                    s = row.get(side + "_seen")
                    if not s:
                        continue
                    if s["tensors"] != winfo["tensors"]:
                        checks.append((False, f"{wname} {op} ({side}): {s['tensors']} tensors, file has "
                                              f"{winfo['tensors']}"))
                    if op in ("load", "load_plain", "touch", "touch_memmap", "cold"):
                        seen.setdefault("bytes", set()).add(s["bytes"])
                        seen.setdefault("checksum", set()).add(s["checksum"])
            for k, v in seen.items():
                ok = len(v) == 1 and (k != "bytes" or v == {winfo["data_bytes"]})
                checks.append((ok, f"{wname}: every reading operation on both sides saw the same {k}"
                                   + ("" if ok else f" (got {sorted(v)}, data is {winfo['data_bytes']} bytes)")))
            if not a.keep:
                os.unlink(path)
    finally:
        if own_dir and not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    info["load_after"] = "%.2f %.2f %.2f" % os.getloadavg()

    if any(not ok for ok, _ in checks):
        failed = True
    report = render(a, info, caps, workloads, rows, checks, notes, cold_state)
    if a.out:
        # bench/py_compare.py writes its section into the same file between
        # markers: keep it.
        kept = ""
        if os.path.exists(a.out):
            old = open(a.out).read()
            begin, end = "<!-- py_compare.py: begin -->", "<!-- py_compare.py: end -->"
            if begin in old and end in old:
                kept = "\n" + begin + old.split(begin, 1)[1].split(end, 1)[0] + end + "\n"
        with open(a.out, "w") as f:
            f.write(report + kept)
        print(f"[compare] wrote {a.out}", file=sys.stderr)
    else:
        print(report)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": info, "driver": caps, "workloads": workloads, "rows": rows,
                       "checks": [{"ok": ok, "what": w} for ok, w in checks], "notes": notes,
                       "cold": cold_state, "quick": a.quick}, f, indent=1)
    return 1 if failed else 0


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------

def command_line(a):
    parts = ["python3 bench/compare.py"]
    if a.quick:
        parts.append("--quick")
    for k in ("reps", "open_reps", "big_reps", "moe_rounds", "dense_gib", "zero_count"):
        parts.append(f"--{k.replace('_', '-')} {getattr(a, k):g}")
    if a.out:
        parts.append("--out " + os.path.relpath(a.out, ROOT) if os.path.isabs(a.out) else "--out " + a.out)
    return " ".join(parts)


def render(a, info, caps, workloads, rows, checks, notes, cold_state):
    L = []
    add = L.append
    add("# sft against the reference `safetensors` package, side by side")
    add("")
    add("<!-- Generated by bench/compare.py: edit the script, not this file. -->")
    add("")
    add(f"Generated {info['date']} by `{command_line(a)}`" + (" (**--quick: tiny sizes, not a measurement**)"
                                                              if a.quick else "") + ".")
    add("")
    add("## How to reproduce")
    add("")
    add("```sh")
    add("cmake -S . -B build -G Ninja -DSFT_BUILD_BENCH=ON && ninja -C build sft_bench_driver")
    add("python3 bench/compare.py                      # full run: writes bench/RESULTS.md")
    add("python3 bench/compare.py --quick              # tiny sizes, prints the report (what CI runs)")
    add("python3 bench/compare.py --dense-gib 1 --work-dir /big/disk/dir   # smaller dense file, elsewhere")
    add("ninja -C build bench_header bench_read && build/bench/bench_header && build/bench/bench_read")
    add("```")
    add("")
    add("The script builds nothing. It generates every workload itself (bench/gen_workload.py) into a "
        "scratch directory that it deletes afterwards (the full run needs about twice the dense checkpoint's "
        "size in free disk), runs sft through `build/bin/sft_bench_driver` (`--driver PATH` for another "
        "build) and the reference package in its own Python process, with the same repetitions on both "
        "sides, and checks that both sides read the same bytes. `python3 bench/compare.py --help` lists "
        "the knobs. The Google Benchmark suites (`build/bench/bench_*`) measure sft alone, in finer "
        "detail.")
    add("")
    add("Figures this script does not produce, each file with the commands that reproduce it: "
        "writing, streaming RSS and atomicity costs in bench/RESULTS-writer.md; hashing and "
        "compression in bench/RESULTS-integrity.md; the GPU upload pipeline and kernels in "
        "bench/RESULTS-gpu.md; tensor-parallel loading (sft load under mpirun against every rank "
        "reading everything and against get_slice, and a model of a 64-GPU cluster) in "
        "bench/RESULTS-distributed.md. The Python packages (sft's against safetensors, fastsafetensors, Run:ai "
        "Model Streamer and InstantTensor) are compared by bench/py_compare.py, in the last section of "
        "this file, which this script keeps when it rewrites the rest.")
    add("")
    add("Remote reads over HTTP(S) from nginx on loopback (inspect's round trips, loading the 4 GiB file "
        "against curl and Run:ai Model Streamer's S3 backend) are in bench/RESULTS-remote.md, made by "
        "bench/remote_bench.py.")
    add("")
    add("## Machine")
    add("")
    add("| | |")
    add("|---|---|")
    for k, label in (("cpu", "CPU"), ("cores", "logical cores"), ("memory", "memory"), ("os", "OS"),
                     ("kernel", "kernel"), ("filesystem", "filesystem of the work dir"),
                     ("compiler", "compiler (driver)"), ("build_type", "build type"), ("sft_commit", "sft commit"),
                     ("python", "Python"), ("safetensors", "safetensors"), ("numpy", "numpy"),
                     ("ml_dtypes", "ml_dtypes"), ("load_before", "load average before"),
                     ("load_after", "load average after")):
        add(f"| {label} | {info[k]} |")
    add("")
    add("## Workloads")
    add("")
    add("| workload | what | tensors | header | file |")
    add("|---|---|---:|---:|---:|")
    for name, w in workloads.items():
        add(f"| {name} | {w['description']} | {w['tensors']:,} | {w['header_bytes']:,} B | "
            f"{fmt_bytes(w['file_bytes'])}{' (sparse)' if w['sparse'] else ''} |")
    add("")
    add("## Results")
    add("")
    add("Medians of wall-clock time over the repetitions; ratio = reference median / sft median (above 1: "
        "sft is faster). CPU ratio: the same with each side's process CPU time (user + system), which leaves "
        "out time spent waiting for a core on a busy machine, and also time spent waiting for the disk (so "
        "it says little about the cold rows). GB/s = tensor bytes / median wall time (10^9 bytes).")
    add("")
    add("| workload | operation | sft median | reference median | ratio | CPU ratio | sft min – max "
        "| reference min – max | sft GB/s | reference GB/s | reps |")
    add("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        s, f = r.get("sft"), r.get("ref")
        nbytes = (r.get("sft_seen") or r.get("ref_seen") or {}).get("bytes", 0)
        if r["op"] in ("open",):
            nbytes = 0
        sft_med = "not in this driver" if r.get("sft_missing") else fmt_time(s and s["median"])
        reps = f"{r['reps']}" + (f" × {len(r['rounds'])} rounds" if len(r["rounds"]) > 1 else "")
        add(f"| {r['workload']} | {OPS[r['op']]['label']} | {sft_med} | {fmt_time(f and f['median'])} | "
            f"{fmt_ratio(ratio(r))} | {fmt_ratio(ratio(r, cpu=True))} | "
            f"{fmt_time(s['min']) + ' – ' + fmt_time(s['max']) if s else 'n/a'} | "
            f"{fmt_time(f['min']) + ' – ' + fmt_time(f['max']) if f else 'n/a'} | "
            f"{throughput(s, nbytes)} | {throughput(f, nbytes)} | {reps} |")
    add("")
    render_claims(L, rows, workloads)
    add("## What each figure means")
    add("")
    add("Times cover only the operation: process start-up, imports and generating the file are outside "
        "them. The reference is timed in-process with `time.perf_counter()` around the call, sft inside "
        "sft_bench_driver with `CLOCK_MONOTONIC`; each side runs one untimed warm-up repetition "
        "first (none for the zero-size workload, whose repetitions are long), and `gc.collect()` runs "
        "before each reference repetition, outside the timer. BF16 tensors need `ml_dtypes` imported for "
        "the reference's numpy framework.")
    add("")
    for op in OPS:
        if any(r["op"] == op for r in rows):
            add(f"- **{OPS[op]['label']}**: {OPS[op]['means']}")
    add("")
    render_not_ahead(L, rows)
    add("## Checks")
    add("")
    for ok, what in checks:
        add(f"- {'passed' if ok else '**FAILED**'}: {what}")
    if any(r["op"] == "cold" for r in rows):
        sa, ra = cold_state.get("sft_resident_after_drop"), cold_state.get("ref_resident_after_drop")
        def pct(v):
            return "unknown" if v is None or v < 0 else f"{v * 100:.1f}%"
        dropped = all(v is not None and 0 <= v < 0.05 for v in (sa, ra))
        add(f"- {'passed' if dropped else '**not effective**'}: dropping the page cache: after "
            f"POSIX_FADV_DONTNEED, {pct(sa)} (sft side) and {pct(ra)} (reference side) of the file's pages "
            f"were still resident (mincore)" + ("" if dropped else "; the system did not drop the pages, so "
                                                "the 'cold' rows are warm reads"))
    if not checks:
        add("- none ran")
    add("")
    if notes:
        add("## Problems in this run")
        add("")
        for n in notes:
            add(f"- {n}")
        add("")
    add("## Noise")
    add("")
    add("This machine may be shared: other processes compete for the same cores and memory bandwidth "
        "(see the load averages above), so single repetitions can be far off. Medians over several "
        "repetitions are reported for that reason, the key MoE open comparison is repeated in separate "
        "rounds, and min – max shows the spread. Ratios from one run are comparable with each other; "
        "absolute times from different runs are not.")
    add("")
    return "\n".join(L)


def find_row(rows, workload, op):
    for r in rows:
        if r["workload"] == workload and r["op"] == op:
            return r
    return None


def render_claims(L, rows, workloads):
    add = L.append
    moe = find_row(rows, "moe", "open")
    if moe and moe.get("sft") and moe.get("ref"):
        add("## Claim: open of the mixture-of-experts header at least 10× faster than `safe_open`")
        add("")
        w = workloads["moe"]
        add(f"{w['tensors']:,} tensors, {fmt_bytes(w['header_bytes'])} of JSON. Each round runs sft's "
            f"repetitions and then the reference's; the rounds are separate in time, so a burst of load "
            f"from other processes shows up as one round disagreeing with the others.")
        add("")
        add("| round | sft median | reference median | ratio | sft CPU median | reference CPU median | CPU ratio |")
        add("|---:|---:|---:|---:|---:|---:|---:|")
        ratios = []
        for i, rnd in enumerate(moe["rounds"], 1):
            if rnd["sft"] and rnd["ref"]:
                sm, rm = statistics.median(rnd["sft"]["times_s"]), statistics.median(rnd["ref"]["times_s"])
                sc, rc = statistics.median(rnd["sft"]["cpu_s"]), statistics.median(rnd["ref"]["cpu_s"])
                ratios.append(rm / sm)
                add(f"| {i} | {fmt_time(sm)} | {fmt_time(rm)} | {fmt_ratio(rm / sm)} | {fmt_time(sc)} | "
                    f"{fmt_time(rc)} | {fmt_ratio(rc / sc if sc else None)} |")
        add("")
        r = ratio(moe)
        verdict = "met" if r >= 10 else "**not met**"
        add(f"Over all rounds: sft {fmt_time(moe['sft']['median'])}, reference {fmt_time(moe['ref']['median'])}, "
            f"ratio {fmt_ratio(r)} (per-round ratios {min(ratios):.1f}× to {max(ratios):.1f}×; in CPU time "
            f"{fmt_ratio(ratio(moe, cpu=True))}): the 10× target is {verdict}" + ("." if w["tensors"] == 18770 else
                                      f" (but this run's MoE header is not the 18,770-tensor one)."))
        add("")
    big, small = find_row(rows, "hole_big", "open"), find_row(rows, "hole_small", "open")
    if big and small and big.get("sft") and small.get("sft"):
        wb, ws = workloads["hole_big"], workloads["hole_small"]
        add("## Claim: opening costs the same whatever the data size")
        add("")
        add(f"Two files with the same {wb['tensors']} tensor names and nearly the same header "
            f"({fmt_bytes(wb['header_bytes'])} and {fmt_bytes(ws['header_bytes'])}), one of "
            f"{fmt_bytes(wb['file_bytes'])} (its data a hole) and one of {fmt_bytes(ws['file_bytes'])}:")
        add("")
        add("| file | sft open median | sft min – max | reference open median |")
        add("|---|---:|---:|---:|")
        for w, r in ((wb, big), (ws, small)):
            add(f"| {fmt_bytes(w['file_bytes'])} | {fmt_time(r['sft']['median'])} | "
                f"{fmt_time(r['sft']['min'])} – {fmt_time(r['sft']['max'])} | "
                f"{fmt_time(r['ref']['median']) if r.get('ref') else 'n/a'} |")
        add("")
        bm, sm = big["sft"]["median"], small["sft"]["median"]
        spread = max(big["sft"]["max"] - big["sft"]["min"], small["sft"]["max"] - small["sft"]["min"])
        same = abs(bm - sm) <= max(0.25 * sm, 5e-6)
        add(f"The {fmt_bytes(wb['file_bytes'])} file's open takes {fmt_time(bm)} against {fmt_time(sm)} "
            f"({bm / sm:.2f}×, a difference of {fmt_time(abs(bm - sm))}; the spread of single repetitions is "
            f"up to {fmt_time(spread)}). File::open maps the file without reading its data, so its cost is the "
            f"header's and a few system calls', whatever the data size: "
            + ("the two are the same within the noise." if same else
               "this run shows a difference beyond the 25% / 5 µs this report calls noise; see min – max."))
        add("")


def render_not_ahead(L, rows):
    add = L.append
    behind = [r for r in rows if ratio(r) is not None and ratio(r) < 1.5]
    add("## Where sft is not ahead, and why")
    add("")
    if not behind:
        add("In this run sft is at least 1.5× faster than the reference on every operation measured on both "
            "sides.")
        add("")
    for r in behind:
        q = ratio(r)
        how = "slower than the reference" if q < 0.95 else "level with the reference" if q < 1.05 else \
            "only slightly ahead"
        add(f"- **{r['workload']}, {OPS[r['op']]['label']}** ({fmt_ratio(q)}): sft is {how}. "
            f"{NOT_AHEAD_WHY.get(r['op'], '')}")
    if behind:
        add("")
    missing = [r for r in rows if r.get("sft_missing")]
    if missing:
        add("Operations with no sft figure: the driver in this build does not have them (`sft_bench_driver "
            "caps` lists what it has); the write operation arrives with sft's Writer (bench/driver_op_write.cpp registers it as soon as "
            "sft/writer.hpp exists). "
            "The reference figures are shown alone.")
        add("")


if __name__ == "__main__":
    sys.exit(main())
