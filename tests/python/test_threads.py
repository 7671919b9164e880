"""Many threads reading one file at once (the GIL is released around reads)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import sft
import sft.numpy


def test_many_threads_one_file(tmp_path):
    rng = np.random.default_rng(3)
    data = {f"t{i}": rng.standard_normal((64, 33)).astype(np.float32) for i in range(40)}
    p = tmp_path / "m.safetensors"
    sft.numpy.save_file(data, p)
    for backend in ("mmap", "pread"):
        with sft.safe_open(p, "np", backend=backend) as f:
            barrier = threading.Barrier(8)

            def work(k):
                barrier.wait()
                for r in range(20):
                    name = f"t{(k * 7 + r) % 40}"
                    np.testing.assert_array_equal(f.get_tensor(name), data[name])
                    np.testing.assert_array_equal(f.get_slice(name)[r % 64, ::3], data[name][r % 64, ::3])
                got = f.get_tensors(copy=(k % 2 == 0))
                assert all(np.array_equal(got[n], data[n]) for n in data)
                return True

            with ThreadPoolExecutor(8) as ex:
                assert all(ex.map(work, range(8)))


def test_threads_load_and_save(tmp_path):
    data = {"a": np.arange(1000, dtype=np.float64), "b": np.ones((30, 30), np.int8)}

    def work(k):
        p = tmp_path / f"f{k}.safetensors"
        for _ in range(10):
            sft.numpy.save_file(data, p)
            got = sft.numpy.load_file(p)
            assert all(np.array_equal(got[n], data[n]) for n in data)
        return True

    with ThreadPoolExecutor(4) as ex:
        assert all(ex.map(work, range(4)))


def test_close_while_other_threads_read(tmp_path):
    p = tmp_path / "c.safetensors"
    sft.numpy.save_file({"x": np.arange(10)}, p)
    f = sft.safe_open(p, "np")
    failures = []

    def reader():
        try:
            for _ in range(200):
                if f.get_tensor("x")[9] != 9:
                    failures.append("wrong value")
        except sft.SafetensorError as e:
            if "File is closed" not in str(e):
                failures.append(str(e))

    ts = [threading.Thread(target=reader) for _ in range(4)]
    for t in ts:
        t.start()
    f.close()
    for t in ts:
        t.join()
    assert failures == []
    with pytest.raises(sft.SafetensorError, match="File is closed"):
        f.get_tensor("x")
