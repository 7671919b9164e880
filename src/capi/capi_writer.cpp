// The C API: writing files (include/sft/sft.h).
#include <cstring>
#include <filesystem>

#include "capi/capi_internal.hpp"

using namespace sft;
using namespace sft::capi;

namespace {

constexpr std::uint32_t known_write_flags = SFT_WRITE_KEEP_ORDER | SFT_WRITE_NO_SYNC | SFT_WRITE_EMPTY_METADATA;

Result<sft_writer*> writer_of(sft_writer* w) {
  if (!w) return bad_argument("writer is NULL");
  return w;
}
Result<const sft_writer*> writer_of(const sft_writer* w) {
  if (!w) return bad_argument("writer is NULL");
  return w;
}

}  // namespace

extern "C" {

sft_status sft_writer_new(const sft_writer_options* options, sft_writer** out, sft_error** err) {
  if (out) *out = nullptr;
  return boundary(err, [&]() -> Result<void> {
    if (!out) return bad_argument("out is NULL");
    WriterOptions opt;
    bool empty_metadata = false;
    if (options) {
      if (options->flags & ~known_write_flags) return bad_argument("unknown sft_writer_options.flags bits");
      if (options->reserved0 || !all_zero(options->reserved))
        return bad_argument("sft_writer_options.reserved must be zero");
      if (options->alignment) opt.alignment = options->alignment;
      opt.keep_insertion_order = (options->flags & SFT_WRITE_KEEP_ORDER) != 0;
      opt.durable = (options->flags & SFT_WRITE_NO_SYNC) == 0;
      empty_metadata = (options->flags & SFT_WRITE_EMPTY_METADATA) != 0;
    }
    auto w = std::make_unique<sft_writer>(sft_writer{Writer(opt), {}});
    // The plan of the empty writer checks the options (bad_alignment) now
    // rather than at the first write.
    SFT_TRY(w->writer.plan());
    if (empty_metadata) w->writer.enable_metadata();
    *out = w.release();
    return {};
  });
}

void sft_writer_free(sft_writer* w) { delete w; }

sft_status sft_writer_add(sft_writer* w, const char* name, size_t name_len, int32_t dtype, const uint64_t* shape,
                          size_t rank, const void* data, size_t size, sft_error** err) {
  return boundary(err, [&]() -> Result<void> {
    SFT_TRY_ASSIGN(sft_writer * sw, writer_of(w));
    if ((!name && name_len) || (!shape && rank) || (!data && size))
      return bad_argument(!shape && rank ? "shape is NULL" : !data && size ? "data is NULL" : "name is NULL");
    if (!sft_dtype_name(dtype)) return bad_argument("unknown dtype " + std::to_string(dtype));
    const std::string_view n(name ? name : "", name_len);
    const std::span<const std::byte> bytes(static_cast<const std::byte*>(data), size);
    SFT_TRY(sw->writer.add(n, static_cast<DType>(dtype), std::span<const std::uint64_t>(shape, rank), bytes));
    sw->bytes.emplace(std::string(n), bytes);
    return {};
  });
}

sft_status sft_writer_set_metadata(sft_writer* w, const char* key, size_t key_len, const char* value,
                                   size_t value_len, sft_error** err) {
  return boundary(err, [&]() -> Result<void> {
    SFT_TRY_ASSIGN(sft_writer * sw, writer_of(w));
    if ((!key && key_len) || (!value && value_len)) return bad_argument(!key && key_len ? "key is NULL" : "value is NULL");
    return sw->writer.set_metadata(std::string_view(key ? key : "", key_len),
                                   std::string_view(value ? value : "", value_len));
  });
}

sft_status sft_writer_write_file(const sft_writer* w, const char* path, sft_error** err) {
  return boundary(err, [&]() -> Result<void> {
    SFT_TRY_ASSIGN(const sft_writer* sw, writer_of(w));
    if (!path) return bad_argument("path is NULL");
    return sw->writer.write_file(std::filesystem::path(path));
  });
}

sft_status sft_writer_serialize(const sft_writer* w, void* buffer, size_t buffer_size, uint64_t* size,
                                sft_error** err) {
  return boundary(err, [&]() -> Result<void> {
    SFT_TRY_ASSIGN(const sft_writer* sw, writer_of(w));
    if (!size) return bad_argument("size is NULL");
    SFT_TRY_ASSIGN(WriterPlan plan, sw->writer.plan());
    *size = plan.file_size();
    if (!buffer) return {};
    if (buffer_size < plan.file_size())
      return Error(Errc::buffer_too_small, "buffer of " + std::to_string(buffer_size) + " bytes for a file of " +
                                               std::to_string(plan.file_size()));
    // The preamble, then each tensor's borrowed bytes at its offset: the
    // offsets tile the data buffer, so every byte is written once.
    auto* out = static_cast<std::byte*>(buffer);
    const auto preamble = plan.preamble();
    std::memcpy(out, preamble.data(), preamble.size());
    for (const TensorInfo& t : plan.tensors()) {
      auto it = sw->bytes.find(t.name);
      if (it == sw->bytes.end()) return Error(Errc::internal, "a planned tensor without bytes", Error::no_offset, std::string(t.name));
      if (!it->second.empty())
        std::memcpy(out + plan.data_start() + t.data_offsets.begin, it->second.data(), it->second.size());
    }
    return {};
  });
}

}  // extern "C"
