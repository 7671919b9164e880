// tools/cmd_diff.cpp — `sft diff A B` (docs/cli.md): how two checkpoints differ.
//
// A and B are files, directories or indexes. Tensors are matched by name;
// floating-point tensors of equal shape are compared value by value after
// decoding (F16, BF16 and the F8 types through sft/convert.hpp), even when
// their dtypes differ, so a converted checkpoint can be checked against its
// source. Everything goes to stdout; exit 0 identical, 1 different, 2 error.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "checkpoint_cli.hpp"
#include "command.hpp"
#include "header_loader.hpp"
#include "progress.hpp"
#include "sft/convert.hpp"
#include "sink_chunks.hpp"

namespace sft::cli {
namespace {

constexpr std::string_view kUsage =
    "sft diff A B\n"
    "  A, B: safetensors files, checkpoint directories or index files\n"
    "exit status: 0 identical, 1 different, 2 unreadable input or a usage error";

std::string shape_text(std::span<const std::uint64_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

struct ValueStats {
  std::uint64_t values = 0;
  std::uint64_t differ = 0;
  std::uint64_t nan_mismatch = 0;  // NaN on one side only
  double max_abs = 0;
  double max_rel = 0;
};

// Equal: ==, or both NaN. Relative difference: |a - b| / max(|a|, |b|).
void compare_values(DType da, std::span<const std::byte> a, DType db, std::span<const std::byte> b,
                    ValueStats& st, Progress& progress) {
  const std::size_t per = da == DType::C64 ? 2 : 1;  // values per element
  const std::size_t n = a.size() / element_size(da) * per;
  constexpr std::size_t chunk = 1 << 14;
  std::vector<double> x(chunk), y(chunk);
  for (std::size_t start = 0; start < n; start += chunk) {
    const std::size_t m = std::min(chunk, n - start);
    const std::size_t ea = element_size(da) / per, eb = element_size(db) / per;
    (void)decode_to_double(da, a.subspan(start * ea, m * ea), x);
    (void)decode_to_double(db, b.subspan(start * eb, m * eb), y);
    for (std::size_t i = 0; i < m; ++i) {
      const double p = x[i], q = y[i];
      if (p == q || (std::isnan(p) && std::isnan(q))) continue;
      ++st.differ;
      if (std::isnan(p) || std::isnan(q)) {
        ++st.nan_mismatch;
        continue;
      }
      const double d = std::fabs(p - q);
      const double rel = std::isinf(d) ? INFINITY : d / std::max(std::fabs(p), std::fabs(q));
      st.max_abs = std::max(st.max_abs, d);
      st.max_rel = std::max(st.max_rel, rel);
    }
    progress.add(m * ea + m * eb);
  }
  st.values += n;
}

std::string stats_text(const ValueStats& st) {
  std::string s = std::to_string(st.differ) + " of " + std::to_string(st.values) + " values differ";
  if (st.differ > st.nan_mismatch) s += ", max abs diff " + num(st.max_abs) + ", max rel diff " + num(st.max_rel);
  if (st.nan_mismatch) s += ", " + std::to_string(st.nan_mismatch) + " NaN on one side only";
  return s;
}

// The bytes of two tensors of the same element count, read (pread, never
// through a mapping: an input that shrinks meanwhile is an io_error naming
// it) a whole number of elements at a time: fn(piece of a, piece of b).
struct PairReader {
  const Checkpoint& ca;
  const Checkpoint& cb;
  InputFailure& failed;
  std::vector<std::byte> ba, bb;

  template <class Fn>
  Result<void> run(const CheckpointTensor& a, const CheckpointTensor& b, Fn&& fn) {
    // Whole elements of each; the same dtype (sub-byte ones included) is
    // read in whole bytes, which are as many on both sides.
    const bool same = a.info->dtype == b.info->dtype;
    const std::uint64_t count = same ? a.info->byte_size() : a.info->element_count();
    const std::size_t ea = same ? 1 : element_size(a.info->dtype), eb = same ? 1 : element_size(b.info->dtype);
    const std::size_t unit = same ? std::max<std::size_t>(1, element_size(a.info->dtype)) : 1;
    const std::uint64_t per = std::max<std::uint64_t>(unit, kSinkChunk / std::max(ea, eb) / unit * unit);
    ba.resize(static_cast<std::size_t>(std::min(per, count) * ea));
    bb.resize(static_cast<std::size_t>(std::min(per, count) * eb));
    for (std::uint64_t at = 0; at < count; at += per) {
      const std::uint64_t m = std::min(per, count - at);
      std::span<std::byte> x(ba.data(), static_cast<std::size_t>(m * ea)), y(bb.data(), static_cast<std::size_t>(m * eb));
      if (auto r = a.file->read_range(*a.info, at * ea, x); !r) return failed.note(tensor_file(ca, a), std::move(r).error());
      if (auto r = b.file->read_range(*b.info, at * eb, y); !r) return failed.note(tensor_file(cb, b), std::move(r).error());
      fn(std::span<const std::byte>(x), std::span<const std::byte>(y));
    }
    return {};
  }
};

// One line describing how a tensor present in both differs, or "" when identical.
Result<std::string> compare_tensor(PairReader& reader, const CheckpointTensor& ta, const CheckpointTensor& tb,
                                   Progress& progress) {
  const TensorInfo& a = *ta.info;
  const TensorInfo& b = *tb.info;
  const std::string name = printable(a.name);
  const bool same_shape = std::equal(a.shape.begin(), a.shape.end(), b.shape.begin(), b.shape.end());
  const bool numeric = decodes_to_double(a.dtype) && decodes_to_double(b.dtype) &&
                       (a.dtype == DType::C64) == (b.dtype == DType::C64);
  if (a.dtype == b.dtype && same_shape) {
    // Equal pieces count their values as equal without decoding them.
    std::uint64_t bytes_differ = 0;
    ValueStats st;
    const std::size_t per = a.dtype == DType::C64 ? 2 : 1;
    SFT_TRY(reader.run(ta, tb, [&](std::span<const std::byte> x, std::span<const std::byte> y) {
      if (std::equal(x.begin(), x.end(), y.begin(), y.end())) {
        st.values += x.size() / element_size(a.dtype) * per;
        progress.add(2 * x.size());
        return;
      }
      for (std::size_t i = 0; i < x.size(); ++i) bytes_differ += x[i] != y[i];
      if (numeric) compare_values(a.dtype, x, b.dtype, y, st, progress);
      else progress.add(2 * x.size());
    }));
    if (bytes_differ == 0) return std::string();
    if (!numeric)
      return "bytes differ: " + name + ": " + std::to_string(bytes_differ) + " of " + std::to_string(a.byte_size()) +
             " bytes\n";
    if (st.differ == 0) return "bytes differ: " + name + ": values equal (signed zeros or NaN payloads)\n";
    return "values differ: " + name + ": " + stats_text(st) + "\n";
  }
  if (!same_shape) {
    progress.add(a.byte_size() + b.byte_size());
    if (a.dtype != b.dtype)
      return "dtype and shape differ: " + name + ": " + std::string(sft::name(a.dtype)) + " " +
             shape_text(a.shape) + " vs " + std::string(sft::name(b.dtype)) + " " + shape_text(b.shape) + "\n";
    return "shape differs: " + name + ": " + shape_text(a.shape) + " vs " + shape_text(b.shape) + "\n";
  }
  std::string s = "dtype differs: " + name + ": " + std::string(sft::name(a.dtype)) + " vs " +
                  std::string(sft::name(b.dtype));
  if (!numeric) {
    progress.add(a.byte_size() + b.byte_size());
    return s + "\n";
  }
  ValueStats st;
  SFT_TRY(reader.run(ta, tb, [&](std::span<const std::byte> x, std::span<const std::byte> y) {
    compare_values(a.dtype, x, b.dtype, y, st, progress);
  }));
  return s + (st.differ == 0 ? std::string(", values equal") : "; " + stats_text(st)) + "\n";
}

int run_diff(std::span<const std::string_view> args) {
  std::vector<std::string> paths;
  bool options_done = false;
  for (auto a : args) {
    if (!options_done && a.size() > 1 && a[0] == '-') {
      if (a == "--") options_done = true;
      else return usage_error("diff", "unknown option '" + printable(a) + "'");
      continue;
    }
    paths.emplace_back(a);
  }
  if (paths.size() != 2) return usage_error("diff", "two inputs expected, A and B");

  int status = 2;
  CheckpointOptions options;
  options.open.hint = AccessHint::sequential;
  options.open.mode = ReadMode::pread;  // read, never mapped (PairReader)
  auto ca = open_checked_checkpoint(paths[0], &status, options);
  if (!ca) return 2;
  auto cb = open_checked_checkpoint(paths[1], &status, options);
  if (!cb) return 2;

  auto na = ca->names(), nb = cb->names();
  std::uint64_t total = 0;
  for (const auto& n : na)
    if (cb->contains(n)) {
      auto ta = ca->find(n), tb = cb->find(n);
      if (ta && tb) total += ta->info->byte_size() + tb->info->byte_size();
    }
  test_stall_point("inputs-open");
  Progress progress("diff", total);
  InputFailure failed;
  PairReader reader{*ca, *cb, failed, {}, {}};

  std::string report;
  std::uint64_t both = 0, identical = 0, only_a = 0, only_b = 0;
  std::size_t i = 0, k = 0;
  while (i < na.size() || k < nb.size()) {
    if (k == nb.size() || (i < na.size() && na[i] < nb[k])) {
      report += "only in A: " + printable(na[i++]) + "\n";
      ++only_a;
      continue;
    }
    if (i == na.size() || nb[k] < na[i]) {
      report += "only in B: " + printable(nb[k++]) + "\n";
      ++only_b;
      continue;
    }
    auto ta = ca->find(na[i]);
    auto tb = cb->find(nb[k]);
    for (auto* t : {&ta, &tb})
      if (!*t) {
        progress.finish();
        err(error_line(paths[t == &ta ? 0 : 1], t->error()));
        return 2;
      }
    for (auto* t : {&ta, &tb})
      if (!readable_in_place(paths[t == &ta ? 0 : 1], **t, &status)) {
        progress.finish();
        return status;
      }
    ++both;
    auto line = compare_tensor(reader, *ta, *tb, progress);
    if (!line) {
      progress.finish();
      if (!failed.report()) err(error_line(paths[0], line.error()));
      return 2;
    }
    if (line->empty()) ++identical;
    report += *line;
    ++i;
    ++k;
  }
  progress.finish();
  const bool same = identical == both && only_a == 0 && only_b == 0;
  if (same) {
    report += "identical: " + std::to_string(both) + (both == 1 ? " tensor\n" : " tensors\n");
  } else {
    report += "summary: " + std::to_string(both) + " in both, " + std::to_string(identical) + " identical, " +
              std::to_string(both - identical) + " differ, " + std::to_string(only_a) + " only in A, " +
              std::to_string(only_b) + " only in B\n";
  }
  out(report);
  return same ? 0 : 1;
}

}  // namespace

SFT_COMMAND("diff", "compare the tensors of two files or checkpoints", kUsage, run_diff);

}  // namespace sft::cli
