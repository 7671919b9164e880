// The atomic file under every writer: a replaced file keeps its mode, and the
// registry of live temporaries that sft::remove_temporaries() (a program's
// signal handler) walks, including while other threads write.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "sft/temporaries.hpp"
#include "sft/writer.hpp"
#include "sft_internal/atomic_file.hpp"
#include "test_support.hpp"

namespace sft {
namespace {

namespace fs = std::filesystem;
using detail::AtomicFile;

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

Result<void> write_and_commit(const fs::path& target, std::string_view text) {
  SFT_TRY_ASSIGN(auto f, AtomicFile::create(target));
  SFT_TRY(f.write_at(0, std::as_bytes(std::span(text.data(), text.size()))));
  return f.commit(false);
}

TEST(AtomicFile, ReplacedFileKeepsItsMode) {
  auto dir = test::temp_dir("atomic_mode");
  for (unsigned m : {0600u, 0640u, 0755u, 0444u}) {
    SCOPED_TRACE(m);
    const fs::path target = dir / ("f" + std::to_string(m));
    test::write_all(target, std::vector<std::byte>(3, std::byte{1}));
    ASSERT_EQ(::chmod(target.c_str(), m), 0);
    ASSERT_TRUE(write_and_commit(target, "new contents"));
    EXPECT_EQ(mode_of(target), m);
  }
  // The temporary takes the mode before any byte is written: a 0600 file's
  // new contents are never readable by others, not even while written.
  const fs::path secret = dir / "secret";
  test::write_all(secret, std::vector<std::byte>(3, std::byte{1}));
  ASSERT_EQ(::chmod(secret.c_str(), 0600), 0);
  auto f = AtomicFile::create(secret);
  ASSERT_TRUE(f);
  EXPECT_EQ(mode_of(f->temp_path()), 0600u);
}

TEST(AtomicFile, NewFileHonoursTheUmask) {
  auto dir = test::temp_dir("atomic_umask");
  const mode_t old = ::umask(027);
  auto r = write_and_commit(dir / "fresh", "x");
  ::umask(old);
  ASSERT_TRUE(r);
  EXPECT_EQ(mode_of(dir / "fresh"), 0640u);
}

TEST(AtomicFile, WriterKeepsTheModeOfTheFileItReplaces) {
  auto dir = test::temp_dir("atomic_writer_mode");
  const fs::path target = dir / "m.safetensors";
  test::write_all(target, std::vector<std::byte>(3, std::byte{1}));
  ASSERT_EQ(::chmod(target.c_str(), 0600), 0);
  Writer w;
  std::vector<std::byte> data(16, std::byte{2});
  ASSERT_TRUE(w.add("t", DType::F32, {4}, data));
  ASSERT_TRUE(w.write_file(target));
  EXPECT_EQ(mode_of(target), 0600u);
}

bool present(const fs::path& p) { return ::access(p.c_str(), F_OK) == 0; }

TEST(Temporaries, RemoveTemporariesUnlinksEveryLiveOne) {
  auto dir = test::temp_dir("temporaries_live");
  const std::size_t before = live_temporaries();
  // More than one block of the registry (32 slots each).
  std::vector<AtomicFile> open;
  for (int i = 0; i < 70; ++i) {
    auto f = AtomicFile::create(dir / ("t" + std::to_string(i)));
    ASSERT_TRUE(f);
    ASSERT_TRUE(f->write_at(0, std::vector<std::byte>(10, std::byte{3})));
    open.push_back(std::move(*f));
  }
  EXPECT_EQ(live_temporaries(), before + 70);
  // A file committed earlier is no temporary: untouched.
  ASSERT_TRUE(write_and_commit(dir / "done", "kept"));
  for (const auto& f : open) ASSERT_TRUE(present(f.temp_path()));
  remove_temporaries();
  for (const auto& f : open) EXPECT_FALSE(present(f.temp_path())) << f.temp_path();
  EXPECT_TRUE(present(dir / "done"));
  // A writer whose temporary was removed fails rather than produce a file.
  EXPECT_FALSE(open.front().commit(false));
  open.clear();
  EXPECT_EQ(live_temporaries(), before);
  EXPECT_FALSE(present(dir / "t0"));
}

TEST(Temporaries, RegistryUnderConcurrentWriters) {
  // Writers create, write and commit files on four threads while the main
  // thread calls remove_temporaries() over and over, as a signal handler on
  // any thread might: no crash, no sanitizer report, and a file whose commit
  // succeeded is never removed (only temporaries are).
  auto dir = test::temp_dir("temporaries_threads");
  const std::size_t before = live_temporaries();
  std::atomic<bool> stop{false};
  std::atomic<int> committed{0};
  std::vector<std::thread> threads;
  std::vector<std::vector<fs::path>> done(4);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        const fs::path target = dir / ("w" + std::to_string(t) + "-" + std::to_string(i));
        if (write_and_commit(target, "data")) {
          done[static_cast<std::size_t>(t)].push_back(target);
          committed.fetch_add(1);
        }
      }
    });
  std::thread remover([&] {
    while (!stop.load()) remove_temporaries();
  });
  for (auto& th : threads) th.join();
  stop.store(true);
  remover.join();
  for (const auto& list : done)
    for (const auto& p : list) EXPECT_TRUE(present(p)) << p;
  EXPECT_EQ(live_temporaries(), before);
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(temporary_marker), std::string::npos) << e.path();
  RecordProperty("committed", committed.load());
}

}  // namespace
}  // namespace sft
