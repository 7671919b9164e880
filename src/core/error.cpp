#include "sft/error.hpp"

namespace sft {

std::string_view errc_name(Errc code) noexcept {
  switch (code) {
#define SFT_ERRC_CASE(x) case Errc::x: return #x;
    SFT_ERRC_CASE(ok)
    SFT_ERRC_CASE(header_too_small) SFT_ERRC_CASE(header_too_large) SFT_ERRC_CASE(header_length)
    SFT_ERRC_CASE(invalid_utf8) SFT_ERRC_CASE(invalid_json) SFT_ERRC_CASE(nesting_too_deep)
    SFT_ERRC_CASE(duplicate_key) SFT_ERRC_CASE(bad_schema) SFT_ERRC_CASE(unknown_dtype)
    SFT_ERRC_CASE(bad_integer) SFT_ERRC_CASE(bad_offsets) SFT_ERRC_CASE(size_overflow)
    SFT_ERRC_CASE(misaligned_subbyte) SFT_ERRC_CASE(size_mismatch) SFT_ERRC_CASE(incomplete_buffer)
    SFT_ERRC_CASE(limit_exceeded) SFT_ERRC_CASE(strict_violation)
    SFT_ERRC_CASE(io_error) SFT_ERRC_CASE(not_found) SFT_ERRC_CASE(dtype_mismatch)
    SFT_ERRC_CASE(misaligned_data) SFT_ERRC_CASE(slice_out_of_range) SFT_ERRC_CASE(slice_bad_range)
    SFT_ERRC_CASE(slice_too_many_indices) SFT_ERRC_CASE(slice_subbyte) SFT_ERRC_CASE(buffer_too_small)
    SFT_ERRC_CASE(not_mapped) SFT_ERRC_CASE(invalid_argument)
    SFT_ERRC_CASE(out_of_memory) SFT_ERRC_CASE(internal)
    SFT_ERRC_CASE(duplicate_name) SFT_ERRC_CASE(invalid_name) SFT_ERRC_CASE(reserved_name)
    SFT_ERRC_CASE(data_size_mismatch) SFT_ERRC_CASE(missing_data) SFT_ERRC_CASE(write_failed)
    SFT_ERRC_CASE(bad_alignment) SFT_ERRC_CASE(writer_state)
    SFT_ERRC_CASE(bad_index) SFT_ERRC_CASE(shard_path) SFT_ERRC_CASE(shard_missing_tensor)
    SFT_ERRC_CASE(shard_unlisted_tensor) SFT_ERRC_CASE(total_size_mismatch)
    SFT_ERRC_CASE(shard_missing) SFT_ERRC_CASE(no_checkpoint) SFT_ERRC_CASE(unsupported_dtype)
    SFT_ERRC_CASE(digest_mismatch) SFT_ERRC_CASE(no_digest) SFT_ERRC_CASE(bad_digest)
    SFT_ERRC_CASE(compressed_corrupt) SFT_ERRC_CASE(compressed_truncated)
    SFT_ERRC_CASE(compressed_too_large) SFT_ERRC_CASE(bad_seek_table)
    SFT_ERRC_CASE(compressed_unsupported)
    SFT_ERRC_CASE(gpu_no_backend) SFT_ERRC_CASE(gpu_no_device) SFT_ERRC_CASE(gpu_driver)
    SFT_ERRC_CASE(gpu_out_of_memory) SFT_ERRC_CASE(gpu_launch) SFT_ERRC_CASE(gpu_bad_argument)
    SFT_ERRC_CASE(gpu_unsupported) SFT_ERRC_CASE(gpu_verify_failed) SFT_ERRC_CASE(tune_cache)
    SFT_ERRC_CASE(npy_bad_header) SFT_ERRC_CASE(npy_unsupported)
    SFT_ERRC_CASE(remote_url) SFT_ERRC_CASE(remote_unsupported) SFT_ERRC_CASE(remote_http)
    SFT_ERRC_CASE(remote_range) SFT_ERRC_CASE(remote_changed) SFT_ERRC_CASE(remote_timeout)
    SFT_ERRC_CASE(remote_too_large) SFT_ERRC_CASE(remote_redirect) SFT_ERRC_CASE(remote_tls)
    SFT_ERRC_CASE(remote_connection) SFT_ERRC_CASE(remote_encoding)
    SFT_ERRC_CASE(plan_invalid) SFT_ERRC_CASE(plan_split) SFT_ERRC_CASE(plan_subbyte)
    SFT_ERRC_CASE(plan_experts) SFT_ERRC_CASE(dist_engine) SFT_ERRC_CASE(dist_timeout)
    SFT_ERRC_CASE(dist_peer_failed) SFT_ERRC_CASE(dist_mismatch)
#undef SFT_ERRC_CASE
  }
  return "unknown";
}

std::string Error::to_string() const {
  std::string s(errc_name(code));
  s += ": ";
  s += message;
  bool has_off = offset != no_offset;
  if (has_off || !tensor.empty()) {
    s += " (";
    if (has_off) s += "offset " + std::to_string(offset);
    if (!tensor.empty()) {
      if (has_off) s += ", ";
      s += "tensor ";
      for (unsigned char c : tensor) {
        if (c == '\\') {
          s += "\\\\";  // so that a literal "\x0a" in a name reads apart from a newline
        } else if (c < 0x20 || c == 0x7f) {
          static const char* hex = "0123456789abcdef";
          s += "\\x";
          s += hex[c >> 4];
          s += hex[c & 15];
        } else {
          s += static_cast<char>(c);
        }
      }
    }
    s += ")";
  }
  return s;
}

Error Error::with_tensor(std::string_view name) const& { return Error(*this).with_tensor(name); }
Error Error::with_tensor(std::string_view name) && {
  if (tensor.empty()) tensor.assign(name);
  return std::move(*this);
}

Error Error::with_context(std::string_view context) const& { return Error(*this).with_context(context); }
Error Error::with_context(std::string_view context) && {
  if (!context.empty()) {
    std::string m;
    m.reserve(context.size() + 2 + message.size());
    m.append(context).append(": ").append(message);
    message = std::move(m);
  }
  return std::move(*this);
}

Error Error::with_offset(std::uint64_t off) && {
  if (offset == no_offset) offset = off;
  return std::move(*this);
}

}  // namespace sft
