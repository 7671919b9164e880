// Opening paths: only regular files are read, and nothing blocks. A FIFO (no
// writer ever comes), a directory or a device given as a file, a checkpoint
// index, a shard or a compressed checkpoint is io_error, returned promptly.
//
// Each open runs on a thread of its own with a deadline, so that a regression
// fails the test instead of hanging it: on a timeout the test opens the FIFO
// for writing, which releases the blocked reader, then reports the failure.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <string>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "expect.hpp"
#include "sft/sft.hpp"
#include "sft_internal/regular_file.hpp"
#include "test_support.hpp"

namespace {

using namespace sft;
using namespace sft::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

fs::path make_fifo(const fs::path& p) {
  EXPECT_EQ(::mkfifo(p.c_str(), 0600), 0) << p;
  return p;
}

// Runs `open` (returning the error code it got, or ok) with a deadline.
// `fifo`: opened for writing on a timeout, to release a reader blocked on it.
::testing::AssertionResult returns_promptly_with(std::function<Errc()> open, Errc want, const fs::path& fifo) {
  std::packaged_task<Errc()> task(std::move(open));
  auto done = task.get_future();
  std::thread t(std::move(task));
  if (done.wait_for(10s) != std::future_status::ready) {
    int w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);  // lets a blocked open(O_RDONLY) return
    t.join();
    if (w >= 0) ::close(w);
    return ::testing::AssertionFailure() << "the open blocked on " << fifo << " for 10 s";
  }
  t.join();
  const Errc got = done.get();
  if (got != want) return ::testing::AssertionFailure() << "got " << errc_name(got) << ", expected " << errc_name(want);
  return ::testing::AssertionSuccess();
}

template <class R>
Errc code_of(const R& r) {
  return r ? Errc::ok : r.error().code;
}

TEST(Open, AFifoIsIoErrorInEveryModeWithoutBlocking) {
  auto dir = temp_dir("open-fifo");
  const auto fifo = make_fifo(dir / "model.safetensors");
  for (ReadMode mode : {ReadMode::mmap, ReadMode::pread}) {
    OpenOptions o;
    o.mode = mode;
    EXPECT_TRUE(returns_promptly_with([&] { return code_of(File::open(fifo, o)); }, Errc::io_error, fifo));
  }
  EXPECT_TRUE(returns_promptly_with([&] { return code_of(CompressedReader::open(fifo)); }, Errc::io_error, fifo));
  EXPECT_TRUE(returns_promptly_with([&] { return code_of(Checkpoint::open(fifo)); }, Errc::io_error, fifo));
  auto e = File::open(fifo);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("FIFO"), std::string::npos) << e.error().message;
  EXPECT_NE(e.error().message.find(fifo.string()), std::string::npos) << e.error().message;
}

TEST(Open, AFifoAsIndexOrShardIsIoErrorWithoutBlocking) {
  auto dir = temp_dir("open-fifo-ckpt");
  const auto index = make_fifo(dir / "model.safetensors.index.json");
  EXPECT_TRUE(returns_promptly_with([&] { return code_of(Checkpoint::open(index)); }, Errc::io_error, index));

  // An index naming a shard that is a FIFO: opening the shard fails, promptly.
  auto dir2 = temp_dir("open-fifo-shard");
  const auto shard = make_fifo(dir2 / "model-00001-of-00001.safetensors");
  {
    std::ofstream f(dir2 / "model.safetensors.index.json");
    f << R"({"weight_map":{"a":"model-00001-of-00001.safetensors"}})";
  }
  auto c = Checkpoint::open(dir2);
  ASSERT_TRUE(succeeds(c));
  EXPECT_TRUE(returns_promptly_with([&] { return code_of(c->find("a")); }, Errc::io_error, shard));
  EXPECT_TRUE(returns_promptly_with([&] { return code_of(c->load("a")); }, Errc::io_error, shard));
}

TEST(Open, DirectoriesAndDevicesAreIoError) {
  auto dir = temp_dir("open-dir");
  EXPECT_TRUE(fails_with(File::open(dir), Errc::io_error));
  if (fs::exists("/dev/null")) {
    auto e = File::open("/dev/null");
    EXPECT_TRUE(fails_with(e, Errc::io_error));
    if (!e) EXPECT_NE(e.error().message.find("character device"), std::string::npos) << e.error().message;
  }
}

// The one open path, as the tool uses it: the short messages it has always printed.
TEST(Open, RegularFileMessagesWithAndWithoutThePath) {
  auto dir = temp_dir("open-messages");
  const auto fifo = make_fifo(dir / "p");
  auto with = detail::open_regular_file(fifo);
  ASSERT_FALSE(with);
  EXPECT_EQ(with.error().message, "not a regular file (a FIFO): " + fifo.string());
  auto without = detail::open_regular_file(fifo, detail::PathInMessage::omit);
  ASSERT_FALSE(without);
  EXPECT_EQ(without.error().message, "cannot read: not a regular file");
  auto missing = detail::open_regular_file(dir / "none", detail::PathInMessage::omit);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "cannot open: No such file or directory");
  auto d = detail::open_regular_file(dir, detail::PathInMessage::omit);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message, "cannot read: is a directory");
  // A regular file: open, blocking mode restored, size known.
  write_all(dir / "r", std::vector<std::byte>(5, std::byte{1}));
  auto r = detail::open_regular_file(dir / "r");
  ASSERT_TRUE(succeeds(r));
  EXPECT_EQ(r->size, 5u);
  EXPECT_EQ(::fcntl(r->fd.get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(r->fd.get(), F_GETFD) & FD_CLOEXEC, 0);
}

// --- checkpoints: the same access path, and the bounds of shard_path ----------------

TEST(CheckpointAccess, ShardPathIsBoundsChecked) {
  auto dir = temp_dir("ckpt-shard-path");
  write_all(dir / "m.safetensors", make_file(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", "xy"));
  auto c = Checkpoint::open(dir / "m.safetensors");
  ASSERT_TRUE(succeeds(c));
  auto p = c->shard_path(0);
  ASSERT_TRUE(succeeds(p));
  EXPECT_EQ(p->filename(), "m.safetensors");
  EXPECT_TRUE(fails_with(c->shard_path(1), Errc::invalid_argument));
  EXPECT_TRUE(fails_with(c->shard_path(~std::size_t{0}), Errc::invalid_argument));
}

TEST(CheckpointAccess, LoadWorksInEveryModeAndViewSaysNotMapped) {
  auto dir = temp_dir("ckpt-load");
  write_all(dir / "m.safetensors", make_file(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", "xy"));
  for (ReadMode mode : {ReadMode::mmap, ReadMode::pread}) {
    CheckpointOptions o;
    o.open.mode = mode;
    auto c = Checkpoint::open(dir, o);
    ASSERT_TRUE(succeeds(c));
    auto t = c->find("a");
    ASSERT_TRUE(succeeds(t));
    auto bytes = t->load();
    ASSERT_TRUE(succeeds(bytes));
    EXPECT_EQ(bytes->size_bytes(), 2u);
    EXPECT_EQ(static_cast<char>(bytes->bytes()[1]), 'y');
    auto by_name = c->load("a");
    ASSERT_TRUE(succeeds(by_name));
    EXPECT_EQ(by_name->owned(), mode == ReadMode::pread);
    if (mode == ReadMode::pread) {
      EXPECT_TRUE(fails_with(t->view(), Errc::not_mapped));  // never an empty view
      EXPECT_TRUE(fails_with(c->tensor("a"), Errc::not_mapped));
    } else {
      ASSERT_TRUE(succeeds(t->view()));
      EXPECT_EQ(t->view()->data(), bytes->data());
    }
    EXPECT_TRUE(fails_with(c->load("b"), Errc::not_found));
  }
}

}  // namespace
