// tests/pread_truncation_test.cpp — a file that shrinks after it was opened.
//
// Another process may truncate a model file while sft has it open. A mapping
// would then raise SIGBUS on the first access past the new end (documented in
// docs/security.md); pread mode must turn the same situation into io_error.
// A SIGBUS here would kill the test binary, so these tests also prove its absence.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "sft/sft.hpp"
#include "test_support.hpp"

namespace {

using namespace sft;

// Two tensors: "a" (4 KiB) then "b" (1 MiB), so a cut inside "b" leaves "a" whole.
std::filesystem::path write_model(const std::filesystem::path& dir) {
  const std::string json =
      R"({"a":{"dtype":"U8","shape":[4096],"data_offsets":[0,4096]},)"
      R"("b":{"dtype":"F32","shape":[262144],"data_offsets":[4096,1052672]}})";
  auto p = dir / "model.safetensors";
  test::write_all(p, test::make_file(json, std::size_t{1052672}));
  return p;
}

OpenOptions pread_mode() {
  OpenOptions o;
  o.mode = ReadMode::pread;
  return o;
}

TEST(PreadTruncation, ReadPastNewEndIsIoError) {
  auto dir = test::temp_dir("pread_truncation");
  auto path = write_model(dir);
  auto f = File::open(path, pread_mode());
  ASSERT_TRUE(f) << f.error().to_string();
  ASSERT_FALSE(f->mapped());
  const TensorInfo* b = f->header().find("b");
  ASSERT_NE(b, nullptr);

  // Truncate in the middle of "b", as another process would.
  std::filesystem::resize_file(path, f->header().data_start() + 4096 + 1000);

  std::vector<std::byte> out(b->byte_size());
  auto r = f->read(*b, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::io_error) << r.error().to_string();
  EXPECT_EQ(r.error().tensor, "b");

  // The bytes still there can be read, and equal what was written.
  std::vector<std::byte> head(1000);
  ASSERT_TRUE(f->read_range(*b, 0, head).ok());
  auto expect = test::make_file(std::string(), std::size_t{1052672});  // same data pattern, empty header
  EXPECT_EQ(std::memcmp(head.data(), expect.data() + 8 + 4096, head.size()), 0);

  // A slice reaching past the cut fails the same way; one before it works.
  std::vector<SliceSpec> late{SliceSpec::range(200000, 262144)};
  std::vector<std::byte> sl(62144 * 4);
  auto s = f->read_slice(*b, late, sl);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::io_error);
  std::vector<SliceSpec> early{SliceSpec::range(0, 100)};
  std::vector<std::byte> ok(400);
  EXPECT_TRUE(f->read_slice(*b, early, ok).ok());

  // "a" lies wholly before the cut.
  std::vector<std::byte> a(4096);
  EXPECT_TRUE(f->read(*f->header().find("a"), a).ok());
  std::filesystem::remove_all(dir);
}

TEST(PreadTruncation, TruncatedToNothingIsIoError) {
  auto dir = test::temp_dir("pread_truncation_zero");
  auto path = write_model(dir);
  auto f = File::open(path, pread_mode());
  ASSERT_TRUE(f) << f.error().to_string();
  std::filesystem::resize_file(path, 0);
  for (const TensorInfo& t : f->header().tensors()) {
    std::vector<std::byte> out(t.byte_size());
    auto r = f->read(t, out);
    ASSERT_FALSE(r) << t.name;
    EXPECT_EQ(r.error().code, Errc::io_error);
  }
  // Views are refused in pread mode rather than pointing at nothing.
  auto v = f->tensor("a");
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, Errc::not_mapped);
  std::filesystem::remove_all(dir);
}

TEST(PreadTruncation, FileReplacedByShorterOneIsIoError) {
  // Truncate-and-rewrite through another descriptor (what an editor or a
  // careless converter does to a file in place).
  auto dir = test::temp_dir("pread_truncation_rewrite");
  auto path = write_model(dir);
  auto f = File::open(path, pread_mode());
  ASSERT_TRUE(f) << f.error().to_string();
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC);
  ASSERT_GE(fd, 0);
  const char junk[] = "not a model any more";
  ASSERT_EQ(::write(fd, junk, sizeof junk), static_cast<ssize_t>(sizeof junk));
  ::close(fd);
  std::vector<std::byte> out(f->header().find("b")->byte_size());
  auto r = f->read(*f->header().find("b"), out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::io_error);
  std::filesystem::remove_all(dir);
}

}  // namespace
