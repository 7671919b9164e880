#!/usr/bin/env python3
"""The Python packages side by side: sft against safetensors, fastsafetensors,
Run:ai Model Streamer and InstantTensor, in one run.

    python3 bench/py_compare.py [--quick] [--out bench/RESULTS.md] [--png bench/py_compare.png]

Needs the packages of the loaders it measures in the interpreter that runs it
(the pinned environment of the project's benchmarks); a loader whose package
is missing, or that cannot run on this machine, is reported as not run, with
the reason. Builds nothing: `sft` must be importable (`pip install .`, or
PYTHONPATH pointing at an install).

What it does:
  * generates the workloads into a scratch directory it deletes afterwards:
    the small transformer, the 18,770-tensor mixture-of-experts checkpoint and
    the ~4 GiB dense checkpoint (the shapes of ../shared/tools/gen_model.py,
    through bench/gen_workload.py);
  * runs every loader in a process of its own, once per workload and cache
    state: "warm" (the file in the page cache: one untimed load first) and
    "cold" (the file's pages dropped from the page cache before every
    repetition: posix_fadvise(POSIX_FADV_DONTNEED) on the file, checked with
    mincore; --cold-method drop_caches uses `echo 3 >
    /proc/sys/vm/drop_caches` instead, which also evicts the interpreter's and
    the libraries' code pages, so that cold rows would also time reloading
    torch from disk, and disturbs every other process on the machine);
  * times, per repetition, "load" (the call that returns the dict of tensors)
    and "load + read" (the same, then every byte of every tensor read once:
    a 64-bit sum of its 8-byte words, plus its tail bytes, identical for
    every loader), in wall-clock and process CPU time; records the peak RSS
    of the process above its level after the imports; and checks that every
    loader read the same bytes (the sums agree);
  * writes a Markdown section between markers into --out (the rest of the
    file is kept; bench/compare.py keeps the section when it rewrites the
    file) and draws the chart --png with matplotlib.

Exit status: 0 when every loader that ran succeeded and every cross-check
passed, 1 otherwise, 2 on a usage error.
"""
import argparse
import ctypes
import datetime
import gc
import json
import mmap
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import gen_workload  # noqa: E402

BEGIN = "<!-- py_compare.py: begin -->"
END = "<!-- py_compare.py: end -->"
MASK64 = (1 << 64) - 1
GIB = 1 << 30

# name -> (framework, description, package to import)
LOADERS = {
    "sft": ("pt", "sft.torch.load_file (zero-copy views of a private mapping)", "sft"),
    "sft-copy": ("pt", "sft.torch.load_file(copy=True) (owned copies, parallel reads)", "sft"),
    "sft-pread": ("pt", "sft.torch.load_file(backend=\"pread\") (owned, never maps)", "sft"),
    "safetensors": ("pt", "safetensors.torch.load_file 0.8 (zero-copy, mmap)", "safetensors"),
    "fastsafetensors": ("pt", "fastsafetensors fastsafe_open(nogds=True), every get_tensor", "fastsafetensors"),
    "runai": ("pt", "runai_model_streamer SafetensorsStreamer.stream_file + get_tensors", "runai_model_streamer"),
    "instanttensor": ("pt", "instanttensor.safe_open(...).tensors()", "instanttensor"),
    "sft-np": ("np", "sft.numpy.load_file (zero-copy views)", "sft"),
    "sft-np-copy": ("np", "sft.numpy.load_file(copy=True)", "sft"),
    "safetensors-np": ("np", "safetensors.numpy.load_file 0.8 (copies)", "safetensors"),
}


# ---------------------------------------------------------------------------------------------
# Worker: one loader, one file, one cache state, in a process of its own
# ---------------------------------------------------------------------------------------------

def load_fn(loader, path):
    if loader == "sft":
        import sft.torch
        return lambda: sft.torch.load_file(path)
    if loader == "sft-copy":
        import sft.torch
        return lambda: sft.torch.load_file(path, copy=True)
    if loader == "sft-pread":
        import sft.torch
        return lambda: sft.torch.load_file(path, backend="pread")
    if loader == "sft-np":
        import sft.numpy
        return lambda: sft.numpy.load_file(path)
    if loader == "sft-np-copy":
        import sft.numpy
        return lambda: sft.numpy.load_file(path, copy=True)
    if loader == "safetensors":
        import safetensors.torch
        return lambda: safetensors.torch.load_file(path)
    if loader == "safetensors-np":
        import ml_dtypes  # noqa: F401  (BF16 for numpy)
        import safetensors.numpy
        return lambda: safetensors.numpy.load_file(path)
    if loader == "fastsafetensors":
        from fastsafetensors import fastsafe_open

        def load():
            with fastsafe_open(path, "pt", device="cpu", nogds=True) as f:
                return {k: f.get_tensor(k) for k in f.keys()}
        return load
    if loader == "runai":
        from runai_model_streamer import SafetensorsStreamer

        def load():
            with SafetensorsStreamer() as s:
                s.stream_file(path)
                return {k: t for k, t in s.get_tensors()}
        return load
    if loader == "instanttensor":
        import instanttensor
        import torch

        def load():
            device = "cuda" if torch.cuda.is_available() else "cpu"
            with instanttensor.safe_open(path, "pt", device=device) as f:
                return {k: t for k, t in f.tensors()}
        return load
    raise ValueError(loader)


def read_every_byte(tensors):
    """A 64-bit sum of every tensor's little-endian 8-byte words plus its tail
    bytes: every byte is read once, the same arithmetic for every loader."""
    total = 0
    for t in tensors.values():
        if hasattr(t, "untyped_storage"):
            import torch
            b = t.reshape(-1).view(torch.uint8)
            n8 = b.numel() // 8 * 8
            if n8:
                total += int(b[:n8].view(torch.int64).sum())
            if n8 != b.numel():
                total += int(b[n8:].sum(dtype=torch.int64))
        else:
            import numpy as np
            b = t.reshape(-1).view(np.uint8)
            n8 = b.size // 8 * 8
            if n8:
                total += int(b[:n8].view(np.uint64).sum(dtype=np.uint64))
            if n8 != b.size:
                total += int(b[n8:].sum(dtype=np.uint64))
    return total & MASK64


def drop_cache(path, method):
    """Drop the file's pages from the page cache; returns the method used.

    "fadvise" (the default): fsync, then posix_fadvise(POSIX_FADV_DONTNEED) on
    the file alone. "drop_caches": `echo 3 > /proc/sys/vm/drop_caches` after
    sync (root only; falls back to fadvise), which also evicts the code pages
    of the interpreter, torch and numpy, so a cold repetition then measures
    reloading them from disk as well, and it disturbs every other process."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass
    used = "fadvise"
    if method == "drop_caches":
        try:
            os.sync()
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
            used = "drop_caches"
        except OSError:
            pass
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    return used


def resident_fraction(path):
    """Fraction of the file's pages in the page cache (mincore)."""
    size = os.path.getsize(path)
    if size == 0:
        return 0.0
    libc = ctypes.CDLL(None, use_errno=True)
    page = os.sysconf("SC_PAGE_SIZE")
    with open(path, "rb") as f:
        m = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY)
        try:
            addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
            pages = (size + page - 1) // page
            vec = (ctypes.c_ubyte * pages)()
            if libc.mincore(ctypes.c_void_p(addr), ctypes.c_size_t(size), vec) != 0:
                return -1.0
            resident = sum(v & 1 for v in vec)
            del addr
            return resident / pages
        finally:
            gc.collect()
            try:
                m.close()
            except BufferError:
                pass


def max_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker(args):
    """Runs in its own process; prints one JSON line."""
    out = {"loader": args.worker, "file": args.file, "cold": args.cold}
    try:
        fn = load_fn(args.worker, args.file)
        import torch  # noqa: F401  (every loader's process pays the same import)
    except Exception as e:  # a missing package or a loader this machine cannot run
        out["error"] = f"{type(e).__name__}: {e}"
        print(json.dumps(out))
        return 0
    gc.collect()
    base_rss = max_rss_bytes()
    runs, methods, resident = [], set(), []
    try:
        # One untimed load first, warm or cold: it imports what a loader
        # imports lazily (ml_dtypes for BF16 numpy arrays) and starts its threads.
        d = fn()
        out["checksum"] = read_every_byte(d)
        del d
        gc.collect()
        for _ in range(args.reps):
            if args.cold:
                methods.add(drop_cache(args.file, args.cold_method))
                resident.append(resident_fraction(args.file))
            gc.collect()
            w0, c0 = time.perf_counter(), time.process_time()
            d = fn()
            w1, c1 = time.perf_counter(), time.process_time()
            s = read_every_byte(d)
            w2, c2 = time.perf_counter(), time.process_time()
            runs.append({"load": w1 - w0, "load_cpu": c1 - c0, "read": w2 - w0, "read_cpu": c2 - c0,
                         "tensors": len(d)})
            out["checksum"] = s
            del d
            gc.collect()
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
    out["runs"] = runs
    out["peak_rss_above_imports"] = max_rss_bytes() - base_rss
    if args.cold:
        out["drop_method"] = sorted(methods)
        out["resident_after_drop"] = max(resident) if resident else None
    print(json.dumps(out))
    return 0


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------

def workloads(a):
    q = a.quick
    dense_layers = 1 if q else gen_workload_dense_layers(a.dense_gib)
    return {
        "small": ("small transformer (32 layers, hidden 256)" if not q else "small (2 layers, hidden 64)",
                  gen_workload.transformer_tensors(*((2, 64) if q else (32, 256)))),
        "moe": ("mixture-of-experts (48 layers x 128 experts, hidden 64)" if not q else "moe (2 layers x 8 experts)",
                gen_workload.transformer_tensors(*((2, 64, 8) if q else (48, 64, 128)))),
        "dense": (f"dense ({dense_layers} layers, hidden {a.dense_hidden}, ~{a.dense_gib:g} GiB)" if not q
                  else "dense (1 layer, hidden 512)",
                  gen_workload.transformer_tensors(dense_layers, 512 if q else a.dense_hidden)),
    }


def gen_workload_dense_layers(gib, hidden=4096):
    per_layer = sum(gen_workload.tensor_bytes(dt, s) for _, dt, s in gen_workload.transformer_tensors(1, hidden)[1:-1])
    fixed = gen_workload.tensor_bytes("BF16", [1024, hidden]) + 4 * hidden
    return max(1, round((gib * GIB - fixed) / per_layer))


def run_worker(a, loader, path, cold, reps):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", loader, "--file", path, "--reps", str(reps),
           "--cold-method", a.cold_method]
    if cold:
        cmd.append("--cold")
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=a.timeout)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        tail = (p.stderr or p.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"loader": loader, "error": f"exit status {p.returncode}: {tail[0][:300]}"}
    return json.loads(lines[-1])


def med(runs, key):
    return statistics.median(r[key] for r in runs) if runs else None


def fmt_time(s):
    if s is None:
        return "–"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def fmt_mib(b):
    return "–" if b is None else f"{b / (1 << 20):,.0f} MiB"


def machine_lines(work_dir):
    def first(path, key):
        try:
            for line in open(path):
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return None

    versions = {}
    for mod in ("sft", "safetensors", "torch", "numpy", "ml_dtypes", "fastsafetensors", "runai_model_streamer",
                "instanttensor"):
        try:
            from importlib.metadata import version
            versions[mod] = version(mod.replace("_", "-")) if mod != "runai_model_streamer" else version("runai-model-streamer")
        except Exception:
            versions[mod] = "not installed"
    fs = subprocess.run(["stat", "-f", "-c", "%T", work_dir], capture_output=True, text=True).stdout.strip()
    rows = [("CPU", first("/proc/cpuinfo", "model name") or platform.processor()),
            ("logical cores", str(os.cpu_count())),
            ("memory", f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / GIB:.1f} GiB"),
            ("kernel", platform.release()), ("filesystem of the work dir", fs or "?"),
            ("Python", platform.python_version())]
    rows += [(k, v) for k, v in versions.items()]
    rows.append(("load average before", " ".join(f"{x:.2f}" for x in os.getloadavg())))
    return rows


def draw_chart(results, order, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(w, c) for w in order for c in (False, True) if any(r["workload"] == w and r["cold"] == c for r in results)]
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 1.2 + 0.36 * len(LOADERS) * len(panels)), squeeze=False)
    for ax, (w, cold) in zip(axes[:, 0], panels):
        rows = [r for r in results if r["workload"] == w and r["cold"] == cold and r.get("runs")]
        names = [r["loader"] for r in rows]
        load = [med(r["runs"], "load") for r in rows]
        read = [med(r["runs"], "read") for r in rows]
        y = range(len(rows))
        ax.barh([i + 0.2 for i in y], read, height=0.4, label="load + read every byte", color="#8fb3d9")
        ax.barh([i - 0.2 for i in y], load, height=0.4, label="load", color="#1f5f99")
        for i, (lt, rt) in enumerate(zip(load, read)):
            ax.text(rt, i + 0.2, " " + fmt_time(rt), va="center", fontsize=7)
            ax.text(lt, i - 0.2, " " + fmt_time(lt), va="center", fontsize=7)
        ax.set_yticks(list(y))
        ax.set_yticklabels(names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel("seconds (median, log scale)", fontsize=8)
        ax.set_title(f"{w}, {'cold' if cold else 'warm'} page cache", fontsize=9)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def report(a, results, order, specs, machine, started, wall):
    L = []
    add = L.append
    add(BEGIN)
    add("## Python packages side by side")
    add("")
    add(f"<!-- Generated by bench/py_compare.py: edit the script, not this section. -->")
    add("")
    cmd = "python3 bench/py_compare.py" + (" --quick" if a.quick else "") + (
        f" --dense-gib {a.dense_gib:g}" if a.dense_gib != 4 else "")
    add(f"Generated {started} UTC by `{cmd}` ({wall / 60:.0f} minutes). `sft` is the package of this "
        "repository (`pip install .`); the peers are the versions the project pins. Each loader runs in a process of "
        "its own, once per workload and cache state, and every process imports torch, so the imports cost the same "
        "everywhere and are not timed.")
    add("")
    add(f"![load times of the Python packages]({os.path.relpath(a.png, os.path.dirname(os.path.abspath(a.out)))})")
    add("")
    add("| machine | |")
    add("|---|---|")
    for k, v in machine:
        add(f"| {k} | {v} |")
    add("")
    add("Loaders (torch unless marked np):")
    add("")
    for name, (fw, desc, _) in LOADERS.items():
        add(f"- **{name}**: {desc}")
    add("")
    add("Figures: medians over the repetitions. **load**: the call that returns the dict of tensors. "
        "**load + read**: the same, then every byte of every tensor read once (a 64-bit sum of 8-byte words; the "
        "same code for every loader), so zero-copy loaders pay for their page faults there. **CPU**: process CPU "
        "time of load + read (user + system), which leaves out time waiting for a core on a shared machine and "
        "for the disk. **peak RSS**: the process's high-water resident set above its level after the imports; "
        "mapped file pages count once touched. **× ref**: safetensors' median load + read over this loader's "
        "(above 1: faster than the reference).")
    add("")
    checks, failed = [], False

    def find(w, cold, loader):
        return next((r for r in results if r["workload"] == w and r["cold"] == cold and r["loader"] == loader
                     and r.get("runs")), None)

    for w in order:
        desc = specs[w][0]
        rows = [r for r in results if r["workload"] == w]
        if not rows:
            continue
        n_tensors = len(specs[w][1])
        size = rows[0].get("size", 0)
        add(f"### {w}: {desc}, {n_tensors:,} tensors, {size / (1 << 20):,.1f} MiB")
        add("")
        add("| loader | cache | load | CPU | × ref | load + read | CPU | × ref | × ref (CPU) | peak RSS | reps |")
        add("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for cold in (False, True):
            for r in [r for r in rows if r["cold"] == cold]:
                fw = LOADERS[r["loader"]][0]
                label = r["loader"] + (" (np)" if fw == "np" else "")
                cache = "cold" if cold else "warm"
                if r.get("error"):
                    add(f"| {label} | {cache} | not run: {r['error'][:110]} | | | | | | | | |")
                    continue
                runs = r["runs"]
                # Against the reference in the same framework.
                ref = find(w, cold, "safetensors-np" if fw == "np" else "safetensors")

                def ratio(key):
                    return f"{med(ref['runs'], key) / med(runs, key):.2f}×" if ref and med(runs, key) else "–"

                add(f"| {label} | {cache} | {fmt_time(med(runs, 'load'))} | {fmt_time(med(runs, 'load_cpu'))} | "
                    f"{ratio('load')} | {fmt_time(med(runs, 'read'))} | {fmt_time(med(runs, 'read_cpu'))} | "
                    f"{ratio('read')} | {ratio('read_cpu')} | {fmt_mib(r.get('peak_rss_above_imports'))} | "
                    f"{len(runs)} |")
        add("")
        sums = {r["loader"]: r.get("checksum") for r in rows if r.get("runs")}
        distinct = set(v for v in sums.values() if v is not None)
        ok = len(distinct) == 1
        failed |= not ok
        checks.append(f"{'passed' if ok else 'FAILED'}: {w}: every loader that ran read the same bytes"
                      + ("" if ok else f" ({sums})"))
        for r in rows:
            if r["cold"] and r.get("runs"):
                checks.append(f"{w}: cold repetitions dropped the file's pages with "
                              f"{'+'.join(r.get('drop_method', []))}; at most "
                              f"{100 * (r.get('resident_after_drop') or 0):.1f}% of the file stayed resident")
                break

    # The goals, judged from the medians above.
    add("### Goals")
    add("")

    def goal(text, w, cold, mine, theirs, key, target):
        a_, b_ = find(w, cold, mine), find(w, cold, theirs)
        if not a_ or not b_:
            add(f"- {text}: not measured ({mine} or {theirs} did not run)")
            return
        r_wall = med(b_["runs"], key) / med(a_["runs"], key)
        r_cpu = med(b_["runs"], key + "_cpu") / med(a_["runs"], key + "_cpu")
        verdict = "met" if r_wall >= target else ("met in CPU time only" if r_cpu >= target else "not met")
        add(f"- {text} (goal ≥ {target:g}×): {r_wall:.2f}× in wall-clock time, {r_cpu:.2f}× in CPU time: **{verdict}**")

    goal("MoE, load_file into torch, sft against the reference", "moe", False, "sft", "safetensors", "load", 10)
    goal("dense, warm, load + read every byte, sft's zero-copy path against the reference's", "dense", False,
         "sft", "safetensors", "read", 1)
    goal("dense, warm, load, sft's owned-copy path against fastsafetensors", "dense", False, "sft-copy",
         "fastsafetensors", "load", 3)
    goal("dense, cold, load + read every byte, sft against the reference", "dense", True, "sft", "safetensors",
         "read", 1.3)
    add("")
    add("### Where a peer is ahead of sft")
    add("")
    reasons = {
        "safetensors": "its torch path is zero-copy too (a private mapping through torch.UntypedStorage.from_file); "
                       "the work is the same page faults and memory reads, so the two are level within the noise",
        "safetensors-np": "both copy every byte into new memory; the kernel's work of faulting in and zeroing "
                          "fresh pages dominates both",
        "fastsafetensors": "it reads the file with large preads into one buffer and hands out views of it; with "
                           "few large tensors, the work is the same one copy as sft's",
        "runai": "it reads on its own threads into buffers backed by transparent huge pages (a 1 GiB load took "
                 "509 huge-page faults, from /proc/vmstat), which cost about a sixth of 4 KiB pages to allocate, "
                 "and its library has an O_DIRECT/libaio reader for the disk",
    }
    ahead = []
    for w in order:
        for cold in (False, True):
            for fw, mine in (("pt", ["sft", "sft-copy", "sft-pread"]), ("np", ["sft-np", "sft-np-copy"])):
                ours = [find(w, cold, m) for m in mine]
                ours = [o for o in ours if o]
                if not ours:
                    continue
                best = min(ours, key=lambda o: med(o["runs"], "read"))
                for r in results:
                    if (r["workload"] != w or r["cold"] != cold or not r.get("runs") or r["loader"] in mine
                            or LOADERS[r["loader"]][0] != fw):
                        continue
                    if med(r["runs"], "read") < med(best["runs"], "read"):
                        ahead.append(f"- {w}, {'cold' if cold else 'warm'}: {r['loader']} "
                                     f"({fmt_time(med(r['runs'], 'read'))}) against sft's best, {best['loader']} "
                                     f"({fmt_time(med(best['runs'], 'read'))}), load + read: "
                                     f"{reasons.get(r['loader'], 'see its row')}.")
    for line in ahead or ["- nowhere in this run (load + read, sft's best variant against each peer)."]:
        add(line)
    add("")
    add("### Checks")
    add("")
    for c in checks:
        add(f"- {c}")
    add("")
    add(END)
    return "\n".join(L) + "\n", failed


def write_section(out, section):
    old = open(out).read() if os.path.exists(out) else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        new = head + section.rstrip("\n") + tail
    else:
        new = old.rstrip("\n") + ("\n\n" if old else "") + section
    with open(out, "w") as f:
        f.write(new)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny workloads, one repetition: a smoke test")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--png", default=os.path.join(HERE, "py_compare.png"))
    ap.add_argument("--work-dir", default=None, help="where the workloads are written (deleted afterwards)")
    ap.add_argument("--dense-gib", type=float, default=4.0)
    ap.add_argument("--dense-hidden", type=int, default=4096)
    ap.add_argument("--workloads", default="small,moe,dense")
    ap.add_argument("--loaders", default=",".join(LOADERS))
    ap.add_argument("--modes", default="warm,cold")
    ap.add_argument("--reps", type=int, default=None, help="warm repetitions (default: 5, 3 for dense)")
    ap.add_argument("--cold-reps", type=int, default=None, help="cold repetitions (default: 3, 2 for dense)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per loader process")
    ap.add_argument("--cold-method", choices=["fadvise", "drop_caches"], default="fadvise",
                    help="how cold repetitions drop the file's pages (see drop_cache)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    ap.add_argument("--cold", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a)

    started = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M")
    t_start = time.time()
    specs = workloads(a)
    order = [w for w in a.workloads.split(",") if w in specs]
    loaders = [x for x in a.loaders.split(",") if x in LOADERS]
    modes = [m for m in a.modes.split(",") if m in ("warm", "cold")]
    work = tempfile.mkdtemp(prefix="sft-py-compare-", dir=a.work_dir)
    machine = machine_lines(work)
    results = []
    try:
        for w in order:
            path = os.path.join(work, f"{w}.safetensors")
            gen_workload.write_file(path, specs[w][1], metadata={"format": "pt"})
            size = os.path.getsize(path)
            print(f"{w}: {len(specs[w][1]):,} tensors, {size / (1 << 20):,.1f} MiB", file=sys.stderr)
            for mode in modes:
                cold = mode == "cold"
                reps = 1 if a.quick else (a.cold_reps or (2 if w == "dense" else 3)) if cold else (
                    a.reps or (3 if w == "dense" else 5))
                for loader in loaders:
                    r = run_worker(a, loader, path, cold, reps)
                    r.update(workload=w, cold=cold, path=path, size=size)
                    results.append(r)
                    status = r.get("error") or f"load {fmt_time(med(r.get('runs'), 'load'))}, " \
                                               f"load + read {fmt_time(med(r.get('runs'), 'read'))}"
                    print(f"  {mode:4} {loader:16} {status}", file=sys.stderr, flush=True)
            os.unlink(path)
        machine.append(("load average after", " ".join(f"{x:.2f}" for x in os.getloadavg())))
        section, failed = report(a, results, order, specs, machine, started, time.time() - t_start)
        draw_chart(results, order, a.png)
        write_section(a.out, section)
        with open(os.path.splitext(a.png)[0] + ".json", "w") as f:
            json.dump(results, f, indent=1)
        print(f"wrote {a.out} and {a.png}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    errors = [r for r in results if r.get("error") and r["loader"] != "instanttensor" and "ModuleNotFound" not in r["error"]]
    return 1 if failed or errors else 0


if __name__ == "__main__":
    sys.exit(main())
