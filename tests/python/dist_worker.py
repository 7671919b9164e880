"""One rank of tests/python/test_distributed.py: sft.distributed.load over gloo.

usage: dist_worker.py RANK WORLD PORT CHECKPOINT PLAN OUTDIR [OPTIONS_JSON]

Loads its share, checks that every tensor it got is a torch tensor whose bytes
are those it writes, writes OUTDIR/rank-...safetensors, prints one JSON line
{"rank", "stats", "shapes"} on success or {"rank", "error", "code"} when the
load raised a SafetensorError. OPTIONS_JSON: {"split", "replicated",
"timeout", "sleep_before" (seconds, to play a late rank)}.
"""
import datetime
import json
import os
import sys
import time

import torch
import torch.distributed as dist

import sft
import sft.distributed as sd


def main():
    rank, world, port = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    checkpoint, plan, outdir = sys.argv[4], sys.argv[5], sys.argv[6]
    opts = json.loads(sys.argv[7]) if len(sys.argv) > 7 else {}
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
    dist.init_process_group("gloo", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=opts.get("timeout", 60)))
    time.sleep(opts.get("sleep_before", 0))
    try:
        shard = sd.load(checkpoint, plan, split=opts.get("split", "auto"), replicated=opts.get("replicated", "auto"))
    except sft.SafetensorError as e:
        print(json.dumps({"rank": rank, "error": str(e), "code": e.code.name}), flush=True)
        # Out without torch's teardown: the process group's gloo threads,
        # destroyed at exit after a peer has already gone, sometimes abort
        # ("terminate called without an active exception", exit -6 in about
        # one run in ten); what this rank had to say is printed.
        sys.stderr.flush()
        os._exit(0)
    path = shard.write(outdir)
    with sft.safe_open(path, "pt") as f:
        for name, t in shard.tensors.items():
            assert isinstance(t, torch.Tensor), name
            want = f.get_tensor(name)
            assert tuple(t.shape) == tuple(want.shape), (name, t.shape, want.shape)
            assert t.dtype == want.dtype, (name, t.dtype, want.dtype)
            assert t.contiguous().view(torch.uint8).numpy().tobytes() == want.contiguous().view(torch.uint8).numpy().tobytes(), name
    print(json.dumps({"rank": rank, "stats": shard.stats,
                      "shapes": {k: list(v) for k, v in shard.global_shapes.items()}}), flush=True)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
