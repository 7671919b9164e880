// TensorParallelPlan: which rule applies to a tensor, and what each rank holds of it.
#include <cstdio>
#include <string>

#include "dist/glob.hpp"
#include "sft/tensor_parallel.hpp"

namespace sft {

namespace {

__extension__ typedef unsigned __int128 u128;

std::uint64_t product(std::span<const std::uint64_t> dims) noexcept {
  std::uint64_t n = 1;
  for (auto d : dims) n *= d;  // cannot overflow: a validated shape's element count fits
  return n;
}

Error rule_error(Errc code, std::string msg, const PlanRule& rule, std::string_view tensor) {
  return Error(code, std::move(msg) + " (rule \"" + rule.match + "\")", rule.offset, std::string(tensor));
}

}  // namespace

IndexRange chunk_range(std::uint64_t n, std::uint32_t rank, std::uint32_t world) noexcept {
  if (world == 0) return {};
  const std::uint64_t c = n / world + (n % world != 0);
  const u128 start = static_cast<u128>(rank) * c, stop = start + c;
  return {start < n ? static_cast<std::uint64_t>(start) : n, stop < n ? static_cast<std::uint64_t>(stop) : n};
}

IndexRange expert_range(std::uint64_t experts, std::uint32_t rank, std::uint32_t world) noexcept {
  if (world == 0) return {};
  return {static_cast<std::uint64_t>(static_cast<u128>(rank) * experts / world),
          static_cast<std::uint64_t>((static_cast<u128>(rank) + 1) * experts / world)};
}

std::string rank_file_name(std::uint32_t rank, std::uint32_t world) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "rank-%05u-of-%05u.safetensors", rank, world);
  return buf;
}

std::size_t TensorParallelPlan::match(std::string_view name, std::uint64_t* expert) const {
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const std::string& p = rules[i].match;
    if (p.find(detail::expert_token) != std::string::npos) {
      std::uint64_t e = 0;
      if (detail::glob_match_expert(p, name, &e)) {
        if (expert) *expert = e;
        return i;
      }
    } else if (detail::glob_match_plain(p, name)) {
      return i;
    }
  }
  return TensorAssignment::no_rule;
}

Result<TensorAssignment> TensorParallelPlan::assign(const TensorInfo& tensor, std::uint32_t world) const {
  if (world == 0) return Error(Errc::invalid_argument, "a group of 0 ranks", Error::no_offset, std::string(tensor.name));
  TensorAssignment a;
  std::uint64_t e = 0;
  a.rule = match(tensor.name, &e);
  if (a.rule == TensorAssignment::no_rule) {
    a.placement = default_placement;
    return a;
  }
  const PlanRule& rule = rules[a.rule];
  a.placement = rule.placement;
  if (rule.placement == Placement::expert) {
    if (e >= rule.experts)
      return rule_error(Errc::plan_experts,
                        "expert index " + (e == ~std::uint64_t{0} ? std::string("beyond 64 bits") : std::to_string(e)) +
                            " is not below the rule's " + std::to_string(rule.experts) + " experts",
                        rule, tensor.name);
    a.expert = e;
    a.experts = rule.experts;
    return a;
  }
  if (rule.placement != Placement::split) return a;

  const std::uint32_t d = rule.dim;
  if (d >= tensor.shape.size())
    return rule_error(Errc::plan_split,
                      "cannot split dimension " + std::to_string(d) + " of a tensor with " +
                          std::to_string(tensor.shape.size()) + " dimensions",
                      rule, tensor.name);
  a.dim = d;
  const std::uint64_t n = tensor.shape[d];
  if (uneven == UnevenSplit::error && n % world != 0)
    return rule_error(Errc::plan_split,
                      "dimension " + std::to_string(d) + " has " + std::to_string(n) +
                          " entries, not a multiple of the " + std::to_string(world) +
                          " ranks (the plan says \"uneven\": \"error\")",
                      rule, tensor.name);
  if (is_subbyte(tensor.dtype)) {
    // Every part starts at a multiple of c = ceil(n / world) and is c long,
    // except the last non-empty one; a part that is not the whole tensor is
    // read row by row when the dimensions before d hold more than one row.
    const std::uint64_t inner_bits = product(tensor.shape.subspan(d + 1)) * bits(tensor.dtype);
    const std::uint64_t c = n / world + (n % world != 0);
    const bool whole = c >= n;  // one part holds everything
    if (!whole) {
      const std::uint64_t last = n - (n - 1) / c * c;
      const std::uint64_t outer = product(tensor.shape.first(d));
      const bool ok = (c * inner_bits) % 8 == 0 && (last * inner_bits) % 8 == 0 &&
                      (outer <= 1 || (n * inner_bits) % 8 == 0);
      if (!ok)
        return rule_error(Errc::plan_subbyte,
                          "a " + std::string(name(tensor.dtype)) + " tensor of shape " +
                              [&] {
                                std::string s = "[";
                                for (std::size_t i = 0; i < tensor.shape.size(); ++i)
                                  s += (i ? ", " : "") + std::to_string(tensor.shape[i]);
                                return s + "]";
                              }() +
                              " split along dimension " + std::to_string(d) + " into " + std::to_string(world) +
                              " parts has parts that do not start and end on whole bytes",
                          rule, tensor.name);
    }
  }
  return a;
}

TensorPart tensor_part(const TensorInfo& tensor, const TensorAssignment& a, std::uint32_t rank, std::uint32_t world) {
  TensorPart p;
  auto whole = [&] {
    p.held = true;
    p.shape.assign(tensor.shape.begin(), tensor.shape.end());
    const std::uint64_t b = tensor.byte_size();
    p.first = 0;
    p.run_bytes = b;
    p.count = b ? 1 : 0;
    p.stride = b;
    if (!b) p.run_bytes = 0;
    return p;
  };
  switch (a.placement) {
    case Placement::skip: return p;
    case Placement::replicate: return whole();
    case Placement::expert: {
      const IndexRange mine = expert_range(a.experts, rank, world);
      if (a.expert < mine.start || a.expert >= mine.stop) return p;
      return whole();
    }
    case Placement::split: break;
  }
  const std::uint32_t d = a.dim;
  const std::uint64_t n = tensor.shape[d];
  const IndexRange r = chunk_range(n, rank, world);
  if (r.start == 0 && r.stop == n) return whole();
  p.held = true;
  p.shape.assign(tensor.shape.begin(), tensor.shape.end());
  p.shape[d] = r.stop - r.start;
  p.start = r.start;
  p.stop = r.stop;
  const std::uint64_t inner_bits = product(tensor.shape.subspan(d + 1)) * bits(tensor.dtype);
  const std::uint64_t outer = product(tensor.shape.first(d));
  const std::uint64_t run = (r.stop - r.start) * inner_bits / 8;
  if (run == 0 || outer == 0) return p;  // nothing held: count 0
  p.first = r.start * inner_bits / 8;
  p.run_bytes = run;
  p.stride = n * inner_bits / 8;
  p.count = outer;
  if (outer == 1) p.stride = run;
  return p;
}

}  // namespace sft
