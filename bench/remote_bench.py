#!/usr/bin/env python3
"""Remote reads against nginx on loopback: sft beside curl and Run:ai Model Streamer.

    cmake -S . -B build -G Ninja -DSFT_BUILD_BENCH=ON && ninja -C build sft_cli sft_remote_load
    python3 bench/remote_bench.py                       # 4 GiB dense file, MoE header; writes bench/RESULTS-remote.md
    python3 bench/remote_bench.py --quick               # small files, prints the report

What it does, in one run and on one server (nginx from Debian, started by
tests/remote/nginx_fixture.py on loopback, http and https with HTTP/2):

 1. writes the workloads with bench/gen_workload.py into --work (deleted
    afterwards unless --keep): the MoE checkpoint (48 layers x 128 experts,
    hidden 64: an 18,770-tensor, 2.2 MB header) and the dense checkpoint
    (16 layers, hidden 4096: 4 GiB of data);
 2. inspect of the MoE file over http and https: round trips (requests in
    nginx's access log), bytes fetched, wall time;
 3. loading the dense file into memory, repetitions interleaved so that each
    side sees the same machine: `curl -o /dev/null` (one connection, the
    ceiling of a plain download), sft (sft_remote_load: File::open, then one
    File::read_bytes of the whole data region into one buffer), and Run:ai
    Model Streamer (SafetensorsStreamer over its S3 backend, pointed at nginx
    with AWS_ENDPOINT_URL and unsigned requests) when its S3 package is
    importable (--runai-path adds directories to its PYTHONPATH; its native
    libstreamers3.so is found through LD_LIBRARY_PATH from there).

Throughputs are bytes of tensor data (curl: bytes of the whole file) over
wall time; the report gives the median and the spread of each.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "remote"))
sys.path.insert(0, HERE)
import gen_workload  # noqa: E402
import nginx_fixture  # noqa: E402

RUNAI_VERSIONS = r"""
from importlib import metadata
print(", ".join(f"{p} {metadata.version(p)}" for p in
                ("runai-model-streamer", "runai-model-streamer-s3", "boto3", "torch")))
"""

RUNAI_CHILD = r"""
import sys, time
from runai_model_streamer import SafetensorsStreamer
t0 = time.monotonic(); n = 0
with SafetensorsStreamer() as s:
    s.stream_file(sys.argv[1], device="cpu")
    for name, t in s.get_tensors():
        n += t.numel() * t.element_size()
print(n, time.monotonic() - t0)
"""


def sh(cmd, env=None, timeout=1800):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr[-2000:]}")
    return p.stdout


def median_spread(xs):
    if not xs:
        return "n/a"
    return f"{statistics.median(xs):.3f} ({min(xs):.3f}..{max(xs):.3f})"


def version_of(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except OSError:
        return "?"
    out = (p.stdout + p.stderr).strip().splitlines()
    return out[0] if out else "?"


def git_commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=30).stdout.strip() or "?"
    except OSError:
        return "?"


def loadavg():
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return cpu, os.cpu_count(), platform.release(), load


def runai_env(a, srv, tls=False):
    """Environment for Run:ai's S3 backend against nginx, or None when it is not installed."""
    paths = [p for p in (a.runai_path or "").split(os.pathsep) if p]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).strip(os.pathsep)
    libdirs = [os.path.join(p, "runai_model_streamer", "libstreamer", "lib") for p in paths]
    env["LD_LIBRARY_PATH"] = os.pathsep.join([d for d in libdirs if os.path.isdir(d)] + [env.get("LD_LIBRARY_PATH", "")])
    endpoint = f"https://127.0.0.1:{srv.https_port}" if tls else f"http://127.0.0.1:{srv.http_port}"
    if tls:
        env["AWS_CA_BUNDLE"] = srv.ca_file
    env.update({"AWS_ENDPOINT_URL": endpoint, "RUNAI_STREAMER_S3_UNSIGNED": "1",
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "us-east-1",
                "RUNAI_STREAMER_S3_USE_VIRTUAL_ADDRESSING": "0"})
    probe = subprocess.run([a.python, "-c", "import runai_model_streamer, runai_model_streamer_s3"],
                           capture_output=True, env=env)
    return env if probe.returncode == 0 else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--work", help="scratch directory (default: BUILD/remote-bench)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--layers", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=4096)
    ap.add_argument("--quick", action="store_true", help="small dense file (2 layers, hidden 512), 1 repetition")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--python", default=sys.executable, help="interpreter for Run:ai Model Streamer")
    ap.add_argument("--runai-path", help="directories (os.pathsep-separated) holding runai_model_streamer_s3 and boto3")
    ap.add_argument("--sft-options", action="append", default=[],
                    help="an sft configuration to time (RemoteOptions keys, comma-separated); repeatable")
    ap.add_argument("--out", help="write the report here (default: print it)")
    a = ap.parse_args()
    a.work = a.work or os.path.join(a.build, "remote-bench")
    if a.quick:
        a.layers, a.hidden, a.reps = 2, 512, 1
    configs = a.sft_options or [""]
    sft_cli = os.path.join(a.build, "bin", "sft")
    load = os.path.join(a.build, "bin", "sft_remote_load")
    for b in (sft_cli, load):
        if not os.path.exists(b):
            sys.exit(f"{b} is missing: cmake -DSFT_BUILD_BENCH=ON and ninja sft_cli sft_remote_load")

    root = os.path.join(a.work, "root")
    os.makedirs(os.path.join(root, "bucket"), exist_ok=True)
    dense = os.path.join(root, "bucket", "dense.safetensors")
    moe = os.path.join(root, "bucket", "moe.safetensors")
    if not os.path.exists(moe):
        gen_workload.write_file(moe, gen_workload.transformer_tensors(48, 64, 128))
    if not os.path.exists(dense):
        free = shutil.disk_usage(a.work).free
        need = 2 * a.hidden * a.hidden * a.layers * 9
        if free < need + (2 << 30):
            sys.exit(f"not enough free disk in {a.work} for the dense file ({free >> 30} GiB free)")
        gen_workload.write_file(dense, gen_workload.transformer_tensors(a.layers, a.hidden))
    dense_size = os.path.getsize(dense)
    with open(dense, "rb") as f:  # into the page cache: the server reads from memory
        while f.read(64 << 20):
            pass

    lines = []
    load_start = loadavg()
    rep_loads = []
    with nginx_fixture.NginxFixture(root, os.path.join(a.work, "nginx")) as srv:
        env = dict(os.environ, SFT_REMOTE_OPTIONS=f"ca_file={srv.ca_file}")
        # --- inspect of the MoE header -----------------------------------------------------
        moe_rows = []
        n = os.path.getsize(moe)
        with open(moe, "rb") as f:
            header_bytes = int.from_bytes(f.read(8), "little")
        for tls in (False, True):
            url = srv.url("bucket/moe.safetensors", tls=tls)
            times, reqs, got = [], [], []
            for _ in range(5):
                mark = srv.log_mark()
                t0 = time.monotonic()
                sh([sft_cli, "inspect", "--json", url], env=env)
                times.append(time.monotonic() - t0)
                log = srv.access_log_since(mark)
                reqs.append(len(log))
                got.append(sum(r["body_bytes"] for r in log))
            t0 = time.monotonic()
            sh([sft_cli, "inspect", "--json", moe])
            local_s = time.monotonic() - t0
            moe_rows.append(("https (HTTP/2)" if tls else "http", max(reqs), max(got), statistics.median(times), local_s))

        # --- loading the dense file ------------------------------------------------------------
        # Each reader's GB/s is bytes over the whole load as the reader itself times it: curl's
        # time_total (connect and TLS handshake included), sft's open (the header's requests) plus
        # its read, Run:ai's from the streamer's construction to the last tensor. The requests and
        # statuses each load caused are counted in nginx's access log.
        results, requests, opens = {}, {}, {}
        renv = {proto: runai_env(a, srv, tls=proto == "https") for proto in ("http", "https")}
        runai_versions = ""
        if renv["http"]:
            runai_versions = sh([a.python, "-c", RUNAI_VERSIONS], env=renv["http"]).strip()

        def logged(key, mark):
            log = srv.access_log_since(mark)
            statuses = sorted({r["status"] for r in log})
            requests.setdefault(key, []).append((len(log), statuses))

        for rep in range(a.reps):
            for tls in (False, True):
                proto = "https" if tls else "http"
                url = srv.url("bucket/dense.safetensors", tls=tls)
                curl = ["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download} %{time_total}"]
                if tls:
                    curl += ["--cacert", srv.ca_file]
                mark = srv.log_mark()
                out = sh(curl + [url]).split()
                if int(out[0]) != dense_size:
                    raise RuntimeError(f"curl downloaded {out[0]} bytes of a {dense_size}-byte file")
                results.setdefault(f"curl {proto}", []).append(int(out[0]) / float(out[1]) / 1e9)
                logged(f"curl {proto}", mark)
                for cfg in configs:
                    opts = ",".join(x for x in (f"ca_file={srv.ca_file}", cfg) if x)
                    key = f"sft {proto}" + (f" [{cfg}]" if cfg else "")
                    mark = srv.log_mark()
                    r = json.loads(sh([load, url, "--options", opts]).strip().splitlines()[-1])
                    results.setdefault(key, []).append(r["bytes"] / (r["open_s"] + r["read_s"]) / 1e9)
                    opens.setdefault(key, []).append(r["open_s"])
                    logged(key, mark)
                if renv[proto]:
                    key = f"runai {proto} (S3 API)"
                    mark = srv.log_mark()
                    out = sh([a.python, "-c", RUNAI_CHILD, "s3://bucket/dense.safetensors"], env=renv[proto]).split()
                    results.setdefault(key, []).append(int(out[0]) / float(out[1]) / 1e9)
                    logged(key, mark)
            rep_loads.append(loadavg())
            print(f"repetition {rep + 1}/{a.reps} (load {rep_loads[-1]}): " +
                  ", ".join(f"{k} {v[-1]:.3f}" for k, v in results.items()), file=sys.stderr, flush=True)

    cpu, cores, kernel, _ = machine()
    py = sys.executable if a.python == sys.executable else a.python
    command = f"{sys.executable} bench/remote_bench.py {' '.join(sys.argv[1:])}".strip()
    lines += ["# Remote reads: sft against curl and Run:ai Model Streamer, on loopback", "",
              "<!-- Generated by bench/remote_bench.py: edit the script, not this file. -->", "",
              f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `{command}`.", "",
              "## Machine", "", "| | |", "|---|---|", f"| CPU | {cpu} |", f"| logical cores | {cores} |",
              f"| kernel | {kernel} |", f"| sft commit | {git_commit()} |",
              f"| nginx | {version_of(['nginx', '-v'])} |", f"| curl | {version_of(['curl', '--version'])} |",
              f"| Run:ai (interpreter {py}) | {runai_versions or 'not importable'} |",
              f"| load average (1, 5, 15 min) at the start | {load_start} |",
              f"| load average after each repetition | {'; '.join(rep_loads)} |",
              f"| load average at the end | {loadavg()} |",
              "| server | nginx (Debian), 2 workers, sendfile, loopback; https with HTTP/2 and a test CA |", "",
              "## Inspect of the MoE header (48 layers x 128 experts, hidden 64)", "",
              f"The header is {header_bytes:,} bytes of a {n:,}-byte file. Round trips and bytes are counted "
              "in nginx's access log (the most of 5 runs); the time is the whole `sft inspect --json URL` "
              "process, median of 5.", "",
              "| protocol | requests | bytes fetched | wall time (s) | local inspect (s) |", "|---|---|---|---|---|"]
    for proto, reqs, got, t, local_s in moe_rows:
        lines.append(f"| {proto} | {reqs} | {got:,} | {t:.3f} | {local_s:.3f} |")
    lines += ["", f"## Loading the dense checkpoint ({dense_size / 2**30:.2f} GiB) into memory", "",
              f"GB/s, median (min..max) of {a.reps} interleaved repetitions (each repetition runs every "
              "reader once, one after the other, on the same server and the same page-cached file). curl "
              "downloads the whole file to /dev/null over one connection (GB/s over its `time_total`); "
              "sft opens the URL and reads the whole data region into one buffer (`sft_remote_load URL`, "
              "GB/s over its open plus its read); Run:ai streams the tensors through its S3 backend into "
              "CPU tensors (`SafetensorsStreamer.stream_file` and `get_tensors`, GB/s from the streamer's "
              "construction to the last tensor). Requests and statuses are those nginx logged for one "
              "load.", "",
              "| reader | GB/s | relative to curl, same protocol | requests (statuses) |", "|---|---|---|---|"]
    for k, v in results.items():
        proto = "https" if "https" in k else "http"
        base = results.get(f"curl {proto}")
        rel = f"{statistics.median(v) / statistics.median(base):.2f}" if base else ""
        nreq = sorted({c for c, _ in requests.get(k, [])})
        statuses = sorted({s for _, ss in requests.get(k, []) for s in ss})
        req = f"{'/'.join(str(c) for c in nreq)} ({', '.join(str(s) for s in statuses)})"
        lines.append(f"| {k} | {median_spread(v)} | {rel} | {req} |")
    if opens:
        lines += ["", "Of the sft times, opening (the header's requests) took " +
                  "; ".join(f"{k} {median_spread(v)} s" for k, v in opens.items()) + "."]
    if not renv["http"]:
        lines += ["", "Run:ai Model Streamer was not measured: its S3 package (runai-model-streamer-s3, with "
                  "boto3) is not importable; pass --runai-path."]
    lines += ["", "## Reproduce", "", "```sh",
              "cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSFT_BUILD_BENCH=ON && "
              "ninja -C build sft_cli sft_remote_load",
              "# optional, for the Run:ai rows: its S3 backend in a throw-away venv; runai-model-streamer "
              "0.17.1 and torch come from --python",
              "python3 -m venv /tmp/runai-s3-venv && /tmp/runai-s3-venv/bin/pip install "
              "runai-model-streamer-s3==0.17.1 boto3==1.44.8",
              f"python3 bench/remote_bench.py --runai-path /tmp/runai-s3-venv/lib/python3.11/site-packages "
              f"--reps {a.reps} --out bench/RESULTS-remote.md", "```", ""]
    report = "\n".join(lines)
    if a.out:
        with open(a.out, "w") as f:
            f.write(report)
    else:
        print(report)
    if not a.keep:
        shutil.rmtree(a.work, ignore_errors=True)


if __name__ == "__main__":
    main()
