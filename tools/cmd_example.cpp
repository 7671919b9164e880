// tools/cmd_example.cpp — `sft example OUT`: write the built-in example model.
//
// A small transformer-shaped checkpoint with deterministic weights, so that a
// fresh machine can run the whole tool chain (validate, inspect, hash, verify,
// GPU upload and kernels) without downloading anything. It covers the dtypes
// the GPU kernels take: BF16 and F16 matrices, F32 norms, an F8_E4M3 matrix,
// and an MXFP4 expert (F4 blocks with one F8_E8M0 scale per 32 values).
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "command.hpp"
#include "sft/convert.hpp"
#include "sft/writer.hpp"

namespace sft::cli {
namespace {

// Weights drawn from a fixed-seed generator: roughly N(0, 0.02), like a freshly
// initialised transformer (Irwin-Hall sum of uniforms; exact for our purpose).
class Weights {
 public:
  explicit Weights(std::uint64_t seed) : s_(seed) {}
  float next() {
    float acc = 0;
    for (int i = 0; i < 12; ++i) acc += uniform();
    return (acc - 6.0f) * 0.02f;
  }

 private:
  float uniform() {
    s_ = s_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<float>(s_ >> 40) / static_cast<float>(1ULL << 24);
  }
  std::uint64_t s_;
};

struct Tensor {
  std::string name;
  DType dtype;
  std::vector<std::uint64_t> shape;
  std::vector<std::byte> bytes;
};

Tensor make(const std::string& name, DType dtype, std::vector<std::uint64_t> shape, Weights& w, float scale = 1.0f) {
  std::uint64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<float> values(n);
  for (auto& v : values) v = w.next() * scale;
  Tensor t{name, dtype, std::move(shape), std::vector<std::byte>(n * element_size(dtype))};
  auto r = encode_from_float(dtype, values, t.bytes);
  (void)r;  // F32, F16, BF16 and F8_E4M3 always encode
  return t;
}

// MXFP4: E2M1 codes two per byte (low nibble first) and a power-of-two scale
// per block of 32 values, chosen so that the block's largest value fits in 6.0.
void make_mxfp4(const std::string& name, std::uint64_t rows, std::uint64_t cols, Weights& w,
                std::vector<Tensor>& out) {
  static const float grid[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  Tensor blocks{name + ".blocks", DType::F4, {rows, cols}, std::vector<std::byte>(rows * cols / 2)};
  Tensor scales{name + ".scales", DType::F8_E8M0, {rows, cols / 32}, std::vector<std::byte>(rows * cols / 32)};
  std::vector<float> block(32);
  for (std::uint64_t b = 0; b < rows * cols / 32; ++b) {
    float amax = 0;
    for (auto& v : block) {
      v = w.next();
      amax = std::fmax(amax, std::fabs(v));
    }
    int e = amax > 0 ? static_cast<int>(std::ceil(std::log2(amax / 6.0f))) : -127;
    if (e < -127) e = -127;
    scales.bytes[b] = static_cast<std::byte>(e + 127);
    const float inv = std::ldexp(1.0f, -e);
    for (int i = 0; i < 32; ++i) {
      float x = std::fabs(block[i]) * inv;
      int code = 0;
      for (int c = 1; c < 8; ++c)
        if (std::fabs(grid[c] - x) < std::fabs(grid[code] - x)) code = c;
      if (block[i] < 0 && code) code |= 8;
      const std::uint64_t at = b * 32 + static_cast<std::uint64_t>(i);
      auto& byte = blocks.bytes[at / 2];
      byte |= static_cast<std::byte>(at % 2 ? code << 4 : code);
    }
  }
  out.push_back(std::move(blocks));
  out.push_back(std::move(scales));
}

std::vector<Tensor> example_model() {
  constexpr std::uint64_t hidden = 128, vocab = 512, layers = 2;
  Weights w(20261121);
  std::vector<Tensor> ts;
  ts.push_back(make("model.embed_tokens.weight", DType::BF16, {vocab, hidden}, w));
  for (std::uint64_t l = 0; l < layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (const char* m : {"q_proj", "k_proj", "v_proj", "o_proj"})
      ts.push_back(make(p + "self_attn." + m + ".weight", DType::BF16, {hidden, hidden}, w));
    ts.push_back(make(p + "mlp.gate_proj.weight", DType::F16, {hidden * 2, hidden}, w));
    ts.push_back(make(p + "mlp.up_proj.weight", DType::F16, {hidden * 2, hidden}, w));
    ts.push_back(make(p + "mlp.down_proj.weight", DType::F8_E4M3, {hidden, hidden * 2}, w, 10.0f));
    make_mxfp4(p + "mlp.experts.0.weight", hidden, hidden, w, ts);
    ts.push_back(make(p + "input_layernorm.weight", DType::F32, {hidden}, w));
    ts.push_back(make(p + "post_attention_layernorm.weight", DType::F32, {hidden}, w));
  }
  ts.push_back(make("model.norm.weight", DType::F32, {hidden}, w));
  ts.push_back(make("lm_head.weight", DType::BF16, {vocab, hidden}, w));
  return ts;
}

int run(std::span<const std::string_view> args) {
  if (args.size() != 1 || args[0].empty() || args[0][0] == '-')
    return usage_error("example", "expected one output path");
  const std::string out_path(args[0]);
  auto tensors = example_model();
  Writer writer;
  for (const auto& t : tensors) {
    auto r = writer.add(t.name, t.dtype, t.shape, t.bytes);
    if (!r) {
      err(out_path + ": " + r.error().to_string() + "\n");
      return 1;
    }
  }
  (void)writer.set_metadata("format", "pt");
  (void)writer.set_metadata("source", "sft example");
  auto w = writer.write_file(out_path);
  if (!w) {
    err(out_path + ": " + w.error().to_string() + "\n");
    return 1;
  }
  std::uint64_t bytes = 0;
  for (const auto& t : tensors) bytes += t.bytes.size();
  out(out_path + ": " + std::to_string(tensors.size()) + " tensors, " + std::to_string(bytes) + " data bytes\n");
  return 0;
}

}  // namespace

SFT_COMMAND("example", "write the built-in example model (a small transformer, several dtypes)",
            "sft example OUT.safetensors", run);

}  // namespace sft::cli
