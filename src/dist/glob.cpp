#include "dist/glob.hpp"

#include <string>
#include <vector>

#include "sft/tensor_parallel.hpp"

namespace sft::detail {

namespace {

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// ok[i] = pattern matches name[0, i), for every i (reversed: pattern and name
// read back to front, so ok[k] = pattern matches the last k bytes).
std::vector<char> prefix_matches(std::string_view pattern, std::string_view name, bool reversed) {
  const std::size_t n = name.size();
  auto nc = [&](std::size_t i) { return reversed ? name[n - 1 - i] : name[i]; };
  std::vector<char> cur(n + 1, 0), next(n + 1, 0);
  cur[0] = 1;
  for (std::size_t k = 0; k < pattern.size(); ++k) {
    const char p = reversed ? pattern[pattern.size() - 1 - k] : pattern[k];
    if (p == '*') {
      char any = 0;
      for (std::size_t i = 0; i <= n; ++i) next[i] = any = static_cast<char>(any | cur[i]);
    } else {
      next[0] = 0;
      for (std::size_t i = 1; i <= n; ++i) next[i] = cur[i - 1] && (p == '?' || nc(i - 1) == p);
    }
    cur.swap(next);
  }
  return cur;
}

}  // namespace

bool glob_match_plain(std::string_view pattern, std::string_view name) noexcept {
  std::size_t p = 0, s = 0, star = std::string_view::npos, mark = 0;
  while (s < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = s;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[s])) {
      ++p;
      ++s;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      s = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool glob_match_expert(std::string_view pattern, std::string_view name, std::uint64_t* expert) {
  const std::size_t at = pattern.find(expert_token);
  const std::string_view before = pattern.substr(0, at), after = pattern.substr(at + expert_token.size());
  const std::size_t n = name.size();
  const auto pre = prefix_matches(before, name, false);
  const auto suf = prefix_matches(after, name, true);  // suf[k]: `after` matches the last k bytes
  for (std::size_t i = 0; i < n; ++i) {
    if (!is_digit(name[i]) || (i > 0 && is_digit(name[i - 1]))) continue;
    std::size_t j = i;
    while (j < n && is_digit(name[j])) ++j;
    if (!pre[i] || !suf[n - j]) {
      i = j - 1;
      continue;
    }
    std::uint64_t v = 0;
    for (std::size_t k = i; k < j; ++k) {
      const auto d = static_cast<std::uint64_t>(name[k] - '0');
      if (v > (~std::uint64_t{0} - d) / 10) {
        v = ~std::uint64_t{0};
        break;
      }
      v = v * 10 + d;
    }
    if (expert) *expert = v;
    return true;
  }
  return false;
}

}  // namespace sft::detail

namespace sft {
bool glob_match(std::string_view pattern, std::string_view name) noexcept {
  return detail::glob_match_plain(pattern, name);
}
}  // namespace sft
