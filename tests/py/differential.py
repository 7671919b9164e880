#!/usr/bin/env python3
"""Differential test: sft's accept/reject decision equals the reference's.

Thousands of seeded, deterministic mutants of valid files (numbers nudged to
boundary values, dtypes swapped or misspelled, fields dropped or repeated,
entries reordered, the length prefix moved, data truncated or extended,
whitespace, escapes, nesting, metadata changes, non-object entries, stray
bytes) are given to the reference package (safe_open, then deserialize, which
reads every tensor) and to sft (through tests/tools/sft_dump, one process for
the whole batch). Their decisions must agree, except for sft's documented
deviations (docs/format.md, DESIGN.md):

  1. a key repeated in any JSON object: the reference keeps the last, sft
     rejects with duplicate_key;
  2. a tensor entry spelled as a JSON array, or a dtype that is not a JSON
     string: the reference accepts some, sft rejects with bad_schema.

Where both accept, the tensors must also be the same (names, dtypes, shapes,
offsets, bytes). sft's three read modes must decide alike. Disagreements are
written to a file (--out) and make the test fail.

    differential.py --dump build/tests/sft_dump --work DIR [--count 2500] [--seed 1]
"""

import argparse
import collections
import hashlib
import json
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sft_driver  # noqa: E402

sft_driver.require_reference()

import safetensors  # noqa: E402
from safetensors import safe_open  # noqa: E402

DTYPES = {  # name -> bits
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8,
    "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64,
}
U64 = 2 ** 64


# ---------------------------------------------------------------------------
# A JSON model that can express what json.dumps cannot: repeated keys, raw
# number spellings, arbitrary escapes.

class Obj(list):
    """A JSON object as a list of [key, value] pairs (keys may repeat)."""


class Raw(str):
    """JSON text written verbatim (a number spelled oddly, an escaped string...)."""


def dumps(v):
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, Obj):
        return "{" + ",".join(dumps(k) + ":" + dumps(x) for k, x in v) + "}"
    if isinstance(v, list):
        return "[" + ",".join(dumps(x) for x in v) + "]"
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    raise TypeError(type(v))


def escape_all(s):
    """Every character of s as a \\u escape (surrogate pairs above the BMP)."""
    out = []
    for ch in s:
        cp = ord(ch)
        if cp >= 0x10000:
            cp -= 0x10000
            out.append("\\u%04x\\u%04x" % (0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF)))
        else:
            out.append("\\u%04x" % cp)
    return Raw('"' + "".join(out) + '"')


# ---------------------------------------------------------------------------
# Valid base files.

def tensor_bytes(dtype, shape):
    n = 1
    for d in shape:
        n *= d
    bits = n * DTYPES[dtype]
    assert bits % 8 == 0
    return bits // 8


def make_base(tensors, metadata=None, order=None, pad_to=8):
    """tensors: list of (name, dtype, shape); data laid out in list order, header
    entries in `order` (indices) if given. Returns (header Obj, data bytes)."""
    entries, data, offset = [], b"", 0
    for i, (name, dtype, shape) in enumerate(tensors):
        size = tensor_bytes(dtype, shape)
        entries.append([name, Obj([["dtype", dtype], ["shape", list(shape)], ["data_offsets", [offset, offset + size]]])])
        data += bytes((i * 31 + j * 7 + 3) & 0xFF for j in range(size))
        offset += size
    if order is not None:
        entries = [entries[i] for i in order]
    header = Obj()
    if metadata is not None:
        header.append(["__metadata__", metadata])
    header.extend(entries)
    return header, data


def bases():
    out = []
    out.append(make_base([("a", "U8", [2])]))
    out.append(make_base([("weight", "F32", [2, 3]), ("bias", "F32", [3]), ("step", "I64", [])],
                         metadata=Obj([["format", "pt"]])))
    out.append(make_base([("x", "BF16", [4]), ("y", "F16", [2, 2]), ("z", "I8", [3]), ("q", "F8_E4M3", [5]),
                          ("b", "BOOL", [2])], order=[4, 2, 0, 3, 1]))
    out.append(make_base([("f4", "F4", [4, 2]), ("f6", "F6_E2M3", [4]), ("g6", "F6_E3M2", [8]),
                          ("e8", "F8_E8M0", [3]), ("fz", "F8_E4M3FNUZ", [1]), ("gz", "F8_E5M2FNUZ", [2])]))
    out.append(make_base([("empty", "F32", [0]), ("full", "U16", [3]), ("also", "I32", [2, 0]),
                          ("c", "C64", [1]), ("d", "F64", [1]), ("u", "U64", [1]), ("v", "U32", [1])],
                         metadata=Obj([["k", "v"], ["unicode", "\u00e9\u65e5"]])))
    out.append(make_base([("caf\u00e9", "U8", [1]), ("\U0001F600", "U8", [1]), ("tab\there", "U8", [1]),
                          ("q\"b\\s", "U8", [1]), ("", "U8", [1]), ("nul\u0000in", "U8", [1])]))
    out.append(make_base([("model.layers.%d.mlp.w" % i, "BF16", [2, 2]) for i in range(12)],
                         metadata=Obj([["total", "12"]]), order=list(range(11, -1, -1))))
    out.append(make_base([("s", "F32", [])], metadata=None))
    out.append((Obj(), b""))
    out.append(make_base([("only", "I16", [1, 1, 1, 2])], metadata=Obj()))
    return out


def serialize(header, data, pad_to=8):
    text = dumps(header).encode("utf-8")
    if pad_to:
        text += b" " * (-len(text) % pad_to)
    return struct.pack("<Q", len(text)) + text + data


# ---------------------------------------------------------------------------
# Mutations. Each takes (rng, header, data) and returns (header, data, file_bytes or None)
# where file_bytes, when given, replaces serialization (text- and file-level mutations).

def is_array(v):
    return isinstance(v, list) and not isinstance(v, Obj)


def tensor_entries(header):
    return [e for e in header if isinstance(e, list) and e and e[0] != "__metadata__" and isinstance(e[1], Obj)]


def field(entry_obj, name):
    for kv in entry_obj:
        if kv[0] == name:
            return kv
    return None


def nudged_number(rng, v):
    v = v if isinstance(v, int) and not isinstance(v, bool) else 1
    choices = [v + 1, max(v - 1, 0), 0, 1, 2 * v, v + 8, U64 - 1, U64 - 2, 2 ** 63, 2 ** 61, 2 ** 62, 2 ** 32,
               2 ** 53 + 1, Raw(str(U64)), Raw("-1"), Raw("-0"), Raw("%d.0" % v), Raw("%de0" % v), Raw("1e2"),
               Raw("+%d" % v), Raw("0%d" % v), str(v), None, True, False, [v], Obj(), Raw("%d.5" % v),
               Raw("-%d" % (v + 1)), Raw("1E1"), Raw("99999999999999999999")]
    return rng.choice(choices)


def m_number(rng, header, data):
    ents = tensor_entries(header)
    if not ents:
        return m_add_tensor(rng, header, data)
    e = rng.choice(ents)[1]
    kv = field(e, rng.choice(["shape", "data_offsets"]))
    if kv is None or not is_array(kv[1]) or not kv[1]:
        return header, data, None
    i = rng.randrange(len(kv[1]))
    kv[1][i] = nudged_number(rng, kv[1][i])
    return header, data, None


def m_dtype(rng, header, data):
    ents = tensor_entries(header)
    if not ents:
        return header, data, None
    kv = field(rng.choice(ents)[1], "dtype")
    if kv is None:
        return header, data, None
    old = kv[1] if isinstance(kv[1], str) else "F32"
    kind = rng.randrange(4)
    if kind == 0:
        kv[1] = rng.choice(sorted(DTYPES))  # swapped: usually a size mismatch
    elif kind == 1:
        kv[1] = rng.choice([old.lower(), old + "X", old[:-1], "", "F128", " " + old, old + " ", old.capitalize(),
                            "float32", "F8_E4M3FN", "Q4_0", old + "\u0000"])
    elif kind == 2:
        kv[1] = escape_all(old)  # the same dtype, escaped: accepted
    else:
        kv[1] = rng.choice([1, None, True, [old], Obj([[old, None]]), Obj(), Raw("4.0")])
    return header, data, None


def m_drop_field(rng, header, data):
    ents = tensor_entries(header)
    if not ents:
        return header, data, None
    e = rng.choice(ents)[1]
    if e:
        del e[rng.randrange(len(e))]
    return header, data, None


def m_repeat_field(rng, header, data):
    ents = tensor_entries(header)
    if not ents:
        return header, data, None
    e = rng.choice(ents)[1]
    if not e:
        return header, data, None
    k, v = e[rng.randrange(len(e))]
    same = rng.random() < 0.5
    key = k if rng.random() < 0.7 else escape_all(k)
    e.insert(rng.randrange(len(e) + 1), [key, json_copy(v) if same else nudged_number(rng, 1)])
    return header, data, None


def m_repeat_tensor(rng, header, data):
    ents = tensor_entries(header)
    if not ents:
        return header, data, None
    name, e = rng.choice(ents)
    key = name if rng.random() < 0.6 else escape_all(name)
    header.insert(rng.randrange(len(header) + 1), [key, Obj([list(kv) for kv in e])])
    return header, data, None


def m_reorder(rng, header, data):
    rng.shuffle(header)
    for _, e in tensor_entries(header):
        if rng.random() < 0.5:
            rng.shuffle(e)
    return header, data, None


def random_json(rng, depth):
    if depth <= 0:
        return rng.choice([0, 1, "s", None, True, Raw("1.5e3"), Raw("-0"), Raw("1e400"), Raw("NaN"),
                           Raw("99999999999999999999999"), Raw("1e-400"), Raw('"\\ud800"'), Raw('"\\u0000"')])
    k = rng.randrange(3)
    if k == 0:
        return [random_json(rng, depth - 1) for _ in range(rng.randrange(3))]
    if k == 1:
        return Obj([["k%d" % i, random_json(rng, depth - 1)] for i in range(rng.randrange(3))])
    return random_json(rng, 0)


def nested_value(levels, objects):
    v = 1
    for _ in range(levels):
        v = Obj([["k", v]]) if objects else [v]
    return v


def m_unknown_field(rng, header, data):
    ents = tensor_entries(header)
    if not ents:
        return header, data, None
    e = rng.choice(ents)[1]
    if rng.random() < 0.3:
        # Nesting around the limit: the entry is level 2, its field's value level 3.
        total = rng.choice([120, 126, 127, 128, 129, 200])
        value = nested_value(total - 2, rng.random() < 0.5)
    else:
        value = random_json(rng, rng.randrange(4))
    e.insert(rng.randrange(len(e) + 1), [rng.choice(["extra", "x", "dtypes", "\u00e9", "offsets"]), value])
    return header, data, None


def m_escape_key(rng, header, data):
    ents = tensor_entries(header)
    if not ents:
        return header, data, None
    e = rng.choice(ents)[1]
    if e:
        kv = rng.choice(e)
        kv[0] = escape_all(kv[0]) if isinstance(kv[0], str) and not isinstance(kv[0], Raw) else kv[0]
    return header, data, None


def m_shape(rng, header, data):
    ents = tensor_entries(header)
    if not ents:
        return header, data, None
    kv = field(rng.choice(ents)[1], "shape")
    if kv is None or not is_array(kv[1]):
        return header, data, None
    s = kv[1]
    kind = rng.randrange(8)
    if kind == 0:
        s.append(1)
    elif kind == 1:
        s.insert(0, 0)
    elif kind == 2 and s:
        s.pop()
    elif kind == 3:
        kv[1] = []
    elif kind == 4:
        kv[1] = [U64 - 1, 2, 0]
    elif kind == 5:
        kv[1] = [0, U64 - 1, 2]
    elif kind == 6:
        kv[1] = s + [1] * 3
    else:
        kv[1] = rng.choice([0, "[]", None, Obj()])
    return header, data, None


def m_offsets(rng, header, data):
    ents = tensor_entries(header)
    if not ents:
        return header, data, None
    kv = field(rng.choice(ents)[1], "data_offsets")
    if kv is None or not is_array(kv[1]) or len(kv[1]) != 2:
        return header, data, None
    b, e = kv[1]
    kind = rng.randrange(6)
    if kind == 0:
        kv[1] = [e, b]
    elif kind == 1:
        kv[1] = [b]
    elif kind == 2:
        kv[1] = [b, e, e]
    elif kind == 3:
        k = rng.choice([1, 2, 8])
        kv[1] = [b + k, e + k] if isinstance(b, int) and isinstance(e, int) else kv[1]
    elif kind == 4:
        kv[1] = []
    else:
        kv[1] = Obj([["begin", b], ["end", e]])
    return header, data, None


def m_entry_form(rng, header, data):
    ents = tensor_entries(header)
    if not ents:
        return header, data, None
    pair = rng.choice(ents)
    e = pair[1]
    if rng.random() < 0.5:
        # Array spelling in field order dtype, shape, data_offsets (accepted by the reference: deviation 2).
        vals = [field(e, k)[1] if field(e, k) else None for k in ("dtype", "shape", "data_offsets")]
        pair[1] = vals
    else:
        pair[1] = rng.choice([None, 1, "U8", True, [], Obj()])
    return header, data, None


def m_rename(rng, header, data):
    ents = tensor_entries(header)
    if not ents:
        return header, data, None
    pair = rng.choice(ents)
    pair[0] = rng.choice(["", "\u0000", "__metadata__", "\u00e9", "a\u0000b", "\n", "\U0001F600", "x" * 300,
                          escape_all(pair[0]) if isinstance(pair[0], str) else "y",
                          Raw('"\\ud800"'), Raw('"\\udc00x"'), Raw('"a\\x"'), Raw('"\\u005f_metadata__"')])
    return header, data, None


def m_metadata(rng, header, data):
    meta = [e for e in header if e[0] == "__metadata__"]
    kind = rng.randrange(9)
    value = [None, Obj(), 1, "x", [], Obj([["k", 1]]), Obj([["k", None]]), Obj([["k", "v"], ["k", "w"]]),
             Obj([["k", "v"], ["\u00e9", "\U0001F600"], ["", ""]])][kind]
    if meta and rng.random() < 0.7:
        meta[0][1] = value
    elif meta and rng.random() < 0.5:
        header.remove(meta[0])
    else:
        key = "__metadata__" if rng.random() < 0.7 else Raw('"\\u005f_metadata__"')
        header.insert(rng.randrange(len(header) + 1), [key, value])
    return header, data, None


def m_remove_tensor(rng, header, data):
    ents = tensor_entries(header)
    if ents:
        header.remove(rng.choice(ents))
    return header, data, None


def m_add_tensor(rng, header, data):
    # A zero-size tensor at an existing boundary (valid), or one with bytes at the end.
    ends = [0] + [field(e, "data_offsets")[1][1] for _, e in tensor_entries(header)
                  if field(e, "data_offsets") and is_array(field(e, "data_offsets")[1])
                  and len(field(e, "data_offsets")[1]) == 2 and isinstance(field(e, "data_offsets")[1][1], int)]
    at = rng.choice(ends)
    if rng.random() < 0.5:
        entry = Obj([["dtype", "U8"], ["shape", [0]], ["data_offsets", [at, at]]])
    else:
        end = len(data)
        entry = Obj([["dtype", "U8"], ["shape", [3]], ["data_offsets", [end, end + 3]]])
        data = data + b"\x01\x02\x03"
    header.insert(rng.randrange(len(header) + 1), ["new%d" % rng.randrange(100), entry])
    return header, data, None


def float_near_limit(rng):
    """A number within a few units of the largest double, spelled in one of several
    ways: where serde_json (which the reference uses) and correct rounding disagree."""
    digits = "17976931348623157081452742373170435679807056752584499659891747680315726078002853876058955863"
    n = rng.randint(15, 40)
    d = list(digits[:n])
    for _ in range(rng.randint(0, 4)):
        i = rng.randrange(max(n - 6, 1), n)
        d[i] = str(rng.randrange(10))
    d = "".join(d)
    form = rng.randrange(4)
    if form == 0:
        s = d[0] + "." + d[1:] + "e308"
    elif form == 1:
        s = d[:2] + "." + d[2:] + "e307"
    elif form == 2:
        s = "0." + d + "e309"
    else:
        s = d + "e" + str(309 - len(d))
    return Raw(("-" if rng.random() < 0.3 else "") + s)


def m_float_edge(rng, header, data):
    ents = tensor_entries(header)
    if not ents:
        return header, data, None
    e = rng.choice(ents)[1]
    e.insert(rng.randrange(len(e) + 1), ["x", float_near_limit(rng) if rng.random() < 0.8 else [float_near_limit(rng)]])
    return header, data, None


STRUCTURAL = [m_number, m_number, m_number, m_dtype, m_dtype, m_drop_field, m_repeat_field, m_repeat_tensor,
              m_reorder, m_unknown_field, m_escape_key, m_shape, m_shape, m_offsets, m_offsets, m_entry_form,
              m_rename, m_metadata, m_metadata, m_remove_tensor, m_add_tensor, m_float_edge]


# --- text level ---------------------------------------------------------------------

def scan(text):
    """Positions in `text` (bytes of JSON): (just before/after a structural character
    outside strings, plain ASCII characters inside strings)."""
    structural, in_string = [], []
    inside, esc = False, False
    for i, c in enumerate(text):
        if inside:
            if esc:
                esc = False
            elif c == 0x5C:
                esc = True
            elif c == 0x22:
                inside = False
            elif c < 0x80:
                in_string.append(i)
        elif c == 0x22:
            inside = True
        elif c in b"{}[],:":
            structural += [i, i + 1]
    return structural or [0], in_string


def outside_string_positions(text):
    return scan(text)[0]


def string_positions(text):
    return scan(text)[1]


def t_mutate(rng, text):
    kind = rng.randrange(16)
    if kind == 0:  # valid whitespace between tokens
        i = rng.choice(outside_string_positions(text))
        return text[:i] + rng.choice([b" ", b"\t", b"\n", b"\r", b" \r\n\t "]) + text[i:]
    if kind == 1:  # not-JSON whitespace
        i = rng.choice(outside_string_positions(text))
        return text[:i] + rng.choice([b"\x0b", b"\x0c", b"\xc2\xa0", b"\x00", b"\xef\xbb\xbf"]) + text[i:]
    if kind == 2:  # around the object
        return rng.choice([b" \n", b"\t", b"\xef\xbb\xbf", b"\x00", b""]) + text + \
            rng.choice([b"", b"\n", b"x", b"{}", b"\x00\x00", b"}", b",", b"//c", b"  "])
    if kind == 3:  # trailing comma
        ps = [i for i in outside_string_positions(text) if i < len(text) and text[i] in b"}]"]
        if ps:
            i = rng.choice(ps)
            return text[:i] + b"," + text[i:]
        return text + b","
    if kind == 4:  # comment
        i = rng.choice(outside_string_positions(text))
        return text[:i] + rng.choice([b"/*c*/", b"//c\n", b"#c\n"]) + text[i:]
    if kind == 5:  # a character in a string replaced by its \u escape (same meaning)
        ps = string_positions(text)
        if ps:
            i = rng.choice(ps)
            return text[:i] + (b"\\u%04x" % text[i]) + text[i + 1:]
        return text
    if kind == 6:  # a bad escape or a raw control character in a string
        ps = string_positions(text)
        if ps:
            i = rng.choice(ps)
            bad = rng.choice([b"\\x41", b"\\u12", b"\\uZZZZ", b"\\ud800", b"\\udc00", b"\\ud800\\u0041", b"\\'",
                              b"\x01", b"\x1f", b"\t", b"\n", b"\\/", b"\\ud83d\\ude00", b"\\u0000"])
            return text[:i] + bad + text[i:]
        return text
    if kind == 7:  # bad UTF-8 in a string
        ps = string_positions(text)
        if ps:
            i = rng.choice(ps)
            bad = rng.choice([b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xf5\x80\x80\x80", b"\xff", b"\x80",
                              b"\xf4\x90\x80\x80", b"\xe0\x80\xaf", b"\xc3\xa9", b"\xf0\x9f\x98\x80", b"\x7f"])
            return text[:i] + bad + text[i:]
        return text
    if kind == 8:  # random byte replaced
        if text:
            i = rng.randrange(len(text))
            return text[:i] + bytes([rng.randrange(256)]) + text[i + 1:]
        return text
    if kind == 9:  # byte deleted
        if text:
            i = rng.randrange(len(text))
            return text[:i] + text[i + 1:]
        return text
    if kind == 10:  # byte inserted
        i = rng.randrange(len(text) + 1)
        return text[:i] + bytes([rng.choice(b'{}[],:" 0123456789-.eE\\tnfu')]) + text[i:]
    if kind == 11:  # header cut short
        return text[:rng.randrange(len(text) + 1)]
    if kind == 12:  # single quotes
        return text.replace(b'"', b"'", rng.randrange(1, 4))
    if kind == 13:  # a digit in a number changed
        ds = [i for i in outside_string_positions(text) if i < len(text) and text[i:i + 1].isdigit()]
        ds = ds or [i for i, c in enumerate(text) if chr(c).isdigit()]
        if ds:
            i = rng.choice(ds)
            return text[:i] + rng.choice([b"-", b"+", b"0", b"9", b".", b"e", b"00", b"18446744073709551616"]) + \
                text[i + 1:]
        return text
    if kind == 14:  # spaces padding changed (the prefix is recomputed: valid)
        return text.rstrip(b" ") + b" " * rng.randrange(0, 16)
    # leading whitespace (valid)
    return rng.choice([b" ", b"\n", b"\r\n", b"\t\t"]) + text


def file_mutate(rng, text, data):
    n = len(text)
    kind = rng.randrange(6)
    if kind == 0:  # length prefix moved
        d = rng.choice([-16, -8, -2, -1, 1, 2, 8, 16])
        return struct.pack("<Q", max(n + d, 0)) + text + data
    if kind == 1:  # absurd lengths
        big = rng.choice([0, 1, 7, U64 - 1, U64 - 8, U64 - 9, 2 ** 63, 100_000_000, 100_000_001, 2 ** 32])
        return struct.pack("<Q", big) + text + data
    if kind == 2:  # data truncated
        k = rng.randrange(1, len(data) + 1) if data else 0
        return struct.pack("<Q", n) + text + data[:len(data) - k]
    if kind == 3:  # data extended
        return struct.pack("<Q", n) + text + data + rng.choice([b"\x00", b"xyz", b"PK\x05\x06" + b"\x00" * 18,
                                                                 b"\x00" * 8])
    if kind == 4:  # whole file cut inside the prefix or the header
        full = struct.pack("<Q", n) + text + data
        return full[:rng.randrange(0, 8 + n + 1)]
    # header shortened but prefix kept: the data begins inside the JSON
    return struct.pack("<Q", n) + text[:max(n - rng.randrange(1, 9), 0)] + data


def make_mutant(seed, index, base_list):
    rng = random.Random(seed * 1_000_003 + index)
    base_index = rng.randrange(len(base_list))
    header, data = base_list[base_index]
    header = json_copy(header)
    ops = []
    layer = rng.random()
    n_ops = rng.choice([1, 1, 1, 2, 2, 3])
    if layer < 0.55:
        for _ in range(n_ops):
            op = rng.choice(STRUCTURAL)
            ops.append(op.__name__)
            header, data, _ = op(rng, header, data)
        return ops, base_index, serialize(header, data)
    text = dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    if layer < 0.85:
        for _ in range(n_ops):
            ops.append("t_mutate")
            text = t_mutate(rng, text)
        return ops, base_index, struct.pack("<Q", len(text)) + text + data
    ops.append("file_mutate")
    return ops, base_index, file_mutate(rng, text, data)


def json_copy(v):
    if isinstance(v, Raw):
        return v
    if isinstance(v, Obj):
        return Obj([[json_copy(k), json_copy(x)] for k, x in v])
    if isinstance(v, list):
        return [json_copy(x) for x in v]
    return v


# ---------------------------------------------------------------------------
# The two readers.

def reference_decision(path):
    """(accepted, detail). Accepted means safe_open succeeds and every tensor's bytes
    can be read (deserialize hands out each tensor's data)."""
    try:
        with safe_open(path, "np") as f:
            keys = set(f.keys())
    except Exception as e:  # noqa: BLE001 - any error is a rejection
        return False, f"safe_open: {type(e).__name__}: {str(e)[:160]}", None
    try:
        with open(path, "rb") as fh:
            content = fh.read()
        tensors = {name: (info["dtype"], list(info["shape"]), hashlib.sha256(bytes(info["data"])).hexdigest())
                   for name, info in safetensors.deserialize(content)}
    except Exception as e:  # noqa: BLE001
        return False, f"deserialize after a successful safe_open: {type(e).__name__}: {str(e)[:160]}", None
    if set(tensors) != keys:
        return False, "safe_open and deserialize list different tensors", None
    return True, "ok", tensors


def deviation_reasons(content):
    """The documented deviations present in a file the reference accepted: which
    sft error codes are then allowed."""
    allowed = set()
    n = struct.unpack("<Q", content[:8])[0]
    text = content[8:8 + n].decode("utf-8")

    class Pairs:  # an object with every pair kept, repeated keys included
        def __init__(self, pairs):
            self.pairs = pairs

    def hook(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            allowed.add("duplicate_key")
        return Pairs(pairs)

    header = json.loads(text, object_pairs_hook=hook)
    for name, entry in header.pairs:
        if name == "__metadata__":
            continue
        if isinstance(entry, list):
            allowed.add("bad_schema")
        elif isinstance(entry, Pairs) and any(k == "dtype" and not isinstance(v, str) for k, v in entry.pairs):
            allowed.add("bad_schema")
    return allowed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dump", required=True, help="path of the sft_dump helper")
    ap.add_argument("--work", required=True, help="directory for the mutants")
    ap.add_argument("--count", type=int, default=2500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="where to write disagreements (default WORK/disagreements.txt)")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    out_path = args.out or os.path.join(args.work, "disagreements.txt")

    base_list = bases()
    # The bases themselves must be valid for both.
    mutants = [(["base"], i, serialize(h, d)) for i, (h, d) in enumerate(base_list)]
    mutants += [make_mutant(args.seed, i, base_list) for i in range(args.count)]
    paths = []
    for i, (_, _, content) in enumerate(mutants):
        path = os.path.join(args.work, "m%05d.safetensors" % i)
        with open(path, "wb") as f:
            f.write(content)
        paths.append(path)

    answers = {mode: sft_driver.run_batch(args.dump, paths, mode) for mode in ("mmap", "pread", "memory")}

    stats = collections.Counter()
    sft_codes = collections.Counter()
    ops_seen = collections.Counter()
    problems = []
    for i, ((ops, base_index, content), path) in enumerate(zip(mutants, paths)):
        for op in ops:
            ops_seen[op] += 1
        ref_ok, ref_detail, ref_tensors = reference_decision(path)
        got = answers["mmap"][i]
        sft_ok = got["ok"]
        label = "m%05d (base %d, %s)" % (i, base_index, "+".join(ops))

        def report(why):
            problems.append(f"{label}: {why}\n  file: {path}\n  reference: {ref_detail}\n  sft: {json.dumps(got)}\n"
                            f"  bytes: {content[:600]!r}{' ...' if len(content) > 600 else ''}\n")

        for mode in ("pread", "memory"):
            other = answers[mode][i]
            if other["ok"] != sft_ok or other.get("error") != got.get("error"):
                report(f"sft decides differently in {mode} mode: {json.dumps(other)}")
        if got.get("error") == "crash":
            report("sft_dump crashed")
            stats["crash"] += 1
            continue
        if not sft_ok:
            sft_codes[got["error"]] += 1
        if ref_ok and sft_ok:
            stats["both accept"] += 1
            mine = {bytes.fromhex(t["name"]).decode("utf-8", "surrogatepass"): (t["dtype"], t["shape"], t["sha256"])
                    for t in got["tensors"]}
            if mine != ref_tensors:
                report(f"both accept but the tensors differ: sft {mine} reference {ref_tensors}")
        elif not ref_ok and not sft_ok:
            stats["both reject"] += 1
        elif ref_ok and not sft_ok:
            allowed = deviation_reasons(content)
            if got["error"] in allowed:
                stats["documented deviation (%s)" % got["error"]] += 1
            else:
                stats["DISAGREE: reference accepts, sft rejects"] += 1
                report(f"reference accepts, sft rejects with {got['error']} (allowed deviations here: "
                       f"{sorted(allowed) or 'none'})")
        else:
            stats["DISAGREE: reference rejects, sft accepts"] += 1
            report("reference rejects, sft accepts")

    print(f"differential: {len(mutants)} files ({len(base_list)} bases + {args.count} mutants, seed {args.seed}); "
          f"safetensors {safetensors.__version__}")
    for k, v in sorted(stats.items()):
        print(f"  {k}: {v}")
    print("  sft error codes: " + ", ".join(f"{k} {v}" for k, v in sorted(sft_codes.items())))
    print("  mutations: " + ", ".join(f"{k} {v}" for k, v in sorted(ops_seen.items())))
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("".join(problems) if problems else "no disagreements\n")
    if problems:
        print(f"FAIL: {len(problems)} problems, listed in {out_path}")
        for p in problems[:5]:
            print(p)
        return 1
    print(f"no disagreements (written to {out_path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
