// The tuning cache file (tune_cache.hpp): untrusted on the way in, atomic on
// the way out.
#include "tune_cache.hpp"

#include <simdjson.h>

#include <array>
#include <cmath>
#include <optional>
#include <cstdio>
#include <fstream>
#include <string_view>

#include <unistd.h>

#include "backend.hpp"
#include "sft_internal/json_escape.hpp"

namespace sft::gpu::detail {
namespace {

constexpr std::uint64_t max_cache_bytes = 16 << 20;  // far above any real cache
constexpr const char* field_names[] = {"backend", "device", "driver", "source", "kernel", "in", "out", "bucket"};
constexpr std::size_t key_fields = 8;

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

std::string hex16(std::uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

std::optional<Kernel> parse_kernel(std::string_view s) {
  for (int i = 0; i < kernel_count; ++i)
    if (kernel_name(static_cast<Kernel>(i)) == s) return static_cast<Kernel>(i);
  return std::nullopt;
}

// One entry, or why it is not one.
std::string read_entry(simdjson::dom::element e, std::string& key, Tuner::Entry& out) {
  simdjson::dom::object o;
  if (e.get_object().get(o)) return "not an object";
  std::array<std::string, key_fields> f;
  for (std::size_t i = 0; i < 7; ++i) {
    std::string_view v;
    if (o[field_names[i]].get_string().get(v)) return std::string("\"") + field_names[i] + "\" is not a string";
    f[i] = std::string(v);
  }
  if (!parse_backend(f[0])) return "unknown backend \"" + f[0] + "\"";
  if (!parse_kernel(f[4])) return "unknown kernel \"" + f[4] + "\"";
  if (!parse_dtype(f[5]) || !parse_dtype(f[6])) return "unknown dtype";
  std::uint64_t bucket = 0, local = 0, ept = 0, vw = 0;
  if (o["bucket"].get_uint64().get(bucket) || bucket > 63) return "\"bucket\" is not an integer in 0..63";
  if (o["local_size"].get_uint64().get(local) || o["items_per_thread"].get_uint64().get(ept) ||
      o["vector_width"].get_uint64().get(vw) || local > 0xFFFFFFFFu || ept > 0xFFFFFFFFu || vw > 0xFFFFFFFFu)
    return "the launch configuration is not three unsigned integers";
  double seconds = 0;
  if (o["seconds"].get_double().get(seconds) || !std::isfinite(seconds) || seconds < 0)
    return "\"seconds\" is not a finite number >= 0";
  LaunchConfig c{static_cast<std::uint32_t>(local), static_cast<std::uint32_t>(ept), static_cast<std::uint32_t>(vw)};
  if (auto ok = check_config(c); !ok) return ok.error().message;
  f[7] = std::to_string(bucket);
  key = join(f);
  out = Tuner::Entry{c, seconds};
  return {};
}

}  // namespace

std::string tune_cache_key(const DeviceInfo& d, const TuneKey& k) {
  return join({std::string(backend_name(d.backend)), d.name, d.driver_version, hex16(kernel_source_hash()),
               std::string(kernel_name(k.kernel)), std::string(name(k.in)), std::string(name(k.out)),
               std::to_string(size_bucket(k.size))});
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
  if (size > max_cache_bytes) {
    warnings.push_back(where + "larger than " + std::to_string(max_cache_bytes) + " bytes; ignored");
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
      version != 1 || doc["entries"].get_array().get(list)) {
    warnings.push_back(where + "not an sft tuning cache of version 1; ignored");
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

Result<void> save_tune_cache(const std::filesystem::path& path, const std::map<std::string, Tuner::Entry>& entries) {
  std::string s = "{\"format\":\"sft-tune-cache\",\"version\":1,\"entries\":[";
  bool first = true;
  for (const auto& [key, e] : entries) {
    std::array<std::string, key_fields> f;
    if (!split(key, f)) continue;
    s += first ? "\n " : ",\n ";
    first = false;
    s += "{";
    for (std::size_t i = 0; i < 7; ++i) {
      s += '"';
      s += field_names[i];
      s += "\":";
      sft::detail::append_json_string(s, f[i]);
      s += ",";
    }
    char num[64];
    std::snprintf(num, sizeof num, "%.9g", e.seconds);
    s += "\"bucket\":" + f[7] + ",\"local_size\":" + std::to_string(e.config.local_size) +
         ",\"items_per_thread\":" + std::to_string(e.config.items_per_thread) +
         ",\"vector_width\":" + std::to_string(e.config.vector_width) + ",\"seconds\":" + num + "}";
  }
  s += "\n]}\n";

  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return gpu_error(Errc::tune_cache, "cannot create " + path.parent_path().string() + ": " + ec.message());
  // Write a temporary file beside it and rename: readers see the old or the new file, never half of one.
  std::filesystem::path tmp = path;
  tmp += ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(s.data(), static_cast<std::streamsize>(s.size()));
    out.flush();
    if (!out) {
      std::filesystem::remove(tmp, ec);
      return gpu_error(Errc::tune_cache, "cannot write " + tmp.string());
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    Error e = gpu_error(Errc::tune_cache, "cannot replace " + path.string() + ": " + ec.message());
    std::filesystem::remove(tmp, ec);
    return e;
  }
  return {};
}

}  // namespace sft::gpu::detail
