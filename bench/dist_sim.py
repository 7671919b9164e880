#!/usr/bin/env python3
"""Loading a 700 GB mixture-of-experts checkpoint on 8 nodes x 8 GPUs, on paper.

usage: python3 bench/dist_sim.py [--storage 1 2 5 10 20 50] [--network 12.5 50 100 400]
                                 [--nodes 8] [--gpus 8] [--nvlink 450] [--files 163]

A model of four ways to load, not a measurement. Assumptions (each a flag):

  * the checkpoint (DeepSeek-V3-like, FP8 weights): 656 GB of routed experts,
    40 GB of attention and dense layers (2/3 column-parallel, 1/3 row-parallel),
    3.7 GB of embedding and output head (vocabulary-parallel), 0.5 GB
    replicated (norms, router weights), in --files shards of equal size;
  * the layout: tensor parallelism over the 8 GPUs of each node (each node
    holds one copy of the attention, dense layers and embeddings, cut 8 ways),
    expert parallelism over all 64 GPUs (each owns 1/64 of the experts),
    replicated tensors on every GPU;
  * storage: a shared file system delivering S GB/s to each node, the same
    for every node (no global cap), and a node's ranks share its page cache
    (ranks reading the same bytes fetch them once);
  * network: N GB/s into each node (inter-node), --nvlink GB/s into each GPU
    within a node;
  * phases do not overlap: time = storage + inter-node + intra-node, each
    phase limited by its busiest node or GPU. Start-up, header parsing and
    host-to-device copies (the same for every strategy: each GPU ends with
    its own share) are left out.

The strategies:

  everyone-reads-all       every rank reads every byte and slices (vLLM's default
                           without a pre-sharded checkpoint): each node reads 700 GB;
  file-per-rank+broadcast  shard files are dealt to ranks (the busiest rank reads
                           ceil(files/64) of them), every tensor is broadcast to
                           every rank (fastsafetensors, Run:ai's streamer): each node
                           receives what other nodes read;
  striped+all-gather       every rank reads 1/64 of every file, then an all-gather
                           (InstantTensor): balanced reads, the same traffic;
  file-per-rank+scatter    as file-per-rank, but each tensor goes only to the ranks
                           that hold part of it (the charitable reading of the
                           peers, to show what the broadcast costs);
  sft per node             each byte is read by a rank that needs it: experts by
                           their owner, TP parts by the node that holds them
                           (contiguous parts directly, strided parts read as
                           contiguous rows and redistributed over NVLink,
                           replicated tensors striped over the node's GPUs): what
                           sft does today, as two loads (the dense tensors over
                           each node's communicator, the experts over all ranks);
  sft best                 the faster of that and reading the per-node copy once
                           for the whole cluster, exchanged over the network: what
                           the cost model would pick if a plan could say "split
                           within a node, replicated across nodes" (it cannot yet;
                           per_world striping does it for replicated tensors only).
                           Modelled, not built: the "fastest built" column ignores it.
"""
import argparse
import math
import sys


def model(S, N, a):
    nodes, gpus = a.nodes, a.gpus
    ranks = nodes * gpus
    experts, dense, embed, repl = a.experts, a.dense, a.embed, a.replicated
    total = experts + dense + embed + repl
    per_node_copy = dense + embed + repl  # what every node holds a full copy of (cut over its GPUs)
    out = {}

    out["everyone-reads-all"] = total / S

    # Whole files per rank: the busiest rank's node reads gpus x that rank's files at most,
    # but every node's share is bounded by its ranks' files.
    file_size = total / a.files
    busiest_rank_files = math.ceil(a.files / ranks)
    node_files = min(a.files, busiest_rank_files * gpus)
    storage = node_files * file_size / S
    inter = total * (nodes - 1) / nodes / N         # a node receives what the others read
    intra = total / a.nvlink                        # every GPU receives every tensor
    out["file-per-rank+broadcast"] = storage + inter + intra

    file_storage = storage
    storage = total / nodes / S                     # perfectly balanced stripes
    out["striped+all-gather"] = storage + inter + intra

    node_needs = experts / nodes + per_node_copy    # what one node's GPUs hold together
    out["file-per-rank+scatter"] = file_storage + node_needs * (nodes - 1) / nodes / N + node_needs / gpus / a.nvlink

    # sft: (a) each node reads what it holds; (b) the per-node copy read once per cluster.
    row_parallel = dense / 3
    a_time = node_needs / S + (row_parallel + repl) * (gpus - 1) / gpus / gpus / a.nvlink
    b_storage = experts / nodes + per_node_copy / nodes
    b_time = b_storage / S + per_node_copy * (nodes - 1) / nodes / N + per_node_copy / gpus / a.nvlink
    out["sft per node"] = a_time
    out["sft best"] = min(a_time, b_time)
    out["_sft_choice"] = "per node" if a_time <= b_time else "once per cluster"
    return out


def report(a, command):
    names = ["everyone-reads-all", "file-per-rank+broadcast", "striped+all-gather", "file-per-rank+scatter",
             "sft per node", "sft best"]
    lines = ["| S (GB/s per node) | N (GB/s per node) | " + " | ".join(names) + " | fastest built | sft best reads |",
             "|---|---|" + "---|" * len(names) + "---|---|"]
    for S in a.storage:
        for N in a.network:
            t = model(S, N, a)
            best = min(names[:-1], key=lambda n: t[n])
            cells = " | ".join(f"**{t[n]:.0f}**" if n == best else f"{t[n]:.0f}" for n in names)
            lines.append(f"| {S:g} | {N:g} | {cells} | {best} | {t['_sft_choice']} |")
    total = a.experts + a.dense + a.embed + a.replicated
    head = [f"Load time in seconds (bold: the fastest of the strategies built today) for a {total:.0f} GB checkpoint on {a.nodes} nodes x {a.gpus} GPUs, "
            f"NVLink {a.nvlink:g} GB/s per GPU, {a.files} shard files. Generated by "
            f"`{command}`; the assumptions are in the script's "
            "docstring.", ""]
    return "\n".join(head + lines) + "\n"


def args_parser():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--storage", type=float, nargs="+", default=[1, 2, 5, 10, 20, 50])
    ap.add_argument("--network", type=float, nargs="+", default=[12.5, 50, 100, 400])
    ap.add_argument("--nodes", type=int, default=8)
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--nvlink", type=float, default=450)
    ap.add_argument("--files", type=int, default=163)
    ap.add_argument("--experts", type=float, default=656, help="GB of routed experts")
    ap.add_argument("--dense", type=float, default=40, help="GB of attention and dense layers")
    ap.add_argument("--embed", type=float, default=3.7, help="GB of embedding and output head")
    ap.add_argument("--replicated", type=float, default=0.5, help="GB replicated on every GPU")
    return ap


if __name__ == "__main__":
    sys.stdout.write(report(args_parser().parse_args(), " ".join(["python3 bench/dist_sim.py", *sys.argv[1:]])))
