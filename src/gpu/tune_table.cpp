// TuneTable (sft/gpu/tune.hpp): the ahead-of-time table of tuned
// configurations, size buckets -> configuration per kernel and dtypes.
//
//   {"format":"sft-tune-table","version":1,"backend":"opencl","device":"...",
//    "driver":"...","source":"<16 hex>","rows":[
//    {"kernel":"convert","in":"F16","out":"F32","space":"<16 hex>",
//     "buckets":[[12,"L128 E4 V1 M0 U1 K1 R0 S0 W0"],[24,"..."]]},
//    ...],"digest":"<16 hex>"}
//
// "digest" is sft's digest (sft/gpu/checksum.hpp) of every byte before
// `,"digest":`, so that a table damaged in a way that still parses is refused
// too. A table is read only whole: anything unexpected refuses all of it.
#include <simdjson.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "backend.hpp"
#include "sft/gpu/checksum.hpp"
#include "sft/gpu/tune.hpp"
#include "sft_internal/json_escape.hpp"
#include "tune_cache.hpp"

namespace sft::gpu {

using detail::gpu_error;

namespace {

constexpr std::uint64_t max_table_bytes = 4 << 20;
constexpr std::string_view digest_field = ",\"digest\":\"";

std::string row_key(Kernel k, DType in, DType out) {
  return std::string(kernel_name(k)) + " " + std::string(name(in)) + " " + std::string(name(out));
}

std::uint64_t text_digest(std::string_view s) { return digest(std::as_bytes(std::span(s.data(), s.size()))); }

}  // namespace

TuneTable TuneTable::for_device(const DeviceInfo& device) {
  TuneTable t;
  t.backend_ = std::string(backend_name(device.backend));
  t.device_ = device.name;
  t.driver_ = device.driver_version;
  t.source_ = detail::kernel_source_hash();
  return t;
}

void TuneTable::add(const TuneKey& key, std::uint64_t space_hash, const LaunchConfig& config) {
  Row& r = rows_[row_key(key.kernel, key.in, key.out)];
  if (r.space != space_hash) r.buckets.clear();  // a new space replaces the old row
  r.space = space_hash;
  r.buckets[size_bucket(key.size)] = config;
}

bool TuneTable::for_this(const DeviceInfo& device) const noexcept {
  return backend_ == backend_name(device.backend) && device_ == device.name && source_ == detail::kernel_source_hash();
}

std::size_t TuneTable::size() const noexcept {
  std::size_t n = 0;
  for (const auto& [k, r] : rows_) n += r.buckets.size();
  return n;
}

std::optional<LaunchConfig> TuneTable::lookup(const DeviceInfo& device, const TuneKey& key,
                                              std::uint64_t space_hash) const {
  if (!for_this(device)) return std::nullopt;
  auto it = rows_.find(row_key(key.kernel, key.in, key.out));
  if (it == rows_.end() || it->second.space != space_hash || it->second.buckets.empty()) return std::nullopt;
  const auto& b = it->second.buckets;
  const unsigned want = size_bucket(key.size);
  // The bucket itself, else the nearest; between two at the same distance, the larger.
  auto hi = b.lower_bound(want);
  if (hi != b.end() && hi->first == want) return hi->second;
  if (hi == b.end()) return std::prev(hi)->second;
  if (hi == b.begin()) return hi->second;
  auto lo = std::prev(hi);
  return want - lo->first < hi->first - want ? lo->second : hi->second;
}

std::string TuneTable::serialize() const {
  std::string s = "{\"format\":\"sft-tune-table\",\"version\":1,\"backend\":";
  sft::detail::append_json_string(s, backend_);
  s += ",\"device\":";
  sft::detail::append_json_string(s, device_);
  s += ",\"driver\":";
  sft::detail::append_json_string(s, driver_);
  s += ",\"source\":\"" + detail::hex16(source_) + "\",\"rows\":[";
  bool first_row = true;
  for (const auto& [key, row] : rows_) {
    auto sp1 = key.find(' '), sp2 = key.rfind(' ');
    s += first_row ? "\n" : ",\n";
    first_row = false;
    s += "{\"kernel\":\"" + key.substr(0, sp1) + "\",\"in\":\"" + key.substr(sp1 + 1, sp2 - sp1 - 1) + "\",\"out\":\"" +
         key.substr(sp2 + 1) + "\",\"space\":\"" + detail::hex16(row.space) + "\",\"buckets\":[";
    bool first = true;
    for (const auto& [bucket, c] : row.buckets) {
      s += first ? "" : ",";
      first = false;
      s += "[" + std::to_string(bucket) + ",\"" + config_string(c) + "\"]";
    }
    s += "]}";
  }
  s += "\n]";
  const std::uint64_t d = text_digest(s);
  s += std::string(digest_field) + detail::hex16(d) + "\"}\n";
  return s;
}

Result<void> TuneTable::save(const std::filesystem::path& path) const {
  return detail::write_file_atomically(path, serialize());
}

Result<TuneTable> TuneTable::parse(std::string_view text, std::string_view where) {
  const std::string w(where);
  auto refuse = [&](const std::string& why) { return gpu_error(Errc::tune_cache, w + ": " + why + "; refused"); };
  if (text.size() > max_table_bytes) return refuse("larger than " + std::to_string(max_table_bytes) + " bytes");
  // The digest first: of every byte before it.
  const auto at = text.rfind(digest_field);
  if (at == std::string_view::npos) return refuse("no digest");
  std::string_view rest = text.substr(at + digest_field.size());
  if (rest.size() < 18 || (rest.substr(16) != "\"}" && rest.substr(16) != "\"}\n")) return refuse("malformed digest");
  auto d = detail::parse_hex16(rest.substr(0, 16));
  if (!d || *d != text_digest(text.substr(0, at))) return refuse("its digest does not match its contents (corrupt)");

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(simdjson::padded_string(text)).get(doc))
    return refuse(std::string("not valid JSON (") + simdjson::error_message(err) + ")");
  std::string_view format, backend, device, driver, source;
  std::uint64_t version = 0;
  simdjson::dom::array rows;
  if (doc["format"].get_string().get(format) || format != "sft-tune-table" || doc["version"].get_uint64().get(version) ||
      version != 1 || doc["backend"].get_string().get(backend) || doc["device"].get_string().get(device) ||
      doc["driver"].get_string().get(driver) || doc["source"].get_string().get(source) ||
      doc["rows"].get_array().get(rows))
    return refuse("not an sft tuning table of version 1");
  TuneTable t;
  if (!parse_backend(backend)) return refuse("unknown backend");
  auto src = detail::parse_hex16(source);
  if (!src) return refuse("\"source\" is not 16 hex digits");
  t.backend_ = std::string(backend);
  t.device_ = std::string(device);
  t.driver_ = std::string(driver);
  t.source_ = *src;
  std::size_t index = 0;
  for (simdjson::dom::element row : rows) {
    const std::string which = "row " + std::to_string(index++);
    std::string_view kernel, in, out, space;
    simdjson::dom::array buckets;
    if (row["kernel"].get_string().get(kernel) || row["in"].get_string().get(in) || row["out"].get_string().get(out) ||
        row["space"].get_string().get(space) || row["buckets"].get_array().get(buckets))
      return refuse(which + ": missing or mistyped field");
    auto k = detail::parse_kernel(kernel);
    auto din = parse_dtype(in), dout = parse_dtype(out);
    auto sp = detail::parse_hex16(space);
    if (!k || !din || !dout || !sp) return refuse(which + ": unknown kernel, dtype or space");
    const std::string key = row_key(*k, *din, *dout);
    if (t.rows_.count(key)) return refuse(which + ": repeats " + key);
    Row& r = t.rows_[key];
    r.space = *sp;
    for (simdjson::dom::element b : buckets) {
      simdjson::dom::array pair;
      std::uint64_t bucket = 0;
      std::string_view cfg;
      if (b.get_array().get(pair) || pair.size() != 2 || pair.at(0).get_uint64().get(bucket) || bucket > 63 ||
          pair.at(1).get_string().get(cfg))
        return refuse(which + ": a bucket is not [0..63, \"configuration\"]");
      auto c = parse_config(cfg);
      if (!c || !normalize_config(*k, *c)) return refuse(which + ": \"" + std::string(cfg.substr(0, 80)) + "\" is not a configuration of " + std::string(kernel));
      if (!r.buckets.emplace(static_cast<unsigned>(bucket), *c).second) return refuse(which + ": a bucket repeats");
    }
  }
  return t;
}

Result<TuneTable> TuneTable::load(const std::filesystem::path& path) {
  const std::string where = "tuning table " + path.string();
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) return gpu_error(Errc::tune_cache, where + ": cannot read it (" + ec.message() + ")");
  if (size > max_table_bytes)
    return gpu_error(Errc::tune_cache, where + ": larger than " + std::to_string(max_table_bytes) + " bytes; refused");
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return gpu_error(Errc::tune_cache, where + ": cannot read it");
  return parse(text, where);
}

}  // namespace sft::gpu
