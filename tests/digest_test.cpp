// XXH3-128 digests: the hash itself, tensors and files in every File mode,
// the embedded "sft.xxh3_128" metadata, and verification.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sft/compressed.hpp"
#include "sft/digest.hpp"
#include "sft/file.hpp"
#include "sft/writer.hpp"
#include "file_internals.hpp"
#include "synthetic_file.hpp"
#include "test_support.hpp"
#include "integrity/xxh3.hpp"

namespace sft {
namespace {

using test::SyntheticTensor;

std::vector<std::byte> random_bytes(std::size_t n, std::uint32_t seed) {
  std::vector<std::byte> v(n);
  std::mt19937 rng(seed);
  for (auto& b : v) b = static_cast<std::byte>(rng() & 0xff);
  return v;
}

TEST(Xxh3, KnownValues) {
  // XXH3-128 of no bytes (xxHash's reference value, as xxh128sum prints it).
  EXPECT_EQ(xxh3_128({}).hex(), "99aa06d3014798d86001c324468d497f");
  Xxh3Hasher h;
  EXPECT_EQ(h.digest().hex(), "99aa06d3014798d86001c324468d497f");
}

TEST(Xxh3, DispatchedKernelMatchesBaseline) {
  const auto& fast = detail::xxh3_kernel();
  const auto& base = detail::xxh3_baseline_kernel();
  auto data = random_bytes(300000, 1);
  // Every length class of XXH3: 0-16, 17-128, 129-240, long inputs, block edges.
  for (std::size_t n : {0, 1, 3, 4, 8, 9, 16, 17, 100, 128, 129, 200, 240, 241, 1024, 1025, 4096, 65536, 299999}) {
    std::uint64_t a[2], b[2];
    fast.oneshot(data.data(), n, a);
    base.oneshot(data.data(), n, b);
    EXPECT_EQ(a[0], b[0]) << n;
    EXPECT_EQ(a[1], b[1]) << n;
  }
}

TEST(Xxh3, StreamingEqualsOneShot) {
  auto data = random_bytes(1 << 20, 2);
  std::mt19937 rng(3);
  for (int round = 0; round < 20; ++round) {
    const std::size_t n = rng() % data.size();
    Xxh3Hasher h;
    for (std::size_t p = 0; p < n;) {
      std::size_t k = std::min<std::size_t>(n - p, rng() % 5000);
      h.update({data.data() + p, k});
      p += k;
    }
    EXPECT_EQ(h.digest(), xxh3_128({data.data(), n})) << n;
    h.reset();
    h.update({data.data(), 10});
    EXPECT_EQ(h.digest(), xxh3_128({data.data(), 10}));
  }
}

TEST(Xxh3, DifferentBytesDifferentDigests) {
  auto data = random_bytes(4096, 4);
  const Digest128 d = xxh3_128(data);
  data[1234] ^= std::byte{1};
  EXPECT_NE(xxh3_128(data), d);
}

TEST(Digest128, HexRoundTrip) {
  Digest128 d{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  EXPECT_EQ(d.hex(), "0123456789abcdeffedcba9876543210");
  EXPECT_EQ(Digest128::from_hex(d.hex()), d);
  EXPECT_EQ(Digest128::from_hex("0123456789ABCDEFFEDCBA9876543210"), d);
  EXPECT_FALSE(Digest128::from_hex("0123456789abcdeffedcba987654321"));    // 31 digits
  EXPECT_FALSE(Digest128::from_hex("0123456789abcdeffedcba98765432100"));  // 33
  EXPECT_FALSE(Digest128::from_hex("0123456789abcdeffedcba987654321g"));
  EXPECT_FALSE(Digest128::from_hex(""));
}

std::vector<std::byte> model_file(const std::string& metadata = {}) {
  return test::synthetic_file({{"zero.first", DType::F32, {0}},
                               {"embed", DType::BF16, {100, 64}},
                               {"bias", DType::F32, {33}},
                               {"mid.empty", DType::U8, {0}},
                               {"mask", DType::BOOL, {5}},
                               {"last.empty", DType::I64, {0, 3}}},
                              metadata);
}

// The digest of every tensor computed straight from its bytes.
void expect_digests_of(const File& f, const std::vector<std::byte>& original) {
  auto plain = File::from_memory(original);
  ASSERT_TRUE(plain);
  auto all = hash_all(f);
  ASSERT_TRUE(all) << all.error().to_string();
  EXPECT_EQ(all->file, xxh3_128(original));
  auto each = hash_tensors(f, {.threads = 3});
  ASSERT_TRUE(each) << each.error().to_string();
  ASSERT_EQ(all->tensors.size(), plain->header().size());
  ASSERT_EQ(each->size(), plain->header().size());
  for (std::size_t i = 0; i < all->tensors.size(); ++i) {
    const TensorInfo& t = plain->header().tensors()[i];
    const Digest128 want = xxh3_128(plain->view(t)->bytes());
    EXPECT_EQ(all->tensors[i].name, t.name);
    EXPECT_EQ(all->tensors[i].digest, want) << t.name;
    EXPECT_EQ((*each)[i].name, t.name);
    EXPECT_EQ((*each)[i].digest, want) << t.name;
    auto one = hash_tensor(f, f.header().tensors()[i]);
    ASSERT_TRUE(one);
    EXPECT_EQ(*one, want);
  }
  auto whole = hash_file(f);
  ASSERT_TRUE(whole);
  EXPECT_EQ(*whole, xxh3_128(original));
}

TEST(HashFile, EveryModeGivesTheSameDigests) {
  auto original = model_file();
  auto dir = test::temp_dir("digest_modes");
  test::write_all(dir / "m.safetensors", original);
  {
    SCOPED_TRACE("memory");
    auto f = File::from_memory(original);
    ASSERT_TRUE(f);
    expect_digests_of(*f, original);
  }
  {
    SCOPED_TRACE("mmap");
    auto f = File::open(dir / "m.safetensors");
    ASSERT_TRUE(f);
    expect_digests_of(*f, original);
  }
  {
    SCOPED_TRACE("pread");
    auto f = File::open(dir / "m.safetensors", {.mode = ReadMode::pread});
    ASSERT_TRUE(f);
    expect_digests_of(*f, original);
  }
  if (compression_available()) {
    SCOPED_TRACE("compressed");
    auto plain = File::from_memory(original);
    auto z = compress(*plain, {.frame_bytes = 1000, .byte_planes = true});
    ASSERT_TRUE(z);
    test::write_all(dir / "m.zst", *z);
    auto f = File::open(dir / "m.zst");
    ASSERT_TRUE(f);
    ASSERT_TRUE(f->compressed());
    expect_digests_of(*f, original);
  }
}

TEST(HashFile, LargeFileOnSeveralThreads) {
  // Above the size where hash_tensors starts threads; tensor sizes vary so
  // that the largest-first order matters.
  std::vector<SyntheticTensor> ts;
  for (int i = 0; i < 12; ++i) ts.push_back({"t" + std::to_string(i), DType::BF16, {std::uint64_t(1000 + 97000 * i)}});
  auto original = test::synthetic_file(ts);
  ASSERT_GT(original.size(), std::size_t{8} << 20);
  auto f = File::from_memory(original);
  ASSERT_TRUE(f);
  auto par = hash_tensors(*f, {.threads = 4});
  auto seq = hash_tensors(*f, {.threads = 1});
  ASSERT_TRUE(par && seq);
  for (std::size_t i = 0; i < par->size(); ++i) {
    EXPECT_EQ((*par)[i].digest, (*seq)[i].digest);
    EXPECT_EQ((*par)[i].digest, xxh3_128(f->view(f->header().tensors()[i])->bytes()));
  }
  // hash_all: the fused single pass and the file-beside-tensors threads agree.
  auto fused = hash_all(*f, {.threads = 1});
  auto split = hash_all(*f, {.threads = 4});
  ASSERT_TRUE(fused && split);
  EXPECT_EQ(fused->file, xxh3_128(original));
  EXPECT_EQ(split->file, fused->file);
  ASSERT_EQ(split->tensors.size(), fused->tensors.size());
  for (std::size_t i = 0; i < fused->tensors.size(); ++i) {
    EXPECT_EQ(split->tensors[i].name, fused->tensors[i].name);
    EXPECT_EQ(split->tensors[i].digest, fused->tensors[i].digest);
  }
}

// ---- the "sft.xxh3_128" value -----------------------------------------------------

TEST(DigestTable, ParsesAFlatObject) {
  const std::string a(32, 'a'), b = "0123456789abcdeffedcba9876543210";
  auto t = DigestTable::parse(" {\"w\":\"" + a + "\", \"q\\\"uote\\u00e9\" : \"" + b + "\"} ");
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ(t->size(), 2u);
  ASSERT_NE(t->find("w"), nullptr);
  EXPECT_EQ(t->find("w")->hex(), a);
  ASSERT_NE(t->find("q\"uote\xc3\xa9"), nullptr);
  EXPECT_EQ(t->find("q\"uote\xc3\xa9")->hex(), b);
  EXPECT_EQ(t->find("x"), nullptr);
  auto empty = DigestTable::parse("{}");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->size(), 0u);
}

TEST(DigestTable, RejectsWhatIsNotADigestObject) {
  const std::string h(32, '0');
  for (std::string bad : {std::string("[]"), std::string("\"x\""), std::string("{\"a\":1}"),
                          "{\"a\":\"" + h + "\",\"a\":\"" + h + "\"}", "{\"a\":\"" + h.substr(1) + "\"}",
                          "{\"a\":\"" + h + "0\"}", std::string("{\"a\":\"zz\"}"), std::string("{\"a\":[\"x\"]}"),
                          std::string("{\"a\""), std::string(""), std::string("{\"a\":\"\xff\"}"),
                          "{\"a\":{\"b\":\"" + h + "\"}}"}) {
    auto t = DigestTable::parse(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().code, Errc::bad_digest) << bad << ": " << t.error().to_string();
  }
  // The error names the tensor when it can.
  auto t = DigestTable::parse("{\"a\":\"" + h + "\",\"b\":\"nothex\"}");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().tensor, "b");
}

// A file whose metadata records the digests of its own tensors (computed
// from a first build with the same deterministic contents). `edit` may change
// the recorded table before it is embedded.
std::vector<std::byte> file_with_digests(void (*edit)(std::string& json) = nullptr) {
  auto plain = model_file();
  auto f = File::from_memory(plain);
  EXPECT_TRUE(f);
  auto d = hash_tensors(*f);
  EXPECT_TRUE(d);
  std::string json = "{";
  for (const auto& td : *d) {
    if (json.size() > 1) json += ",";
    json += "\"" + std::string(td.name) + "\":\"" + td.digest.hex() + "\"";
  }
  json += "}";
  if (edit) edit(json);
  // As a JSON string inside the header: escape the quotes.
  std::string escaped;
  for (char c : json) {
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return model_file("{\"format\":\"pt\",\"sft.xxh3_128\":\"" + escaped + "\"}");
}

TEST(Verify, MatchingDigests) {
  auto bytes = file_with_digests();
  auto f = File::from_memory(bytes);
  ASSERT_TRUE(f) << f.error().to_string();
  EXPECT_TRUE(verify(*f)) << verify(*f).error().to_string();
  auto rep = check_digests(*f);
  ASSERT_TRUE(rep);
  EXPECT_TRUE(rep->ok());
  EXPECT_EQ(rep->checked, f->header().size());
  for (const TensorInfo& t : f->header().tensors()) EXPECT_TRUE(verify(*f, t.name)) << t.name;
}

TEST(Verify, ADamagedTensorIsNamed) {
  auto bytes = file_with_digests();
  auto f0 = File::from_memory(bytes);
  ASSERT_TRUE(f0);
  const TensorInfo* bias = f0->header().find("bias");
  bytes[static_cast<std::size_t>(f0->header().data_start() + bias->data_offsets.begin + 5)] ^= std::byte{0x10};
  auto f = File::from_memory(bytes);
  ASSERT_TRUE(f);
  auto rep = check_digests(*f);
  ASSERT_TRUE(rep);
  EXPECT_FALSE(rep->ok());
  EXPECT_EQ(rep->mismatched, std::vector<std::string>{"bias"});
  auto v = verify(*f);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, Errc::digest_mismatch);
  EXPECT_EQ(v.error().tensor, "bias");
  auto one = verify(*f, "bias");
  ASSERT_FALSE(one);
  EXPECT_EQ(one.error().code, Errc::digest_mismatch);
  EXPECT_TRUE(verify(*f, "embed"));
  EXPECT_EQ(verify(*f, "nope").error().code, Errc::not_found);
}

TEST(Verify, UnlistedAndAbsentTensors) {
  // One tensor's digest removed and a digest for a tensor that does not exist.
  auto bytes = file_with_digests([](std::string& json) {
    auto at = json.find("\"mask\":");
    json.replace(at, 5, "\"ghost");
  });
  auto f = File::from_memory(bytes);
  ASSERT_TRUE(f) << f.error().to_string();
  auto rep = check_digests(*f);
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->unlisted, std::vector<std::string>{"mask"});
  EXPECT_EQ(rep->absent, std::vector<std::string>{"ghost"});
  EXPECT_TRUE(rep->mismatched.empty());
  EXPECT_EQ(verify(*f).error().code, Errc::digest_mismatch);  // absent outranks unlisted
  auto one = verify(*f, "mask");
  ASSERT_FALSE(one);
  EXPECT_EQ(one.error().code, Errc::no_digest);
  EXPECT_EQ(one.error().tensor, "mask");
}

TEST(Verify, NoDigestsAndBadDigests) {
  auto plain = model_file();
  auto f = File::from_memory(plain);
  ASSERT_TRUE(f);
  EXPECT_EQ(verify(*f).error().code, Errc::no_digest);
  EXPECT_EQ(verify(*f, "bias").error().code, Errc::no_digest);
  auto bad = model_file("{\"sft.xxh3_128\":\"not json\"}");
  auto g = File::from_memory(bad);
  ASSERT_TRUE(g);
  EXPECT_EQ(verify(*g).error().code, Errc::bad_digest);
}

TEST(Verify, OneTensorOfACompressedFileDecodesOnlyItsFrames) {
  if (!compression_available()) GTEST_SKIP() << "sft was built without zstd";
  auto bytes = file_with_digests();
  auto plain = File::from_memory(bytes);
  ASSERT_TRUE(plain);
  auto z = compress(*plain, {.frame_bytes = 512});
  ASSERT_TRUE(z);
  auto path = test::temp_dir("digest_lazy") / "m.zst";
  test::write_all(path, *z);
  auto f = File::open(path);
  ASSERT_TRUE(f);
  const detail::CompressedSource* r = test::decoder(*f);
  const std::uint64_t before = r->frames_decompressed();
  ASSERT_TRUE(verify(*f, "bias"));
  // "bias" is 132 bytes: one frame, or two when it straddles a boundary.
  EXPECT_GE(r->frames_decompressed() - before, 1u);
  EXPECT_LE(r->frames_decompressed() - before, 2u);
  EXPECT_GT(r->frames().size(), 20u);
  EXPECT_TRUE(verify(*f));
}

}  // namespace
}  // namespace sft

namespace sft {
namespace {

TEST(EmbedDigests, TheCopyVerifiesAndKeepsEverythingElse) {
  auto dir = test::temp_dir("digest_embed");
  auto original = model_file("{\"format\":\"pt\",\"sft.xxh3_128\":\"stale\"}");
  test::write_all(dir / "in.safetensors", original);
  for (ReadMode mode : {ReadMode::mmap, ReadMode::pread}) {
    auto in = File::open(dir / "in.safetensors", {.mode = mode});
    ASSERT_TRUE(in);
    ASSERT_TRUE(embed_digests(*in, dir / "out.safetensors")) << "mode " << int(mode);
    auto out = File::open(dir / "out.safetensors");
    ASSERT_TRUE(out) << out.error().to_string();
    EXPECT_TRUE(verify(*out)) << verify(*out).error().to_string();
    // Same tensors, same order, same bytes; the stale digests replaced, the rest kept.
    ASSERT_EQ(out->header().size(), in->header().size());
    for (std::size_t i = 0; i < in->header().size(); ++i) {
      const TensorInfo& a = in->header().tensors()[i];
      const TensorInfo& b = out->header().tensors()[i];
      EXPECT_EQ(a.name, b.name);
      EXPECT_EQ(a.data_offsets, b.data_offsets);
      std::vector<std::byte> x(static_cast<std::size_t>(a.byte_size()));
      ASSERT_TRUE(in->read(a, x));
      auto y = out->view(b)->bytes();
      EXPECT_TRUE(std::equal(x.begin(), x.end(), y.begin(), y.end()));
    }
    ASSERT_NE(out->header().metadata_value("format"), nullptr);
    EXPECT_EQ(*out->header().metadata_value("format"), "pt");
    EXPECT_EQ(out->header().metadata().size(), 2u);
    auto table = DigestTable::of(out->header());
    ASSERT_TRUE(table);
    EXPECT_EQ(table->size(), in->header().size());
  }
}

TEST(EmbedDigests, KeepsAnAlignedDataBuffer) {
  auto dir = test::temp_dir("digest_embed_aligned");
  std::vector<std::byte> w(4096 * 3);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<std::byte>(i * 7);
  WriterOptions wo;
  wo.alignment = 4096;
  Writer writer(wo);
  ASSERT_TRUE(writer.add("w", DType::F32, {3, 1024}, w));
  ASSERT_TRUE(writer.write_file(dir / "aligned.safetensors"));
  auto in = File::open(dir / "aligned.safetensors");
  ASSERT_TRUE(in);
  ASSERT_EQ(in->header().data_start() % 4096, 0u);
  ASSERT_TRUE(embed_digests(*in, dir / "out.safetensors"));
  auto out = File::open(dir / "out.safetensors");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->header().data_start() % 4096, 0u);
  EXPECT_TRUE(verify(*out));
}

TEST(EmbedDigests, FromACompressedCheckpoint) {
  if (!compression_available()) GTEST_SKIP() << "sft was built without zstd";
  auto dir = test::temp_dir("digest_embed_z");
  auto original = model_file();
  auto plain = File::from_memory(original);
  ASSERT_TRUE(plain);
  ASSERT_TRUE(compress_file(*plain, dir / "m.zst", {.frame_bytes = 700}));
  auto z = File::open(dir / "m.zst");
  ASSERT_TRUE(z);
  ASSERT_TRUE(embed_digests(*z, dir / "out.safetensors"));
  auto out = File::open(dir / "out.safetensors");
  ASSERT_TRUE(out);
  EXPECT_FALSE(out->compressed());
  EXPECT_TRUE(verify(*out));
  // And the digests survive compressing the copy.
  ASSERT_TRUE(compress_file(*out, dir / "out.zst"));
  auto oz = File::open(dir / "out.zst");
  ASSERT_TRUE(oz);
  EXPECT_TRUE(verify(*oz));
}

TEST(EmbedDigests, FormatIsACompactJsonObjectInDataOrder) {
  const Digest128 a{1, 2}, b{0xffffffffffffffffULL, 0};
  std::vector<TensorDigest> d = {{"x", a}, {"we\"ird\n", b}};
  EXPECT_EQ(format_digest_metadata(d),
            "{\"x\":\"00000000000000010000000000000002\",\"we\\\"ird\\n\":\"ffffffffffffffff0000000000000000\"}");
  auto t = DigestTable::parse(format_digest_metadata(d));
  ASSERT_TRUE(t);
  EXPECT_EQ(*t->find("we\"ird\n"), b);
}

}  // namespace
}  // namespace sft
