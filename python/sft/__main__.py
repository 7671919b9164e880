"""python -m sft: the command-line tool's validate and inspect, from Python.

    python -m sft validate [--strict] [--json] PATH...
    python -m sft inspect [--json] PATH

Output and exit status follow `sft validate` / `sft inspect` (docs/cli.md):
validate exits 0 when every path is valid, 1 when one is invalid, 2 when one
is unreadable (or on a usage error).
"""

import argparse
import json
import sys
import unicodedata

from . import SafetensorError, inspect, validate


def _printable(s: str) -> str:
    out = []
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        else:
            out.append(ch)
    return "".join(out)


def _report_line(path: str, e: Exception) -> str:
    code = getattr(e, "code", None)
    message = getattr(e, "message", None) or str(e)
    where = []
    if getattr(e, "offset", None) is not None:
        where.append(f"offset {e.offset}")
    if getattr(e, "tensor", None) is not None:
        where.append(f"tensor {_printable(e.tensor)}")
    line = f"{_printable(path)}: {code.name if code is not None else 'error'}: {_printable(message)}"
    return line + (f" ({', '.join(where)})" if where else "")


def _error_json(e: Exception) -> dict:
    code = getattr(e, "code", None)
    return {
        "code": code.name if code is not None else "error",
        "message": getattr(e, "message", None) or str(e),
        "offset": getattr(e, "offset", None),
        "tensor": getattr(e, "tensor", None),
    }


def _cmd_validate(args) -> int:
    results = [validate(p, strict=args.strict) for p in args.paths]
    if args.json:
        lines = []
        for r in results:
            item = {"file": r.path, "status": r.status, "errors": [_error_json(e) for e in r.errors]}
            if r.checkpoint:
                item["warnings"] = [_error_json(e) for e in r.warnings]
            lines.append(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
        print("[" + ("\n  " + ",\n  ".join(lines) + "\n" if lines else "") + "]")
    else:
        for r in results:
            if r.ok:
                print(f"{_printable(r.path)}: ok")
            for e in r.errors:
                print(_report_line(r.path, e), file=sys.stderr)
            for w in r.warnings:
                print(_report_line(r.path, w) + " [warning]", file=sys.stderr)
    status = 0
    for r in results:
        if r.status == "unreadable":
            status = 2
        elif r.status == "invalid" and status == 0:
            status = 1
    return status


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _cmd_inspect(args) -> int:
    try:
        info = inspect(args.path)
    except SafetensorError as e:
        print(_report_line(args.path, e), file=sys.stderr)
        code = getattr(e, "code", None)
        return 2 if code is not None and code.name == "io_error" else 1
    if args.json:
        out = {
            "header_bytes": info["header_bytes"],
            "data_bytes": info["data_bytes"],
            "metadata": info["metadata"],
            "tensors": [
                {"name": t["name"], "dtype": t["dtype"], "shape": t["shape"], "data_offsets": list(t["data_offsets"])}
                for t in info["tensors"]
            ],
        }
        print(json.dumps(out, ensure_ascii=False, separators=(",", ":")))
        return 0
    tensors = info["tensors"]
    print(f"file: {_printable(args.path)}")
    print(f"size: {info['file_bytes']} bytes = 8 (length) + {info['header_bytes']} (header) + {info['data_bytes']} (data)")
    md = info["metadata"]
    if md is None:
        print("metadata: none")
    else:
        print(f"metadata: {len(md)} {'entry' if len(md) == 1 else 'entries'}")
        for k, v in md.items():
            print(f"  {_printable(k)}: {_printable(v)}")
    print(f"tensors: {len(tensors)}")
    if tensors:
        rows = [("NAME", "DTYPE", "SHAPE", "BEGIN", "END", "BYTES")]
        for t in tensors:
            b, e = t["data_offsets"]
            name = _printable(t["name"]) or '""'
            rows.append((name, t["dtype"], "[" + ", ".join(map(str, t["shape"])) + "]", str(b), str(e), str(e - b)))
        widths = [max(_width(r[i]) for r in rows) for i in range(6)]
        print()
        for r in rows:
            cells = []
            for i, c in enumerate(r):
                pad = " " * (widths[i] - _width(c))
                cells.append(c + pad if i < 3 else pad + c)
            print("  ".join(cells).rstrip())
    total = sum(t["data_offsets"][1] - t["data_offsets"][0] for t in tensors)
    print()
    print(f"total: {len(tensors)} tensors, {total} data bytes, {info['header_bytes']} header bytes")
    by_dtype = {}
    for t in tensors:
        n, c = by_dtype.get(t["dtype"], (0, 0))
        by_dtype[t["dtype"]] = (n + t["data_offsets"][1] - t["data_offsets"][0], c + 1)
    if by_dtype:
        print("by dtype:")
        width = max(len(d) for d in by_dtype)
        nwidth = max(len(str(n)) for n, _ in by_dtype.values())
        for d, (n, c) in sorted(by_dtype.items(), key=lambda kv: -kv[1][0]):
            print(f"  {d:<{width}}  {n:>{nwidth}} bytes in {c} tensor{'s' if c != 1 else ''}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sft", description="sft's validate and inspect, from Python")
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check files or checkpoints against the format's rules")
    v.add_argument("--strict", action="store_true", help="also what the format's README forbids but the reference accepts")
    v.add_argument("--json", action="store_true", help="one JSON array on stdout")
    v.add_argument("paths", nargs="+", metavar="PATH")
    i = sub.add_parser("inspect", help="show a file's metadata and tensors")
    i.add_argument("--json", action="store_true", help="one JSON line on stdout")
    i.add_argument("path", metavar="PATH")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    return _cmd_validate(args) if args.command == "validate" else _cmd_inspect(args)


if __name__ == "__main__":
    sys.exit(main())
