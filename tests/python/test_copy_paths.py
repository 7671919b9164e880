"""Owned copies (copy=True): direct I/O for cold files and huge-page buffers.

copy_tensors (python/src/source.cpp) reads a large copy of a range that is
not in the page cache with O_DIRECT into buffers placed at the file range's
offset within a page, and asks for transparent huge pages within the budget
the free memory allows. SFT_DIRECT_IO and SFT_HUGE_PAGES force either way;
both are read at every copy, so monkeypatch.setenv reaches them.
"""

import ctypes
import mmap
import os
import re

import numpy as np
import pytest

import sft
import sft.numpy
from conftest import has, needs_torch

if has("torch"):
    import sft.torch

MiB = 1 << 20


def tensors_at_awkward_offsets():
    """Sizes around page and piece (8 MiB) boundaries; the odd-length first
    tensor and the metadata put the others at offsets that are not multiples
    of 4096 (nor of each other's)."""
    rng = np.random.default_rng(7)
    sizes = {"a_tiny": 3, "b_page_less_one": 4095, "c_page_plus_one": 4097, "d_mib_plus": MiB + 3,
             "e_across_pieces": 9 * MiB + 5, "f_three_mib": 3 * MiB}
    return {k: rng.integers(0, 256, size=n, dtype=np.uint8) for k, n in sizes.items()}


@pytest.fixture
def awkward(tmp_path):
    data = tensors_at_awkward_offsets()
    p = tmp_path / "awkward.safetensors"
    sft.numpy.save_file(data, p, metadata={"pad": "x" * 37})
    return str(p), data


def direct_io_possible(directory):
    probe = os.path.join(directory, "direct-probe")
    with open(probe, "wb") as f:
        f.write(b"\0" * 4096)
    try:
        fd = os.open(probe, os.O_RDONLY | os.O_DIRECT)
    except OSError:
        return False
    os.close(fd)
    return True


def drop_from_page_cache(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def resident_fraction(path):
    """Share of the file's pages in the page cache (mincore over a mapping of it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    size = os.path.getsize(path)
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    vec = (ctypes.c_ubyte * pages)()
    with open(path, "rb") as f, mmap.mmap(f.fileno(), size, prot=mmap.PROT_READ) as m:
        arr = np.frombuffer(m, dtype=np.uint8)  # read-only view: its address, no page touched
        rc = libc.mincore(ctypes.c_void_p(arr.__array_interface__["data"][0]), ctypes.c_size_t(size), vec)
        del arr
    assert rc == 0, os.strerror(ctypes.get_errno())
    return sum(v & 1 for v in vec) / pages


@pytest.mark.parametrize("backend", ["mmap", "pread"])
@pytest.mark.parametrize("direct", ["0", "1"])
def test_copies_are_exact_either_way(awkward, monkeypatch, direct, backend):
    path, data = awkward
    monkeypatch.setenv("SFT_DIRECT_IO", direct)
    drop_from_page_cache(path)
    got = sft.numpy.load_file(path, copy=True, backend=backend)
    assert sorted(got) == sorted(data)
    for k, v in data.items():
        assert got[k].dtype == v.dtype and np.array_equal(got[k], v), k
        assert got[k].flags.writeable
    with sft.safe_open(path, "np", backend=backend) as f:
        for k, v in data.items():
            c = f.get_tensor(k, copy=True)
            assert np.array_equal(c, v), k
            c[...] = 0  # an owned copy: writable, and nothing reaches the file or the views
            assert np.array_equal(f.get_tensor(k), v), k


@pytest.mark.parametrize("direct", ["0", "1"])
@needs_torch
def test_torch_copies_are_exact_either_way(awkward, monkeypatch, direct):
    import torch

    path, data = awkward
    monkeypatch.setenv("SFT_DIRECT_IO", direct)
    got = sft.torch.load_file(path, copy=True)
    for k, v in data.items():
        assert torch.equal(got[k], torch.from_numpy(v)), k


@pytest.mark.parametrize("backend", ["mmap", "pread"])
def test_a_cold_copy_bypasses_the_page_cache(tmp_path, monkeypatch, backend):
    """A large copy=True load (or any load with the pread backend) of a file
    that is not cached reads it with direct I/O: the file's pages stay out of
    the page cache (through it, all of them would be cached afterwards).
    Whether it is cached is asked with mincore (mmap) or with reads that may
    not wait for the device (pread)."""
    if not direct_io_possible(str(tmp_path)):
        pytest.skip(f"the file system of {tmp_path} refuses O_DIRECT")
    monkeypatch.delenv("SFT_DIRECT_IO", raising=False)
    rng = np.random.default_rng(3)
    data = {f"t{i}": rng.integers(0, 256, size=17 * MiB + i, dtype=np.uint8) for i in range(5)}  # 85 MiB
    p = str(tmp_path / "cold.safetensors")
    sft.numpy.save_file(data, p)
    drop_from_page_cache(p)
    if resident_fraction(p) > 0.05:
        pytest.skip("posix_fadvise(DONTNEED) left the file cached here; cannot tell the paths apart")
    got = sft.numpy.load_file(p, copy=True, backend=backend)
    for k, v in data.items():
        assert np.array_equal(got[k], v), k
    assert resident_fraction(p) < 0.05
    # A cached file is copied from the page cache, as before.
    with open(p, "rb") as f:
        while f.read(8 * MiB):
            pass
    assert resident_fraction(p) > 0.9
    got = sft.numpy.load_file(p, copy=True, backend=backend)
    assert all(np.array_equal(got[k], v) for k, v in data.items())
    # SFT_DIRECT_IO=0: through the page cache even when cold.
    monkeypatch.setenv("SFT_DIRECT_IO", "0")
    drop_from_page_cache(p)
    sft.numpy.load_file(p, copy=True, backend=backend)
    assert resident_fraction(p) > 0.9


def thp_mode():
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return re.search(r"\[(\w+)\]", f.read()).group(1)
    except (OSError, AttributeError):
        return "never"


def anon_huge_kib(address):
    """AnonHugePages of the mapping that holds `address` (/proc/self/smaps)."""
    with open("/proc/self/smaps") as f:
        inside = False
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) ", line)
            if m:
                inside = int(m.group(1), 16) <= address < int(m.group(2), 16)
            elif inside and line.startswith("AnonHugePages:"):
                return int(line.split()[1])
    raise AssertionError(f"no mapping holds {address:#x}")


def test_the_huge_page_budget_follows_the_switch_and_the_policy(monkeypatch):
    monkeypatch.setenv("SFT_HUGE_PAGES", "0")
    assert sft._sft._huge_page_budget()[0] == 0
    monkeypatch.setenv("SFT_HUGE_PAGES", "1")
    assert sft._sft._huge_page_budget()[0] >= 1 << 62
    monkeypatch.delenv("SFT_HUGE_PAGES")
    huge_page = sft._sft._huge_page_budget()[1]
    assert huge_page >= 2 * MiB and huge_page & (huge_page - 1) == 0
    order = (huge_page // mmap.PAGESIZE).bit_length() - 1

    def free_in_blocks():
        """Three quarters of the free memory in blocks of a huge page or more."""
        pages = 0
        with open("/proc/buddyinfo") as f:
            for line in f:
                counts = [int(x) for x in line.split("zone", 1)[1].split()[1:]]
                pages += sum(c << k for k, c in enumerate(counts) if k >= order)
        return pages * mmap.PAGESIZE * 3 // 4

    # Read here just before and just after: memory moves meanwhile (other
    # tests run at the same time), so within a factor of 2 of either.
    low = free_in_blocks()
    budget = sft._sft._huge_page_budget()[0]
    high = free_in_blocks()
    low, high = min(low, high), max(low, high)
    if thp_mode() == "never":
        assert budget == 0
        return
    with open("/sys/kernel/mm/transparent_hugepage/defrag") as f:
        defrag = re.search(r"\[([\w+]+)\]", f.read()).group(1)
    if defrag in ("defer", "never"):
        assert budget >= 1 << 62  # the advice cannot stall: no limit
        return
    assert low // 2 - 64 * MiB <= budget <= 2 * high + 64 * MiB


@pytest.mark.skipif(thp_mode() == "never", reason="transparent huge pages are off on this machine")
def test_large_copies_get_huge_pages(tmp_path, monkeypatch):
    data = {"big": np.arange(4 * MiB, dtype=np.uint8), "small": np.arange(100, dtype=np.uint8)}
    p = tmp_path / "h.safetensors"
    sft.numpy.save_file(data, p)
    monkeypatch.setenv("SFT_HUGE_PAGES", "1")
    got = sft.numpy.load_file(p, copy=True)
    assert np.array_equal(got["big"], data["big"]) and np.array_equal(got["small"], data["small"])
    assert anon_huge_kib(got["big"].__array_interface__["data"][0]) >= 2048
    if thp_mode() == "madvise":
        # Without the advice the same copy is in 4 KiB pages.
        monkeypatch.setenv("SFT_HUGE_PAGES", "0")
        got = sft.numpy.load_file(p, copy=True)
        assert anon_huge_kib(got["big"].__array_interface__["data"][0]) == 0


def big_awkward(tmp_path):
    """Over 64 MiB of data (direct I/O's threshold), its tensors at offsets that
    are not multiples of a page, the first and last pages shared with the
    header and the file's end."""
    rng = np.random.default_rng(11)
    sizes = {"a": 3, "b": 4095, "c": 33 * MiB + 7, "d": 40 * MiB + 3, "e": 5}
    data = {k: rng.integers(0, 256, size=n, dtype=np.uint8) for k, n in sizes.items()}
    p = str(tmp_path / "big.safetensors")
    sft.numpy.save_file(data, p, metadata={"pad": "y" * 11})
    return p, data


def test_load_file_fills_a_cold_mapping_from_the_device(tmp_path, monkeypatch):
    """load_file (zero-copy) of a cold file: the mapping's whole pages are read
    with direct I/O into anonymous memory moved over them, so the file stays
    out of the page cache; the arrays hold the file's bytes, are writable and
    never write back."""
    if not direct_io_possible(str(tmp_path)):
        pytest.skip(f"the file system of {tmp_path} refuses O_DIRECT")
    monkeypatch.delenv("SFT_DIRECT_IO", raising=False)
    p, data = big_awkward(tmp_path)
    before = open(p, "rb").read()
    drop_from_page_cache(p)
    if resident_fraction(p) > 0.05:
        pytest.skip("posix_fadvise(DONTNEED) left the file cached here; cannot tell the paths apart")
    got = sft.numpy.load_file(p)
    assert resident_fraction(p) < 0.05
    for k, v in data.items():
        assert np.array_equal(got[k], v), k
        got[k][...] = 0
    assert open(p, "rb").read() == before
    del got

    # The same file through safe_open().get_tensors() (views may already be
    # out there, so no move): the page cache, as before.
    drop_from_page_cache(p)
    with sft.safe_open(p, "np") as f:
        got = f.get_tensors()
        assert all(np.array_equal(got[k], v) for k, v in data.items())
    assert resident_fraction(p) > 0.9
    del got

    # SFT_DIRECT_IO=0: load_file through the page cache too.
    monkeypatch.setenv("SFT_DIRECT_IO", "0")
    drop_from_page_cache(p)
    got = sft.numpy.load_file(p)
    assert resident_fraction(p) > 0.9
    assert all(np.array_equal(got[k], v) for k, v in data.items())


@needs_torch
def test_torch_load_file_of_a_cold_file_is_exact(tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("SFT_DIRECT_IO", "1")  # whether or not O_DIRECT works here, the bytes are right
    p, data = big_awkward(tmp_path)
    drop_from_page_cache(p)
    got = sft.torch.load_file(p)
    for k, v in data.items():
        assert torch.equal(got[k], torch.from_numpy(v)), k
    got["c"].fill_(1)
    with sft.safe_open(p, "np") as f:
        assert np.array_equal(f.get_tensor("c"), data["c"])
