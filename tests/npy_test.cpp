// Unit tests of the .npy reader (bounded dict literal, dtypes, conversion) and writer.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "sft/npy.hpp"
#include "test_support.hpp"

using namespace sft;

namespace {

// A .npy file: magic, version, length, `dict` (no padding added), then `data`.
std::vector<std::byte> npy_file(std::string_view dict, std::string_view data = {}, unsigned major = 1) {
  std::string s = "\x93NUMPY";
  s += static_cast<char>(major);
  s += '\0';
  const std::size_t len = dict.size();
  const int len_bytes = major == 1 ? 2 : 4;
  for (int i = 0; i < len_bytes; ++i) s += static_cast<char>((len >> (8 * i)) & 0xff);
  s += dict;
  s += data;
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

Result<NpyHeader> parse(const std::vector<std::byte>& f) { return parse_npy_header(f, f.size()); }

Errc code_of(const std::vector<std::byte>& f) {
  auto r = parse(f);
  return r.ok() ? Errc::ok : r.error().code;
}

std::string std_dict(std::string_view descr, std::string_view shape, bool fortran = false) {
  return "{'descr': '" + std::string(descr) + "', 'fortran_order': " + (fortran ? "True" : "False") +
         ", 'shape': " + std::string(shape) + ", }";
}

}  // namespace

TEST(NpyRead, WhatNumpyWrites) {
  // Byte-for-byte what numpy 2.4 np.save writes for zeros((2, 3), float32).
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  dict.append(118 - dict.size() - 1, ' ');
  dict += '\n';
  auto f = npy_file(dict, std::string(24, '\0'));
  ASSERT_EQ(f.size(), 128u + 24u);
  auto h = parse(f);
  ASSERT_TRUE(h.ok()) << h.error().to_string();
  EXPECT_EQ(h->major_version, 1u);
  EXPECT_EQ(h->descr, "<f4");
  EXPECT_EQ(h->dtype, DType::F32);
  EXPECT_EQ(h->item_size, 4u);
  EXPECT_FALSE(h->big_endian);
  EXPECT_FALSE(h->fortran_order);
  EXPECT_EQ(h->shape, (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(h->data_offset, 128u);
  EXPECT_EQ(h->data_size, 24u);
  EXPECT_FALSE(h->needs_conversion());
}

TEST(NpyRead, EveryDtype) {
  struct Case {
    const char* descr;
    std::optional<DType> dtype;
    unsigned size;
  };
  const Case cases[] = {{"<f2", DType::F16, 2}, {"<f4", DType::F32, 4}, {"<f8", DType::F64, 8},
                        {"|i1", DType::I8, 1},  {"<i2", DType::I16, 2}, {"<i4", DType::I32, 4},
                        {"<i8", DType::I64, 8}, {"|u1", DType::U8, 1},  {"<u2", DType::U16, 2},
                        {"<u4", DType::U32, 4}, {"<u8", DType::U64, 8}, {"|b1", DType::BOOL, 1},
                        {"<c8", DType::C64, 8}, {"<V2", std::nullopt, 2}, {"|V1", std::nullopt, 1}, {"<f1", std::nullopt, 1},
                        {"f4", DType::F32, 4},  {"=i8", DType::I64, 8}, {">f8", DType::F64, 8}};
  for (const auto& c : cases) {
    auto f = npy_file(std_dict(c.descr, "(3,)"), std::string(3 * c.size, 'x'));
    auto h = parse(f);
    ASSERT_TRUE(h.ok()) << c.descr << ": " << h.error().to_string();
    EXPECT_EQ(h->dtype, c.dtype) << c.descr;
    EXPECT_EQ(h->item_size, c.size) << c.descr;
    EXPECT_EQ(h->big_endian, c.descr[0] == '>') << c.descr;
  }
}

TEST(NpyRead, LiteralVariantsNumpyAccepts) {
  const char* dicts[] = {
      "{\"descr\": \"<i4\", \"fortran_order\": False, \"shape\": (2, 2)}",  // double quotes, no trailing comma
      "{'shape': (2, 2), 'fortran_order': False, 'descr': '<i4'}\n",        // any key order
      "{'descr':'<i4','fortran_order':False,'shape':(2,2,),}   \n",         // no spaces, trailing commas
      "{'descr': '<i4', 'fortran_order': False, 'shape': (2L, 2L), }",      // Python 2 longs
      "  {'descr': '<i4', 'fortran_order': False, 'shape': ( 2 , 2 ) }  ",
  };
  for (const char* d : dicts) {
    auto h = parse(npy_file(d, std::string(16, 'a')));
    ASSERT_TRUE(h.ok()) << d << ": " << h.error().to_string();
    EXPECT_EQ(h->shape, (std::vector<std::uint64_t>{2, 2})) << d;
    EXPECT_EQ(h->dtype, DType::I32);
  }
  auto scalar = parse(npy_file(std_dict("<f8", "()"), std::string(8, 'a')));
  ASSERT_TRUE(scalar.ok());
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(scalar->data_size, 8u);
  auto empty = parse(npy_file(std_dict("<f8", "(0, 5)")));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->data_size, 0u);
  for (unsigned v : {2u, 3u}) {
    auto h = parse(npy_file(std_dict("<u2", "(4,)"), std::string(8, 'a'), v));
    ASSERT_TRUE(h.ok()) << v;
    EXPECT_EQ(h->major_version, v);
    EXPECT_EQ(h->data_offset, 12 + std_dict("<u2", "(4,)").size());
  }
}

TEST(NpyRead, UnsupportedDtypes) {
  for (const char* descr : {"|O", "<U10", "|S5", "<M8[ns]", "<m8", "<f16", "<c16", "<i16", "|b2", "<x4", "<f"}) {
    auto r = parse(npy_file(std_dict(descr, "(1,)"), std::string(16, 'a')));
    ASSERT_FALSE(r.ok()) << descr;
    EXPECT_EQ(r.error().code, Errc::npy_unsupported) << descr;
  }
  auto structured = parse(npy_file("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }"));
  ASSERT_FALSE(structured.ok());
  EXPECT_EQ(structured.error().code, Errc::npy_unsupported);
}

TEST(NpyRead, MalformedHeaders) {
  const std::string data4(4, 'a');
  auto bad = [](const std::vector<std::byte>& f, const char* why) {
    EXPECT_EQ(code_of(f), Errc::npy_bad_header) << why;
  };
  auto good = npy_file(std_dict("<f4", "(1,)"), data4);
  ASSERT_TRUE(parse(good).ok());
  auto magic = good;
  magic[1] = std::byte{'X'};
  bad(magic, "bad magic");
  auto version = good;
  version[6] = std::byte{4};
  bad(version, "version 4");
  version[6] = std::byte{1};
  version[7] = std::byte{1};
  bad(version, "minor version 1");
  bad(std::vector<std::byte>(good.begin(), good.begin() + 9), "short preamble");
  bad(std::vector<std::byte>(good.begin(), good.begin() + 20), "header past the end");
  bad(std::vector<std::byte>(good.begin(), good.end() - 1), "truncated data");
  auto trailing = good;
  trailing.push_back(std::byte{0});
  bad(trailing, "trailing data");
  bad(npy_file("{'descr': '<f4', 'fortran_order': False}", data4), "missing shape");
  bad(npy_file("{'descr': '<f4', 'shape': (1,)}", data4), "missing fortran_order");
  bad(npy_file("{'fortran_order': False, 'shape': (1,)}", data4), "missing descr");
  bad(npy_file("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", data4), "duplicate key");
  bad(npy_file(std_dict("<f4", "(1,)").insert(1, "'extra': 1, "), data4), "unknown key");
  bad(npy_file(std_dict("<f4", "(1)"), data4), "(1) is not a tuple");
  bad(npy_file(std_dict("<f4", "[1]"), data4), "list shape");
  bad(npy_file(std_dict("<f4", "(-1,)"), data4), "negative");
  bad(npy_file(std_dict("<f4", "(01,)"), data4), "leading zero");
  bad(npy_file(std_dict("<f4", "(1.0,)"), data4), "float");
  bad(npy_file(std_dict("<f4", "(99999999999999999999,)"), data4), "overflow");
  bad(npy_file(std_dict("<f4", "(4294967296, 4294967296)"), data4), "count overflow");
  bad(npy_file(std_dict("<f4", "(1,)").replace(std_dict("<f4", "(1,)").find("False"), 5, "0"), data4),
      "fortran_order 0");
  bad(npy_file(std_dict("<f4", "(1,)").replace(std_dict("<f4", "(1,)").find("False"), 5, "Falsey"), data4),
      "fortran_order Falsey");
  bad(npy_file("{'descr': '<f4\\n', 'fortran_order': False, 'shape': (1,)}", data4), "escape");
  bad(npy_file("{'descr': '<f4", data4), "unterminated");
  bad(npy_file("{'descr': '<f4\n', 'fortran_order': False, 'shape': (1,)}", data4), "newline in a string");
  bad(npy_file(std_dict("<f4", "(1,)") + " x", data4), "bytes after the dict");
  bad(npy_file(std_dict("<f4", "(1,)").substr(1), data4), "no brace");
  bad(npy_file("{'descr': '\xc3\xa9', 'fortran_order': False, 'shape': (1,)}", data4), "non-ASCII in v1");
  std::string deep = "(";
  for (int i = 0; i < 65; ++i) deep += "1,";
  bad(npy_file(std_dict("|u1", deep + ")"), std::string(1, 'a')), "rank 65");
  // A length over the bound is refused before anything is read.
  auto huge = npy_file("{}", "", 2);
  huge[8] = std::byte{0};
  huge[9] = std::byte{0};
  huge[10] = std::byte{0x20};  // 2 MiB
  bad(huge, "header over 1 MiB");
}

TEST(NpyRead, ErrorsCarryTheByteOffset) {
  auto f = npy_file("{'descr': '<f4', 'fortran_order': Nope, 'shape': (1,)}", std::string(4, 'a'));
  auto r = parse(f);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().offset, 10u + std::string("{'descr': '<f4', 'fortran_order': ").size());
}

TEST(NpyConvert, BigEndianIsSwapped) {
  std::string be = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
  auto f = npy_file(std_dict(">u4", "(2,)"), be);
  auto h = parse(f);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->needs_conversion());
  std::vector<std::byte> out(8);
  ASSERT_TRUE(npy_to_c_order(*h, std::span<const std::byte>(f).subspan(h->data_offset), out).ok());
  const unsigned char want[] = {4, 3, 2, 1, 8, 7, 6, 5};
  EXPECT_EQ(std::memcmp(out.data(), want, 8), 0);

  // Complex: each float of the pair on its own.
  auto c = npy_file(std_dict(">c8", "(1,)"), be);
  auto hc = parse(c);
  ASSERT_TRUE(hc.ok());
  ASSERT_TRUE(npy_to_c_order(*hc, std::span<const std::byte>(c).subspan(hc->data_offset), out).ok());
  EXPECT_EQ(std::memcmp(out.data(), want, 8), 0);

  // One-byte items and raw bytes have no byte order.
  auto b = npy_file(std_dict(">V2", "(4,)"), be);
  auto hb = parse(b);
  ASSERT_TRUE(hb.ok());
  EXPECT_FALSE(hb->needs_conversion());
}

TEST(NpyConvert, FortranOrderIsTransposed) {
  // A 2x3x2 array of u2 whose value is its C-order index, stored in Fortran order.
  const std::uint64_t d0 = 2, d1 = 3, d2 = 2;
  std::string data(d0 * d1 * d2 * 2, '\0');
  for (std::uint64_t i = 0; i < d0; ++i)
    for (std::uint64_t j = 0; j < d1; ++j)
      for (std::uint64_t k = 0; k < d2; ++k) {
        std::uint64_t c = (i * d1 + j) * d2 + k;
        std::uint64_t f = i + d0 * (j + d1 * k);
        data[f * 2] = static_cast<char>(c);
      }
  auto file = npy_file(std_dict("<u2", "(2, 3, 2)", true), data);
  auto h = parse(file);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->needs_conversion());
  std::vector<std::byte> out(data.size());
  ASSERT_TRUE(npy_to_c_order(*h, std::span<const std::byte>(file).subspan(h->data_offset), out).ok());
  for (std::size_t i = 0; i < 12; ++i) EXPECT_EQ(std::to_integer<std::size_t>(out[2 * i]), i);

  // Fortran order with one dimension above 1 is already C order.
  auto flat = parse(npy_file(std_dict("<u2", "(1, 6, 1)", true), data.substr(0, 12)));
  ASSERT_TRUE(flat.ok());
  EXPECT_FALSE(flat->needs_conversion());
}

TEST(NpyWrite, LayoutOfEveryDtype) {
  std::vector<std::uint64_t> shape{2, 4};
  EXPECT_EQ(npy_layout(DType::F32, shape).descr, "<f4");
  EXPECT_EQ(npy_layout(DType::BOOL, shape).descr, "|b1");
  EXPECT_EQ(npy_layout(DType::C64, shape).descr, "<c8");
  EXPECT_EQ(npy_layout(DType::BF16, shape).descr, "<u2");
  EXPECT_EQ(npy_layout(DType::BF16, shape).shape, shape);
  EXPECT_EQ(npy_layout(DType::F8_E4M3, shape).descr, "|u1");
  EXPECT_EQ(npy_layout(DType::F4, shape).shape, (std::vector<std::uint64_t>{2, 2}));
  EXPECT_EQ(npy_layout(DType::F6_E2M3, shape).shape, (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(npy_layout(DType::F4, std::vector<std::uint64_t>{2, 3}).shape, (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(npy_layout(DType::F6_E3M2, std::vector<std::uint64_t>{4, 2}).shape, (std::vector<std::uint64_t>{6}));
  // Every dtype's layout parses back with the same item width and byte count.
  for (int t = 0; t < dtype_count; ++t) {
    DType d = static_cast<DType>(t);
    auto l = npy_layout(d, shape);
    auto pre = npy_preamble(l);
    EXPECT_EQ(pre.size() % 64, 0u) << name(d);
    const std::uint64_t bytes = 8 * bits(d) / 8;
    pre.resize(pre.size() + bytes, std::byte{1});
    auto h = parse_npy_header(pre, pre.size());
    ASSERT_TRUE(h.ok()) << name(d) << ": " << h.error().to_string();
    EXPECT_EQ(h->data_size, bytes) << name(d);
    EXPECT_EQ(h->descr, l.descr);
    EXPECT_EQ(h->shape, l.shape);
  }
}

TEST(NpyWrite, PreambleMatchesNumpyForCommonShapes) {
  auto text = [](const std::vector<std::byte>& b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); };
  std::vector<std::uint64_t> scalar{}, one{5}, two{2, 3};
  auto p = text(npy_preamble({"<f4", two}));
  EXPECT_EQ(p.substr(0, 10), std::string("\x93NUMPY\x01\x00\x76\x00", 10));
  EXPECT_EQ(p.substr(10, 59), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
  EXPECT_EQ(p.size(), 128u);
  EXPECT_EQ(p.back(), '\n');
  EXPECT_NE(text(npy_preamble({"<f8", one})).find("'shape': (5,), }"), std::string::npos);
  EXPECT_NE(text(npy_preamble({"<f8", scalar})).find("'shape': (), }"), std::string::npos);
}

TEST(NpyWrite, WriteNpyRoundTrips) {
  auto dir = test::temp_dir("npy_write");
  std::vector<std::byte> data(24);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i);
  std::vector<std::uint64_t> shape{3, 2};
  ASSERT_TRUE(write_npy(dir / "a.npy", DType::I32, shape, data).ok());
  auto f = test::read_all(dir / "a.npy");
  auto h = parse_npy_header(f, f.size());
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->dtype, DType::I32);
  EXPECT_EQ(h->shape, shape);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), f.begin() + static_cast<std::ptrdiff_t>(h->data_offset)));
  auto r = write_npy(dir / "b.npy", DType::I32, shape, std::span<const std::byte>(data).first(20));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::data_size_mismatch);
  EXPECT_FALSE(std::filesystem::exists(dir / "b.npy"));
}

TEST(NpyWrite, StreamingWriteMatchesAndStopsOnAFillError) {
  auto dir = test::temp_dir("npy_write_stream");
  std::vector<std::uint64_t> shape{5, 7};
  std::vector<std::byte> data(5 * 7 * 4);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 13 + 1);
  ASSERT_TRUE(write_npy(dir / "whole.npy", DType::F32, shape, data).ok());
  // Pieces of 9 bytes, requested in order, never more than the chunk.
  std::uint64_t expect_at = 0;
  auto fill = [&](std::uint64_t offset, std::span<std::byte> out) -> Result<void> {
    EXPECT_EQ(offset, expect_at);
    EXPECT_LE(out.size(), 9u);
    std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(offset), out.size(), out.begin());
    expect_at += out.size();
    return {};
  };
  ASSERT_TRUE(write_npy(dir / "streamed.npy", DType::F32, shape, data.size(), fill, 9).ok());
  EXPECT_EQ(expect_at, data.size());
  EXPECT_EQ(test::read_all(dir / "streamed.npy"), test::read_all(dir / "whole.npy"));
  // The source fails halfway: its error comes back unchanged, nothing is left.
  auto failing = [&](std::uint64_t offset, std::span<std::byte> out) -> Result<void> {
    if (offset >= 50) return Error(Errc::io_error, "the input shrank", 1234, "w");
    std::fill(out.begin(), out.end(), std::byte{0});
    return {};
  };
  auto r = write_npy(dir / "failed.npy", DType::F32, shape, data.size(), failing, 16);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::io_error);
  EXPECT_EQ(r.error().offset, 1234u);
  EXPECT_EQ(r.error().tensor, "w");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()), 2);
  // A size that disagrees with the shape is refused before anything is written.
  auto bad = write_npy(dir / "bad.npy", DType::F32, shape, data.size() - 4, fill, 9);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::data_size_mismatch);
  EXPECT_FALSE(std::filesystem::exists(dir / "bad.npy"));
}
