// sft::Checkpoint: opening files, directories and indexes; every index rule
// with its specific error; path traversal (names and symlinks); lazy opening;
// the shard plan and the index text.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sft/checkpoint.hpp"
#include "sft/checkpoint_writer.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using sft::Checkpoint;
using sft::Errc;

void write_text(const fs::path& p, std::string_view text) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
}

// A file holding U8 tensors of the given names, each `size` bytes.
void write_shard(const fs::path& p, const std::vector<std::string>& names, std::size_t size = 4) {
  std::string json = "{";
  std::size_t off = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) json += ",";
    json += "\"" + names[i] + "\":{\"dtype\":\"U8\",\"shape\":[" + std::to_string(size) +
            "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + size) + "]}";
    off += size;
  }
  json += "}";
  sft::test::write_all(p, sft::test::make_file(json, off));
}

// The layout most tests start from: a/b in shard 1, c in shard 2, 4 bytes each.
struct Fixture {
  fs::path dir;
  explicit Fixture(std::string_view name) : dir(sft::test::temp_dir(name)) {
    write_shard(dir / "model-00001-of-00002.safetensors", {"a", "b"});
    write_shard(dir / "model-00002-of-00002.safetensors", {"c"});
  }
  fs::path index(std::string_view text) const {
    write_text(dir / "model.safetensors.index.json", text);
    return dir / "model.safetensors.index.json";
  }
  fs::path good_index(std::string_view total = "12") const {
    return index(std::string("{\"metadata\":{\"total_size\":") + std::string(total) +
                 "},\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00001-of-00002.safetensors\","
                 "\"c\":\"model-00002-of-00002.safetensors\"}}");
  }
};

sft::Error open_error(const fs::path& p, const sft::CheckpointOptions& o = {}) {
  auto c = Checkpoint::open(p, o);
  EXPECT_FALSE(c) << p;
  return c ? sft::Error{} : c.error();
}

TEST(Checkpoint, OpensIndexLazily) {
  Fixture f("ckpt-lazy");
  auto c = Checkpoint::open(f.good_index());
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_TRUE(c->sharded());
  ASSERT_EQ(c->shards().size(), 2u);
  EXPECT_EQ(c->shards()[0], "model-00001-of-00002.safetensors");
  EXPECT_EQ(c->size(), 3u);
  EXPECT_FALSE(c->shard_opened(0));
  EXPECT_FALSE(c->shard_opened(1));
  auto t = c->tensor("c");
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ(t->size_bytes(), 4u);
  EXPECT_FALSE(c->shard_opened(0)) << "looking up c must not open shard 1";
  EXPECT_TRUE(c->shard_opened(1));
  auto missing = c->tensor("zzz");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found);
  EXPECT_TRUE(c->has_total_size());
  EXPECT_EQ(c->total_size(), 12u);
}

TEST(Checkpoint, OpensDirectoryIndexAndSingleFile) {
  Fixture f("ckpt-forms");
  f.good_index();
  auto by_dir = Checkpoint::open(f.dir);
  ASSERT_TRUE(by_dir) << by_dir.error().to_string();
  EXPECT_TRUE(by_dir->sharded());
  EXPECT_EQ(by_dir->index_path().filename(), "model.safetensors.index.json");

  auto single = Checkpoint::open(f.dir / "model-00002-of-00002.safetensors");
  ASSERT_TRUE(single);
  EXPECT_FALSE(single->sharded());
  EXPECT_EQ(single->size(), 1u);
  EXPECT_TRUE(single->contains("c"));

  auto one = sft::test::temp_dir("ckpt-one");
  write_shard(one / "weights.safetensors", {"x"});
  auto dir_single = Checkpoint::open(one);
  ASSERT_TRUE(dir_single);
  EXPECT_FALSE(dir_single->sharded());
  EXPECT_TRUE(dir_single->contains("x"));
}

TEST(Checkpoint, DirectoryWithoutACheckpoint) {
  auto empty = sft::test::temp_dir("ckpt-empty");
  EXPECT_EQ(open_error(empty).code, Errc::no_checkpoint);
  write_shard(empty / "a.safetensors", {"x"});
  write_shard(empty / "b.safetensors", {"y"});
  auto e = open_error(empty);
  EXPECT_EQ(e.code, Errc::no_checkpoint);
  EXPECT_NE(e.message.find("a.safetensors, b.safetensors"), std::string::npos) << e.message;
  write_text(empty / "x.safetensors.index.json", "{\"weight_map\":{}}");
  write_text(empty / "y.safetensors.index.json", "{\"weight_map\":{}}");
  EXPECT_EQ(open_error(empty).code, Errc::no_checkpoint);
  EXPECT_EQ(open_error(empty / "nonexistent").code, Errc::io_error);
}

TEST(Checkpoint, IterationIsShardThenDataOrder) {
  Fixture f("ckpt-order");
  write_shard(f.dir / "model-00001-of-00002.safetensors", {"z", "a", "m"});
  f.index("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\",\"m\":\"model-00001-of-00002.safetensors\","
          "\"z\":\"model-00001-of-00002.safetensors\",\"c\":\"model-00002-of-00002.safetensors\"}}");
  auto c = Checkpoint::open(f.dir);
  ASSERT_TRUE(c);
  auto all = c->tensors();
  ASSERT_TRUE(all) << all.error().to_string();
  std::vector<std::string> names;
  for (const auto& t : *all) names.emplace_back(t.info->name);
  EXPECT_EQ(names, (std::vector<std::string>{"z", "a", "m", "c"}));
  EXPECT_EQ(std::vector<std::string>(c->names().begin(), c->names().end()),
            (std::vector<std::string>{"a", "c", "m", "z"}));
}

struct BadIndex {
  const char* name;
  const char* json;
  Errc code;
};

TEST(Checkpoint, EveryIndexViolationHasItsError) {
  const BadIndex cases[] = {
      {"not json", "{\"weight_map\":{\"a\":\"x.safetensors\",}}", Errc::bad_index},
      {"trailing garbage", "{\"weight_map\":{}} x", Errc::bad_index},
      {"array", "[1]", Errc::bad_index},
      {"no weight_map", "{\"metadata\":{}}", Errc::bad_index},
      {"weight_map array", "{\"weight_map\":[]}", Errc::bad_index},
      {"weight_map null", "{\"weight_map\":null}", Errc::bad_index},
      {"value number", "{\"weight_map\":{\"a\":1}}", Errc::bad_index},
      {"value object", "{\"weight_map\":{\"a\":{}}}", Errc::bad_index},
      {"metadata string", "{\"metadata\":\"x\",\"weight_map\":{}}", Errc::bad_index},
      {"total_size string", "{\"metadata\":{\"total_size\":\"1\"},\"weight_map\":{}}", Errc::bad_index},
      {"total_size negative", "{\"metadata\":{\"total_size\":-4},\"weight_map\":{}}", Errc::bad_index},
      {"total_size fraction", "{\"metadata\":{\"total_size\":1.5},\"weight_map\":{}}", Errc::bad_index},
      {"duplicate tensor", "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\",\"a\":\"model-00002-of-00002.safetensors\"}}", Errc::duplicate_key},
      {"duplicate escaped", "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\",\"\\u0061\":\"model-00001-of-00002.safetensors\"}}", Errc::duplicate_key},
      {"duplicate weight_map", "{\"weight_map\":{},\"weight_map\":{}}", Errc::duplicate_key},
      {"duplicate metadata key", "{\"metadata\":{\"total_size\":1,\"total_size\":2},\"weight_map\":{}}", Errc::duplicate_key},
      {"absolute", "{\"weight_map\":{\"a\":\"/etc/x.safetensors\"}}", Errc::shard_path},
      {"parent", "{\"weight_map\":{\"a\":\"../x.safetensors\"}}", Errc::shard_path},
      {"dotdot", "{\"weight_map\":{\"a\":\"..\"}}", Errc::shard_path},
      {"dot", "{\"weight_map\":{\"a\":\".\"}}", Errc::shard_path},
      {"subdir", "{\"weight_map\":{\"a\":\"sub/x.safetensors\"}}", Errc::shard_path},
      {"backslash", "{\"weight_map\":{\"a\":\"..\\\\x.safetensors\"}}", Errc::shard_path},
      {"drive", "{\"weight_map\":{\"a\":\"C:x.safetensors\"}}", Errc::shard_path},
      {"nul", "{\"weight_map\":{\"a\":\"x\\u0000.safetensors\"}}", Errc::shard_path},
      {"empty", "{\"weight_map\":{\"a\":\"\"}}", Errc::shard_path},
      {"pickle", "{\"weight_map\":{\"a\":\"pytorch_model.bin\"}}", Errc::shard_path},
      {"extension only", "{\"weight_map\":{\"a\":\".safetensors\"}}", Errc::shard_path},
      {"missing shard", "{\"weight_map\":{\"a\":\"model-00009-of-00009.safetensors\"}}", Errc::shard_missing},
  };
  Fixture f("ckpt-bad");
  for (const auto& c : cases) {
    auto e = open_error(f.index(c.json));
    EXPECT_EQ(e.code, c.code) << c.name << ": " << e.to_string();
  }
}

TEST(Checkpoint, IndexErrorsNameTensorAndOffset) {
  Fixture f("ckpt-names");
  auto e = open_error(f.index("{\"weight_map\":{\"a\":\"../x.safetensors\"}}"));
  EXPECT_EQ(e.tensor, "a");
  e = open_error(f.index("{\"weight_map\":{\"a\":\"x.safetensors\",}}"));
  EXPECT_EQ(e.offset, 35u);
  e = open_error(f.index("{\"weight_map\":{\"\xff\":\"x.safetensors\"}}"));
  EXPECT_EQ(e.code, Errc::bad_index);
  EXPECT_EQ(e.offset, 16u);
  sft::CheckpointOptions small;
  small.max_index_bytes = 10;
  e = open_error(f.good_index(), small);
  EXPECT_EQ(e.code, Errc::bad_index);
}

TEST(Checkpoint, TotalSizeIsAWarningUnlessStrict) {
  Fixture f("ckpt-total");
  auto c = Checkpoint::open(f.good_index("13"));
  ASSERT_TRUE(c);
  auto report = c->check();
  EXPECT_TRUE(report.ok());
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_EQ(report.warnings[0].code, Errc::total_size_mismatch);
  auto v = c->validate();
  ASSERT_TRUE(v);
  EXPECT_EQ(v->size(), 1u);

  sft::CheckpointOptions strict;
  strict.strict = true;
  auto s = Checkpoint::open(f.dir, strict);
  ASSERT_TRUE(s);
  auto sv = s->validate();
  ASSERT_FALSE(sv);
  EXPECT_EQ(sv.error().code, Errc::total_size_mismatch);

  auto ok = Checkpoint::open(f.good_index("12.0"));  // a whole float is accepted
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_TRUE(ok->check().warnings.empty());
  auto none = Checkpoint::open(f.index("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                                       "\"b\":\"model-00001-of-00002.safetensors\",\"c\":\"model-00002-of-00002.safetensors\"}}"));
  ASSERT_TRUE(none);
  auto r = none->check();
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].code, Errc::total_size_mismatch);
}

TEST(Checkpoint, MissingAndUnlistedTensors) {
  Fixture f("ckpt-tensors");
  // "ghost" is mapped but absent; "b" is held by shard 1 but mapped to shard 2; "c" is not listed.
  f.index("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\",\"ghost\":\"model-00001-of-00002.safetensors\","
          "\"b\":\"model-00002-of-00002.safetensors\"}}");
  auto c = Checkpoint::open(f.dir);
  ASSERT_TRUE(c);
  auto ghost = c->find("ghost");
  ASSERT_FALSE(ghost);
  EXPECT_EQ(ghost.error().code, Errc::shard_missing_tensor);
  EXPECT_EQ(ghost.error().tensor, "ghost");
  auto report = c->check();
  std::multiset<std::pair<Errc, std::string>> got;
  for (const auto& e : report.errors) got.emplace(e.code, e.tensor);
  const std::multiset<std::pair<Errc, std::string>> want = {
      {Errc::shard_unlisted_tensor, "b"}, {Errc::shard_unlisted_tensor, "c"},
      {Errc::shard_missing_tensor, "ghost"}, {Errc::shard_missing_tensor, "b"}};
  EXPECT_EQ(got, want);
  auto all = c->tensors();
  ASSERT_FALSE(all);
  EXPECT_EQ(all.error().code, Errc::shard_missing_tensor);
}

TEST(Checkpoint, ShardOpenErrorsNameTheShard) {
  Fixture f("ckpt-badshard");
  write_text(f.dir / "model-00002-of-00002.safetensors", "garbage");
  auto c = Checkpoint::open(f.good_index());
  ASSERT_TRUE(c);
  auto t = c->tensor("c");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Errc::header_too_small);
  EXPECT_EQ(t.error().message.rfind("model-00002-of-00002.safetensors: ", 0), 0u) << t.error().message;
  EXPECT_TRUE(c->tensor("a"));
  EXPECT_FALSE(c->check().ok());
}

TEST(Checkpoint, SymlinksMustStayInside) {
  Fixture f("ckpt-links");
  auto outside = sft::test::temp_dir("ckpt-links-outside");
  write_shard(outside / "secret.safetensors", {"c"});
  fs::remove(f.dir / "model-00002-of-00002.safetensors");
  fs::create_symlink(outside / "secret.safetensors", f.dir / "model-00002-of-00002.safetensors");
  auto e = open_error(f.good_index());
  EXPECT_EQ(e.code, Errc::shard_path);
  EXPECT_NE(e.message.find("outside"), std::string::npos) << e.message;

  sft::CheckpointOptions follow;
  follow.follow_external_symlinks = true;  // the Hugging Face cache layout
  auto c = Checkpoint::open(f.dir, follow);
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_TRUE(c->tensor("c"));

  // A relative link that climbs out and back in resolves inside: accepted.
  fs::remove(f.dir / "model-00002-of-00002.safetensors");
  fs::create_directory(f.dir / "blobs");
  write_shard(f.dir / "blobs" / "real", {"c"});
  fs::create_symlink("../" + f.dir.filename().string() + "/blobs/real", f.dir / "model-00002-of-00002.safetensors");
  auto inside = Checkpoint::open(f.dir);
  ASSERT_TRUE(inside) << inside.error().to_string();
  EXPECT_TRUE(inside->tensor("c"));

  // A link to a directory above, and a dangling link.
  fs::remove(f.dir / "model-00002-of-00002.safetensors");
  fs::create_symlink("..", f.dir / "model-00002-of-00002.safetensors");
  EXPECT_EQ(open_error(f.dir).code, Errc::shard_path);
  fs::remove(f.dir / "model-00002-of-00002.safetensors");
  fs::create_symlink("nowhere.safetensors", f.dir / "model-00002-of-00002.safetensors");
  EXPECT_EQ(open_error(f.dir).code, Errc::shard_missing);
}

TEST(Checkpoint, IndexSymlinkFollowsTheShardsRule) {
  // An index that links out of the directory is refused like a shard that
  // does (before it is read), whether found in the directory or named.
  Fixture f("ckpt-indexlink");
  auto blobs = sft::test::temp_dir("ckpt-indexlink-blobs");
  write_text(blobs / "idx", "{\"weight_map\":{\"c\":\"model-00002-of-00002.safetensors\"}}");
  fs::remove(f.dir / "model.safetensors.index.json");
  fs::create_symlink(blobs / "idx", f.dir / "model.safetensors.index.json");
  for (const fs::path& p : {f.dir, f.dir / "model.safetensors.index.json"}) {
    auto e = open_error(p);
    EXPECT_EQ(e.code, Errc::shard_path) << p;
    EXPECT_NE(e.message.find("outside"), std::string::npos) << e.message;
  }
  // As in the Hugging Face cache, with follow_external_symlinks: allowed,
  // and the shards are still looked up beside the link.
  sft::CheckpointOptions follow;
  follow.follow_external_symlinks = true;
  auto c = Checkpoint::open(f.dir, follow);
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_TRUE(c->tensor("c"));
  EXPECT_EQ(c->size(), 1u);  // the linked index, not another one
  // A link to an index inside the directory is fine.
  fs::remove(f.dir / "model.safetensors.index.json");
  fs::copy_file(blobs / "idx", f.dir / "real-index.json");
  fs::create_symlink("real-index.json", f.dir / "model.safetensors.index.json");
  auto inside = Checkpoint::open(f.dir);
  ASSERT_TRUE(inside) << inside.error().to_string();
  EXPECT_EQ(inside->size(), 1u);
}

TEST(Checkpoint, LazyShardOpensStayInTheDirectoryCheckedAtOpen) {
  // The shards are checked (realpath) when the index is read but opened when
  // first used. Whatever is swapped in between, a lazy open never reads a
  // file outside the directory checked: the outside file's tensor "c" has 8
  // bytes, the checkpoint's 4.
  auto outside = sft::test::temp_dir("ckpt-swap-outside");
  write_shard(outside / "model-00002-of-00002.safetensors", {"c"}, 8);

  // A shard replaced by a symlink to the outside file: refused (O_NOFOLLOW).
  {
    Fixture f("ckpt-swap-shard");
    auto c = Checkpoint::open(f.good_index());
    ASSERT_TRUE(c) << c.error().to_string();
    fs::remove(f.dir / "model-00002-of-00002.safetensors");
    fs::create_symlink(outside / "model-00002-of-00002.safetensors", f.dir / "model-00002-of-00002.safetensors");
    auto t = c->find("c");
    ASSERT_FALSE(t) << "read the outside file: " << t->info->byte_size() << " bytes";
    EXPECT_EQ(t.error().code, Errc::io_error) << t.error().to_string();
    EXPECT_NE(t.error().message.find("model-00002-of-00002.safetensors"), std::string::npos) << t.error().message;
  }
  // The directory renamed and a symlink to the outside put in its place: the
  // shard is opened in the directory opened at open() (the renamed one).
  {
    Fixture f("ckpt-swap-dir");
    auto c = Checkpoint::open(f.good_index());
    ASSERT_TRUE(c) << c.error().to_string();
    const fs::path moved = f.dir.string() + ".moved";
    fs::remove_all(moved);
    fs::rename(f.dir, moved);
    fs::create_directory_symlink(outside, f.dir);
    auto t = c->find("c");
    ASSERT_TRUE(t) << t.error().to_string();
    EXPECT_EQ(t->info->byte_size(), 4u) << "read the outside file";
    fs::remove(f.dir);
    fs::rename(moved, f.dir);
  }
  // With follow_external_symlinks, following links is the documented intent:
  // the shard is opened by its path.
  {
    Fixture f("ckpt-swap-follow");
    sft::CheckpointOptions follow;
    follow.follow_external_symlinks = true;
    auto c = Checkpoint::open(f.good_index(), follow);
    ASSERT_TRUE(c) << c.error().to_string();
    fs::remove(f.dir / "model-00002-of-00002.safetensors");
    fs::create_symlink(outside / "model-00002-of-00002.safetensors", f.dir / "model-00002-of-00002.safetensors");
    EXPECT_TRUE(c->find("c"));
  }
}

TEST(Checkpoint, ConcurrentLookupsShareOneOpen) {
  Fixture f("ckpt-threads");
  auto c = Checkpoint::open(f.good_index());
  ASSERT_TRUE(c);
  std::vector<const sft::File*> seen(8, nullptr);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      auto t = c->find(i % 2 ? "a" : "b");
      if (t) seen[static_cast<std::size_t>(i)] = t->file;
    });
  for (auto& t : threads) t.join();
  for (auto* p : seen) EXPECT_EQ(p, seen[0]);
  EXPECT_NE(seen[0], nullptr);
}

TEST(ShardPlan, FollowsHuggingFaceRules) {
  // huggingface_hub's documented example: [6, 6, 2, 6, 2, 2] with a limit of 10.
  const std::uint64_t sizes[] = {6, 6, 2, 6, 2, 2};
  sft::ShardingOptions o;
  o.max_shard_size = 10;
  auto plan = sft::plan_shards(sizes, o);
  ASSERT_EQ(plan.shards.size(), 3u);
  EXPECT_EQ(plan.shards[0].tensors, (std::vector<std::size_t>{0}));
  EXPECT_EQ(plan.shards[1].tensors, (std::vector<std::size_t>{1, 2}));
  EXPECT_EQ(plan.shards[2].tensors, (std::vector<std::size_t>{3, 4, 5}));
  EXPECT_EQ(plan.shards[2].file_name, "model-00003-of-00003.safetensors");
  EXPECT_EQ(plan.total_size, 24u);

  // A tensor above the limit gets a shard of its own, placed before the one being filled.
  const std::uint64_t big[] = {3, 50, 4};
  plan = sft::plan_shards(big, o);
  ASSERT_EQ(plan.shards.size(), 2u);
  EXPECT_EQ(plan.shards[0].tensors, (std::vector<std::size_t>{1}));
  EXPECT_EQ(plan.shards[1].tensors, (std::vector<std::size_t>{0, 2}));

  o.max_shard_size = 100;
  plan = sft::plan_shards(big, o);
  ASSERT_EQ(plan.shards.size(), 1u);
  EXPECT_FALSE(plan.sharded());
  EXPECT_EQ(plan.shards[0].file_name, "model.safetensors");
  plan = sft::plan_shards({}, o);
  ASSERT_EQ(plan.shards.size(), 1u);
  EXPECT_TRUE(plan.shards[0].tensors.empty());
}

TEST(ShardPlan, IndexTextIsPythonJsonDumps) {
  const std::uint64_t sizes[] = {4, 4, 4};
  sft::ShardingOptions o;
  o.max_shard_size = 4;
  o.prefix = "pm";
  auto plan = sft::plan_shards(sizes, o);
  const std::string_view names[] = {"z\n\"q\"", "a\xc3\xaf", "\xf0\x9f\x98\x80\x7f"};
  EXPECT_EQ(sft::index_json(plan, names),
            "{\n"
            "  \"metadata\": {\n"
            "    \"total_size\": 12\n"
            "  },\n"
            "  \"weight_map\": {\n"
            "    \"a\\u00ef\": \"pm-00002-of-00003.safetensors\",\n"
            "    \"z\\n\\\"q\\\"\": \"pm-00001-of-00003.safetensors\",\n"
            "    \"\\ud83d\\ude00\\u007f\": \"pm-00003-of-00003.safetensors\"\n"
            "  }\n"
            "}\n");
}

TEST(ShardPlan, ShardNameRules) {
  EXPECT_EQ(sft::shard_name_problem("model-00001-of-00002.safetensors"), "");
  EXPECT_EQ(sft::shard_name_problem("..model.safetensors"), "");  // a plain name that starts with dots
  for (const char* bad : {"", ".", "..", "/a.safetensors", "a/b.safetensors", "a\\b.safetensors", "c:a.safetensors",
                          "a\x01.safetensors", "a.bin", ".safetensors", "a.safetensors.json"})
    EXPECT_NE(sft::shard_name_problem(bad), "") << bad;
  EXPECT_EQ(sft::index_file_name(), "model.safetensors.index.json");
}

}  // namespace
