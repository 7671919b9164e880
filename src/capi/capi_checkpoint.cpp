// The C API: checkpoints, one file or shards with an index (include/sft/sft.h).
#include <filesystem>

#include "capi/capi_internal.hpp"

using namespace sft;
using namespace sft::capi;

namespace {

constexpr std::uint32_t known_checkpoint_flags = SFT_CHECKPOINT_STRICT | SFT_CHECKPOINT_FOLLOW_EXTERNAL_SYMLINKS;

Result<const Checkpoint*> checkpoint_of(const sft_checkpoint* c) {
  if (!c || !c->checkpoint) return bad_argument("checkpoint is NULL");
  return c->checkpoint.get();
}

Result<CheckpointOptions> checkpoint_options(const sft_checkpoint_options* o) {
  CheckpointOptions opt;
  if (!o) return opt;
  SFT_TRY_ASSIGN(opt.open, open_options(&o->open));
  if (o->flags & ~known_checkpoint_flags) return bad_argument("unknown sft_checkpoint_options.flags bits");
  if (o->reserved0 || !all_zero(o->reserved)) return bad_argument("sft_checkpoint_options.reserved must be zero");
  opt.strict = (o->flags & SFT_CHECKPOINT_STRICT) != 0;
  opt.follow_external_symlinks = (o->flags & SFT_CHECKPOINT_FOLLOW_EXTERNAL_SYMLINKS) != 0;
  if (o->max_index_bytes) opt.max_index_bytes = o->max_index_bytes;
  return opt;
}

// A shard's File, sharing ownership of the whole checkpoint.
std::shared_ptr<const File> shard_file(const sft_checkpoint* c, const File* file) {
  return std::shared_ptr<const File>(c->checkpoint, file);
}

// Entry `index` of a list of names the checkpoint owns.
Result<void> name_at(std::span<const std::string> names, std::size_t index, const char* what, const char** name,
                     std::size_t* len) {
  if (index >= names.size())
    return bad_argument(std::string(what) + " index " + std::to_string(index) + " out of range: the checkpoint has " +
                        std::to_string(names.size()));
  if (name) *name = names[index].c_str();
  if (len) *len = names[index].size();
  return {};
}

}  // namespace

extern "C" {

sft_status sft_checkpoint_open(const char* path, const sft_checkpoint_options* options, sft_checkpoint** out,
                               sft_error** err) {
  if (out) *out = nullptr;
  return boundary(err, [&]() -> Result<void> {
    if (!path || !out) return bad_argument(!path ? "path is NULL" : "out is NULL");
    SFT_TRY_ASSIGN(CheckpointOptions opt, checkpoint_options(options));
    SFT_TRY_ASSIGN(Checkpoint c, Checkpoint::open(std::filesystem::path(path), opt));
    auto h = std::make_unique<sft_checkpoint>();
    h->checkpoint = std::make_shared<const Checkpoint>(std::move(c));
    *out = h.release();
    return {};
  });
}

void sft_checkpoint_close(sft_checkpoint* c) { delete c; }

bool sft_checkpoint_sharded(const sft_checkpoint* c) { return c && c->checkpoint->sharded(); }
size_t sft_checkpoint_shard_count(const sft_checkpoint* c) { return c ? c->checkpoint->shards().size() : 0; }
size_t sft_checkpoint_tensor_count(const sft_checkpoint* c) { return c ? c->checkpoint->names().size() : 0; }

sft_status sft_checkpoint_shard_name(const sft_checkpoint* c, size_t index, const char** name, size_t* len,
                                     sft_error** err) {
  return boundary(err, [&]() -> Result<void> {
    SFT_TRY_ASSIGN(const Checkpoint* cp, checkpoint_of(c));
    return name_at(cp->shards(), index, "shard", name, len);
  });
}

sft_status sft_checkpoint_tensor_name(const sft_checkpoint* c, size_t index, const char** name, size_t* len,
                                      sft_error** err) {
  return boundary(err, [&]() -> Result<void> {
    SFT_TRY_ASSIGN(const Checkpoint* cp, checkpoint_of(c));
    return name_at(cp->names(), index, "tensor", name, len);
  });
}

sft_status sft_checkpoint_shard(const sft_checkpoint* c, size_t index, sft_file** out, sft_error** err) {
  if (out) *out = nullptr;
  return boundary(err, [&]() -> Result<void> {
    if (!out) return bad_argument("out is NULL");
    SFT_TRY_ASSIGN(const Checkpoint* cp, checkpoint_of(c));
    SFT_TRY_ASSIGN(const File* file, cp->shard(index));
    *out = new_file_handle(shard_file(c, file));
    return {};
  });
}

sft_status sft_checkpoint_find(const sft_checkpoint* c, const char* name, size_t name_len, sft_file** shard,
                               size_t* index, sft_error** err) {
  if (shard) *shard = nullptr;
  return boundary(err, [&]() -> Result<void> {
    if (!shard || !index || (!name && name_len))
      return bad_argument(!shard ? "shard is NULL" : !index ? "index is NULL" : "name is NULL");
    SFT_TRY_ASSIGN(const Checkpoint* cp, checkpoint_of(c));
    SFT_TRY_ASSIGN(CheckpointTensor t, cp->find(std::string_view(name ? name : "", name_len)));
    *shard = new_file_handle(shard_file(c, t.file));
    *index = static_cast<std::size_t>(t.info - t.file->header().tensors().data());
    return {};
  });
}

sft_status sft_checkpoint_load(const sft_checkpoint* c, const char* name, size_t name_len, sft_bytes** out,
                               sft_error** err) {
  if (out) *out = nullptr;
  return boundary(err, [&]() -> Result<void> {
    if (!out || (!name && name_len)) return bad_argument(!out ? "out is NULL" : "name is NULL");
    SFT_TRY_ASSIGN(const Checkpoint* cp, checkpoint_of(c));
    SFT_TRY_ASSIGN(CheckpointTensor t, cp->find(std::string_view(name ? name : "", name_len)));
    SFT_TRY_ASSIGN(TensorBytes b, t.load());
    *out = new_bytes_handle(shard_file(c, t.file), std::move(b));
    return {};
  });
}

sft_status sft_checkpoint_validate(const sft_checkpoint* c, sft_error** err) {
  return boundary(err, [&]() -> Result<void> {
    SFT_TRY_ASSIGN(const Checkpoint* cp, checkpoint_of(c));
    return cp->validate().transform([](auto&&) {});
  });
}

}  // extern "C"
