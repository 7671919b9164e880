// sft/tensor_parallel.hpp — which part of each tensor a rank of a tensor-parallel group holds.
//
// A TensorParallelPlan is a list of rules, tried in order against every tensor
// name (the first match wins, tensors no rule matches take the default):
//
//   replicate   every rank holds the whole tensor (norms, biases of row-parallel layers);
//   split d     the tensor is cut along dimension d into `world` parts, rank r
//               holding part r: d = 0 is a column-parallel Linear weight
//               [out, in], d = 1 a row-parallel one; any inner dimension of an
//               N-D tensor works;
//   experts E   names matched with an expert index (the `{e}` of the pattern)
//               belong to one rank: expert e is held by the rank r with
//               floor(r*E/world) <= e < floor((r+1)*E/world); other ranks do
//               not hold it at all;
//   skip        no rank holds the tensor.
//
// Uneven splits follow torch.chunk, which is also how torch.distributed's
// DTensor places Shard(d): each part has c = ceil(n / world) indices, rank r
// holding [min(r*c, n), min((r+1)*c, n)), so the last parts may be shorter or
// empty (n = 10, world = 4: 3, 3, 3, 1; n = 5, world = 4: 2, 2, 1, 0). With
// "uneven": "error" in the plan, a split whose dimension is not a multiple of
// world is plan_split instead, as vLLM requires of its linear layers.
//
// Sub-byte dtypes (F4, F6_E2M3, F6_E3M2) are split only where every rank's
// part starts and ends on a byte boundary; otherwise plan_subbyte.
//
// The plan is untrusted input, parsed strictly from JSON (docs/distributed.md):
//
//   {"rules": [{"match": "*.q_proj.weight", "split": 0},
//              {"match": "*.o_proj.weight", "split": 1},
//              {"match": "*.mlp.experts.{e}.*", "experts": 128},
//              {"match": "*.norm.weight", "replicate": true},
//              {"match": "*.rotary_emb.inv_freq", "skip": true}],
//    "default": "replicate",     // or "skip"; optional, "replicate" when absent
//    "uneven": "chunk"}          // or "error"; optional, "chunk" when absent
//
// Patterns are globs over the raw bytes of tensor names: `*` matches any run
// of bytes (dots included), `?` exactly one byte, `{e}` (at most once, and
// only in an experts rule, which needs it) a maximal run of decimal digits
// (the bytes around it are not digits), read as the expert index; every other
// byte matches itself. Errors carry the byte offset in the plan's JSON:
// plan_invalid for syntax, unknown or repeated keys, wrong types, a rule with
// no or two placements, limits; plan_experts for a bad experts rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sft/header.hpp"
#include "sft/result.hpp"

namespace sft {

enum class Placement : std::uint8_t { replicate, split, expert, skip };

// What `default` and `uneven` say.
enum class UnevenSplit : std::uint8_t {
  chunk,  // torch.chunk: ceil-sized parts, the last ones shorter or empty
  error,  // the dimension must be a multiple of world (plan_split otherwise)
};

struct PlanRule {
  std::string match;                     // the glob pattern
  Placement placement = Placement::replicate;  // replicate, split, expert (an experts rule) or skip
  std::uint32_t dim = 0;                 // split: the dimension
  std::uint64_t experts = 0;             // experts: their number E (> 0)
  std::uint64_t offset = 0;              // byte offset of the rule's object in the plan's JSON
};

// Bounds on the plan text, so that a hostile plan cannot make matching slow.
struct PlanLimits {
  std::uint64_t max_plan_bytes = 16u << 20;
  std::uint64_t max_rules = 100'000;
  std::uint64_t max_pattern_bytes = 4096;
};

// What a plan says about one tensor, independent of the rank.
struct TensorAssignment {
  Placement placement = Placement::replicate;
  std::size_t rule = no_rule;            // index in TensorParallelPlan::rules, or no_rule (the default)
  std::uint32_t dim = 0;                 // split
  std::uint64_t expert = 0;              // expert: the index read from the name
  std::uint64_t experts = 0;             // expert: E
  static constexpr std::size_t no_rule = ~std::size_t{0};
};

// One rank's part of one tensor.
struct TensorPart {
  bool held = false;                      // false: this rank does not hold the tensor (another expert's, skip)
  std::vector<std::uint64_t> shape;       // the local shape (the global one with dim d cut to stop - start)
  std::uint64_t start = 0, stop = 0;      // split: the indices of dimension `dim` held
  // The held bytes as `count` runs of `run_bytes`, `stride` bytes apart,
  // the first at byte `first` of the tensor (count = 1 when contiguous).
  std::uint64_t first = 0, run_bytes = 0, count = 0, stride = 0;
  std::uint64_t byte_size() const noexcept { return run_bytes * count; }
  bool contiguous() const noexcept { return count <= 1; }
};

class TensorParallelPlan {
 public:
  std::vector<PlanRule> rules;
  Placement default_placement = Placement::replicate;  // replicate or skip
  UnevenSplit uneven = UnevenSplit::chunk;

  // Parse the JSON form (see above). Errors: plan_invalid, plan_experts, each
  // with the byte offset in `json`.
  static Result<TensorParallelPlan> parse(std::string_view json, const PlanLimits& limits = {});
  // Read and parse a plan file (io_error naming the path, then parse's errors).
  static Result<TensorParallelPlan> read(const std::filesystem::path& path, const PlanLimits& limits = {});

  // The plan as compact JSON in the form parse() reads (rules in order,
  // "default" and "uneven" always present): parse(to_json()) gives the same plan.
  std::string to_json() const;

  // The first rule whose pattern matches `name` (TensorAssignment::no_rule
  // when none does). `expert` receives the {e} index of an experts rule
  // (~0 when the digits do not fit in 64 bits).
  std::size_t match(std::string_view name, std::uint64_t* expert = nullptr) const;

  // The assignment of one tensor for a group of `world` ranks, checked:
  //   plan_split    split dimension >= the tensor's rank; with "uneven": "error",
  //                 a dimension that is not a multiple of world;
  //   plan_subbyte  an F4/F6 part that does not start and end on a byte;
  //   plan_experts  an expert index >= E (or too large to read);
  //   invalid_argument  world == 0.
  // Each error names the tensor and carries the rule's offset in the plan JSON.
  Result<TensorAssignment> assign(const TensorInfo& tensor, std::uint32_t world) const;
};

// The part of `tensor` that rank `rank` of `world` holds under `a` (an
// assignment from assign() for the same tensor and world).
TensorPart tensor_part(const TensorInfo& tensor, const TensorAssignment& a, std::uint32_t rank, std::uint32_t world);

// torch.chunk's bounds of part `rank` of `n` indices cut into `world` parts.
struct IndexRange { std::uint64_t start = 0, stop = 0; };
IndexRange chunk_range(std::uint64_t n, std::uint32_t rank, std::uint32_t world) noexcept;

// The experts held by `rank`: [floor(rank*E/world), floor((rank+1)*E/world)).
IndexRange expert_range(std::uint64_t experts, std::uint32_t rank, std::uint32_t world) noexcept;

// Glob matching as plans use it (`*`, `?`; no `{e}`): exposed for tools and tests.
bool glob_match(std::string_view pattern, std::string_view name) noexcept;

// "rank-00002-of-00004.safetensors": the file of one rank in the pre-sharded
// layout (`sft reshard`, `sft load --out`), rank and world in five digits each.
std::string rank_file_name(std::uint32_t rank, std::uint32_t world);

}  // namespace sft
