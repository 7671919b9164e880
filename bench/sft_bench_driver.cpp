// bench/sft_bench_driver.cpp — the sft side of the side-by-side comparison.
//
//   sft_bench_driver caps                     operations this build supports, compiler, build type
//   sft_bench_driver residency FILE           fraction of FILE's pages in the page cache
//   sft_bench_driver drop FILE                flush FILE and drop its pages (POSIX_FADV_DONTNEED)
//   sft_bench_driver gen small|moe OUT        write a workload with bench/support (the MoE data as
//                                             a hole), to check it against bench/gen_workload.py
//   sft_bench_driver OP FILE [--reps N] [--warmup N] [--drop-cache] [--populate] [--plain-alloc]
//                    [--mode mmap|pread] [--hint normal|sequential|random] [--output PATH]
//
// OP runs `warmup` untimed and then `reps` timed repetitions and prints one
// JSON object on stdout: every repetition's seconds, min / median / max, and
// what the operation saw (tensors, bytes, checksum) so that bench/compare.py
// can check that sft and the reference package read the same bytes. With
// --drop-cache the file's pages are dropped before every repetition, exactly
// as compare.py does for the reference. Exit status: 0 on success, 1 when the
// operation failed (the JSON then has "error"), 2 on a usage error.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <map>
#include <memory>
#include <new>
#include <span>
#include <utility>
#include <optional>
#include <string>
#include <vector>

#include "driver.hpp"
#include "support/checksum.hpp"
#include "support/workload.hpp"

namespace sft::bench {
namespace {

struct Op {
  std::string description;
  OpFunction fn;
};

std::map<std::string, Op, std::less<>>& registry() {
  static std::map<std::string, Op, std::less<>> ops;
  return ops;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// ---- page cache --------------------------------------------------------------

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() { if (fd >= 0) ::close(fd); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// Fraction of the file's pages resident in the page cache (mincore on a fresh
// mapping, which does not fault anything in), or -1 if it cannot be told.
double resident_fraction(const std::filesystem::path& path) {
  Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (f.fd < 0 || ::fstat(f.fd, &st) != 0) return -1;
  if (st.st_size == 0) return 0;
  const auto size = static_cast<std::size_t>(st.st_size);
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, f.fd, 0);
  if (p == MAP_FAILED) return -1;
  const long page = ::sysconf(_SC_PAGESIZE);
  const std::size_t pages = (size + static_cast<std::size_t>(page) - 1) / static_cast<std::size_t>(page);
  std::vector<unsigned char> vec(pages);
  double frac = -1;
  if (::mincore(p, size, vec.data()) == 0) {
    std::size_t resident = 0;
    for (unsigned char v : vec) resident += v & 1u;
    frac = static_cast<double>(resident) / static_cast<double>(pages);
  }
  ::munmap(p, size);
  return frac;
}

// Write back any dirty pages (DONTNEED leaves dirty pages alone), then ask the
// kernel to drop the file's clean pages. Returns an error text, empty on success.
std::string drop_pages(const std::filesystem::path& path) {
  Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (f.fd < 0) return std::string("open: ") + std::strerror(errno);
  if (::fdatasync(f.fd) != 0 && errno != EINVAL) return std::string("fdatasync: ") + std::strerror(errno);
  if (int rc = ::posix_fadvise(f.fd, 0, 0, POSIX_FADV_DONTNEED); rc != 0)
    return std::string("posix_fadvise: ") + std::strerror(rc);
  return {};
}

// ---- the built-in operations ---------------------------------------------------

Result<File> open_file(const DriverArgs& a) { return File::open(a.file, a.open); }

// open = parse + validate + index, and close: what `with safe_open(p) as f: f.keys()` does.
Result<RepOutcome> op_open(const DriverArgs& a) {
  RepOutcome out;
  const Stopwatch clock;
  {
    auto f = open_file(a);
    if (!f) return std::move(f).error();
    out.tensors = f->header().size();
  }
  clock.stop(out);
  return out;
}

// An owned, uninitialised buffer. Like numpy's allocator, which the
// reference's arrays come from, buffers of 4 MiB and more are advised to use
// transparent huge pages (madvise MADV_HUGEPAGE; effective when THP is in
// "madvise" or "always" mode): otherwise the kernel faults in and zeroes
// every 4 KiB page separately, which costs more than the copy itself.
// --plain-alloc turns the advice off, to show what it is worth.
class Buffer {
 public:
  static constexpr std::size_t huge_page = 2u << 20;
  static constexpr std::size_t huge_threshold = 4u << 20;

  Buffer(std::size_t n, bool advise_huge) : size_(n) {
    if (advise_huge && n >= huge_threshold) {
      const std::size_t rounded = (n + huge_page - 1) / huge_page * huge_page;
      data_ = static_cast<std::byte*>(std::aligned_alloc(huge_page, rounded));
      if (data_) ::madvise(data_, rounded, MADV_HUGEPAGE);
    } else {
      data_ = static_cast<std::byte*>(std::malloc(n ? n : 1));
    }
    if (!data_) throw std::bad_alloc();
  }
  Buffer(Buffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(o.size_) {}
  Buffer& operator=(Buffer&&) = delete;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { std::free(data_); }

  std::span<std::byte> span() noexcept { return {data_, size_}; }

 private:
  std::byte* data_;
  std::size_t size_;
};

// load = open, copy every tensor into its own freshly allocated buffer, close:
// what the reference's load_file(path) -> {name: numpy array} does.
Result<RepOutcome> op_load(const DriverArgs& a) {
  RepOutcome out;
  std::vector<Buffer> buffers;
  const Stopwatch clock;
  {
    auto f = open_file(a);
    if (!f) return std::move(f).error();
    const auto tensors = f->header().tensors();
    buffers.reserve(tensors.size());
    for (const auto& t : tensors) {
      buffers.emplace_back(static_cast<std::size_t>(t.byte_size()), a.huge_pages);
      if (auto r = f->read(t, buffers.back().span()); !r) return std::move(r).error();
    }
  }
  clock.stop(out);
  // Outside the timed region: prove the copies hold the file's bytes.
  for (auto& b : buffers) {
    out.checksum += byte_checksum(b.span());
    out.bytes += b.span().size();
  }
  out.tensors = buffers.size();
  return out;
}

// touch = open, read every byte of every tensor through its zero-copy view
// (a checksum, so nothing can be skipped), close. In pread mode there are no
// views: each tensor is read into one reused buffer instead.
Result<RepOutcome> op_touch(const DriverArgs& a) {
  RepOutcome out;
  const Stopwatch clock;
  {
    auto f = open_file(a);
    if (!f) return std::move(f).error();
    if (auto views = f->views()) {
      for (const TensorView v : *views) {
        out.checksum += byte_checksum(v.bytes());
        out.bytes += v.size_bytes();
        ++out.tensors;
      }
    } else {
      std::vector<std::byte> buf;
      for (const auto& t : f->header().tensors()) {
        buf.resize(static_cast<std::size_t>(t.byte_size()));
        if (auto r = f->read(t, buf); !r) return std::move(r).error();
        out.checksum += byte_checksum(buf);
        out.bytes += buf.size();
        ++out.tensors;
      }
    }
  }
  clock.stop(out);
  return out;
}

SFT_BENCH_OP("open", "File::open (parse + validate + index) and close", op_open);
SFT_BENCH_OP("load", "open, copy every tensor into its own new buffer (File::read), close", op_load);
SFT_BENCH_OP("touch", "open, checksum every byte through zero-copy views, close", op_touch);

// ---- command line ------------------------------------------------------------------

struct RunArgs {
  std::string op;
  DriverArgs args;
  int reps = 5;
  int warmup = 1;
  bool drop_cache = false;
};

int usage(const char* msg) {
  std::fprintf(stderr,
               "sft_bench_driver: %s\n"
               "usage: sft_bench_driver caps | residency FILE | drop FILE | gen small|moe OUT\n"
               "       sft_bench_driver OP FILE [--reps N] [--warmup N] [--drop-cache] [--populate] [--plain-alloc]\n"
               "                        [--mode mmap|pread] [--hint normal|sequential|random] [--output PATH]\n",
               msg);
  return 2;
}

std::optional<int> parse_count(const char* s, int min) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > 1'000'000) return std::nullopt;
  return static_cast<int>(v);
}

const char* mode_name(ReadMode m) { return m == ReadMode::pread ? "pread" : "mmap"; }
const char* hint_name(AccessHint h) {
  switch (h) {
    case AccessHint::sequential: return "sequential";
    case AccessHint::random: return "random";
    default: return "normal";
  }
}

std::string compiler() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#else
  return "unknown";
#endif
}

int print_caps() {
  std::string s = "{\"driver\":\"sft_bench_driver\",\"compiler\":" + json_string(compiler()) +
                  ",\"build_type\":" + json_string(SFT_BENCH_BUILD_TYPE) + ",\"ops\":[";
  bool first = true;
  for (const auto& [name, op] : registry()) {
    if (!first) s += ',';
    first = false;
    s += "{\"name\":" + json_string(name) + ",\"description\":" + json_string(op.description) + "}";
  }
  s += "]}";
  std::puts(s.c_str());
  return 0;
}

int print_residency(const std::filesystem::path& file, bool drop) {
  const double before = resident_fraction(file);
  std::string err;
  if (drop) err = drop_pages(file);
  const double after = resident_fraction(file);
  std::printf("{\"file\":%s,\"resident_before\":%.6f,\"resident_after\":%.6f,\"error\":%s}\n",
              json_string(file.string()).c_str(), before, after,
              err.empty() ? "null" : json_string(err).c_str());
  return err.empty() ? 0 : 1;
}

int fail(const RunArgs& r, const std::string& message) {
  std::printf("{\"op\":%s,\"file\":%s,\"error\":%s}\n", json_string(r.op).c_str(),
              json_string(r.args.file.string()).c_str(), json_string(message).c_str());
  return 1;
}

int run(const RunArgs& r, const Op& op) {
  std::vector<double> times, cpu_times;
  std::optional<RepOutcome> first;
  std::string drop_error;
  double resident_after_drop = -1;
  for (int i = 0; i < r.warmup + r.reps; ++i) {
    const bool timed = i >= r.warmup;
    if (timed && r.drop_cache) {
      drop_error = drop_pages(r.args.file);
      if (!drop_error.empty()) return fail(r, "cannot drop the file's pages: " + drop_error);
      if (i == r.warmup) resident_after_drop = resident_fraction(r.args.file);
    }
    auto out = op.fn(r.args);
    if (!out) return fail(r, out.error().to_string());
    if (!timed) continue;
    if (first && (first->tensors != out->tensors || first->bytes != out->bytes || first->checksum != out->checksum))
      return fail(r, "repetitions disagree on what they read");
    if (!first) first = *out;
    times.push_back(out->seconds);
    cpu_times.push_back(out->cpu_seconds);
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  std::string s = "{\"op\":" + json_string(r.op) + ",\"file\":" + json_string(r.args.file.string()) +
                  ",\"mode\":\"" + mode_name(r.args.open.mode) + "\",\"hint\":\"" + hint_name(r.args.open.hint) +
                  "\",\"populate\":" + (r.args.open.populate ? "true" : "false") + ",\"reps\":" + std::to_string(r.reps) + ",\"warmup\":" + std::to_string(r.warmup) +
                  ",\"drop_cache\":" + (r.drop_cache ? "true" : "false");
  char buf[96];
  if (r.drop_cache) {
    std::snprintf(buf, sizeof buf, ",\"resident_after_drop\":%.6f", resident_after_drop);
    s += buf;
  }
  s += ",\"times_s\":[";
  for (std::size_t i = 0; i < times.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%.9g", i ? "," : "", times[i]);
    s += buf;
  }
  s += "],\"cpu_s\":[";
  for (std::size_t i = 0; i < cpu_times.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%.9g", i ? "," : "", cpu_times[i]);
    s += buf;
  }
  std::snprintf(buf, sizeof buf, "],\"min_s\":%.9g,\"median_s\":%.9g,\"max_s\":%.9g", sorted.front(), median,
                sorted.back());
  s += buf;
  s += ",\"tensors\":" + std::to_string(first->tensors) + ",\"bytes\":" + std::to_string(first->bytes) +
       ",\"checksum\":" + std::to_string(first->checksum) + "}";
  std::puts(s.c_str());
  return 0;
}

}  // namespace

OpRegistration::OpRegistration(std::string_view name, std::string_view description, OpFunction fn) {
  registry().insert_or_assign(std::string(name), Op{std::string(description), std::move(fn)});
}

namespace {
std::uint64_t clock_ns(clockid_t id) noexcept {
  timespec ts{};
  ::clock_gettime(id, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}
}  // namespace

Stopwatch::Stopwatch() noexcept
    : wall_ns_(clock_ns(CLOCK_MONOTONIC)), cpu_ns_(clock_ns(CLOCK_PROCESS_CPUTIME_ID)) {}

void Stopwatch::stop(RepOutcome& out) const noexcept {
  out.seconds = static_cast<double>(clock_ns(CLOCK_MONOTONIC) - wall_ns_) * 1e-9;
  out.cpu_seconds = static_cast<double>(clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu_ns_) * 1e-9;
}

}  // namespace sft::bench

int main(int argc, char** argv) {
  using namespace sft::bench;
  if (argc < 2) return usage("missing command");
  const std::string_view cmd = argv[1];
  if (cmd == "caps") return argc == 2 ? print_caps() : usage("caps takes no arguments");
  if (cmd == "residency" || cmd == "drop") {
    if (argc != 3) return usage("expected one FILE");
    return print_residency(argv[2], cmd == "drop");
  }
  if (cmd == "gen") {
    if (argc != 4) return usage("expected gen small|moe OUT");
    const std::string_view which = argv[2];
    if (which != "small" && which != "moe") return usage("gen writes small or moe");
    try {
      write_workload(argv[3], which == "small" ? small_transformer(true) : moe_header());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "sft_bench_driver: %s\n", e.what());
      return 1;
    }
    return 0;
  }
  const auto it = registry().find(cmd);
  if (it == registry().end()) return usage(("unknown operation " + std::string(cmd)).c_str());
  if (argc < 3) return usage("missing FILE");
  RunArgs r;
  r.op = std::string(cmd);
  r.args.file = argv[2];
  for (int i = 3; i < argc; ++i) {
    const std::string_view a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--drop-cache") {
      r.drop_cache = true;
      continue;
    }
    if (a == "--plain-alloc") {
      r.args.huge_pages = false;
      continue;
    }
    if (a == "--populate") {
      r.args.open.populate = true;
      continue;
    }
    if (!v) return usage(("missing value after " + std::string(a)).c_str());
    ++i;
    if (a == "--reps" || a == "--warmup") {
      const auto n = parse_count(v, a == "--reps" ? 1 : 0);
      if (!n) return usage(("bad count " + std::string(v)).c_str());
      (a == "--reps" ? r.reps : r.warmup) = *n;
    } else if (a == "--mode") {
      if (std::string_view(v) == "mmap") r.args.open.mode = sft::ReadMode::mmap;
      else if (std::string_view(v) == "pread") r.args.open.mode = sft::ReadMode::pread;
      else return usage("--mode is mmap or pread");
    } else if (a == "--hint") {
      const std::string_view h = v;
      if (h == "normal") r.args.open.hint = sft::AccessHint::normal;
      else if (h == "sequential") r.args.open.hint = sft::AccessHint::sequential;
      else if (h == "random") r.args.open.hint = sft::AccessHint::random;
      else return usage("--hint is normal, sequential or random");
    } else if (a == "--output") {
      r.args.output = v;
    } else {
      return usage(("unknown option " + std::string(a)).c_str());
    }
  }
  return run(r, it->second);
}
