"""python -m sft validate / inspect."""

import json
import os
import subprocess
import sys

import numpy as np

import sft.numpy


def run(*args):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "sft", *map(str, args)], capture_output=True, text=True, env=env)


def test_validate_statuses(tmp_path, write_raw):
    good = tmp_path / "good.safetensors"
    sft.numpy.save_file({"a": np.zeros(2)}, good)
    bad = write_raw("bad.safetensors", b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', b"\0" * 4)
    r = run("validate", good)
    assert r.returncode == 0 and r.stdout == f"{good}: ok\n" and r.stderr == ""
    r = run("validate", good, bad)
    assert r.returncode == 1
    assert r.stderr.startswith(f"{bad}: size_mismatch: ") and "tensor a" in r.stderr
    r = run("validate", good, bad, tmp_path / "missing.safetensors")
    assert r.returncode == 2
    r = run("validate", "--json", good, bad)
    results = json.loads(r.stdout)
    assert [x["status"] for x in results] == ["valid", "invalid"]
    assert results[1]["errors"][0]["code"] == "size_mismatch" and results[1]["errors"][0]["tensor"] == "a"


def test_inspect(tmp_path):
    p = tmp_path / "i.safetensors"
    sft.numpy.save_file({"emb": np.zeros((2, 3), np.float32), "step": np.array(1, np.int64)}, p, metadata={"k": "v"})
    r = run("inspect", "--json", p)
    assert r.returncode == 0
    info = json.loads(r.stdout)
    assert info["metadata"] == {"k": "v"}
    assert [(t["name"], t["dtype"], t["shape"]) for t in info["tensors"]] == [("step", "I64", []), ("emb", "F32", [2, 3])]
    r = run("inspect", p)
    assert r.returncode == 0 and "emb" in r.stdout and "F32" in r.stdout and "metadata: 1 entry" in r.stdout
    r = run("inspect", tmp_path / "missing.safetensors")
    assert r.returncode == 2 and "io_error" in r.stderr
    assert run("nonsense").returncode == 2
