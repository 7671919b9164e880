// Real files written by other projects (../shared/fixtures/real) are accepted and
// read exactly as MANIFEST.json describes them; ../shared/fixtures/real-malformed
// files are rejected.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "expect.hpp"
#include "mini_json.hpp"
#include "require.hpp"
#include "sft/sft.hpp"
#include "test_support.hpp"

namespace {

using namespace sft;
using namespace sft::test;
namespace fs = std::filesystem;

fs::path real_dir() { return fixtures_dir() / "real"; }
fs::path malformed_dir() { return fixtures_dir() / "real-malformed"; }

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".safetensors") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

json::Value load_manifest() {
  auto bytes = read_all(real_dir() / "MANIFEST.json");
  return json::parse(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

// Compares one opened file with its manifest entry.
void check_against_manifest(const File& f, const json::Value& m) {
  const Header& h = f.header();
  EXPECT_EQ(h.header_size(), m.at("header_len").as_u64());
  EXPECT_EQ(h.file_size(), f.size());

  const json::Value& meta = m.at("metadata");
  if (meta.is_null()) {
    EXPECT_FALSE(h.has_metadata());
  } else {
    EXPECT_TRUE(h.has_metadata());
    ASSERT_EQ(h.metadata().size(), meta.members.size());
    for (const auto& [k, v] : meta.members) {
      const std::string* got = h.metadata_value(k);
      ASSERT_NE(got, nullptr) << k;
      EXPECT_EQ(*got, v.str()) << k;
    }
  }

  const json::Value& tensors = m.at("tensors");
  ASSERT_EQ(h.size(), tensors.members.size());
  std::uint64_t previous_end = 0;
  for (const TensorInfo& t : h.tensors()) {
    EXPECT_EQ(t.data_offsets.begin, previous_end) << "not in offset order";
    previous_end = t.data_offsets.end;
  }
  EXPECT_EQ(previous_end, h.data_size());

  for (const auto& [name, want] : tensors.members) {
    SCOPED_TRACE(name);
    const TensorInfo* t = h.find(name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(sft::name(t->dtype), want.at("dtype").str());
    const auto& shape = want.at("shape").items;
    ASSERT_EQ(t->shape.size(), shape.size());
    for (std::size_t i = 0; i < shape.size(); ++i) EXPECT_EQ(t->shape[i], shape[i].as_u64()) << "dim " << i;
    const auto& offs = want.at("data_offsets").items;
    ASSERT_EQ(offs.size(), 2u);
    EXPECT_EQ(t->data_offsets.begin, offs[0].as_u64());
    EXPECT_EQ(t->data_offsets.end, offs[1].as_u64());

    std::vector<std::byte> copy(t->byte_size());
    ASSERT_TRUE(succeeds(f.read(*t, copy)));
    EXPECT_EQ(sha256_hex(copy.data(), copy.size()), want.at("sha256").str());
    if (f.mapped()) {
      auto v = f.tensor(name);
      ASSERT_TRUE(succeeds(v));
      EXPECT_EQ(sha256_hex(v->data(), v->size_bytes()), want.at("sha256").str());
    }
  }
}

TEST(RealFixtures, SelfCheckOfTheSha256Helper) {
  // FIPS 180-4 test vectors, so that a broken helper cannot pass every file.
  EXPECT_EQ(sha256_hex(nullptr, 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::string abc = "abc";
  EXPECT_EQ(sha256_hex(reinterpret_cast<const std::byte*>(abc.data()), abc.size()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(sha256_hex(reinterpret_cast<const std::byte*>(two.data()), two.size()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(RealFixtures, ManifestListsEveryFile) {
  SFT_FIXTURES_OR_SKIP(fs::exists(real_dir() / "MANIFEST.json"), "no fixtures at " << real_dir());
  auto manifest = load_manifest();
  std::set<std::string> listed, present;
  for (const auto& [name, entry] : manifest.members) listed.insert(name);
  for (const auto& p : files_in(real_dir())) present.insert(p.filename().string());
  EXPECT_EQ(listed, present);
  EXPECT_FALSE(present.empty());
}

TEST(RealFixtures, EveryFileIsAcceptedAndMatchesTheManifest) {
  SFT_FIXTURES_OR_SKIP(fs::exists(real_dir() / "MANIFEST.json"), "no fixtures at " << real_dir());
  auto manifest = load_manifest();
  for (const auto& path : files_in(real_dir())) {
    SCOPED_TRACE(path.filename().string());
    const json::Value* m = manifest.find(path.filename().string());
    ASSERT_NE(m, nullptr) << "not in MANIFEST.json";
    for (ReadMode mode : {ReadMode::mmap, ReadMode::pread}) {
      SCOPED_TRACE(mode == ReadMode::mmap ? "mmap" : "pread");
      OpenOptions o;
      o.mode = mode;
      auto f = File::open(path, o);
      ASSERT_TRUE(succeeds(f));
      check_against_manifest(*f, *m);
    }
    auto bytes = read_all(path);
    auto mem = File::from_memory(bytes);
    ASSERT_TRUE(succeeds(mem));
    check_against_manifest(*mem, *m);
  }
}

TEST(RealFixtures, MalformedFilesAreRejected) {
  SFT_FIXTURES_OR_SKIP(fs::exists(malformed_dir()), "no fixtures at " << malformed_dir());
  auto files = files_in(malformed_dir());
  ASSERT_FALSE(files.empty());
  for (const auto& path : files) {
    SCOPED_TRACE(path.filename().string());
    auto f = File::open(path);
    EXPECT_FALSE(f.ok());
    OpenOptions p;
    p.mode = ReadMode::pread;
    EXPECT_FALSE(File::open(path, p).ok());
  }
}

TEST(RealFixtures, AbuseFileDeclaresMoreHeaderThanItHas) {
  auto path = malformed_dir() / "safetensors-cpp-abuse-attempt-1.safetensors";
  SFT_FIXTURES_OR_SKIP(fs::exists(path), "missing " << path);
  auto f = File::open(path);
  EXPECT_TRUE(fails_with(f, Errc::header_length));
  EXPECT_TRUE(offset_within(f, 0, 8));
  OpenOptions p;
  p.mode = ReadMode::pread;
  EXPECT_TRUE(fails_with(File::open(path, p), Errc::header_length));
}

}  // namespace
