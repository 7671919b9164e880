// The tuning cache file (tune_cache.hpp): untrusted on the way in, atomic on
// the way out.
#include "tune_cache.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string_view>

#include "backend.hpp"
#include "sft_internal/atomic_file.hpp"
#include "sft_internal/json_escape.hpp"

namespace sft::gpu::detail {
namespace {

constexpr const char* field_names[] = {"backend", "device", "driver", "source", "space", "kernel", "in", "out", "bucket"};
constexpr std::size_t key_fields = 9;
constexpr std::size_t string_fields = 8;

// The key: its fields, each as "<length>:<bytes>", so it splits back unambiguously.
std::string join(const std::array<std::string, key_fields>& f) {
  std::string k;
  for (const auto& s : f) k += std::to_string(s.size()) + ":" + s;
  return k;
}

bool split(std::string_view k, std::array<std::string, key_fields>& f) {
  for (auto& s : f) {
    auto colon = k.find(':');
    if (colon == std::string_view::npos) return false;
    std::size_t n = 0;
    for (char c : k.substr(0, colon)) n = n * 10 + static_cast<std::size_t>(c - '0');
    if (n > k.size() - colon - 1) return false;
    s = std::string(k.substr(colon + 1, n));
    k.remove_prefix(colon + 1 + n);
  }
  return k.empty();
}

}  // namespace

std::string hex16(std::uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

std::optional<std::uint64_t> parse_hex16(std::string_view s) {
  if (s.size() != 16) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = v << 4 | static_cast<std::uint64_t>(d);
  }
  return v;
}

std::optional<Kernel> parse_kernel(std::string_view s) {
  for (int i = 0; i < kernel_count; ++i)
    if (kernel_name(static_cast<Kernel>(i)) == s) return static_cast<Kernel>(i);
  return std::nullopt;
}

namespace {

// One entry, or why it is not one.
std::string read_entry(simdjson::dom::element e, std::string& key, Tuner::Entry& out) {
  simdjson::dom::object o;
  if (e.get_object().get(o)) return "not an object";
  std::array<std::string, key_fields> f;
  for (std::size_t i = 0; i < string_fields; ++i) {
    std::string_view v;
    if (o[field_names[i]].get_string().get(v)) return std::string("\"") + field_names[i] + "\" is not a string";
    f[i] = std::string(v);
  }
  if (!parse_backend(f[0])) return "unknown backend \"" + f[0] + "\"";
  if (!parse_hex16(f[3]) || !parse_hex16(f[4])) return "\"source\" or \"space\" is not 16 hex digits";
  if (!parse_kernel(f[5])) return "unknown kernel \"" + f[5] + "\"";
  if (!parse_dtype(f[6]) || !parse_dtype(f[7])) return "unknown dtype";
  std::uint64_t bucket = 0;
  if (o["bucket"].get_uint64().get(bucket) || bucket > 63) return "\"bucket\" is not an integer in 0..63";
  std::string_view cfg;
  if (o["config"].get_string().get(cfg)) return "\"config\" is not a string";
  auto c = parse_config(cfg);
  if (!c) return "\"config\" is not a configuration: \"" + std::string(cfg.substr(0, 80)) + "\"";
  if (!normalize_config(*parse_kernel(f[5]), *c)) return "\"config\" is not one this kernel takes";
  double seconds = 0;
  if (o["seconds"].get_double().get(seconds) || !std::isfinite(seconds) || seconds < 0)
    return "\"seconds\" is not a finite number >= 0";
  std::int64_t tuned = 0;
  if (o["tuned"].get_int64().get(tuned)) return "\"tuned\" is not an integer";
  f[8] = std::to_string(bucket);
  key = join(f);
  out = Tuner::Entry{*c, seconds, tuned};
  return {};
}

}  // namespace

std::string tune_cache_key(const DeviceInfo& d, const TuneKey& k, std::uint64_t space_hash) {
  return join({std::string(backend_name(d.backend)), d.name, d.driver_version, hex16(kernel_source_hash()),
               hex16(space_hash), std::string(kernel_name(k.kernel)), std::string(name(k.in)),
               std::string(name(k.out)), std::to_string(size_bucket(k.size))});
}

void load_tune_cache(const std::filesystem::path& path, std::map<std::string, Tuner::Entry>& entries,
                     std::vector<std::string>& warnings) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return;  // no cache yet: not worth a warning
  const std::string where = "tuning cache " + path.string() + ": ";
  auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    warnings.push_back(where + "cannot read it (" + ec.message() + "); ignored");
    return;
  }
  if (size > max_tune_cache_bytes) {
    warnings.push_back(where + "larger than " + std::to_string(max_tune_cache_bytes) + " bytes; ignored");
    return;
  }
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    warnings.push_back(where + "cannot read it; ignored");
    return;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(simdjson::padded_string(text)).get(doc)) {
    warnings.push_back(where + "not valid JSON (" + simdjson::error_message(err) + "); ignored");
    return;
  }
  std::string_view format;
  std::uint64_t version = 0;
  simdjson::dom::array list;
  if (doc["format"].get_string().get(format) || format != "sft-tune-cache" || doc["version"].get_uint64().get(version) ||
      doc["entries"].get_array().get(list)) {
    warnings.push_back(where + "not an sft tuning cache; ignored");
    return;
  }
  if (version != 2) {
    warnings.push_back(where + "version " + std::to_string(version) + ", not 2 (another sft wrote it); ignored");
    return;
  }
  std::size_t index = 0, bad = 0;
  std::string first_reason;
  for (simdjson::dom::element e : list) {
    std::string key;
    Tuner::Entry entry;
    std::string why = read_entry(e, key, entry);
    if (why.empty())
      entries[key] = entry;
    else if (bad++ == 0)
      first_reason = "entry " + std::to_string(index) + ": " + why;
    ++index;
  }
  if (bad) warnings.push_back(where + std::to_string(bad) + " malformed entr" + (bad == 1 ? "y" : "ies") +
                              " ignored (" + first_reason + ")");
}

Result<void> write_file_atomically(const std::filesystem::path& path, std::string_view text) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return gpu_error(Errc::tune_cache, "cannot create " + path.parent_path().string() + ": " + ec.message());
  // A temporary beside the target (a fresh name, never a path someone else
  // prepared), fsynced, renamed over it: readers see the old file or the new
  // one, never half of one, and a crash leaves no partial file behind.
  auto file = sft::detail::AtomicFile::create(path);
  if (!file) return gpu_error(Errc::tune_cache, "cannot write " + path.string() + ": " + file.error().message);
  auto w = file->write_at(0, std::as_bytes(std::span(text.data(), text.size())));
  if (w) w = file->commit(/*durable=*/true);
  if (!w) return gpu_error(Errc::tune_cache, "cannot write " + path.string() + ": " + w.error().message);
  return {};
}

Result<void> save_tune_cache(const std::filesystem::path& path, const std::map<std::string, Tuner::Entry>& entries,
                             std::uint64_t cap_bytes) {
  struct Line {
    std::string text;
    std::int64_t tuned;
  };
  std::vector<Line> lines;
  for (const auto& [key, e] : entries) {
    std::array<std::string, key_fields> f;
    if (!split(key, f)) continue;
    std::string s = "{";
    for (std::size_t i = 0; i < string_fields; ++i) {
      s += '"';
      s += field_names[i];
      s += "\":";
      sft::detail::append_json_string(s, f[i]);
      s += ",";
    }
    char num[64];
    std::snprintf(num, sizeof num, "%.9g", e.seconds);
    s += "\"bucket\":" + f[8] + ",\"config\":\"" + config_string(e.config) + "\",\"seconds\":" + num +
         ",\"tuned\":" + std::to_string(e.tuned) + "}";
    lines.push_back({std::move(s), e.tuned});
  }
  // Bounded: drop the oldest entries until the file fits.
  const std::string head = "{\"format\":\"sft-tune-cache\",\"version\":2,\"entries\":[", tail = "\n]}\n";
  std::uint64_t total = head.size() + tail.size();
  for (const Line& l : lines) total += l.text.size() + 3;
  if (total > cap_bytes) {
    std::stable_sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) { return a.tuned > b.tuned; });
    while (!lines.empty() && total > cap_bytes) {
      total -= lines.back().text.size() + 3;
      lines.pop_back();
    }
  }
  std::string s = head;
  bool first = true;
  for (const Line& l : lines) {
    s += first ? "\n " : ",\n ";
    first = false;
    s += l.text;
  }
  s += tail;
  return write_file_atomically(path, s);
}

}  // namespace sft::gpu::detail
