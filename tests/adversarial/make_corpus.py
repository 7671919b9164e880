#!/usr/bin/env python3
"""Generate the adversarial corpus: hand-made hostile safetensors files.

Writes tests/adversarial/files/<name>.safetensors and
tests/adversarial/expectations.tsv, one line per file:

    file  errc  offset  tensor  reference  what

errc       the sft::Errc name sft must return ("ok" for the few positive
           controls that sit right next to a boundary);
offset     the byte offset the error must carry, or "-" where not checked;
tensor     the tensor the error must name (JSON-escaped, "" quoted), or "-";
reference  what the reference package (Python `safetensors`) does with the
           file: "reject", or "accept" — for sft errors that are documented
           deviations (docs/security.md) and for the positive controls;
what       a sentence.

Files larger than a few kilobytes (headers near 100 MB, a million tensors) are
not committed: tests/adversarial_test.cpp builds them at test time.

    python3 tests/adversarial/make_corpus.py           # (re)write the corpus
    python3 tests/adversarial/make_corpus.py --check   # exit 1 if it is stale
"""
import argparse
import json
import os
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
U64_MAX = 2 ** 64 - 1

CASES = []


def le(n):
    return struct.pack("<Q", n)


def raw(header, data=b"", n=None):
    """8-byte length (of header, or n), header bytes, data bytes."""
    h = header.encode() if isinstance(header, str) else header
    return le(len(h) if n is None else n) + h + data


def entry(dtype="U8", shape=(1,), offsets=(0, 1), extra=""):
    shape_s = ",".join(str(d) for d in shape)
    return '{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]%s}' % (dtype, shape_s, offsets[0], offsets[1], extra)


def one(name, ent, data=b"a"):
    """A header holding one tensor `name` with the entry text `ent`."""
    return raw('{"%s":%s}' % (name, ent), data)


VALID = '{"w":%s}' % entry("F32", (2,), (0, 8))
VALID_FILE = raw(VALID, bytes(range(8)))


LAYOUT = ("bad_offsets", "size_overflow", "misaligned_subbyte", "size_mismatch")


def case(name, data, errc, offset="-", tensor="-", reference=None, what="", at=None):
    """One file. The expected offset is `offset`, or found in the header:
    at=(needle, nth, delta) is the nth occurrence of needle, plus delta bytes.
    Without either, errors about a tensor's layout point at its name (the
    first occurrence of its key) and incomplete_buffer at the first byte where
    the file and the data_offsets part ways."""
    if reference is None:
        reference = "accept" if errc == "ok" else "reject"
    n = struct.unpack("<Q", data[:8])[0] if len(data) >= 8 else 0
    header = data[8:8 + n]
    if at is not None:
        needle, nth, delta = (at + (0, 0))[:3] if isinstance(at, tuple) else (at, 0, 0)
        needle = needle.encode() if isinstance(needle, str) else needle
        pos = -1
        for _ in range(nth + 1):
            pos = header.index(needle, pos + 1)
        offset = 8 + pos + delta
    elif offset == "-" and errc in LAYOUT and tensor != "-":
        offset = 8 + header.index(('"%s":' % tensor).encode())
    elif offset == "-" and errc == "incomplete_buffer":
        doc = json.loads(header)
        end = max((v["data_offsets"][1] for k, v in doc.items() if k != "__metadata__"), default=0)
        offset = min(len(data), 8 + n + end)
    CASES.append((name, data, errc, str(offset), tensor, reference, what))


def hdr_off(text, needle, nth=0):
    """File offset of the nth occurrence of `needle` in the header text."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    return 8 + len(text[:at].encode())


def build():
    # --- the length prefix -------------------------------------------------
    case("len_empty_file", b"", "header_too_small", 0, what="zero bytes")
    case("len_seven_bytes", b"\x02\0\0\0\0\0\0", "header_too_small", 0, what="7 bytes, one short of the prefix")
    case("len_zero", le(0), "invalid_json", 8, what="N = 0: an empty header is not a JSON object")
    case("len_past_end", raw("{}", n=100), "header_length", 0, what="N = 100 in a 10-byte file")
    case("len_u64_max", raw("{}", n=U64_MAX), "header_too_large", 0,
         what="N = 2^64-1: 8 + N wraps around to 7 if computed carelessly")
    case("len_u64_max_minus_7", raw("{}", n=U64_MAX - 7), "header_too_large", 0,
         what="N = 2^64-8: 8 + N wraps to exactly 0")
    case("len_2pow63", raw("{}", n=2 ** 63), "header_too_large", 0, what="N = 2^63 (negative as i64)")
    case("len_2pow32_plus_2", raw("{}", n=2 ** 32 + 2), "header_too_large", 0,
         what="N = 2^32 + 2: 2 when truncated to 32 bits, which would parse '{}'")
    case("len_limit_plus_one", raw("{}", n=100_000_001), "header_too_large", 0,
         what="N = 100,000,001, one past the limit, in a 10-byte file")
    case("len_limit_short_file", raw("{}", n=100_000_000), "header_length", 0,
         what="N = 100,000,000 (allowed) but the file is 10 bytes")
    vf = VALID.encode()
    case("len_one_short", le(len(vf) - 1) + vf + bytes(8), "invalid_json",
         what="N one byte short: the closing brace falls into the data")
    case("len_one_long", le(len(vf) + 1) + vf + b"x" + bytes(7), "invalid_json", 8 + len(vf),
         what="N one byte long: a data byte becomes trailing JSON")

    # --- UTF-8 -----------------------------------------------------------------
    def bad_name(seq):
        text = b'{"a' + seq + b'b":' + entry().encode() + b"}"
        return raw(text, b"a"), 8 + 3
    for nm, seq, what in [
        ("utf8_lone_continuation", b"\x80", "a continuation byte with no lead byte"),
        ("utf8_overlong_2byte", b"\xc0\xaf", "'/' encoded in two bytes (overlong)"),
        ("utf8_overlong_3byte", b"\xe0\x80\xaf", "'/' encoded in three bytes (overlong)"),
        ("utf8_overlong_4byte", b"\xf0\x80\x80\xaf", "'/' encoded in four bytes (overlong)"),
        ("utf8_surrogate", b"\xed\xa0\x80", "U+D800 encoded directly (surrogates are not scalar values)"),
        ("utf8_above_max", b"\xf4\x90\x80\x80", "U+110000, past the last code point"),
        ("utf8_byte_ff", b"\xff", "0xFF never occurs in UTF-8"),
        ("utf8_truncated_seq", b"\xe2\x82", "a three-byte sequence cut after two bytes"),
    ]:
        data, off = bad_name(seq)
        case(nm, data, "invalid_utf8", off, what=what + ", inside a tensor name")
    meta = b'{"__metadata__":{"k":"v\xc3"},"a":' + entry().encode() + b"}"
    case("utf8_in_metadata_value", raw(meta, b"a"), "invalid_utf8", 8 + meta.index(b"\xc3"),
         what="a metadata value ending in half a two-byte sequence")
    trail = b"{}  \xa0"
    case("utf8_in_trailing_space", raw(trail), "invalid_utf8", 8 + 4,
         what="a stray byte in the whitespace after the object (checked before JSON)")
    case("utf8_bom", raw(b"\xef\xbb\xbf{}"), "invalid_json", 8,
         what="a byte-order mark before the object (valid UTF-8, not JSON whitespace)")

    # --- JSON syntax ------------------------------------------------------------
    # The offset is that of the first byte that cannot be valid JSON there (the
    # needle column; END: the end of the header), except for unclosed structures.
    E = entry()
    for nm, text, needle, what in [
        ("json_trailing_comma_object", '{"a":%s,}' % E, ",}", "a comma before the closing brace"),
        ("json_trailing_comma_array", '{"a":{"dtype":"U8","shape":[1,],"data_offsets":[0,1]}}', ",]",
         "shape [1,]"),
        ("json_single_quotes", "{'a':%s}" % E, "'", "single-quoted key"),
        ("json_line_comment", '{"a":%s}//x' % E, "//", "a // comment after the object"),
        ("json_block_comment", '{/*x*/"a":%s}' % E, "/*", "a /* */ comment inside the object"),
        ("json_nan", '{"a":%s}' % entry(extra=',"x":NaN'), "NaN", "NaN in an ignored field"),
        ("json_infinity", '{"a":%s}' % entry(extra=',"x":-Infinity'), "-Infinity", "-Infinity in an ignored field"),
        ("json_raw_tab_in_string", '{"a\tb":%s}' % E, "\t", "a raw tab inside a key"),
        ("json_raw_newline_in_string", '{"__metadata__":{"k":"line\nbreak"},"a":%s}' % E, "\n", "a raw LF in a value"),
        ("json_bad_escape", '{"a\\x41":%s}' % E, "\\", "\\x is not a JSON escape"),
        ("json_short_unicode_escape", '{"a\\u00":%s}' % E, "\\", "\\u with two hex digits"),
        ("json_lone_high_surrogate", '{"a\\ud800":%s}' % E, "\\", "\\ud800 with no low surrogate"),
        ("json_lone_low_surrogate", '{"a\\udc00":%s}' % E, "\\", "\\udc00 on its own"),
        ("json_high_then_letter", '{"a\\ud800\\u0041":%s}' % E, "\\", "\\ud800 followed by \\u0041"),
        ("json_trailing_garbage", '{"a":%s} x' % E, "x", "a letter after the object"),
        ("json_two_objects", '{"a":%s}{}' % E, "{}", "two objects back to back"),
        ("json_unterminated_string", '{"a":%s,"b' % E, "END", "the header ends inside a string"),
        ("json_unclosed_object", '{"a":%s' % E, None, "the closing brace is missing"),
        ("json_missing_colon", '{"a" %s}' % E, "{", "no colon between key and value"),
        ("json_uppercase_literal", '{"__metadata__":NULL,"a":%s}' % E, "NULL", "NULL instead of null"),
        ("json_whitespace_only", "        ", None, "eight spaces"),
        ("json_plus_sign", '{"a":{"dtype":"U8","shape":[+1],"data_offsets":[0,1]}}', "+", "+1"),
        ("json_leading_zero", '{"a":{"dtype":"U8","shape":[01],"data_offsets":[0,1]}}', "01", "01"),
        ("json_hex_number", '{"a":{"dtype":"U8","shape":[0x1],"data_offsets":[0,1]}}', "x1", "0x1"),
        ("json_form_feed_whitespace", '\f{"a":%s}' % E, "\f", "form feed is not JSON whitespace"),
        ("json_vertical_tab_whitespace", '{"a":%s}\v' % E, "\v", "vertical tab is not JSON whitespace"),
        ("json_nul_padding", '{"a":%s}' % E + "\0\0\0", "\0", "NUL bytes padding the header"),
    ]:
        if needle == "END":  # the end of the header
            off = 8 + len(text.encode())
        elif needle == "{":  # the entry's brace, after the key
            off = hdr_off(text, "{", 1)
        elif needle == ",}" or needle == ",]":
            off = hdr_off(text, needle) + 1
        else:
            off = hdr_off(text, needle) if needle else "-"
        case(nm, raw(text, b"a"), "invalid_json", off, what=what)

    # --- nesting -----------------------------------------------------------------
    def nested(levels, obj=False):
        # the top-level object is level 1; an ignored field holds levels - 2 more
        inner = levels - 2
        val = ('{"k":' * inner + "0" + "}" * inner) if obj else ("[" * inner + "]" * inner)
        return raw('{"a":%s}' % entry(extra=',"x":' + val), b"a")
    # The error points at the bracket or brace that opens level 128: the 126th
    # of the chain after "x": (levels 1 and 2 are the top object and the entry).
    arr128, obj128 = ('"x":', 0, 4 + 125), ('"x":', 0, 4 + 5 * 125)
    case("depth_128_arrays", nested(128), "nesting_too_deep", at=arr128,
         what="128 levels: one past serde_json's limit")
    case("depth_128_objects", nested(128, obj=True), "nesting_too_deep", at=obj128, what="128 levels of objects")
    case("depth_127_accepted", nested(127), "ok", what="exactly 127 levels are accepted")
    case("depth_20k_arrays", nested(20_000), "nesting_too_deep", at=arr128,
         what="20,000 nested arrays: must fail by depth, without exhausting a stack")
    case("depth_10k_objects", nested(10_000, obj=True), "nesting_too_deep", at=obj128,
         what="10,000 nested objects inside an ignored field")

    # --- schema --------------------------------------------------------------------
    # Offsets: the offending value; a missing field: the tensor's name.
    KEY_A, VAL_A = ('"a":',), ('"a":', 0, 4)
    VAL_DTYPE, VAL_SHAPE, VAL_OFFS = ('"dtype":', 0, 8), ('"shape":', 0, 8), ('"data_offsets":', 0, 15)
    VAL_META, VAL_K = ('"__metadata__":', 0, 15), ('"k":', 0, 4)
    for nm, at, text, code, tensor, ref, what in [
        ("schema_top_level_array", ("[]",), "[]", "bad_schema", "-", "reject", "the header is an array"),
        ("schema_top_level_string", ('"{}"',), '"{}"', "bad_schema", "-", "reject", "the header is a string"),
        ("schema_entry_array_form", VAL_A, '{"a":["U8",[1],[0,1]]}', "bad_schema", "a", "accept",
         "an entry spelled as an array (the reference's JSON library takes it: deviation)"),
        ("schema_entry_string", VAL_A, '{"a":"U8"}', "bad_schema", "a", "reject", "an entry that is a string"),
        ("schema_entry_null", VAL_A, '{"a":null}', "bad_schema", "a", "reject", "an entry that is null"),
        ("schema_missing_dtype", KEY_A, '{"a":{"shape":[1],"data_offsets":[0,1]}}', "bad_schema", "a", "reject", "no dtype"),
        ("schema_missing_shape", KEY_A, '{"a":{"dtype":"U8","data_offsets":[0,1]}}', "bad_schema", "a", "reject", "no shape"),
        ("schema_missing_offsets", KEY_A, '{"a":{"dtype":"U8","shape":[1]}}', "bad_schema", "a", "reject", "no data_offsets"),
        ("schema_dtype_number", VAL_DTYPE, '{"a":{"dtype":8,"shape":[1],"data_offsets":[0,1]}}', "bad_schema", "a", "reject",
         "dtype 8"),
        ("schema_dtype_map_form", VAL_DTYPE, '{"a":{"dtype":{"U8":null},"shape":[1],"data_offsets":[0,1]}}', "bad_schema", "a",
         "accept", "dtype spelled as a map (an enum form the reference's JSON library takes: deviation)"),
        ("schema_dtype_lowercase", VAL_DTYPE, '{"a":{"dtype":"u8","shape":[1],"data_offsets":[0,1]}}', "unknown_dtype", "a",
         "reject", "lower-case dtype name"),
        ("schema_dtype_unknown", VAL_DTYPE, '{"a":{"dtype":"F8_E4M3FN","shape":[1],"data_offsets":[0,1]}}', "unknown_dtype",
         "a", "reject", "a dtype name torch uses but safetensors does not"),
        ("schema_dtype_trailing_space", VAL_DTYPE, '{"a":{"dtype":"U8 ","shape":[1],"data_offsets":[0,1]}}', "unknown_dtype",
         "a", "reject", "'U8 '"),
        ("schema_dtype_nul", VAL_DTYPE, '{"a":{"dtype":"U8\\u0000","shape":[1],"data_offsets":[0,1]}}', "unknown_dtype",
         "a", "reject", "'U8' followed by an escaped NUL (C-string comparison would accept it)"),
        ("schema_shape_number", VAL_SHAPE, '{"a":{"dtype":"U8","shape":1,"data_offsets":[0,1]}}', "bad_schema", "a", "reject",
         "shape 1 instead of [1]"),
        ("schema_shape_map", VAL_SHAPE, '{"a":{"dtype":"U8","shape":{"0":1},"data_offsets":[0,1]}}', "bad_schema", "a",
         "reject", "shape as a map"),
        ("schema_offsets_three", VAL_OFFS, '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,1]}}', "bad_schema", "a",
         "reject", "three data offsets"),
        ("schema_offsets_one", VAL_OFFS, '{"a":{"dtype":"U8","shape":[1],"data_offsets":[1]}}', "bad_schema", "a",
         "reject", "one data offset"),
        ("schema_offsets_map", VAL_OFFS, '{"a":{"dtype":"U8","shape":[1],"data_offsets":{"b":0,"e":1}}}', "bad_schema", "a",
         "reject", "data offsets as a map"),
        ("schema_metadata_string", VAL_META, '{"__metadata__":"x","a":%s}' % E, "bad_schema", "-", "reject",
         "__metadata__ is a string"),
        ("schema_metadata_array", VAL_META, '{"__metadata__":[],"a":%s}' % E, "bad_schema", "-", "reject",
         "__metadata__ is an array"),
        ("schema_metadata_number_value", VAL_K, '{"__metadata__":{"k":1},"a":%s}' % E, "bad_schema", "-", "reject",
         "a metadata value that is a number"),
        ("schema_metadata_nested", VAL_K, '{"__metadata__":{"k":{"x":"y"}},"a":%s}' % E, "bad_schema", "-", "reject",
         "a metadata value that is an object"),
        ("schema_metadata_escaped_tensor", VAL_SHAPE, '{"\\u005f_metadata__":%s,"a":%s}' % (E, E), "bad_schema", "-", "reject",
         "an escaped __metadata__ holding a tensor entry: it is metadata, not a tensor"),
    ]:
        case(nm, raw(text, b"a"), code, tensor=tensor, reference=ref, what=what, at=at)

    # --- integers ------------------------------------------------------------------
    # The offset is that of the offending token (the needle column).
    for nm, shape_s, offs_s, needle, what in [
        ("int_negative", "-1", "0,1", "shape", "shape [-1]"),
        ("int_negative_zero", "-0", "0,1", "shape", "shape [-0]"),
        ("int_fraction", "1.0", "0,1", "shape", "shape [1.0]"),
        ("int_exponent", "1e0", "0,1", "shape", "shape [1e0]"),
        ("int_exponent_upper", "1E0", "0,1", "shape", "shape [1E0]"),
        ("int_2pow64", "18446744073709551616", "0,1", "shape", "2^64, one past u64"),
        ("int_2pow64_in_offsets", "1", "0,18446744073709551616", "off1", "data_offsets end 2^64"),
        ("int_huge", "1" + "0" * 40, "0,1", "shape", "a 41-digit number"),
        ("int_string", '"1"', "0,1", "shape", "shape [\"1\"]"),
        ("int_bool", "true", "0,1", "shape", "shape [true]"),
        ("int_null_offset", "1", "0,null", "off1", "data_offsets [0,null]"),
        ("int_negative_offset", "1", "-1,0", "off0", "data_offsets [-1,0]"),
        ("int_float_offset", "1", "0,1.5", "off1", "data_offsets [0,1.5]"),
    ]:
        text = '{"a":{"dtype":"U8","shape":[%s],"data_offsets":[%s]}}' % (shape_s, offs_s)
        at = {"shape": ('"shape":[', 0, 9), "off0": ('"data_offsets":[', 0, 16),
              "off1": ('"data_offsets":[', 0, 16 + len(offs_s.split(",")[0]) + 1)}[needle]
        case(nm, raw(text, b"a"), "bad_integer", tensor="a", what=what, at=at)

    # --- shapes and sizes ----------------------------------------------------------------
    for nm, dt, shape, offs, code, what in [
        ("shape_count_overflow", "U8", (2 ** 32, 2 ** 32), (0, 0), "size_overflow", "2^32 x 2^32 elements"),
        ("shape_count_wraps_to_zero", "U8", (2 ** 63, 2), (0, 0), "size_overflow",
         "2^63 x 2 elements: wraps to exactly 0, which would match data_offsets [0,0]"),
        ("shape_bits_wrap_to_zero", "U32", (2 ** 62,), (0, 0), "size_overflow",
         "2^62 U32 elements: the bit count 2^67 wraps to exactly 0"),
        ("shape_bits_overflow", "F64", (2 ** 61,), (0, 0), "size_overflow", "2^61 F64 elements: 2^67 bits"),
        ("shape_zero_after_overflow", "U8", (U64_MAX, 2, 0), (0, 0), "size_overflow",
         "[2^64-1, 2, 0]: the reference multiplies left to right and overflows before the 0"),
        ("shape_zero_before_huge", "U8", (0, U64_MAX, 2), (0, 0), "ok",
         "[0, 2^64-1, 2]: zero first, so the reference accepts it"),
        ("shape_subbyte_f4_odd", "F4", (3,), (0, 2), "misaligned_subbyte", "3 F4 elements: 12 bits"),
        ("shape_subbyte_f6", "F6_E2M3", (3,), (0, 3), "misaligned_subbyte", "3 F6 elements: 18 bits"),
        ("shape_size_too_big", "F32", (2,), (0, 4), "size_mismatch", "F32 [2] in 4 bytes"),
        ("shape_size_too_small", "F32", (1,), (0, 8), "size_mismatch", "F32 [1] in 8 bytes"),
        ("shape_scalar_mismatch", "F64", (), (0, 4), "size_mismatch", "an F64 scalar in 4 bytes"),
        ("shape_bits_overflow_f32", "F32", (2 ** 61,), (0, 2 ** 63), "size_overflow",
         "2^61 F32 elements: the byte count 2^63 fits, the bit count 2^66 does not"),
        ("shape_exabyte_consistent", "U8", (2 ** 60,), (0, 2 ** 60), "incomplete_buffer",
         "a consistent 1 EiB tensor in a tiny file: rejected by size, never allocated"),
    ]:
        data = bytes(offs[1]) if offs[1] < 64 else b""
        case(nm, raw('{"a":%s}' % entry(dt, shape, offs), data), code, tensor="a" if code not in ("ok", "incomplete_buffer") else "-", what=what)
    case("shape_rank_10000", raw('{"a":{"dtype":"U8","shape":[%s],"data_offsets":[0,1]}}' % ",".join(["1"] * 10000), b"a"),
         "ok", what="10,000 dimensions of 1: valid, and must not be slow")

    # --- offsets ---------------------------------------------------------------------
    def two(o1, o2, data):
        return raw('{"a":%s,"b":%s}' % (entry("U8", (o1[1] - o1[0],), o1), entry("U8", (o2[1] - o2[0],), o2)), data)
    case("off_not_from_zero", raw('{"a":%s}' % entry("U8", (1,), (1, 2)), b"ab"), "bad_offsets", tensor="a",
         what="the only tensor starts at 1")
    case("off_gap", two((0, 2), (3, 5), b"abcde"), "bad_offsets", tensor="b", what="a one-byte gap")
    case("off_overlap", two((0, 3), (2, 5), b"abcde"), "bad_offsets", tensor="b", what="a one-byte overlap")
    case("off_same_range", two((0, 2), (0, 2), b"ab"), "bad_offsets", tensor="b",
         what="two tensors on the same bytes (aliasing)")
    case("off_end_before_begin", raw('{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}', b"abcd"),
         "bad_offsets", tensor="a", what="end < begin (a negative size if subtracted unchecked)")
    case("off_nested_inside", raw('{"a":%s,"b":%s}' % (entry("U8", (4,), (0, 4)), entry("U8", (2,), (1, 3))), b"abcd"),
         "bad_offsets", tensor="b", what="one tensor inside another")
    case("off_zero_size_at_end_ok", raw('{"a":%s,"z":%s}' % (entry("U8", (2,), (0, 2)), entry("U8", (0,), (2, 2))), b"ab"),
         "ok", what="a zero-size tensor at the end of the buffer is fine")
    big = 2 ** 61 - 1  # the most U8 elements whose bit count fits in 64 bits
    ents = ['"t%d":%s' % (i, entry("U8", (big,), (i * big, (i + 1) * big))) for i in range(8)]
    ents.append('"t8":%s' % entry("U8", (7,), (8 * big, U64_MAX)))
    case("off_u64_max_end", raw("{%s}" % ",".join(ents)), "incomplete_buffer",
         what="nine consistent tensors ending at 2^64-1: 8 + N + end overflows if added unchecked")

    # --- the data buffer, truncation, polyglots ---------------------------------------
    case("buf_truncated", VALID_FILE[:-1], "incomplete_buffer", what="the last data byte is missing")
    case("buf_truncated_to_header", VALID_FILE[: 8 + len(VALID)], "incomplete_buffer", what="no data at all")
    case("buf_trailing_byte", VALID_FILE + b"\0", "incomplete_buffer", what="one byte after the data")
    zip_tail = (b"PK\x03\x04" + bytes(26) + b"PK\x01\x02" + bytes(42) + b"PK\x05\x06" + bytes(18))
    case("polyglot_zip_appended", VALID_FILE + zip_tail, "incomplete_buffer",
         what="a ZIP archive appended: a file that is also a valid ZIP")
    pickle_tail = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03."
    case("polyglot_pickle_appended", VALID_FILE + pickle_tail, "incomplete_buffer",
         what="a pickle calling os.system appended (sft never unpickles anything)")
    case("polyglot_pickle_prefix", pickle_tail + VALID_FILE, "header_too_large", 0,
         what="a pickle in front: its first 8 bytes read as a huge length")
    case("polyglot_zip_prefix", b"PK\x03\x04" + bytes(4) + VALID_FILE, "header_length", 0,
         what="a ZIP local header in front: 0x04034b50 bytes of header announced")
    case("polyglot_npy", b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }" + b" " * 53 + b"\n" + bytes(8),
         "header_too_large", 0, what="a .npy file: its magic read as a length")

    # --- duplicates ---------------------------------------------------------------------
    case("dup_tensor", raw('{"a":%s,"a":%s}' % (entry("U8", (1,), (0, 1)), entry("U8", (1,), (0, 1))), b"a"),
         "duplicate_key", tensor="a", reference="accept", at=('"a":', 1),
         what="one tensor name twice (the reference keeps the last: deviation)")
    case("dup_tensor_different", raw('{"a":%s,"a":%s}' % (entry("U8", (2,), (0, 2)), entry("U16", (1,), (0, 2))), b"ab"),
         "duplicate_key", tensor="a", reference="accept", at=('"a":', 1),
         what="one name, two meanings: U8 [2] then U16 [1] over the same bytes (deviation)")
    case("dup_tensor_escaped", raw('{"a":%s,"\\u0061":%s}' % (entry(), entry()), b"a"),
         "duplicate_key", tensor="a", reference="accept", at='"\\u0061"',
         what="\"a\" and \"\\u0061\": equal after unescaping (deviation)")
    case("dup_field_dtype", raw('{"a":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}}', b"a"),
         "duplicate_key", tensor="a", at=('"dtype"', 1), what="dtype twice in one entry")
    case("dup_field_escaped", raw('{"a":{"dtype":"U8","\\u0064type":"I8","shape":[1],"data_offsets":[0,1]}}', b"a"),
         "duplicate_key", tensor="a", at='"\\u0064type"', what="dtype and \\u0064type in one entry")
    case("dup_metadata_section", raw('{"__metadata__":{},"__metadata__":{"k":"v"},"a":%s}' % E, b"a"),
         "duplicate_key", at=('"__metadata__"', 1), what="__metadata__ twice")
    case("dup_metadata_key", raw('{"__metadata__":{"k":"v","k":"w"},"a":%s}' % E, b"a"),
         "duplicate_key", reference="accept", at=('"k"', 1),
         what="one metadata key twice (the reference keeps the last: deviation)")
    case("dup_unknown_field", raw('{"a":%s}' % entry(extra=',"x":1,"x":2'), b"a"), "duplicate_key", tensor="a",
         reference="accept", at=('"x"', 1), what="an ignored field twice (deviation)")
    case("dup_in_ignored_object", raw('{"a":%s}' % entry(extra=',"x":{"y":1,"y":2}'), b"a"), "duplicate_key",
         reference="accept", at=('"y"', 1), what="a key twice deep inside an ignored field (deviation)")

    # --- counts -------------------------------------------------------------------------
    n = 1000
    many = ",".join('"t%d":%s' % (i, entry("U8", (0,), (0, 0))) for i in range(n))
    case("count_1000_zero_size", raw("{%s}" % many), "ok",
         what="1,000 zero-size tensors all at offset 0 (legal: they share no bytes)")
    many_dup = many + ',"t17":%s' % entry("U8", (0,), (0, 0))
    case("count_1000_one_duplicate", raw("{%s}" % many_dup), "duplicate_key", tensor="t17",
         reference="accept", at=('"t17":', 1), what="1,001 entries, the last repeating an early name (deviation)")
    many_bad = many + ',"zz":%s' % entry("U8", (1,), (0, 1))
    case("count_1000_then_one_byte", raw("{%s}" % many_bad, b"a"), "ok",
         what="1,000 zero-size tensors and one byte: valid, the zero-size ones sort first")
    many_gap = many + ',"zz":%s' % entry("U8", (1,), (1, 2))
    case("count_1000_gap_at_end", raw("{%s}" % many_gap, b"ab"), "bad_offsets", tensor="zz",
         what="1,000 tensors and one that starts at 1")


def write(out_dir):
    files_dir = os.path.join(out_dir, "files")
    os.makedirs(files_dir, exist_ok=True)
    for old in os.listdir(files_dir):
        os.remove(os.path.join(files_dir, old))
    lines = ["# file\terrc\toffset\ttensor\treference\twhat   (generated by make_corpus.py: do not edit)"]
    seen = set()
    for name, data, errc, off, tensor, ref, what in CASES:
        assert name not in seen, name
        seen.add(name)
        with open(os.path.join(files_dir, name + ".safetensors"), "wb") as f:
            f.write(data)
        t = tensor if tensor == "-" else json.dumps(tensor)
        lines.append("\t".join([name + ".safetensors", errc, off, t, ref, what]))
    with open(os.path.join(out_dir, "expectations.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")


def tree(d):
    out = {}
    for root, _, files in os.walk(d):
        for fn in files:
            p = os.path.join(root, fn)
            with open(p, "rb") as f:
                out[os.path.relpath(p, d)] = f.read()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true", help="compare with the committed corpus instead of writing")
    args = ap.parse_args()
    build()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            write(tmp)
            want = tree(tmp)
            have = {k: v for k, v in tree(HERE).items() if k.startswith("files" + os.sep) or k == "expectations.tsv"}
            if want != have:
                stale = sorted(set(want) ^ set(have)) + sorted(k for k in want if k in have and want[k] != have[k])
                print("adversarial corpus is stale; rerun make_corpus.py:", ", ".join(stale[:10]))
                return 1
            print("adversarial corpus matches make_corpus.py (%d files)" % (len(want) - 1))
            return 0
    write(HERE)
    hostile = sum(1 for c in CASES if c[2] != "ok")
    print("wrote %d files (%d hostile, %d positive controls)" % (len(CASES), hostile, len(CASES) - hostile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
