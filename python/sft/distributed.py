"""sft.distributed: tensor-parallel loading over torch.distributed.

Each rank of a process group reads only its share of a checkpoint, as a plan
says (docs/distributed.md: the same JSON and the same planner as ``sft load``
and ``sft reshard``), and gets from the other ranks, through
torch.distributed, what they read for it::

    import torch.distributed as dist
    import sft.distributed as sd

    dist.init_process_group("gloo")            # or "nccl": tensors then land on this rank's GPU
    plan = sd.Plan.read("plan.json")           # or sd.Plan.parse(text), or a dict
    shard = sd.load("models/llama", plan)      # every rank of the group calls it
    weights = shard.tensors                    # name -> torch.Tensor, local shapes
    print(shard.stats)                         # bytes_read, bytes_received, ...

A rank that cannot read its files makes every rank raise (its own
SafetensorError there, ``Errc.dist_peer_failed`` elsewhere); a collective
that exceeds the process group's timeout raises ``Errc.dist_timeout``.
"""

import json
import os
import socket

from ._sft import LoadedShard, Plan, SafetensorError  # noqa: F401
from ._sft import _agree, _load_shard, _reshard

__all__ = ["Plan", "Shard", "TorchEngine", "load", "reshard", "plan_of"]


def engine_error(exc):
    """A torch.distributed failure as a SafetensorError: dist_timeout when it timed out, else dist_engine."""
    from ._sft import Errc
    text = str(exc)
    timed_out = "imed out" in text or "imeout" in text
    e = SafetensorError(("dist_timeout: " if timed_out else "dist_engine: ") + "torch.distributed: " + text)
    e.code = Errc.dist_timeout if timed_out else Errc.dist_engine
    e.message = "torch.distributed: " + text
    return e


def plan_of(plan):
    """A Plan from a Plan, a dict (the JSON form), or a path to a JSON file."""
    if isinstance(plan, Plan):
        return plan
    if isinstance(plan, dict):
        return Plan.parse(json.dumps(plan))
    if isinstance(plan, (str, bytes, os.PathLike)):
        return Plan.read(plan)
    raise TypeError(f"a plan is a Plan, a dict or a path, not {type(plan).__name__}")


class TorchEngine:
    """The collectives sft's loader needs (DistEngine), over a torch.distributed
    process group. Buffers arrive as memoryviews of host memory, valid during
    the call; with the NCCL backend they go through this rank's GPU.

    The node of every rank is found by all-gathering host names (ranks of one
    host share its storage: the planner stripes replicated tensors over them).
    """

    def __init__(self, group=None):
        import torch
        import torch.distributed as dist

        if not dist.is_initialized():
            raise SafetensorError("torch.distributed is not initialised: call init_process_group first")
        self._torch, self._dist, self._group = torch, dist, group
        self._rank = dist.get_rank(group)
        self._world = dist.get_world_size(group)
        backend = str(dist.get_backend(group)).lower()
        if "nccl" in backend:
            self.device = torch.device("cuda", torch.cuda.current_device())
        else:
            self.device = torch.device("cpu")
        hosts = [None] * self._world
        try:
            dist.all_gather_object(hosts, socket.gethostname(), group=group)
        except RuntimeError as e:  # the first collective: a peer that never comes times out here
            raise engine_error(e) from e
        first = {}
        for h in hosts:
            first.setdefault(h, len(first))
        self._nodes = [first[h] for h in hosts]

    # --- what the native loader calls ---------------------------------------------------
    def name(self):
        return "torch"

    def rank(self):
        return self._rank

    def world(self):
        return self._world

    def nodes(self):
        return self._nodes

    def _host(self, view):
        torch = self._torch
        if len(view) == 0:
            return torch.empty(0, dtype=torch.uint8)
        return torch.frombuffer(view, dtype=torch.uint8)

    def _on_device(self, view):
        t = self._host(view)
        return t if self.device.type == "cpu" else t.to(self.device)

    def _back(self, device_tensor, view):
        if self.device.type != "cpu" and len(view):
            self._host(view).copy_(device_tensor.cpu())

    def _global(self, rank):
        return rank if self._group is None else self._dist.get_global_rank(self._group, rank)

    def all_gather(self, mine, out):
        src = self._on_device(mine)
        dst = self._host(out) if self.device.type == "cpu" else self._torch.empty(len(out), dtype=self._torch.uint8,
                                                                                    device=self.device)
        self._dist.all_gather_into_tensor(dst, src, group=self._group)
        self._back(dst, out)

    def broadcast(self, buffer, root):
        t = self._on_device(buffer)
        self._dist.broadcast(t, src=self._global(root), group=self._group)
        self._back(t, buffer)

    def scatter(self, send, recv, root):
        out = self._on_device(recv)
        chunks = None
        if self._rank == root:
            whole = self._on_device(send)
            chunks = list(whole.split(len(recv))) if len(recv) else [whole[:0]] * self._world
        self._dist.scatter(out, scatter_list=chunks, src=self._global(root), group=self._group)
        self._back(out, recv)

    def all_to_all(self, send, send_counts, recv, recv_counts):
        src = self._on_device(send)[: sum(send_counts)]
        dst = self._host(recv) if self.device.type == "cpu" else self._torch.empty(len(recv), dtype=self._torch.uint8,
                                                                                      device=self.device)
        self._dist.all_to_all_single(dst[: sum(recv_counts)], src, output_split_sizes=list(recv_counts),
                                     input_split_sizes=list(send_counts), group=self._group)
        self._back(dst, recv)

    def barrier(self):
        self._dist.barrier(group=self._group)


class Shard:
    """The tensors one rank holds: ``tensors`` (name -> torch.Tensor with its
    local shape, on ``device``), ``global_shapes``, ``stats`` (the loader's
    accounting, docs/distributed.md), ``rank``, ``world``; ``write(directory)``
    writes them as ``sft reshard`` does for this rank."""

    def __init__(self, native, device):
        self._native = native
        tensors = native.tensors("pt")
        if device is not None and str(device) != "cpu":
            tensors = {k: v.to(device) for k, v in tensors.items()}
        self.tensors = tensors
        self.global_shapes = native.global_shapes()
        self.stats = native.stats
        self.rank = native.rank
        self.world = native.world
        self.device = device

    def write(self, directory):
        return self._native.write(directory)

    def __len__(self):
        return len(self.tensors)

    def __repr__(self):
        return f"<sft.distributed.Shard rank {self.rank} of {self.world}: {len(self)} tensors>"


def load(checkpoint, plan, group=None, device=None, *, split="auto", replicated="auto", read_threads=4,
         max_round_bytes=1 << 30, engine=None):
    """This rank's share of ``checkpoint`` (a file, a directory or an index)
    under ``plan`` (a Plan, a dict or a path). Every rank of ``group`` calls it
    with the same plan and options. ``device``: where the tensors land (by
    default this rank's GPU with the NCCL backend, else the CPU).
    ``split`` ("auto", "direct", "redistribute") and ``replicated`` ("auto",
    "every-rank", "per-node", "per-world") force a strategy. ``engine``: any
    object with TorchEngine's methods, instead of one over ``group``."""
    engine = engine if engine is not None else TorchEngine(group)
    # Reading the plan can fail on some ranks only: every rank learns of it.
    failure = None
    try:
        plan = plan_of(plan)
    except SafetensorError as e:
        failure = e
    _agree(engine, failure)
    native = _load_shard(checkpoint, plan, engine, split, replicated, read_threads, max_round_bytes)
    if device is None:
        device = getattr(engine, "device", None)
    return Shard(native, device)


def reshard(checkpoint, plan, world, directory):
    """Write directory/rank-0000r-of-0000N.safetensors for every rank of a group
    of ``world`` (offline, one process): [(path, tensors, bytes), ...]."""
    return _reshard(checkpoint, plan_of(plan), world, directory)
