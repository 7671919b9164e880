// tools/cmd_convert.cpp — `sft convert IN OUT --dtype D [--only GLOB]...` (docs/cli.md).
//
// Floating-point tensors of F32, F16, BF16, F8_E4M3 and F8_E5M2 are converted
// to D with sft::convert (round to nearest even; Inf/NaN/overflow as
// ml_dtypes does, see sft/convert.hpp); every other tensor, and those that
// --only does not match, are copied unchanged. Conversion is streamed in
// pieces: memory stays bounded whatever the size of the checkpoint.
#include <fnmatch.h>

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "checkpoint_cli.hpp"
#include "command.hpp"
#include "header_loader.hpp"
#include "progress.hpp"
#include "sft/convert.hpp"
#include "sft_internal/name_hash.hpp"
#include "sft/writer.hpp"
#include "sink_chunks.hpp"

namespace sft::cli {
namespace {

constexpr std::string_view kUsage =
    "sft convert IN OUT --dtype D [--only GLOB]...\n"
    "  IN: a safetensors file or a checkpoint (directory or index); OUT: one safetensors file\n"
    "  --dtype D     F32, F16, BF16, F8_E4M3 or F8_E5M2\n"
    "  --only GLOB   convert only tensors whose name matches GLOB (fnmatch; repeatable); others are copied\n"
    "tensors of F32, F16, BF16, F8_E4M3 and F8_E5M2 are converted (round to nearest even, NaN and\n"
    "infinities as ml_dtypes handles them); other dtypes are copied unchanged\n"
    "exit status: 0 written, 1 invalid input or a failed write, 2 unreadable input or a usage error";

bool convertible(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F8_E4M3 || t == DType::F8_E5M2;
}

// Read a tensor (read_in_chunks: pread, whole elements at a time), convert
// each piece to `dst` and write it.
Result<void> convert_in_chunks(const Checkpoint& c, const CheckpointTensor& t, DType dst, TensorSink& sink,
                               Progress& progress, std::vector<std::byte>& in, InputFailure& failed) {
  constexpr std::size_t elements = 1 << 20;
  const std::size_t si = element_size(t.info->dtype), so = element_size(dst);
  std::vector<std::byte> buf(static_cast<std::size_t>(std::min<std::uint64_t>(elements, t.info->element_count())) * so);
  return read_in_chunks(c, t, elements * si, in, failed, [&](std::span<const std::byte> part) -> Result<void> {
    std::span<std::byte> outp(buf.data(), part.size() / si * so);
    SFT_TRY(convert(t.info->dtype, part, dst, outp));
    SFT_TRY(sink.write(outp));
    progress.add(part.size());
    return {};
  });
}

int run_convert(std::span<const std::string_view> args) {
  std::vector<std::string> paths, globs;
  std::optional<DType> dst;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto a = args[i];
    if (a == "--dtype" || a == "--only") {
      if (i + 1 == args.size()) return usage_error("convert", std::string(a) + " needs a value");
      const auto v = args[++i];
      if (a == "--only") {
        globs.emplace_back(v);
      } else {
        dst = parse_dtype(v);
        if (!dst || !convertible(*dst))
          return usage_error("convert", "--dtype must be F32, F16, BF16, F8_E4M3 or F8_E5M2, not '" + printable(v) + "'");
      }
      continue;
    }
    if (a.size() > 1 && a[0] == '-') return usage_error("convert", "unknown option '" + printable(a) + "'");
    paths.emplace_back(a);
  }
  if (paths.size() != 2) return usage_error("convert", "IN and OUT expected");
  if (!dst) return usage_error("convert", "--dtype is required");

  int status = 2;
  auto src = open_source(paths[0], &status);
  if (!src) return status;

  std::vector<bool> glob_used(globs.size(), false);
  auto selected = [&](std::string_view name) {
    if (globs.empty()) return true;
    const std::string n(name);
    bool any = false;
    for (std::size_t g = 0; g < globs.size(); ++g)
      if (::fnmatch(globs[g].c_str(), n.c_str(), 0) == 0) any = glob_used[g] = true;
    return any;
  };

  Writer w;
  std::unordered_map<std::string_view, const CheckpointTensor*, sft::NameHash> tensors;
  std::vector<std::string> converted;
  std::uint64_t total = 0, copied = 0;
  for (const auto& t : src->tensors) {
    const TensorInfo& v = *t.info;
    const bool change = selected(v.name) && convertible(v.dtype) && v.dtype != *dst;
    tensors.emplace(v.name, &t);
    total += v.byte_size();
    if (change) converted.push_back(printable(v.name) + ": " + std::string(name(v.dtype)) + " -> " + std::string(name(*dst)));
    else ++copied;
    if (auto r = w.declare(v.name, change ? *dst : v.dtype, v.shape); !r) {
      err(error_line(paths[0], r.error()));
      return 1;
    }
  }
  if (!set_all_metadata(w, src->metadata, paths[0])) return 1;
  for (std::size_t g = 0; g < globs.size(); ++g)
    if (!glob_used[g]) err("sft convert: warning: --only '" + printable(globs[g]) + "' matches no tensor\n");

  test_stall_point("inputs-open");
  Progress progress("convert", total);
  std::vector<std::byte> buf;
  InputFailure failed;
  auto r = w.write_file(paths[1], [&](const TensorInfo& info, TensorSink& sink) -> Result<void> {
    const CheckpointTensor& t = *tensors.at(info.name);
    if (info.dtype == t.info->dtype) return copy_tensor(src->checkpoint, t, sink, progress, buf, failed);
    return convert_in_chunks(src->checkpoint, t, info.dtype, sink, progress, buf, failed);
  });
  progress.finish();
  if (!r) {
    if (failed.report()) return error_status(*failed.error);
    err(error_line(paths[1], r.error()));
    return 1;
  }
  std::sort(converted.begin(), converted.end());
  std::string report;
  for (const auto& line : converted) report += line + "\n";
  report += printable(paths[1]) + ": " + std::to_string(converted.size()) + " converted to " +
            std::string(name(*dst)) + ", " + std::to_string(copied) + " copied unchanged\n";
  out(report);
  return 0;
}

}  // namespace

SFT_COMMAND("convert", "change the dtype of floating-point tensors", kUsage, run_convert);

}  // namespace sft::cli
