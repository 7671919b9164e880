// bench/support/workload.cpp — see workload.hpp.
#include "workload.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <unistd.h>

namespace sft::bench {
namespace {

std::uint64_t intermediate_size(std::uint64_t hidden) {
  const std::uint64_t inter = hidden * 4 / 3 / 64 * 64;
  return inter ? inter : 64;
}

// Per-entry bytes of the zero-size header apart from the name.
constexpr std::string_view zero_entry = R"({"dtype":"F32","shape":[0],"data_offsets":[0,0]})";
constexpr std::uint64_t zero_overhead = 2 + 1 + zero_entry.size() + 1;

void append_u64(std::string& s, std::uint64_t v) { s += std::to_string(v); }

}  // namespace

std::vector<TensorSpec> transformer_tensors(int layers, std::uint64_t hidden, int experts, DType dtype) {
  const std::uint64_t inter = intermediate_size(hidden);
  const std::pair<const char*, std::vector<std::uint64_t>> mlp[] = {
      {"gate_proj", {inter, hidden}}, {"up_proj", {inter, hidden}}, {"down_proj", {hidden, inter}}};
  std::vector<TensorSpec> out;
  out.push_back({"model.embed_tokens.weight", dtype, {1024, hidden}});
  for (int i = 0; i < layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    for (const char* n : {"q_proj", "k_proj", "v_proj", "o_proj"})
      out.push_back({p + "self_attn." + n + ".weight", dtype, {hidden, hidden}});
    if (experts > 0) {
      out.push_back({p + "mlp.gate.weight", dtype, {static_cast<std::uint64_t>(experts), hidden}});
      for (int e = 0; e < experts; ++e)
        for (const auto& [n, s] : mlp)
          out.push_back({p + "mlp.experts." + std::to_string(e) + "." + n + ".weight", dtype, s});
    } else {
      for (const auto& [n, s] : mlp) out.push_back({p + "mlp." + n + ".weight", dtype, s});
    }
    out.push_back({p + "input_layernorm.weight", DType::F32, {hidden}});
    out.push_back({p + "post_attention_layernorm.weight", DType::F32, {hidden}});
  }
  out.push_back({"model.norm.weight", DType::F32, {hidden}});
  return out;
}

std::vector<TensorSpec> zero_size_tensors(std::size_t count, std::uint64_t header_bytes) {
  const std::uint64_t per_entry = (header_bytes > 64 ? header_bytes - 64 : 0) / (count ? count : 1);
  const std::uint64_t width = per_entry > zero_overhead + 12 ? per_entry - zero_overhead : 12;
  std::vector<TensorSpec> out;
  out.reserve(count);
  char stem[32];
  for (std::size_t i = 0; i < count; ++i) {
    const int k = std::snprintf(stem, sizeof stem, "zero.%07zu.", i);
    std::string name(stem, static_cast<std::size_t>(k));
    name.append(width > name.size() ? width - name.size() : 0, 'w');
    out.push_back({std::move(name), DType::F32, {0}});
  }
  return out;
}

Workload build_workload(const std::vector<TensorSpec>& tensors, bool with_data) {
  Workload w;
  std::string json = R"({"__metadata__":{"format":"pt"})";
  std::uint64_t off = 0;
  for (const auto& t : tensors) {
    std::uint64_t n = element_size(t.dtype);
    for (auto d : t.shape) n *= d;
    json += ",\"";
    json += t.name;
    json += "\":{\"dtype\":\"";
    json += name(t.dtype);
    json += "\",\"shape\":[";
    for (std::size_t i = 0; i < t.shape.size(); ++i) {
      if (i) json += ',';
      append_u64(json, t.shape[i]);
    }
    json += "],\"data_offsets\":[";
    append_u64(json, off);
    json += ',';
    append_u64(json, off + n);
    json += "]}";
    off += n;
    w.names.push_back(t.name);
  }
  json += '}';
  json.append((8 - json.size() % 8) % 8, ' ');
  w.header_bytes = json.size();
  w.data_bytes = off;
  w.tensor_count = tensors.size();
  w.bytes.resize(8 + json.size() + (with_data ? off : 0));
  for (int i = 0; i < 8; ++i) w.bytes[i] = static_cast<std::byte>((w.header_bytes >> (8 * i)) & 0xff);
  std::memcpy(w.bytes.data() + 8, json.data(), json.size());
  if (with_data) {
    std::byte* d = w.bytes.data() + 8 + json.size();
    for (std::uint64_t i = 0; i < off; ++i) d[i] = static_cast<std::byte>(i & 0xff);
  }
  return w;
}

Workload small_transformer(bool with_data) { return build_workload(transformer_tensors(32, 256), with_data); }
Workload moe_header() { return build_workload(transformer_tensors(48, 64, 128), false); }
Workload zero_size_header() { return build_workload(zero_size_tensors(1'000'000), false); }

void write_workload(const std::filesystem::path& path, const Workload& w) {
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(w.bytes.data()), static_cast<std::streamsize>(w.bytes.size()));
    if (!f) throw std::runtime_error("cannot write " + path.string());
  }
  if (w.bytes.size() < w.file_size()) std::filesystem::resize_file(path, w.file_size());
}

std::filesystem::path scratch_dir() {
  std::filesystem::path base;
  if (const char* env = std::getenv("SFT_BENCH_TMP"); env && *env) base = env;
  else base = std::filesystem::temp_directory_path();
  auto dir = base / ("sft-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace sft::bench
