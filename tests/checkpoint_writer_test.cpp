// write_checkpoint: re-saving over an existing checkpoint is all or nothing
// (every shard and the index staged, renamed only when all are written), and
// ShardingOptions::prefix names files, never paths. Writer::write_staged and
// StreamingWriter::prepare, the two-phase commit underneath.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "sft/checkpoint.hpp"
#include "sft/checkpoint_writer.hpp"
#include "sft/temporaries.hpp"
#include "sft/writer.hpp"
#include "test_support.hpp"

namespace sft {
namespace {

namespace fs = std::filesystem;

// Every file of a directory and its bytes.
std::map<std::string, std::vector<std::byte>> snapshot(const fs::path& dir) {
  std::map<std::string, std::vector<std::byte>> out;
  for (const auto& e : fs::directory_iterator(dir)) out[e.path().filename().string()] = test::read_all(e.path());
  return out;
}

// Tensors of 100, 100 and 5000 bytes filled with `fill`: with shards of at
// most 150 bytes, three shards, the last by far the largest.
struct Model {
  std::uint64_t sizes[3] = {100, 100, 5000};
  std::vector<std::byte> data[3];
  TensorInfo infos[3];
  std::vector<TensorView> views;
  explicit Model(unsigned char fill) {
    const char* names[] = {"a", "b", "c"};
    for (std::size_t i = 0; i < 3; ++i) {
      data[i].assign(sizes[i], std::byte{fill});
      infos[i] = TensorInfo{names[i], DType::U8, {&sizes[i], 1}, {0, sizes[i]}};
      views.emplace_back(&infos[i], data[i]);
    }
  }
  Model(const Model&) = delete;
};

CheckpointWriteOptions three_shards() {
  CheckpointWriteOptions o;
  o.sharding.max_shard_size = 150;
  o.writer.durable = false;
  return o;
}

TEST(WriteCheckpoint, FailedResaveLeavesTheOldCheckpointWhole) {
  auto dir = test::temp_dir("ckpt_write_resave");
  Model old_model(0x11);
  auto first = write_checkpoint(old_model.views, dir, three_shards());
  ASSERT_TRUE(first) << first.error().to_string();
  ASSERT_EQ(first->shards.size(), 3u);
  const auto before = snapshot(dir);
  ASSERT_EQ(before.size(), 4u);  // three shards and the index

  // The same names again, new bytes; the disk "fills" inside the third shard,
  // after the first two were written completely.
  Model new_model(0x22);
  auto o = three_shards();
  o.writer.fail_after_bytes = 1000;
  auto r = write_checkpoint(new_model.views, dir, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::write_failed);
  EXPECT_EQ(snapshot(dir), before);  // every old file as it was, no temporary left
  auto c = Checkpoint::open(dir);
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_TRUE(c->check().ok());
  auto a = c->tensor("a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->bytes()[0], std::byte{0x11});

  // Without the failure the new checkpoint replaces the old one.
  ASSERT_TRUE(write_checkpoint(new_model.views, dir, three_shards()));
  const auto after = snapshot(dir);
  EXPECT_EQ(after.size(), 4u);
  auto c2 = Checkpoint::open(dir);
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->tensor("c")->bytes()[4999], std::byte{0x22});
}

TEST(WriteCheckpoint, PrefixNamesFilesNeverPaths) {
  auto root = test::temp_dir("ckpt_write_prefix");
  Model m(0x33);
  for (std::string bad : std::vector<std::string>{"../x", "a/b", "/abs", "", "x:y", "a\nb", "x\\y"}) {
    SCOPED_TRACE(bad);
    auto o = three_shards();
    o.sharding.prefix = bad;
    auto r = write_checkpoint(m.views, root / "out", o);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::shard_path);
    EXPECT_NE(r.error().message.find("prefix"), std::string::npos) << r.error().message;
    EXPECT_FALSE(shard_prefix_problem(bad).empty());
  }
  EXPECT_FALSE(fs::exists(root / "out"));  // refused before anything was created
  EXPECT_FALSE(fs::exists(root / "x-00001-of-00003.safetensors"));
  EXPECT_TRUE(shard_prefix_problem("model").empty());
  EXPECT_TRUE(shard_prefix_problem("my.model-v2").empty());
  auto o = three_shards();
  o.sharding.prefix = "my.model-v2";
  ASSERT_TRUE(write_checkpoint(m.views, root / "ok", o));
  EXPECT_TRUE(fs::exists(root / "ok" / "my.model-v2.safetensors.index.json"));
}

TEST(WriteStaged, PreparedFilesAppearOnlyOnCommit) {
  auto dir = test::temp_dir("writer_staged");
  std::vector<std::byte> bytes(64, std::byte{5});
  Writer w;
  ASSERT_TRUE(w.declare("t", DType::U8, {64}));
  const TensorSource source = [&](const TensorInfo&, TensorSink& sink) { return sink.write(bytes); };
  const std::size_t live = live_temporaries();
  {
    auto staged = w.write_staged(dir / "dropped.safetensors", source);
    ASSERT_TRUE(staged) << staged.error().to_string();
    EXPECT_EQ(live_temporaries(), live + 1);
    EXPECT_FALSE(fs::exists(dir / "dropped.safetensors"));
    auto again = staged->write("t", bytes);  // prepared: no more writes
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, Errc::writer_state);
  }
  EXPECT_EQ(live_temporaries(), live);  // dropped without commit: removed
  EXPECT_TRUE(fs::is_empty(dir));
  auto staged = w.write_staged(dir / "kept.safetensors", source);
  ASSERT_TRUE(staged);
  ASSERT_TRUE(staged->prepare());  // idempotent
  ASSERT_TRUE(staged->commit());
  EXPECT_EQ(snapshot(dir).size(), 1u);
  EXPECT_EQ(test::read_all(dir / "kept.safetensors").size(), 64u + 8u + w.plan()->header_size());
}

}  // namespace
}  // namespace sft
