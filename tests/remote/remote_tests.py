#!/usr/bin/env python3
"""Remote files end to end: the sft command line against nginx and a fault-injecting proxy.

usage: remote_tests.py --sft BIN --work DIR GROUP [CASE...]

GROUP is one of the groups below (ctest registers one test per group,
tests/remote.cmake); CASE names run only those cases of the group.

  files     inspect / validate / verify / extract / gpu load over http and https equal the local results
  requests  what reaches the server, from nginx's access log: header-only opens in <= 2 requests and
            <= header + 64 KiB, If-Match and Accept-Encoding on every read, HTTP/2 over TLS
  faults    the proxy breaks responses: each fault is retried or refused with its own error, never wrong bytes
  security  TLS verification, the token rules on redirects and plain http, credentials in URLs
  hostile   servers that lie about sizes or never stop: bounded memory, time and bytes
  pull      sft pull: single files and sharded checkpoints, resume, digests, nothing partial left behind

Everything runs on loopback with ports chosen at run time; nginx is started
and stopped by tests/remote/nginx_fixture.py. Without nginx the script exits
77 (skip), or 1 when SFT_REQUIRE_NGINX=1. Exit 0 when every check passed.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nginx_fixture  # noqa: E402
from fault_proxy import FaultProxy  # noqa: E402

SFT = None
WORK = None
failures = []
checks = 0

TOKEN = "hf_testtoken_9f8e7d6c5b4a"  # a fake token: it must never appear in output or reach another host

# Fast retries and timeouts for every sft the tests run (each case may add more).
FAST = "initial_backoff_ms=10,max_backoff_ms=50,max_retry_after_ms=2000,connect_timeout_ms=2000,idle_timeout_ms=2000"


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("  FAIL:", what, flush=True)
    return cond


# --- files -------------------------------------------------------------------------------------

def st_bytes(tensors, metadata=None):
    """A safetensors file: tensors is a list of (name, dtype, shape, data)."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    off = 0
    for name, dt, shape, data in tensors:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(t[3] for t in tensors)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def model_tensors(seed=1):
    rng = random.Random(seed)
    size = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "U8": 1, "BOOL": 1}
    specs = [("model.embed_tokens.weight", "F16", [1024, 512])]
    for i in range(4):
        p = f"model.layers.{i}."
        specs += [(p + "self_attn.q_proj.weight", "BF16", [256, 512]), (p + "mlp.up_proj.weight", "BF16", [512, 384]),
                  (p + "input_layernorm.weight", "F32", [512])]
    specs += [("model.norm.weight", "F32", [512]), ("lm_head.bias", "F16", [77]), ("step", "I64", []),
              ("mask", "BOOL", [3, 5]), ("codes", "U8", [1000])]
    out = []
    for name, dt, shape in specs:
        n = size[dt]
        for d in shape:
            n *= d
        data = bytes(rng.getrandbits(1) for _ in range(n)) if dt == "BOOL" else rng.randbytes(n)
        out.append((name, dt, shape, data))
    return out


def make_files(root):
    write(os.path.join(root, "model.safetensors"), st_bytes(model_tensors(), {"format": "pt", "note": "remote"}))
    # A header longer than the first request (64 KiB): opening takes two requests.
    many = [(f"blocks.{i:05d}.a_rather_long_parameter_name_to_grow_the_header.weight", "F32", [2],
             struct.pack("<2f", i, -i)) for i in range(3000)]
    write(os.path.join(root, "bigheader.safetensors"), st_bytes(many, {"format": "pt"}))
    # Invalid: a gap between two tensors' offsets.
    bad = st_bytes([("a", "F32", [2], b"\0" * 8), ("b", "F32", [2], b"\0" * 8)])
    n = struct.unpack("<Q", bad[:8])[0]
    hdr = bad[8:8 + n].replace(b'"data_offsets":[8,16]', b'"data_offsets":[9,17]')
    write(os.path.join(root, "invalid.safetensors"), bad[:8] + hdr + bad[8 + n:] + b"\0")
    write(os.path.join(root, "empty.safetensors"), b"")
    write(os.path.join(root, "small.safetensors"), st_bytes(model_tensors()[-4:], {"format": "pt"}))
    write(os.path.join(root, "claims_huge.safetensors"), struct.pack("<Q", 200_000_000) + b"{}" + b" " * 1000)
    run_ok(["hash", "--embed", os.path.join(root, "model.safetensors"), os.path.join(root, "digests.safetensors")])
    # The same with one byte of one tensor flipped (its digest no longer matches).
    data = bytearray(open(os.path.join(root, "digests.safetensors"), "rb").read())
    data[-500] ^= 0xFF
    write(os.path.join(root, "corrupt.safetensors"), bytes(data))
    run_ok(["compress", "--frame-size", "65536", os.path.join(root, "model.safetensors"),
            os.path.join(root, "model.safetensors.zst")])
    run_ok(["split", os.path.join(root, "model.safetensors"), os.path.join(root, "ckpt"), "--max-shard-size", "600KB"])
    # A checkpoint whose shard has leading whitespace before its header's '{': valid, but not --strict.
    shard = st_bytes([("a", "F32", [2], b"\0" * 8)])
    n = struct.unpack("<Q", shard[:8])[0]
    shard = shard[:8] + b" " + shard[8:8 + n - 1] + shard[8 + n:]
    write(os.path.join(root, "strict", "a.safetensors"), shard)
    index = {"metadata": {"total_size": 8}, "weight_map": {"a": "a.safetensors"}}
    write(os.path.join(root, "strict", "model.safetensors.index.json"), json.dumps(index).encode())
    index = {"metadata": {"total_size": 16}, "weight_map": {"a": "../model.safetensors"}}
    write(os.path.join(root, "escape", "model.safetensors.index.json"), json.dumps(index).encode())
    index = {"metadata": {}, "weight_map": {"a": "https://evil.example/x.safetensors"}}
    write(os.path.join(root, "absolute", "model.safetensors.index.json"), json.dumps(index).encode())


# --- running sft --------------------------------------------------------------------------------

def sft(args, env_extra=None, options=FAST, ca=True, timeout=60):
    """Run sft; returns (returncode, stdout, stderr, seconds, max_rss_kib)."""
    env = dict(os.environ)
    for k in ("HF_TOKEN", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env.pop(k, None)
    env["SFT_REMOTE_OPTIONS"] = options
    if env_extra:
        env.update(env_extra)
    pre = ["--ca-file", CTX.srv.ca_file] if ca else []
    t0 = time.monotonic()
    p = subprocess.Popen([SFT, *pre, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return 124, out.decode(errors="replace"), err.decode(errors="replace"), time.monotonic() - t0, 0
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace"), time.monotonic() - t0, 0


def sft_rss(args, options=FAST, timeout=60):
    """Like sft(), also measuring the child's peak resident memory (KiB) with wait4."""
    env = dict(os.environ)
    env.pop("HF_TOKEN", None)
    env["SFT_REMOTE_OPTIONS"] = options
    t0 = time.monotonic()
    p = subprocess.Popen([SFT, "--ca-file", CTX.srv.ca_file, *args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=env)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, err.decode(errors="replace"), time.monotonic() - t0, usage.ru_maxrss


def run_ok(args):
    p = subprocess.run([SFT, *args], capture_output=True)
    if p.returncode != 0:
        raise RuntimeError(f"sft {' '.join(args)} failed: {p.stderr.decode()}")
    return p.stdout.decode()


def local(name):
    return os.path.join(CTX.root, name)


def has_code(stderr, code):
    return f": {code}: " in stderr


def inspect_matches(url, path):
    """sft inspect --json of `url` equals that of the local `path`: (equal, stderr)."""
    rc, out, err, _, _ = sft(["inspect", "--json", url])
    lrc, lout, _, _, _ = sft(["inspect", "--json", path])
    return rc == 0 and lrc == 0 and out == lout, err


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Ctx:
    pass


CTX = Ctx()
CASES = {}


def case(group):
    def deco(fn):
        CASES.setdefault(group, []).append(fn)
        return fn
    return deco


# === files: remote results equal local results ================================================

@case("files")
def inspect_equals_local(c):
    for tls in (True, False):
        for name in ("model.safetensors", "bigheader.safetensors", "digests.safetensors"):
            url = c.srv.url(name, tls=tls)
            same, err = inspect_matches(url, local(name))
            check(same, f"inspect --json {url}: {err}")
            rc, out, err, _, _ = sft(["inspect", url])
            _, lout, _, _, _ = sft(["inspect", local(name)])
            check(rc == 0 and out.split("\n", 1)[1] == lout.split("\n", 1)[1] and out.startswith("file: " + url),
                  f"inspect {url} equals the local table: {err}")


@case("files")
def compressed_checkpoints_are_read_in_place(c):
    url = c.srv.url("model.safetensors.zst", tls=True)
    same, err = inspect_matches(url, local("model.safetensors"))
    check(same, f"inspect of a compressed checkpoint over https: {err}")
    mark = c.srv.log_mark()
    t = "model.layers.1.mlp.up_proj.weight"
    rc, _, err, _, _ = sft(["extract", url, t, os.path.join(WORK, "z.npy")])
    sft(["extract", local("model.safetensors"), t, os.path.join(WORK, "l.npy")])
    got = sum(r["body_bytes"] for r in c.srv.access_log_since(mark))
    check(rc == 0 and sha(os.path.join(WORK, "z.npy")) == sha(os.path.join(WORK, "l.npy")),
          f"extract from a compressed checkpoint over https: {rc} {err}")
    check(got < os.path.getsize(local("model.safetensors.zst")) / 4, f"only some frames were fetched ({got} bytes)")
    rc, _, err, _, _ = sft(["pull", url, os.path.join(WORK, "pullz")])
    check(rc == 1 and has_code(err, "compressed_unsupported"), f"pull refuses to decompress on the way: {rc} {err}")


@case("files")
def validate_equals_local(c):
    url = c.srv.url("model.safetensors", tls=True)
    rc, out, err, _, _ = sft(["validate", url])
    check(rc == 0 and out == url + ": ok\n", f"validate {url}: {rc} {out} {err}")
    rc, out, err, _, _ = sft(["validate", "--strict", url])
    lrc, _, lerr, _, _ = sft(["validate", "--strict", local("model.safetensors")])
    check(rc == lrc, f"validate --strict agrees: {rc} vs {lrc}: {err}")
    for name, code, status in (("invalid.safetensors", "bad_offsets", 1), ("empty.safetensors", "header_too_small", 1),
                               ("claims_huge.safetensors", "header_too_large", 1)):
        url = c.srv.url(name, tls=True)
        rc, out, err, _, _ = sft(["validate", url])
        lrc, _, lerr, _, _ = sft(["validate", local(name)])
        check(rc == lrc == status and has_code(err, code) and err.replace(url, "F") == lerr.replace(local(name), "F"),
              f"validate {name}: remote {rc} {err!r} local {lrc} {lerr!r}")
    rc, out, err, _, _ = sft(["validate", c.srv.url("missing.safetensors", tls=True)])
    check(rc == 2 and has_code(err, "remote_http") and "404" in err, f"validate of a 404: {rc} {err}")


@case("files")
def extract_equals_local(c):
    names = ["model.embed_tokens.weight", "model.layers.3.mlp.up_proj.weight", "step", "mask", "codes"]
    for tls in (True, False):
        for t in names:
            out_r, out_l = os.path.join(WORK, "r.npy"), os.path.join(WORK, "l.npy")
            rc, _, err, _, _ = sft(["extract", c.srv.url("model.safetensors", tls=tls), t, out_r])
            lrc, _, _, _, _ = sft(["extract", local("model.safetensors"), t, out_l])
            check(rc == 0 and lrc == 0 and sha(out_r) == sha(out_l), f"extract {t} (tls {tls}): {rc} {err}")
    rc, _, err, _, _ = sft(["extract", c.srv.url("model.safetensors"), "nope", os.path.join(WORK, "x.npy")])
    check(rc == 1 and has_code(err, "not_found"), f"extract of a missing tensor: {rc} {err}")
    # From a sharded checkpoint: the index URL, shards resolved beside it.
    idx = c.srv.url("ckpt/model.safetensors.index.json", tls=True)
    rc, _, err, _, _ = sft(["extract", idx, "model.layers.2.mlp.up_proj.weight", os.path.join(WORK, "s.npy")])
    sft(["extract", local("model.safetensors"), "model.layers.2.mlp.up_proj.weight", os.path.join(WORK, "l.npy")])
    check(rc == 0 and sha(os.path.join(WORK, "s.npy")) == sha(os.path.join(WORK, "l.npy")),
          f"extract through an index URL: {rc} {err}")


@case("files")
def checkpoint_index_equals_local(c):
    url = c.srv.url("ckpt/model.safetensors.index.json", tls=True)
    same, err = inspect_matches(url, local("ckpt/model.safetensors.index.json"))
    check(same, f"inspect --json of an index URL: {err}")
    rc, out, err, _, _ = sft(["validate", url])
    check(rc == 0 and out.endswith(": ok\n"), f"validate of an index URL: {rc} {out} {err}")
    u = c.srv.url("strict/model.safetensors.index.json", tls=True)
    rc, out, err, _, _ = sft(["validate", "--strict", u])
    lrc, lout, lerr, _, _ = sft(["validate", "--strict", local("strict/model.safetensors.index.json")])
    check(rc == lrc == 1 and "strict_violation" in err and
          err.replace(u, "F") == lerr.replace(local("strict/model.safetensors.index.json"), "F"),
          f"validate --strict of a remote checkpoint checks its shards' headers: {rc} {err!r} / {lerr!r}")
    for d in ("escape", "absolute"):
        u = c.srv.url(f"{d}/model.safetensors.index.json", tls=True)
        rc, _, err, _, _ = sft(["inspect", u])
        check(rc == 1 and has_code(err, "shard_path"), f"{d}: a shard name leaving the index's directory: {rc} {err}")
    req = c.srv.access_log()
    check(not any("evil" in r["uri"] or r["uri"] == "/model.safetensors" and r["range"] == "" for r in req),
          "no request left the index's directory")


@case("files")
def verify_reads_what_it_must(c):
    url = c.srv.url("digests.safetensors", tls=True)
    rc, out, err, _, _ = sft(["verify", url])
    check(rc == 0 and "ok" in out, f"verify {url}: {rc} {out} {err}")
    mark = c.srv.log_mark()
    rc, out, err, _, _ = sft(["verify", "--tensor", "lm_head.bias", url])
    check(rc == 0, f"verify --tensor: {rc} {err}")
    got = sum(r["body_bytes"] for r in c.srv.access_log_since(mark))
    check(got <= 64 * 1024 + 4096, f"verify --tensor fetched the header and one tensor only ({got} bytes)")
    rc, out, err, _, _ = sft(["verify", c.srv.url("corrupt.safetensors", tls=True)])
    check(rc == 1 and "digest_mismatch" in err, f"verify of a damaged file: {rc} {err}")
    # Digests checked while reading, when asked (verify_digests).
    rc, _, err, _, _ = sft(["extract", c.srv.url("corrupt.safetensors"), "codes", os.path.join(WORK, "c.npy")],
                           options=FAST + ",verify_digests=true")
    check(rc == 1 and has_code(err, "digest_mismatch") and "codes" in err, f"extract with verify_digests: {rc} {err}")
    rc, _, err, _, _ = sft(["extract", c.srv.url("digests.safetensors"), "codes", os.path.join(WORK, "c.npy")],
                           options=FAST + ",verify_digests=true")
    check(rc == 0, f"extract of an intact tensor with verify_digests: {rc} {err}")


@case("files")
def gpu_load_equals_local(c):
    rc, out, err, _, _ = sft(["gpu", "info"])
    if "cpu: 1 device" not in out:
        print("  note: no CPU backend in this build; gpu load not checked")
        return
    for tls in (True, False):
        url = c.srv.url("model.safetensors", tls=tls)
        rc, out, err, _, _ = sft(["gpu", "load", "--backend", "cpu", "--verify", url])
        lrc, lout, _, _, _ = sft(["gpu", "load", "--backend", "cpu", "--verify", local("model.safetensors")])
        line = [l for l in out.splitlines() if " tensors in " in l]
        lline = [l for l in lout.splitlines() if " tensors in " in l]
        same = line and lline and line[0].split(" tensors in ")[0].split(": ", 1)[1] == \
            lline[0].split(" tensors in ")[0].split(": ", 1)[1]
        check(rc == 0 and lrc == 0 and "verified" in out and same, f"gpu load {url}: {rc} {out} {err}")
    rc, out, err, _, _ = sft(["gpu", "load", "--backend", "cpu", "--verify",
                              c.srv.url("ckpt/model.safetensors.index.json", tls=True)])
    check(rc == 0 and "verified" in out, f"gpu load of an index URL: {rc} {out} {err}")


# === requests: what reaches the server ==========================================================

def header_size(name):
    with open(local(name), "rb") as f:
        return struct.unpack("<Q", f.read(8))[0]


@case("requests")
def inspect_is_header_only(c):
    for name, want in (("model.safetensors", 1), ("bigheader.safetensors", 2)):
        for tls in (True, False):
            mark = c.srv.log_mark()
            rc, _, err, _, _ = sft(["inspect", c.srv.url(name, tls=tls)])
            req = c.srv.access_log_since(mark)
            n = header_size(name)
            body = sum(r["body_bytes"] for r in req)
            check(rc == 0 and len(req) == want, f"inspect {name}: {len(req)} requests, want {want}: {err}")
            check(body <= n + 8 + 64 * 1024, f"inspect {name}: {body} bytes fetched for a {n}-byte header")
            check(all(r["status"] == 206 and r["range"].startswith("bytes=") for r in req),
                  f"inspect {name}: only range requests answered 206: {req}")
            if want == 2:
                check(req[1]["if_match"] != "" and req[1]["range"] == f"bytes=65536-{n + 7}",
                      f"the second request asks for the rest of the header, pinned: {req[1]}")
            if tls:
                check(all(r["protocol"] == "HTTP/2.0" for r in req), f"HTTP/2 over TLS: {req}")


@case("requests")
def reads_are_pinned_ranged_and_identity(c):
    mark = c.srv.log_mark()
    rc, _, err, _, _ = sft(["gpu", "load", "--backend", "cpu", c.srv.url("model.safetensors", tls=True)],
                           options=FAST + ",part_bytes=262144")
    req = c.srv.access_log_since(mark)
    size = os.path.getsize(local("model.safetensors"))
    check(rc == 0 or "no device" in err, f"gpu load: {rc} {err}")
    if rc != 0:
        return
    etag = req[0].get("etag")
    check(all(r["accept_encoding"] == "identity" for r in req), "every request asks for identity encoding")
    check(all(r["if_match"] for r in req[1:]), f"every read after the first carries If-Match: {req}")
    check(len(set(r["if_match"] for r in req[1:])) == 1, "one validator for the whole read")
    total = sum(r["body_bytes"] for r in req)
    check(total == size, f"the file was fetched exactly once ({total} of {size} bytes)")
    # 262144-byte parts: the data in about size / part requests, not one per tensor.
    check(len(req) <= 2 + (size + 262143) // 262144, f"reads coalesced into parts: {len(req)} requests")


# === faults: the proxy breaks responses ==========================================================

def proxy_run(c, rule, args, options=FAST, tls=False, env=None):
    p = c.tls_proxy if tls else c.proxy
    p.reset(rule)
    r = sft(args, env_extra=env, options=options)
    return r, list(p.log)


def extract_args(c, tensor="model.layers.3.mlp.up_proj.weight", tls=False, name="model.safetensors"):
    p = c.tls_proxy if tls else c.proxy
    return ["extract", p.url(name), tensor, os.path.join(WORK, "f.npy")]


def extract_matches(tensor="model.layers.3.mlp.up_proj.weight"):
    sft(["extract", local("model.safetensors"), tensor, os.path.join(WORK, "l.npy")])
    return sha(os.path.join(WORK, "f.npy")) == sha(os.path.join(WORK, "l.npy"))


def on(index, action):
    return lambda i, req: action if i == index else None


def range_start(entry):
    return int(entry["range"].split("=")[1].split("-")[0])


@case("faults")
def reset_mid_body_is_retried_from_where_it_stopped(c):
    (rc, _, err, _, _), log = proxy_run(c, on(1, {"kind": "reset_after", "bytes": 100000}), extract_args(c))
    check(rc == 0 and extract_matches(), f"a reset mid-body is retried: {rc} {err}")
    # A reset may discard bytes already sent but not yet read: the retry starts where the client's data stopped.
    check(len(log) == 3 and range_start(log[1]) < range_start(log[2]) <= range_start(log[1]) + 100000 and
          log[2]["range"].split("-")[-1] == log[1]["range"].split("-")[-1],
          f"the retry asks only for the missing bytes: {[e['range'] for e in log]}")


@case("faults")
def truncated_body_is_retried(c):
    (rc, _, err, _, _), log = proxy_run(c, on(1, {"kind": "truncate", "bytes": 5000}), extract_args(c))
    check(rc == 0 and extract_matches() and len(log) == 3, f"a truncated body is retried: {rc} {err} {len(log)}")
    (rc, _, err, _, _), log = proxy_run(c, lambda i, r: {"kind": "truncate", "bytes": 5000} if i >= 1 else None,
                                        extract_args(c), options=FAST + ",max_retries=2")
    check(rc == 2 and has_code(err, "remote_connection") and "gave up after 2 retries" in err and "bytes " in err
          and c.proxy.url("model.safetensors") in err and len(log) == 4,
          f"always truncated: a specific error naming the URL and range after the retries: {rc} {err}")


@case("faults")
def wrong_content_range_is_refused(c):
    def rule(i, req):
        if i != 1:
            return None
        first, last = req.header("range").split("=")[1].split("-")
        size = os.path.getsize(local("model.safetensors"))
        return {"kind": "set_headers", "headers": {"Content-Range": f"bytes {int(first) + 1}-{last}/{size}"}}
    (rc, _, err, _, _), log = proxy_run(c, rule, extract_args(c))
    check(rc == 2 and has_code(err, "remote_range") and not os.path.exists(os.path.join(WORK, "f.npy")) or
          rc == 2 and has_code(err, "remote_range"), f"a shifted Content-Range: {rc} {err}")
    (rc, _, err, _, _), _ = proxy_run(c, on(1, {"kind": "set_headers", "headers": {"Content-Range": None}}),
                                      extract_args(c))
    check(rc == 2 and has_code(err, "remote_range"), f"a 206 without Content-Range: {rc} {err}")
    (rc, _, err, _, _), _ = proxy_run(c, on(1, {"kind": "set_headers", "headers": {
        "Content-Range": "bytes 0-1/999999999"}}), extract_args(c))
    check(rc == 2 and has_code(err, "remote_changed"), f"another size in Content-Range: {rc} {err}")


@case("faults")
def status_200_for_a_range_is_refused(c):
    (rc, _, err, _, _), _ = proxy_run(c, on(1, {"kind": "status_200"}), extract_args(c))
    check(rc == 2 and has_code(err, "remote_range") and "200" in err, f"200 instead of 206: {rc} {err}")
    # A 200 to the opening request says "this is the whole file": a body shorter than the range
    # asked for is then a (truncated) file of that size, never bytes taken for other offsets.
    (rc, _, err, _, _), _ = proxy_run(c, on(0, {"kind": "status_200"}), ["inspect", c.proxy.url("model.safetensors")])
    check(rc == 1 and has_code(err, "incomplete_buffer"), f"200 with a partial body to the opening request: {rc} {err}")
    # A server that ignores Range and sends the whole (large) file: refused, not downloaded.
    (rc, _, err, secs, _), log = proxy_run(c, on(0, {"kind": "ignore_range"}), ["inspect", c.proxy.url("model.safetensors")])
    check(rc == 2 and has_code(err, "remote_range") and "ignores range requests" in err,
          f"a server ignoring ranges on a large file: {rc} {err}")
    # ... but a file smaller than the first request may come whole with 200.
    rc2, lout, _, _, _ = sft(["inspect", "--json", local("small.safetensors")])
    (rc, out, err, _, _), log = proxy_run(c, lambda i, r: {"kind": "ignore_range"}, ["inspect", "--json", c.proxy.url("small.safetensors")])
    check(rc == 0 and out == lout and len(log) == 1, f"a small file sent whole with 200: {rc} {err}")


@case("faults")
def retry_after_is_honoured_and_capped(c):
    (rc, _, err, _, _), log = proxy_run(c, on(1, {"kind": "respond", "status": 503,
                                                  "headers": {"Retry-After": "1"}}), extract_args(c))
    check(rc == 0 and extract_matches() and len(log) == 3, f"503 then success: {rc} {err}")
    if len(log) == 3:
        gap = log[2]["time"] - log[1]["time"]
        check(gap >= 0.9, f"Retry-After: 1 was honoured ({gap:.3f} s)")
    (rc, _, err, secs, _), log = proxy_run(c, on(1, {"kind": "respond", "status": 429,
                                                     "headers": {"Retry-After": "3600"}}), extract_args(c),
                                           options=FAST + ",max_retry_after_ms=200")
    check(rc == 0 and secs < 10, f"a Retry-After of an hour is capped: {rc} {secs:.1f} s {err}")
    (rc, _, err, _, _), log = proxy_run(c, lambda i, r: {"kind": "respond", "status": 503} if i >= 1 else None,
                                        extract_args(c), options=FAST + ",max_retries=3")
    check(rc == 2 and has_code(err, "remote_http") and "503" in err and "gave up after 3 retries" in err and
          len(log) == 5, f"503 forever: bounded retries then remote_http: {rc} {len(log)} {err}")
    (rc, _, err, _, _), log = proxy_run(c, on(1, {"kind": "respond", "status": 404}), extract_args(c))
    check(rc == 2 and has_code(err, "remote_http") and len(log) == 2, f"404 is not retried: {rc} {len(log)} {err}")


@case("faults")
def changed_etag_mid_read_is_refused(c):
    (rc, _, err, _, _), _ = proxy_run(c, on(1, {"kind": "set_headers", "headers": {"ETag": '"another-file"'}}),
                                      extract_args(c))
    check(rc == 2 and has_code(err, "remote_changed"), f"another ETag mid-read: {rc} {err}")
    (rc, _, err, _, _), _ = proxy_run(c, on(1, {"kind": "set_headers", "headers": {
        "Last-Modified": "Sun, 06 Nov 1994 08:49:37 GMT"}}), extract_args(c))
    check(rc == 2 and has_code(err, "remote_changed"), f"another Last-Modified mid-read: {rc} {err}")


@case("faults")
def file_replaced_on_the_server_is_refused(c):
    path = local("replaced.safetensors")
    shutil.copyfile(local("model.safetensors"), path)

    def replace():
        data = st_bytes(model_tensors(seed=2), {"format": "pt", "note": "remote"})  # same size, other bytes
        with open(path + ".new", "wb") as f:
            f.write(data)
        os.replace(path + ".new", path)
        st = os.stat(path)
        os.utime(path, (st.st_atime + 100, st.st_mtime + 100))

    (rc, _, err, _, _), log = proxy_run(c, on(1, {"kind": "hook", "fn": replace}),
                                        extract_args(c, name="replaced.safetensors"))
    check(rc == 2 and has_code(err, "remote_changed") and "412" in err, f"a file replaced mid-read: {rc} {err}")
    check(len(log) == 2 and log[1]["if_match"], f"the read carried If-Match: {log}")


@case("faults")
def slow_body_times_out(c):
    opts = FAST + ",idle_timeout_ms=300,max_retries=1"
    (rc, _, err, _, _), log = proxy_run(c, on(1, {"kind": "stall", "bytes": 1000, "seconds": 3}), extract_args(c),
                                        options=opts)
    check(rc == 0 and extract_matches() and len(log) == 3, f"one slow body, retried: {rc} {err}")
    (rc, _, err, secs, _), log = proxy_run(c, lambda i, r: {"kind": "stall", "bytes": 1000, "seconds": 5}
                                           if i >= 1 else None, extract_args(c), options=opts)
    check(rc == 2 and has_code(err, "remote_timeout") and secs < 4, f"always slow: remote_timeout in {secs:.1f} s: {err}")
    (rc, _, err, secs, _), _ = proxy_run(c, lambda i, r: {"kind": "stall", "bytes": 1000, "seconds": 5}
                                         if i >= 1 else None, extract_args(c),
                                         options=FAST + ",idle_timeout_ms=60000,request_timeout_ms=400,max_retries=0")
    check(rc == 2 and has_code(err, "remote_timeout") and secs < 4, f"request_timeout_ms: {rc} {secs:.1f} s {err}")


@case("faults")
def gzip_encoding_is_refused(c):
    (rc, _, err, _, _), log = proxy_run(c, on(1, {"kind": "gzip"}), extract_args(c))
    check(rc == 2 and has_code(err, "remote_encoding") and "gzip" in err, f"a gzip body: {rc} {err}")
    check(all(e["accept_encoding"] == "identity" for e in log), "identity was asked for")
    (rc, _, err, _, _), _ = proxy_run(c, on(0, {"kind": "gzip"}), ["inspect", c.proxy.url("model.safetensors")])
    check(rc == 2 and has_code(err, "remote_encoding"), f"a gzip answer to the opening request: {rc} {err}")


@case("faults")
def redirects_are_followed_and_bounded(c):
    target = c.srv.url("model.safetensors")
    (rc, out, err, _, _), log = proxy_run(c, on(0, {"kind": "redirect", "location": target}),
                                          ["inspect", "--json", c.proxy.url("moved.safetensors")])
    _, lout, _, _, _ = sft(["inspect", "--json", local("model.safetensors")])
    check(rc == 0 and out == lout and len(log) == 1, f"a redirect to another server: {rc} {err}")
    rc, _, err, _, _ = sft(["inspect", c.srv.url("loop/x", tls=True)], options=FAST + ",max_redirects=5")
    check(rc == 2 and has_code(err, "remote_redirect") and "more than 5 redirects" in err, f"a redirect loop: {rc} {err}")
    rc, out, err, _, _ = sft(["inspect", "--json", c.srv.url("redirect/model.safetensors", tls=True)])
    check(rc == 0 and out == lout, f"a relative redirect on one server: {rc} {err}")
    for loc in ("ftp://127.0.0.1/model.safetensors", "file:///etc/passwd", "http://example.invalid/x.safetensors",
                "https://user:pw@127.0.0.1/x"):
        (rc, _, err, _, _), log = proxy_run(c, on(0, {"kind": "redirect", "location": loc}),
                                            ["inspect", c.proxy.url("model.safetensors")])
        check(rc == 2 and has_code(err, "remote_redirect") and len(log) == 1 and "pw" not in err,
              f"a redirect to {loc} is refused: {rc} {err}")


@case("faults")
def parallel_parts_survive_faults(c):
    # Small parts: one read becomes dozens of requests spread over several threads.
    opts = FAST + ",part_bytes=65536,connections=4,threads=2"
    want = sft(["hash", local("model.safetensors")])[1].split("\n", 1)[1]
    for rule, what in ((on(5, {"kind": "reset_after", "bytes": 1000}), "a reset"),
                       (on(7, {"kind": "respond", "status": 503}), "a 503"),
                       (on(9, {"kind": "truncate", "bytes": 100}), "a truncated part")):
        (rc, out, err, _, _), log = proxy_run(c, rule, ["hash", c.proxy.url("model.safetensors")], options=opts)
        check(rc == 0 and out.split("\n", 1)[1] == want and len(log) > 20,
              f"{what} among {len(log)} parallel parts is retried and the digests equal the local ones: {rc} {err}")

    def shifted(i, req):
        if i != 6:
            return None
        first, last = req.header("range").split("=")[1].split("-")
        size = os.path.getsize(local("model.safetensors"))
        return {"kind": "set_headers", "headers": {"Content-Range": f"bytes {int(first) + 1}-{last}/{size}"}}
    (rc, out, err, _, _), log = proxy_run(c, shifted, ["hash", c.proxy.url("model.safetensors")], options=opts)
    check(rc == 2 and has_code(err, "remote_range") and "cancelled" not in err and out == "",
          f"one bad part fails the whole read with its own error: {rc} {err}")


@case("faults")
def connection_refused_is_retried_then_reported(c):
    port = nginx_fixture.free_port()
    rc, _, err, secs, _ = sft(["inspect", f"http://127.0.0.1:{port}/x.safetensors"], options=FAST + ",max_retries=2")
    check(rc == 2 and has_code(err, "remote_connection") and "gave up after 2 retries" in err,
          f"nothing listening: {rc} {err}")


# === security ===================================================================================

@case("security")
def tls_is_always_verified(c):
    url = c.srv.url("model.safetensors", tls=True)
    rc, _, err, _, _ = sft(["inspect", url], ca=False)
    check(rc == 2 and has_code(err, "remote_tls"), f"a certificate the system does not trust: {rc} {err}")
    other = os.path.join(WORK, "other-ca")
    ca, _, _ = nginx_fixture.make_ca(other)
    rc, _, err, _, _ = sft(["--ca-file", ca, "inspect", url], ca=False)
    check(rc == 2 and has_code(err, "remote_tls"), f"another CA: {rc} {err}")
    rc, _, err, _, _ = sft(["inspect", c.srv.url("model.safetensors", tls=True, host="localhost")])
    check(rc == 0, f"the certificate names localhost too: {rc} {err}")
    rc, _, err, _, _ = sft(["inspect", url], options=FAST + ",verify_tls=false")
    check(rc == 2 and "unknown remote option" in err, f"no option turns verification off: {rc} {err}")


@case("security")
def token_goes_only_to_the_origin_over_https(c):
    env = {"HF_TOKEN": TOKEN}
    p = c.tls_proxy
    # Same host: kept (a redirect within the origin, then the reads).
    (rc, out, err, _, _), log = proxy_run(c, on(0, {"kind": "redirect", "location": p.url("model.safetensors")}),
                                          extract_args(c, tls=True), tls=True, env=env)
    check(rc == 0 and extract_matches(), f"a same-origin redirect with a token: {rc} {err}")
    check(all(e["authorization"] == "Bearer " + TOKEN for e in log), f"the token went to the origin: {log}")
    # Another host (localhost instead of 127.0.0.1): dropped at the hop, and for every read after it.
    (rc, out, err, _, _), log = proxy_run(
        c, on(0, {"kind": "redirect", "location": p.url("model.safetensors", host="localhost")}),
        extract_args(c, tls=True), tls=True, env=env)
    check(rc == 0 and extract_matches(), f"a redirect to another host: {rc} {err}")
    check(len(log) >= 3 and log[0]["authorization"] == "Bearer " + TOKEN, f"the origin got the token: {log[:1]}")
    check(all(e["authorization"] is None and e["host"].startswith("localhost") for e in log[1:]),
          f"no request to the other host carried it: {[(e['host'], e['authorization']) for e in log]}")
    # A hop back to the origin after leaving it does not get it back.
    def bounce(i, req):
        if i == 0:
            return {"kind": "redirect", "location": p.url("hop1", host="localhost")}
        if i == 1:
            return {"kind": "redirect", "location": p.url("model.safetensors")}
        return None
    (rc, _, err, _, _), log = proxy_run(c, bounce, ["inspect", p.url("start")], tls=True, env=env)
    check(rc == 0 and log[2]["authorization"] is None, f"no token after a hop away and back: {log}")
    # Plain http (loopback): never sent.
    (rc, _, err, _, _), log = proxy_run(c, None, extract_args(c), env=env)
    check(rc == 0 and all(e["authorization"] is None for e in log), f"no token over http: {log}")
    # https redirecting to http: dropped.
    mark = c.srv.log_mark()
    (rc, _, err, _, _), log = proxy_run(c, on(0, {"kind": "redirect", "location": c.srv.url("model.safetensors")}),
                                        extract_args(c, tls=True), tls=True, env=env)
    check(rc == 0 and all(r["authorization"] == "" for r in c.srv.access_log_since(mark)),
          f"a downgrade to http drops the token: {rc} {err}")
    # Never in messages.
    (rc, out, err, _, _), log = proxy_run(c, on(0, {"kind": "respond", "status": 401}), ["inspect", p.url("m")],
                                          tls=True, env=env)
    check(rc == 2 and has_code(err, "remote_http") and "401" in err and TOKEN not in err + out,
          f"a 401 does not echo the token: {err}")


@case("security")
def urls_with_credentials_and_plain_http(c):
    url = c.srv.url("model.safetensors", tls=True).replace("https://", "https://user:secretpw@")
    rc, out, err, _, _ = sft(["inspect", url])
    check(rc == 2 and has_code(err, "remote_url") and "secretpw" not in err + out, f"credentials in the URL: {rc} {err}")
    rc, _, err, _, _ = sft(["inspect", "http://example.invalid/model.safetensors"])
    check(rc == 2 and has_code(err, "remote_url") and "allow" in err, f"plain http to a non-loopback host: {rc} {err}")
    rc, _, err, _, _ = sft(["--allow-http", "inspect", "http://example.invalid/model.safetensors"],
                           options=FAST + ",max_retries=0")
    check(rc == 2 and has_code(err, "remote_connection"), f"--allow-http lets it try (and fail to resolve): {rc} {err}")
    # A CDN signature in the query never reaches a message.
    rc, _, err, _, _ = sft(["inspect", c.srv.url("missing.safetensors?X-Amz-Signature=abcdef123", tls=True)])
    check(rc == 2 and "abcdef123" not in err and "?..." in err, f"query strings are redacted: {err}")


# === hostile servers ==============================================================================

@case("hostile")
def claimed_huge_header_is_bounded(c):
    mark = c.srv.log_mark()
    rc, _, err, _, _ = sft(["inspect", c.srv.url("claims_huge.safetensors", tls=True)])
    check(rc == 1 and has_code(err, "header_too_large") and len(c.srv.access_log_since(mark)) == 1,
          f"a length over the limit stops after one request: {rc} {err}")
    # A server claiming a 100,000,000-byte header (the limit) that then sends a trickle: the
    # buffer grows with what arrives, not with the claim.
    size = 8 + 100_000_000 + 16
    first = struct.pack("<Q", 100_000_000) + b"{" + b" " * (65536 - 9)

    def rule(i, req):
        if i == 0:
            return {"kind": "respond", "status": 206, "body": first,
                    "headers": {"Content-Range": f"bytes 0-65535/{size}", "ETag": '"hostile"'}}
        rng = req.header("range").split("=")[1]
        a, b = (int(x) for x in rng.split("-"))
        return {"kind": "respond", "status": 206, "body": b" " * 20000, "length": b - a + 1, "stall": 5,
                "headers": {"Content-Range": f"bytes {a}-{b}/{size}", "ETag": '"hostile"'}}
    c.proxy.reset(rule)
    rc, err, secs, rss = sft_rss(["inspect", c.proxy.url("hostile.safetensors")],
                                 options=FAST + ",idle_timeout_ms=300,max_retries=1")
    check(rc == 2 and has_code(err, "remote_timeout"), f"a 100 MB header that never comes: {rc} {err}")
    check(rss < 60 * 1024, f"peak memory {rss} KiB stays far below the claimed 100 MB")
    check(secs < 5, f"bounded time: {secs:.1f} s")


@case("hostile")
def endless_body_is_cut(c):
    c.proxy.reset(on(0, {"kind": "forever"}))
    rc, err, secs, rss = sft_rss(["inspect", c.proxy.url("model.safetensors")])
    check(rc == 2 and has_code(err, "remote_range") and secs < 5, f"a body that never ends: {rc} {secs:.1f} s {err}")
    check(rss < 60 * 1024, f"bounded memory: {rss} KiB")
    (rc, _, err, _, _), _ = proxy_run(c, on(1, {"kind": "overlong", "extra": 1 << 20}), extract_args(c))
    check(rc == 2 and has_code(err, "remote_range"), f"a body running past its range: {rc} {err}")
    (rc, _, err, _, _), _ = proxy_run(c, None, extract_args(c), options=FAST + ",max_bytes=100000")
    check(rc == 2 and has_code(err, "remote_too_large"), f"max_bytes bounds what one file may fetch: {rc} {err}")


# === pull =======================================================================================

@case("pull")
def pull_single_file(c):
    out = os.path.join(WORK, "pull1")
    shutil.rmtree(out, ignore_errors=True)
    rc, so, err, _, _ = sft(["pull", c.srv.url("digests.safetensors", tls=True), out])
    dst = os.path.join(out, "digests.safetensors")
    check(rc == 0 and os.path.exists(dst) and sha(dst) == sha(local("digests.safetensors")),
          f"pull of one file: {rc} {so} {err}")
    check(sorted(os.listdir(out)) == ["digests.safetensors"], f"nothing else left: {os.listdir(out)}")
    rc, so, err, _, _ = sft(["pull", c.srv.url("digests.safetensors", tls=True), out])
    check(rc == 0 and "up to date" in so, f"a second pull finds it complete: {rc} {so} {err}")


@case("pull")
def pull_checkpoint(c):
    out = os.path.join(WORK, "pull2")
    shutil.rmtree(out, ignore_errors=True)
    rc, so, err, _, _ = sft(["pull", c.srv.url("ckpt/model.safetensors.index.json", tls=True), out])
    names = sorted(os.listdir(local("ckpt")))
    check(rc == 0 and sorted(os.listdir(out)) == names, f"pull of a checkpoint: {rc} {err} {os.listdir(out)}")
    for n in names:
        check(sha(os.path.join(out, n)) == sha(local("ckpt/" + n)), f"{n} equals the server's")


@case("pull")
def pull_resumes(c):
    out = os.path.join(WORK, "pull3")
    shutil.rmtree(out, ignore_errors=True)
    size = os.path.getsize(local("digests.safetensors"))
    # The first attempt dies after about half the file (max_bytes); the partial file stays.
    rc, _, err, _, _ = sft(["pull", "--chunk", "262144", c.srv.url("digests.safetensors", tls=True), out],
                           options=FAST + f",max_bytes={size // 2},part_bytes=65536")
    check(rc == 2 and has_code(err, "remote_too_large"), f"the interrupted pull fails: {rc} {err}")
    check(not os.path.exists(os.path.join(out, "digests.safetensors")), "no final file after a failure")
    mark = c.srv.log_mark()
    rc, so, err, _, _ = sft(["pull", "--chunk", "262144", c.srv.url("digests.safetensors", tls=True), out],
                            options=FAST + ",part_bytes=65536")
    fetched = sum(r["body_bytes"] for r in c.srv.access_log_since(mark))
    check(rc == 0 and sha(os.path.join(out, "digests.safetensors")) == sha(local("digests.safetensors")),
          f"the resumed pull completes: {rc} {err}")
    check(fetched < size * 0.75, f"the resume fetched only what was missing ({fetched} of {size} bytes)")
    check(sorted(os.listdir(out)) == ["digests.safetensors"], f"no partial files left: {os.listdir(out)}")


@case("pull")
def pull_refuses_bad_digests(c):
    out = os.path.join(WORK, "pull4")
    shutil.rmtree(out, ignore_errors=True)
    rc, _, err, _, _ = sft(["pull", c.srv.url("corrupt.safetensors", tls=True), out])
    check(rc == 1 and "digest_mismatch" in err, f"a damaged file is not installed: {rc} {err}")
    check(not os.path.exists(os.path.join(out, "corrupt.safetensors")), "no final file")
    check(not [n for n in os.listdir(out) if not n.startswith(".")] if os.path.isdir(out) else True,
          "nothing visible left")


# --- main ---------------------------------------------------------------------------------------

def main():
    global SFT, WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--sft", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--without-curl", action="store_true", help="sft was built without libcurl: skip")
    ap.add_argument("group", choices=sorted(CASES))
    ap.add_argument("cases", nargs="*")
    a = ap.parse_args()
    SFT, WORK = a.sft, os.path.join(os.path.abspath(a.work), a.group)
    if not nginx_fixture.find_nginx():
        nginx_fixture.skip_or_fail("nginx is not installed")
    if not shutil.which("openssl"):
        nginx_fixture.skip_or_fail("the openssl command is not installed")
    if a.without_curl:
        nginx_fixture.skip_or_fail("this sft was built without libcurl (SFT_WITH_CURL=OFF or libcurl not found)")
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    CTX.root = os.path.join(WORK, "root")
    make_files(CTX.root)
    with nginx_fixture.NginxFixture(CTX.root, os.path.join(WORK, "nginx")) as srv:
        CTX.srv = srv
        with FaultProxy(srv.http_port) as proxy, FaultProxy(srv.http_port, tls=(srv.cert, srv.key)) as tls_proxy:
            CTX.proxy, CTX.tls_proxy = proxy, tls_proxy
            t0 = time.monotonic()
            for fn in CASES[a.group]:
                if a.cases and fn.__name__ not in a.cases:
                    continue
                before = len(failures)
                t = time.monotonic()
                try:
                    fn(CTX)
                except Exception as e:  # a broken case is a failure, not a crash of the suite
                    import traceback
                    traceback.print_exc()
                    failures.append(f"{fn.__name__}: {e!r}")
                ok = "ok" if len(failures) == before else "FAILED"
                print(f"{a.group}.{fn.__name__}: {ok} ({time.monotonic() - t:.2f} s)", flush=True)
            print(f"{checks} checks, {len(failures)} failed, {time.monotonic() - t0:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
