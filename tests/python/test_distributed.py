"""sft.distributed over torch.distributed (gloo): each rank's tensors against
the reference package's slices of the full tensors and against
sft.distributed.reshard (byte for byte, the same files as `sft reshard`),
for worlds 1..4 and forced strategies; the plan in Python; the faults (a
missing checkpoint on one rank, a plan that fails on one rank, a rank that
comes late: every rank raises, none hangs)."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

import sft
import sft.distributed as sd
import sft.numpy
from conftest import needs_ml_dtypes, needs_reference, needs_torch

WORKER = os.path.join(os.path.dirname(__file__), "dist_worker.py")

PLAN = {"rules": [{"match": "*.col", "split": 0}, {"match": "*.row", "split": 1}, {"match": "*.inner", "split": 1},
                  {"match": "experts.{e}.w", "experts": 6}, {"match": "*.skip", "skip": True}],
        "default": "replicate"}


def chunk(n, r, w):
    c = -(-n // w)
    return min(r * c, n), min((r + 1) * c, n)


def expected(name, array, r, w):
    """The part of `array` rank r of w holds under PLAN (numpy slicing), or None."""
    if name.endswith(".skip"):
        return None
    if name.startswith("experts."):
        e = int(name.split(".")[1])
        return array if r * 6 // w <= e < (r + 1) * 6 // w else None
    for suffix, d in ((".col", 0), (".row", 1), (".inner", 1)):
        if name.endswith(suffix):
            s, t = chunk(array.shape[d], r, w)
            return array[(slice(None),) * d + (slice(s, t),)]
    return array


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """Two shards and an index, written by the reference package when present (by sft otherwise)."""
    try:
        from safetensors.numpy import save_file
    except ImportError:
        save_file = sft.numpy.save_file
    rng = np.random.default_rng(5)
    d = tmp_path_factory.mktemp("dist-ckpt")
    arrays = {}
    for dt in (np.float32, np.float16, np.int64, np.uint8, np.int32, np.bool_, np.complex64, np.float64):
        n = np.dtype(dt).name
        for suffix, shape in ((".col", (7, 6)), (".row", (6, 10)), (".inner", (3, 5, 4)), (".rep", (5,))):
            a = rng.integers(0, 2 if dt == np.bool_ else 100, size=shape).astype(dt)
            arrays[n + suffix] = a
    for e in range(6):
        arrays[f"experts.{e}.w"] = rng.standard_normal((2, 3)).astype(np.float32)
    arrays["x.skip"] = np.zeros(4, np.float32)
    arrays["wide.row"] = rng.standard_normal((6, 1100)).astype(np.float32)
    arrays["empty.col"] = np.zeros((0, 4), np.float32)
    names = sorted(arrays)
    halves = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    weight_map = {}
    for f, ns in halves.items():
        save_file({n: arrays[n] for n in ns}, str(d / f))
        weight_map.update({n: f for n in ns})
    (d / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (d / "plan.json").write_text(json.dumps(PLAN))
    return d, arrays


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def run_ranks(world, ckpt, plan, outdir, opts=None, per_rank=None, timeout=240):
    """Start `world` workers; per_rank(r) may replace (checkpoint, plan, opts) for rank r."""
    port = free_port()
    procs = []
    for r in range(world):
        c, p, o = (ckpt, plan, opts or {}) if per_rank is None else per_rank(r)
        procs.append(subprocess.Popen([sys.executable, WORKER, str(r), str(world), port, str(c), str(p), str(outdir),
                                       json.dumps(o)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = {}
    for r, p in enumerate(procs):
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail(f"rank {r} hung")
        lines = [line for line in out.splitlines() if line.startswith("{")]
        assert p.returncode == 0 and lines, f"rank {r}: exit {p.returncode}\n{out}\n{err}"
        results[r] = json.loads(lines[-1])
    return results


@needs_torch
@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_each_rank_holds_its_slices(checkpoint, tmp_path, world):
    d, arrays = checkpoint
    out = tmp_path / "load"
    opts = {"split": "redistribute", "replicated": "per-node"} if world == 4 else {}
    results = run_ranks(world, d, d / "plan.json", out, opts)
    # The files each rank wrote hold the reference's slices (numpy slicing of the full tensors).
    for r in range(world):
        path = out / f"rank-{r:05d}-of-{world:05d}.safetensors"
        assert "error" not in results[r], results[r]
        with sft.safe_open(path, "np") as f:
            held = set(f.keys())
            for name, a in arrays.items():
                want = expected(name, a, r, world)
                if want is None:
                    assert name not in held, (r, name)
                    continue
                got = f.get_tensor(name)
                assert got.shape == want.shape and got.dtype == want.dtype, (r, name)
                np.testing.assert_array_equal(got, want)
        st = results[r]["stats"]
        assert st["rank"] == r and st["world"] == world and st["engine"] == "torch"
        if world == 4:
            assert st["redistributed"] > 0 and st["bytes_received"] > 0
    assert sum(v["stats"]["bytes_sent"] for v in results.values()) == \
        sum(v["stats"]["bytes_received"] for v in results.values())
    # ... and are, byte for byte, what reshard writes.
    files = sd.reshard(d, d / "plan.json", world, tmp_path / "reshard")
    assert len(files) == world
    for path, _, _ in files:
        assert open(path, "rb").read() == open(out / os.path.basename(path), "rb").read()


@needs_torch
@needs_reference
@needs_ml_dtypes
def test_reference_reads_the_rank_files(checkpoint, tmp_path):
    from safetensors.numpy import load_file
    d, arrays = checkpoint
    sd.reshard(d, PLAN, 3, tmp_path)
    for r in range(3):
        got = load_file(str(tmp_path / f"rank-{r:05d}-of-00003.safetensors"))
        for name, a in arrays.items():
            want = expected(name, a, r, 3)
            assert (want is None) == (name not in got), name
            if want is not None:
                np.testing.assert_array_equal(got[name], want)


def test_plan_in_python(tmp_path):
    p = sd.Plan.parse(json.dumps(PLAN))
    assert json.loads(p.to_json())["rules"][0] == {"match": "*.col", "split": 0}
    assert sd.plan_of(PLAN).to_json() == p.to_json()
    (tmp_path / "p.json").write_text(p.to_json())
    assert sd.Plan.read(tmp_path / "p.json").to_json() == p.to_json()
    assert p.part("a.row", "F32", [6, 10], 3, 4) == [6, 1]     # torch.chunk: 3, 3, 3, 1
    assert p.part("a.col", "BF16", [5, 2], 3, 4) == [0, 2]     # 2, 2, 1, 0
    assert p.part("experts.3.w", "F32", [2], 2, 4) == [2]      # 6 experts on 4 ranks: 0-1, 2, 3, 4-5
    assert p.part("experts.4.w", "F32", [2], 2, 4) is None
    assert p.part("experts.4.w", "F32", [2], 3, 4) == [2]
    assert p.part("x.skip", "F32", [2], 0, 1) is None
    with pytest.raises(sft.SafetensorError) as e:
        sd.Plan.parse('{"rules": [{"match": "*", "spilt": 0}]}')
    assert e.value.code == sft.Errc.plan_invalid and e.value.offset == 26
    with pytest.raises(sft.SafetensorError) as e:
        p.part("a.row", "F32", [6], 0, 2)
    assert e.value.code == sft.Errc.plan_split and e.value.tensor == "a.row"


@needs_torch
def test_a_missing_checkpoint_on_one_rank_fails_every_rank(checkpoint, tmp_path):
    d, _ = checkpoint
    results = run_ranks(3, d, d / "plan.json", tmp_path / "out",
                        per_rank=lambda r: (tmp_path / "nowhere" if r == 1 else d, d / "plan.json", {}))
    assert results[1]["code"] == "io_error", results[1]
    for r in (0, 2):
        assert results[r]["code"] == "dist_peer_failed" and "rank 1 of 3 failed" in results[r]["error"], results[r]
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


@needs_torch
def test_a_plan_that_fails_on_one_rank_fails_every_rank(checkpoint, tmp_path):
    d, _ = checkpoint
    bad = tmp_path / "bad.json"
    bad.write_text('{"rules": [{"match": "*", "spilt": 0}]}')
    results = run_ranks(2, d, d / "plan.json", tmp_path / "out",
                        per_rank=lambda r: (d, bad if r == 0 else d / "plan.json", {}))
    assert results[0]["code"] == "plan_invalid", results[0]
    assert results[1]["code"] == "dist_peer_failed", results[1]


@needs_torch
def test_a_late_rank_is_a_timeout_not_a_hang(checkpoint, tmp_path):
    d, _ = checkpoint
    results = run_ranks(2, d, d / "plan.json", tmp_path / "out",
                        per_rank=lambda r: (d, d / "plan.json", {"timeout": 2, "sleep_before": 6 if r == 1 else 0}))
    assert results[0]["code"] == "dist_timeout", results[0]
