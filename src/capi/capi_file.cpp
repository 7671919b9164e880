// The C API: files, tensor descriptions, bytes, slices, metadata (include/sft/sft.h).
#include <cstring>
#include <filesystem>
#include <vector>

#include "capi/capi_internal.hpp"

namespace sft::capi {

namespace {

constexpr std::uint32_t known_open_flags = SFT_OPEN_POPULATE | SFT_OPEN_REFUSE_COMPRESSED;

Result<const File*> file_of(const sft_file* f) {
  if (!f || !f->file) return bad_argument("file is NULL");
  return f->file.get();
}

// The entry `index` of the file's header.
Result<const TensorInfo*> tensor_of(const File& file, std::size_t index) {
  const auto tensors = file.header().tensors();
  if (index >= tensors.size())
    return bad_argument("tensor index " + std::to_string(index) + " out of range: the file has " +
                        std::to_string(tensors.size()) + " tensors");
  return &tensors[index];
}

// C selections as SliceSpecs (an unknown kind is invalid_argument).
Result<std::vector<SliceSpec>> slice_specs(const sft_slice* slices, std::size_t count) {
  if (count && !slices) return bad_argument("slices is NULL");
  std::vector<SliceSpec> specs(count);
  for (std::size_t d = 0; d < count; ++d) {
    const sft_slice& s = slices[d];
    switch (s.kind) {
      case SFT_SLICE_ALL: specs[d] = SliceSpec::all_of(); break;
      case SFT_SLICE_RANGE: specs[d] = SliceSpec::range(s.start, s.stop, s.step); break;
      case SFT_SLICE_INDEX: specs[d] = SliceSpec::index(s.start); break;
      default: return bad_argument("unknown sft_slice kind " + std::to_string(s.kind) + " on dimension " + std::to_string(d));
    }
  }
  return specs;
}

// The file and the tensor of a call taking (file, index).
struct Target {
  const File* file;
  const TensorInfo* info;
};
Result<Target> target_of(const sft_file* f, std::size_t index) {
  SFT_TRY_ASSIGN(const File* file, file_of(f));
  SFT_TRY_ASSIGN(const TensorInfo* info, tensor_of(*file, index));
  return Target{file, info};
}

// Stores a string's pointer and length where the caller asked for them.
void put(std::string_view s, const char** p, std::size_t* len) noexcept {
  if (p) *p = s.data();
  if (len) *len = s.size();
}

}  // namespace

Result<OpenOptions> open_options(const sft_open_options* o) {
  OpenOptions opt;
  if (!o) return opt;
  if (o->mode > SFT_READ_PREAD) return bad_argument("unknown sft_open_options.mode " + std::to_string(o->mode));
  if (o->hint > SFT_HINT_RANDOM) return bad_argument("unknown sft_open_options.hint " + std::to_string(o->hint));
  if (o->flags & ~known_open_flags) return bad_argument("unknown sft_open_options.flags bits");
  if (!all_zero(o->reserved)) return bad_argument("sft_open_options.reserved must be zero");
  opt.mode = o->mode == SFT_READ_PREAD ? ReadMode::pread : ReadMode::mmap;
  opt.hint = o->hint == SFT_HINT_SEQUENTIAL ? AccessHint::sequential
             : o->hint == SFT_HINT_RANDOM   ? AccessHint::random
                                            : AccessHint::normal;
  opt.populate = (o->flags & SFT_OPEN_POPULATE) != 0;
  opt.allow_compressed = (o->flags & SFT_OPEN_REFUSE_COMPRESSED) == 0;
  Limits& l = opt.limits;
  if (o->max_depth) l.max_depth = o->max_depth;
  if (o->max_header_bytes) l.max_header_bytes = o->max_header_bytes;
  if (o->max_tensors) l.max_tensors = o->max_tensors;
  if (o->max_rank) l.max_rank = o->max_rank;
  if (o->max_name_bytes) l.max_name_bytes = o->max_name_bytes;
  if (o->max_frame_bytes) l.max_frame_bytes = o->max_frame_bytes;
  if (o->max_frames) l.max_frames = o->max_frames;
  return opt;
}

sft_file* new_file_handle(std::shared_ptr<const File> file) {
  auto h = std::make_unique<sft_file>();
  h->kind = std::string(file->source_kind());
  h->file = std::move(file);
  return h.release();
}

sft_bytes* new_bytes_handle(std::shared_ptr<const File> file, TensorBytes bytes) {
  return new sft_bytes{std::move(file), std::move(bytes)};
}

}  // namespace sft::capi

using namespace sft;
using namespace sft::capi;

namespace {

// The handle of a freshly opened File.
Result<void> hand_out(Result<File> opened, sft_file** out) {
  SFT_TRY(opened);
  *out = new_file_handle(std::make_shared<const File>(std::move(*opened)));
  return {};
}

}  // namespace

extern "C" {

sft_status sft_file_open(const char* path, const sft_open_options* options, sft_file** out, sft_error** err) {
  if (out) *out = nullptr;
  return boundary(err, [&]() -> Result<void> {
    if (!path || !out) return bad_argument(!path ? "path is NULL" : "out is NULL");
    SFT_TRY_ASSIGN(OpenOptions opt, open_options(options));
    return hand_out(File::open(std::filesystem::path(path), opt), out);
  });
}

sft_status sft_file_open_memory(const void* data, size_t size, const sft_open_options* options, sft_file** out,
                                sft_error** err) {
  if (out) *out = nullptr;
  return boundary(err, [&]() -> Result<void> {
    if ((!data && size) || !out) return bad_argument(!out ? "out is NULL" : "data is NULL");
    SFT_TRY_ASSIGN(OpenOptions opt, open_options(options));
    return hand_out(File::from_memory({static_cast<const std::byte*>(data), size}, opt.limits), out);
  });
}

void sft_file_close(sft_file* file) { delete file; }

uint64_t sft_file_size(const sft_file* f) { return f ? f->file->size() : 0; }
uint64_t sft_file_data_start(const sft_file* f) { return f ? f->file->header().data_start() : 0; }
const char* sft_file_source_kind(const sft_file* f) { return f ? f->kind.c_str() : ""; }
bool sft_file_is_mapped(const sft_file* f) { return f && f->file->mapped(); }
size_t sft_file_tensor_count(const sft_file* f) { return f ? f->file->header().size() : 0; }

sft_status sft_file_tensor_info(const sft_file* f, size_t index, sft_tensor_info* info, sft_error** err) {
  return boundary(err, [&]() -> Result<void> {
    if (!info) return bad_argument("info is NULL");
    SFT_TRY_ASSIGN(Target t, target_of(f, index));
    const TensorInfo& i = *t.info;
    *info = sft_tensor_info{};
    info->name = i.name.data();
    info->name_len = i.name.size();
    info->shape = i.shape.data();
    info->rank = i.shape.size();
    info->data_begin = i.data_offsets.begin;
    info->data_end = i.data_offsets.end;
    info->file_offset = t.file->header().data_start() + i.data_offsets.begin;
    info->byte_size = i.byte_size();
    info->dtype = static_cast<int32_t>(i.dtype);
    return {};
  });
}

sft_status sft_file_find(const sft_file* f, const char* name, size_t name_len, size_t* index, sft_error** err) {
  return boundary(err, [&]() -> Result<void> {
    if ((!name && name_len) || !index) return bad_argument(!index ? "index is NULL" : "name is NULL");
    SFT_TRY_ASSIGN(const File* file, file_of(f));
    const std::string_view n(name ? name : "", name_len);
    const TensorInfo* info = file->header().find(n);
    if (!info) return Error(Errc::not_found, "no tensor of that name", Error::no_offset, std::string(n));
    *index = static_cast<std::size_t>(info - file->header().tensors().data());
    return {};
  });
}

sft_status sft_file_view(const sft_file* f, size_t index, const void** data, size_t* size, sft_error** err) {
  return boundary(err, [&]() -> Result<void> {
    if (!data || !size) return bad_argument(!data ? "data is NULL" : "size is NULL");
    SFT_TRY_ASSIGN(Target t, target_of(f, index));
    SFT_TRY_ASSIGN(TensorView v, t.file->view(*t.info));
    *data = v.data();
    *size = v.size_bytes();
    return {};
  });
}

sft_status sft_file_read(const sft_file* f, size_t index, void* buffer, size_t buffer_size, sft_error** err) {
  return boundary(err, [&]() -> Result<void> {
    if (!buffer && buffer_size) return bad_argument("buffer is NULL");
    SFT_TRY_ASSIGN(Target t, target_of(f, index));
    return t.file->read(*t.info, {static_cast<std::byte*>(buffer), buffer_size});
  });
}

sft_status sft_file_read_range(const sft_file* f, size_t index, uint64_t offset, void* buffer, size_t size,
                               sft_error** err) {
  return boundary(err, [&]() -> Result<void> {
    if (!buffer && size) return bad_argument("buffer is NULL");
    SFT_TRY_ASSIGN(Target t, target_of(f, index));
    return t.file->read_range(*t.info, offset, {static_cast<std::byte*>(buffer), size});
  });
}

sft_status sft_file_load(const sft_file* f, size_t index, sft_bytes** out, sft_error** err) {
  if (out) *out = nullptr;
  return boundary(err, [&]() -> Result<void> {
    if (!out) return bad_argument("out is NULL");
    SFT_TRY_ASSIGN(Target t, target_of(f, index));
    SFT_TRY_ASSIGN(TensorBytes b, t.file->load(*t.info));
    *out = new_bytes_handle(f->file, std::move(b));
    return {};
  });
}

const void* sft_bytes_data(const sft_bytes* b) { return b ? b->bytes.data() : nullptr; }
size_t sft_bytes_size(const sft_bytes* b) { return b ? b->bytes.size_bytes() : 0; }
int32_t sft_bytes_dtype(const sft_bytes* b) { return b ? static_cast<int32_t>(b->bytes.dtype()) : -1; }
const uint64_t* sft_bytes_shape(const sft_bytes* b, size_t* rank) {
  if (rank) *rank = b ? b->bytes.shape().size() : 0;
  return b ? b->bytes.shape().data() : nullptr;
}
bool sft_bytes_owned(const sft_bytes* b) { return b && b->bytes.owned(); }
void sft_bytes_free(sft_bytes* b) { delete b; }

sft_status sft_file_slice_shape(const sft_file* f, size_t index, const sft_slice* slices, size_t slice_count,
                                uint64_t* shape, size_t shape_capacity, size_t* rank, uint64_t* byte_size,
                                sft_error** err) {
  return boundary(err, [&]() -> Result<void> {
    SFT_TRY_ASSIGN(Target t, target_of(f, index));
    SFT_TRY_ASSIGN(auto specs, slice_specs(slices, slice_count));
    SFT_TRY_ASSIGN(SlicePlan plan, plan_slice(*t.info, specs));
    if (rank) *rank = plan.shape.size();
    if (byte_size) *byte_size = plan.byte_size;
    if (!shape) return {};
    if (shape_capacity < plan.shape.size())
      return Error(Errc::buffer_too_small,
                   "shape has room for " + std::to_string(shape_capacity) + " dimensions, the slice has " +
                       std::to_string(plan.shape.size()),
                   Error::no_offset, std::string(t.info->name));
    std::copy(plan.shape.begin(), plan.shape.end(), shape);
    return {};
  });
}

sft_status sft_file_read_slice(const sft_file* f, size_t index, const sft_slice* slices, size_t slice_count,
                               void* buffer, size_t buffer_size, sft_error** err) {
  return boundary(err, [&]() -> Result<void> {
    if (!buffer && buffer_size) return bad_argument("buffer is NULL");
    SFT_TRY_ASSIGN(Target t, target_of(f, index));
    SFT_TRY_ASSIGN(auto specs, slice_specs(slices, slice_count));
    return t.file->read_slice(*t.info, specs, {static_cast<std::byte*>(buffer), buffer_size}).transform([](auto&&) {});
  });
}

sft_status sft_file_slice(const sft_file* f, size_t index, const sft_slice* slices, size_t slice_count,
                          sft_bytes** out, sft_error** err) {
  if (out) *out = nullptr;
  return boundary(err, [&]() -> Result<void> {
    if (!out) return bad_argument("out is NULL");
    SFT_TRY_ASSIGN(Target t, target_of(f, index));
    SFT_TRY_ASSIGN(auto specs, slice_specs(slices, slice_count));
    SFT_TRY_ASSIGN(TensorBytes b, t.file->slice(*t.info, specs));
    *out = new_bytes_handle(f->file, std::move(b));
    return {};
  });
}

bool sft_file_has_metadata(const sft_file* f) { return f && f->file->header().has_metadata(); }
size_t sft_file_metadata_count(const sft_file* f) { return f ? f->file->header().metadata().size() : 0; }

sft_status sft_file_metadata_at(const sft_file* f, size_t index, const char** key, size_t* key_len,
                                const char** value, size_t* value_len, sft_error** err) {
  return boundary(err, [&]() -> Result<void> {
    SFT_TRY_ASSIGN(const File* file, file_of(f));
    const auto& entries = file->header().metadata();
    if (index >= entries.size())
      return bad_argument("metadata index " + std::to_string(index) + " out of range: the file has " +
                          std::to_string(entries.size()) + " entries");
    put(entries[index].key, key, key_len);
    put(entries[index].value, value, value_len);
    return {};
  });
}

sft_status sft_file_metadata_get(const sft_file* f, const char* key, size_t key_len, const char** value,
                                 size_t* value_len, sft_error** err) {
  return boundary(err, [&]() -> Result<void> {
    if (!key && key_len) return bad_argument("key is NULL");
    SFT_TRY_ASSIGN(const File* file, file_of(f));
    const std::string_view k(key ? key : "", key_len);
    const std::string* v = file->header().metadata_value(k);
    if (!v) return Error(Errc::not_found, "no metadata key \"" + std::string(k) + "\"");
    put(*v, value, value_len);
    return {};
  });
}

}  // extern "C"
