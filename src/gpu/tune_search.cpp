// The search over a space of configurations (sft/gpu/tune.hpp, docs/gpu.md "Search").
//
//   exhaustive  every candidate in the space's order;
//   search      1. seeds: the default, cached and shipped configurations;
//               2. random samples (seeded Fisher-Yates order): 40% of a
//                  candidate budget, or until 35% of a time budget, or, with
//                  neither, max(16, |space| / 8) candidates;
//               3. pattern search: the unmeasured neighbours of the best
//                  candidate (one parameter one step up or down, among the
//                  values the space holds with every other parameter kept),
//                  moving to any that is faster, restarting from the next
//                  best unexplored candidate at a local optimum; until the
//                  budget (85% of a time budget) is spent or, with none, after
//                  4 restarts;
//   both        4. re-timing: the (at most 4) candidates within 15% of the
//               best are timed again, interleaved, retime_rounds times; each
//               keeps the median of all its times and the lowest wins.
#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <random>
#include <string>

#include "sft/gpu/tune.hpp"

namespace sft::gpu {
namespace {

using Clock = std::chrono::steady_clock;

// The fields a pattern-search step changes, one at a time.
constexpr int kFields = 9;
std::uint32_t field(const LaunchConfig& c, int f) {
  switch (f) {
    case 0: return c.local_size;
    case 1: return c.items_per_thread;
    case 2: return c.vector_width;
    case 3: return c.mapping;
    case 4: return c.unroll;
    case 5: return c.split;
    case 6: return c.reduction;
    case 7: return c.specialize;
    default: return c.wide_loads;
  }
}
void set_field(LaunchConfig& c, int f, std::uint32_t v) {
  switch (f) {
    case 0: c.local_size = v; break;
    case 1: c.items_per_thread = v; break;
    case 2: c.vector_width = v; break;
    case 3: c.mapping = v; break;
    case 4: c.unroll = v; break;
    case 5: c.split = v; break;
    case 6: c.reduction = v; break;
    case 7: c.specialize = v != 0; break;
    default: c.wide_loads = v != 0; break;
  }
}

// Every field of a configuration, as a map key: the search indexes spaces of
// thousands of candidates, and formatting each as its config_string took most
// of a small time budget (seconds under a sanitizer) before anything was timed.
using Key = std::array<std::uint32_t, kFields + 1>;
Key key_of(const LaunchConfig& c) {
  Key k{};
  for (int f = 0; f < kFields; ++f) k[static_cast<std::size_t>(f)] = field(c, f);
  k[kFields] = c.fault;
  return k;
}

// For each field, the candidates that differ only in that field, by value:
// a candidate's neighbours are the next lower and higher value in its line.
class Lines {
 public:
  explicit Lines(std::span<const LaunchConfig> space) {
    for (int f = 0; f < kFields; ++f) {
      for (std::size_t i = 0; i < space.size(); ++i) {
        LaunchConfig blank = space[i];
        set_field(blank, f, 0);
        lines_[f][key_of(blank)][field(space[i], f)] = i;
      }
    }
    space_ = space;
  }
  std::vector<std::size_t> neighbours(std::size_t i) const {
    std::vector<std::size_t> out;
    for (int f = 0; f < kFields; ++f) {
      LaunchConfig blank = space_[i];
      set_field(blank, f, 0);
      const auto& line = lines_[f].at(key_of(blank));
      auto at = line.find(field(space_[i], f));
      if (at != line.begin()) out.push_back(std::prev(at)->second);
      if (std::next(at) != line.end()) out.push_back(std::next(at)->second);
    }
    return out;
  }

 private:
  std::map<Key, std::map<std::uint32_t, std::size_t>> lines_[kFields];
  std::span<const LaunchConfig> space_;
};

}  // namespace

std::string_view strategy_name(SearchStrategy s) noexcept {
  switch (s) {
    case SearchStrategy::automatic: return "automatic";
    case SearchStrategy::exhaustive: return "exhaustive";
    case SearchStrategy::search: return "search";
  }
  return "?";
}

SearchReport search_space(std::span<const LaunchConfig> space, std::span<const LaunchConfig> seeds,
                          const TuneOptions& options,
                          const std::function<std::optional<double>(const LaunchConfig&, bool retime)>& measure) {
  SearchReport rep;
  const std::size_t n = space.size();
  rep.strategy = options.strategy;
  if (rep.strategy == SearchStrategy::automatic)
    rep.strategy = n <= options.exhaustive_limit ? SearchStrategy::exhaustive : SearchStrategy::search;
  if (n == 0) return rep;

  const auto t0 = Clock::now();
  const double budget = options.budget_seconds > 0 ? options.budget_seconds : 0;
  const std::size_t max_count = options.max_candidates;
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  // Out of budget for phases that end at `fraction` of it.
  auto spent = [&](double fraction) {
    bool out = (budget > 0 && elapsed() >= budget * fraction) ||
               (max_count > 0 && static_cast<double>(rep.tried) >= static_cast<double>(max_count) * fraction);
    return out;
  };
  auto hard_stop = [&] {
    bool out = spent(1.0);
    if (out) rep.budget_exhausted = true;
    return out;
  };

  std::vector<std::optional<double>> score(n);
  std::vector<char> measured(n, 0);
  auto best_index = [&]() -> std::optional<std::size_t> {
    std::optional<std::size_t> b;
    for (std::size_t i = 0; i < n; ++i)
      if (score[i] && (!b || *score[i] < *score[*b])) b = i;
    return b;
  };
  auto evaluate = [&](std::size_t i) {
    if (measured[i]) return;
    measured[i] = 1;
    rep.order.push_back(i);
    ++rep.tried;
    score[i] = measure(space[i], false);
    if (!score[i]) ++rep.rejected;
  };

  if (rep.strategy == SearchStrategy::exhaustive) {
    for (std::size_t i = 0; i < n && !hard_stop(); ++i) evaluate(i);
  } else {
    std::map<Key, std::size_t> index;
    for (std::size_t i = 0; i < n; ++i) index.emplace(key_of(space[i]), i);
    // 1. seeds
    for (const LaunchConfig& s : seeds) {
      if (rep.tried > 0 && hard_stop()) break;
      if (auto it = index.find(key_of(s)); it != index.end()) evaluate(it->second);
    }
    // 2. random samples
    std::vector<std::size_t> perm(n);
    for (std::size_t i = 0; i < n; ++i) perm[i] = i;
    std::mt19937_64 rng(options.seed);
    for (std::size_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng() % (i + 1)]);
    const bool no_budget = budget == 0 && max_count == 0;
    const std::size_t free_samples = std::max<std::size_t>(16, n / 8);
    for (std::size_t j = 0, taken = 0; j < n && (rep.tried == 0 || !hard_stop()); ++j) {
      // At least one candidate is timed whatever the budget: a search that
      // spent its budget before timing anything would have no answer.
      if (rep.tried > 0 && (no_budget ? taken >= free_samples : spent(max_count > 0 ? 0.4 : 0.35))) break;
      if (measured[perm[j]]) continue;
      evaluate(perm[j]);
      ++taken;
    }
    // 3. pattern search around the best, restarting from the next best
    Lines lines(space);
    std::vector<char> explored(n, 0);
    int restarts = 0;
    constexpr std::size_t none = ~std::size_t{0};
    // A time budget keeps its last 15% for re-timing (which a candidate budget does not count).
    const double pattern_end = max_count > 0 ? 1.0 : 0.85;
    auto pattern_spent = [&] {
      bool out = hard_stop() || spent(pattern_end);
      if (out) rep.budget_exhausted = true;
      return out;
    };
    std::size_t center = best_index().value_or(none);
    while (center != none && !pattern_spent()) {
      explored[center] = 1;
      const double before = *score[center];
      for (std::size_t nb : lines.neighbours(center)) {
        if (pattern_spent()) break;
        evaluate(nb);
      }
      auto best = best_index();
      if (best && *score[*best] < before && !explored[*best]) {
        center = *best;
        continue;
      }
      if (no_budget && ++restarts > 4) break;
      // The next best candidate not explored yet.
      center = none;
      for (std::size_t i = 0; i < n; ++i)
        if (score[i] && !explored[i] && (center == none || *score[i] < *score[center])) center = i;
    }
  }

  // 4. interleaved re-timing of the near-best
  auto best = best_index();
  if (!best) return rep;
  std::vector<std::size_t> near;
  for (std::size_t i = 0; i < n; ++i)
    if (score[i] && *score[i] <= *score[*best] * 1.15) near.push_back(i);
  std::sort(near.begin(), near.end(), [&](std::size_t a, std::size_t b) { return *score[a] < *score[b]; });
  if (near.size() > 4) near.resize(4);
  std::map<std::size_t, std::vector<double>> times;
  for (std::size_t i : near) times[i].push_back(*score[i]);
  if (near.size() > 1) {
    for (int round = 0; round < options.retime_rounds; ++round) {
      for (std::size_t i : near) {
        if (budget > 0 && elapsed() >= budget) break;
        if (auto t = measure(space[i], true)) times[i].push_back(*t);
      }
    }
  }
  for (auto& [i, ts] : times) {
    std::sort(ts.begin(), ts.end());
    const double med = ts.size() % 2 ? ts[ts.size() / 2] : (ts[ts.size() / 2 - 1] + ts[ts.size() / 2]) / 2;
    if (!rep.best || med < rep.best_seconds) {
      rep.best = i;
      rep.best_seconds = med;
    }
  }
  return rep;
}

}  // namespace sft::gpu
