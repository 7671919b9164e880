// fuzz/fuzz_writer_roundtrip.cpp — Writer → bytes → reader → identical tensors.
//
// FuzzedDataProvider turns the input into a set of tensors (names that may be
// empty, hold NUL or control characters, or be invalid UTF-8; any dtype; ranks
// 0..5 with small dimensions, zero included), metadata and options. Whatever the
// Writer accepts must serialize, parse back with every name, dtype, shape, byte
// and metadata value identical, and be deterministic: the same set added in
// reverse order gives the same bytes (in the reference layout), and rewriting
// the parsed file gives the same bytes again. Whatever it refuses must be
// refused with one of the documented codes. Any difference aborts.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#if __has_include(<fuzzer/FuzzedDataProvider.h>)
#include <fuzzer/FuzzedDataProvider.h>
#else
#include "data_provider.hpp"
#endif

#include "fuzz_common.hpp"
#include "sft/file.hpp"
#include "sft/writer.hpp"

using namespace sft;

namespace {

struct Tensor {
  std::string name;
  DType dtype;
  std::vector<std::uint64_t> shape;
  std::vector<std::byte> bytes;
};

bool is_writer_error(Errc c) {
  switch (c) {
    case Errc::duplicate_name: case Errc::invalid_name: case Errc::reserved_name:
    case Errc::data_size_mismatch: case Errc::size_overflow: case Errc::misaligned_subbyte:
    case Errc::limit_exceeded: case Errc::header_too_large: case Errc::bad_alignment:
      return true;
    default:
      return false;
  }
}

std::uint64_t byte_size_or_max(DType dt, const std::vector<std::uint64_t>& shape) {
  unsigned __int128 bits = sft::bits(dt);
  for (auto d : shape) bits *= d;  // dims are small: no overflow of 128 bits
  return bits % 8 ? ~std::uint64_t{0} : static_cast<std::uint64_t>(bits / 8);
}

// Adds every tensor and metadata entry in `order`; returns the accepted ones.
Writer build(const std::vector<Tensor>& tensors, const std::vector<std::pair<std::string, std::string>>& meta,
             const WriterOptions& opt, bool reverse, std::map<std::string, const Tensor*>* accepted,
             std::map<std::string, std::string>* meta_model) {
  Writer w(opt);
  const std::size_t n = tensors.size();
  for (std::size_t k = 0; k < n; ++k) {
    const Tensor& t = tensors[reverse ? n - 1 - k : k];
    auto r = w.add(t.name, t.dtype, t.shape, t.bytes);
    if (accepted) {
      if (r) {
        FUZZ_CHECK(accepted->count(t.name) == 0);
        (*accepted)[t.name] = &t;
      } else {
        FUZZ_CHECK(is_writer_error(r.error().code));
        if (r.error().code == Errc::duplicate_name) FUZZ_CHECK(accepted->count(t.name) == 1);
      }
    }
  }
  for (const auto& [k, v] : meta) {
    auto r = w.set_metadata(k, v);
    if (meta_model) {
      if (r) (*meta_model)[k] = v;
      else FUZZ_CHECK(r.error().code == Errc::invalid_name);
    }
  }
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fdp(data, size);
  WriterOptions opt;
  static const std::uint64_t alignments[] = {8, 8, 8, 16, 64, 4096, 4, 24, 0};
  opt.alignment = alignments[fdp.ConsumeIntegralInRange<std::size_t>(0, std::size(alignments) - 1)];
  opt.keep_insertion_order = fdp.ConsumeBool();
  if (fdp.ConsumeIntegralInRange(0, 7) == 0) {
    opt.limits.max_tensors = fdp.ConsumeIntegralInRange<std::uint64_t>(0, 4);
    opt.limits.max_rank = fdp.ConsumeIntegralInRange<std::uint64_t>(0, 4);
    opt.limits.max_name_bytes = fdp.ConsumeIntegralInRange<std::uint64_t>(0, 8);
    opt.limits.max_header_bytes = fdp.ConsumeIntegralInRange<std::uint64_t>(0, 512);
  }

  std::vector<Tensor> tensors;
  const int count = fdp.ConsumeIntegralInRange(0, 12);
  for (int i = 0; i < count && fdp.remaining_bytes() > 0; ++i) {
    Tensor t;
    t.name = fdp.ConsumeRandomLengthString(24);
    if (fdp.ConsumeIntegralInRange(0, 15) == 0 && !tensors.empty()) t.name = tensors.back().name;  // a duplicate
    t.dtype = static_cast<DType>(fdp.ConsumeIntegralInRange(0, dtype_count - 1));
    const int rank = fdp.ConsumeIntegralInRange(0, 5);
    for (int d = 0; d < rank; ++d) t.shape.push_back(fdp.ConsumeIntegralInRange<std::uint64_t>(0, 6));
    std::uint64_t need = byte_size_or_max(t.dtype, t.shape);
    std::size_t give = need == ~std::uint64_t{0} ? fdp.ConsumeIntegralInRange<std::size_t>(0, 4)
                                                 : static_cast<std::size_t>(need);
    if (fdp.ConsumeIntegralInRange(0, 31) == 0) give += 1;  // wrong size now and then
    std::vector<std::uint8_t> b = fdp.ConsumeBytes<std::uint8_t>(give);
    b.resize(give, 0xA5);
    t.bytes.resize(give);
    if (give) std::memcpy(t.bytes.data(), b.data(), give);
    tensors.push_back(std::move(t));
  }
  std::vector<std::pair<std::string, std::string>> meta;
  const int nmeta = fdp.ConsumeIntegralInRange(0, 3);
  for (int i = 0; i < nmeta; ++i) {
    std::string k = fdp.ConsumeRandomLengthString(12);
    std::string v = fdp.ConsumeRandomLengthString(24);
    meta.emplace_back(std::move(k), std::move(v));
  }

  std::map<std::string, const Tensor*> accepted;
  std::map<std::string, std::string> meta_model;
  Writer w = build(tensors, meta, opt, false, &accepted, &meta_model);
  FUZZ_CHECK(w.size() == accepted.size());

  auto out = w.serialize();
  if (!out) {
    Errc c = out.error().code;
    FUZZ_CHECK(c == Errc::bad_alignment || c == Errc::header_too_large || c == Errc::limit_exceeded);
    if (c == Errc::bad_alignment) {
      std::uint64_t a = opt.alignment;
      FUZZ_CHECK(a < 8 || (a & (a - 1)) != 0);
    }
    return 0;
  }
  const std::vector<std::byte>& file = *out;

  // Its layout matches plan().
  auto plan = w.plan();
  FUZZ_CHECK(plan.ok());
  FUZZ_CHECK(plan->file_size() == file.size());
  FUZZ_CHECK(std::equal(plan->preamble().begin(), plan->preamble().end(), file.begin()));
  FUZZ_CHECK(plan->data_start() % opt.alignment == 0);

  // Read back: everything identical.
  auto f = File::from_memory(file, opt.limits);
  if (!f) {
    std::fprintf(stderr, "writer output rejected by the reader: %s\n", f.error().to_string().c_str());
    std::abort();
  }
  const Header& h = f->header();
  fuzz::check_header(h, file.size());
  FUZZ_CHECK(h.size() == accepted.size());
  FUZZ_CHECK(h.data_start() == plan->data_start());
  for (const auto& [name, t] : accepted) {
    const TensorInfo* info = h.find(name);
    FUZZ_CHECK(info != nullptr);
    FUZZ_CHECK(info->dtype == t->dtype);
    FUZZ_CHECK(std::equal(info->shape.begin(), info->shape.end(), t->shape.begin(), t->shape.end()));
    FUZZ_CHECK(info->byte_size() == t->bytes.size());
    auto v = f->view(*info);
    FUZZ_CHECK(v.ok());
    FUZZ_CHECK(t->bytes.empty() || std::memcmp(v->data(), t->bytes.data(), t->bytes.size()) == 0);
  }
  FUZZ_CHECK(h.has_metadata() == !meta_model.empty());
  FUZZ_CHECK(h.metadata().size() == meta_model.size());
  for (const auto& [k, v] : meta_model) {
    const std::string* got = h.metadata_value(k);
    FUZZ_CHECK(got != nullptr && *got == v);
  }

  // The reference order: dtype descending, then name bytewise.
  if (!opt.keep_insertion_order) {
    auto ts = h.tensors();
    for (std::size_t i = 1; i < ts.size(); ++i) {
      const TensorInfo& a = ts[i - 1];
      const TensorInfo& b = ts[i];
      FUZZ_CHECK(a.dtype > b.dtype || (a.dtype == b.dtype && a.name < b.name));
    }
    // Insertion order does not matter. Compared only when every tensor was
    // accepted: under a tensor limit the reverse order accepts another
    // subset, whose header may then be over the header limit.
    if (accepted.size() == tensors.size()) {
      Writer rev = build(tensors, meta, opt, true, nullptr, nullptr);
      auto out2 = rev.serialize();
      if (!out2) {
        std::fprintf(stderr, "the same tensors in reverse order: %s\n", out2.error().to_string().c_str());
        std::abort();
      }
      FUZZ_CHECK(*out2 == file);
    }
  }

  // Rewriting what was read gives the same bytes: the layout is a fixed point.
  Writer again(opt);
  for (const TensorInfo& t : h.tensors()) {
    auto v = f->view(t);
    FUZZ_CHECK(v.ok() && again.add(t.name, t.dtype, t.shape, v->bytes()).ok());
  }
  for (const auto& m : h.metadata()) FUZZ_CHECK(again.set_metadata(m.key, m.value).ok());
  auto out3 = again.serialize();
  FUZZ_CHECK(out3.ok());
  FUZZ_CHECK(*out3 == file);
  return 0;
}
