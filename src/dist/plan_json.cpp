// The JSON form of a TensorParallelPlan: strict parsing of untrusted text.
//
// UTF-8 and JSON syntax are checked first by sft's own position-tracking
// checkers; the value is then walked by hand, so that every schema error (an
// unknown or repeated key, a wrong type, a rule with no placement) carries the
// byte offset of the offending key or value.
#include <cerrno>
#include <cstring>
#include <string>
#include <unordered_set>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/utf8.hpp"
#include "dist/glob.hpp"
#include "header/json_syntax.hpp"
#include "sft_internal/name_hash.hpp"
#include "sft/tensor_parallel.hpp"
#include "sft_internal/json_escape.hpp"

namespace sft {

namespace {

Error invalid(std::string msg, std::uint64_t at) { return Error(Errc::plan_invalid, std::move(msg), at); }

// A walk over JSON text already known to be valid.
class Walker {
 public:
  Walker(std::string_view text) : p_(text.data()), n_(text.size()) {}

  std::size_t pos() const noexcept { return i_; }
  void skip_ws() noexcept {
    while (i_ < n_ && detail::is_json_ws(p_[i_])) ++i_;
  }
  char peek() noexcept {
    skip_ws();
    return i_ < n_ ? p_[i_] : '\0';
  }
  // Consume `c` (after whitespace) when it is next.
  bool eat(char c) noexcept {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  std::string string() {
    skip_ws();
    std::string out;
    i_ = detail::unescape_json_string(p_, n_, i_, out);
    return out;
  }
  // Skip one value of any kind.
  void skip_value() {
    const char c = peek();
    if (c == '"') {
      i_ = detail::skip_json_string(p_, n_, i_) + 1;
    } else if (c == '{' || c == '[') {
      int depth = 0;
      do {
        const char d = p_[i_];
        if (d == '"') {
          i_ = detail::skip_json_string(p_, n_, i_);
        } else if (d == '{' || d == '[') {
          ++depth;
        } else if (d == '}' || d == ']') {
          --depth;
        }
        ++i_;
      } while (depth > 0 && i_ < n_);
    } else {
      while (i_ < n_ && !detail::is_json_ws(p_[i_]) && p_[i_] != ',' && p_[i_] != '}' && p_[i_] != ']') ++i_;
    }
  }
  // A JSON value as a short description, for messages.
  const char* kind() noexcept {
    switch (peek()) {
      case '{': return "an object";
      case '[': return "an array";
      case '"': return "a string";
      case 't': case 'f': return "a boolean";
      case 'n': return "null";
      default: return "a number";
    }
  }
  // A non-negative integer token within u64; nullopt-like false otherwise.
  bool uint(std::uint64_t* out) noexcept {
    skip_ws();
    std::size_t j = i_;
    std::uint64_t v = 0;
    bool any = false;
    while (j < n_ && p_[j] >= '0' && p_[j] <= '9') {
      const auto d = static_cast<std::uint64_t>(p_[j] - '0');
      if (v > (~std::uint64_t{0} - d) / 10) return false;
      v = v * 10 + d;
      any = true;
      ++j;
    }
    if (!any || (j < n_ && (p_[j] == '.' || p_[j] == 'e' || p_[j] == 'E'))) return false;
    i_ = j;
    *out = v;
    return true;
  }
  bool boolean(bool* out) noexcept {
    skip_ws();
    if (n_ - i_ >= 4 && std::memcmp(p_ + i_, "true", 4) == 0) {
      i_ += 4;
      *out = true;
      return true;
    }
    if (n_ - i_ >= 5 && std::memcmp(p_ + i_, "false", 5) == 0) {
      i_ += 5;
      *out = false;
      return true;
    }
    return false;
  }

 private:
  const char* p_;
  std::size_t n_;
  std::size_t i_ = 0;
};

// Iterate the members of the object at the walker's position: f(key, key_offset)
// must consume the value. Repeated keys are plan_invalid.
template <class F>
Result<void> each_member(Walker& w, std::string_view where, F&& f) {
  w.eat('{');
  std::unordered_set<std::string, NameHash> seen;
  if (w.eat('}')) return {};
  do {
    w.skip_ws();
    const std::size_t at = w.pos();
    std::string key = w.string();
    w.eat(':');
    if (!seen.insert(key).second)
      return invalid("key \"" + key + "\" repeated in " + std::string(where), at);
    SFT_TRY(f(key, at));
  } while (w.eat(','));
  w.eat('}');
  return {};
}

const char* placement_key(Placement p) noexcept {
  switch (p) {
    case Placement::split: return "split";
    case Placement::expert: return "experts";
    case Placement::replicate: return "replicate";
    case Placement::skip: return "skip";
  }
  return "?";
}

Result<PlanRule> parse_rule(Walker& w, const PlanLimits& limits) {
  PlanRule rule;
  w.skip_ws();
  rule.offset = w.pos();
  if (w.peek() != '{') return invalid(std::string("a rule must be an object, not ") + w.kind(), w.pos());
  bool has_match = false, has_placement = false;
  std::uint64_t match_at = 0;
  auto member = [&](const std::string& key, std::uint64_t at) -> Result<void> {
    w.skip_ws();
    const std::uint64_t value_at = w.pos();
    auto placed = [&](Placement p) -> Result<void> {
      if (has_placement)
        return invalid("a rule takes one of \"split\", \"experts\", \"replicate\" and \"skip\"; \"" + key +
                           "\" comes after \"" + placement_key(rule.placement) + "\"",
                       at);
      has_placement = true;
      rule.placement = p;
      return {};
    };
    if (key == "match") {
      if (w.peek() != '"') return invalid(std::string("\"match\" must be a string, not ") + w.kind(), value_at);
      rule.match = w.string();
      if (rule.match.size() > limits.max_pattern_bytes)
        return invalid("the pattern holds " + std::to_string(rule.match.size()) + " bytes, more than the limit of " +
                           std::to_string(limits.max_pattern_bytes),
                       value_at);
      has_match = true;
      match_at = value_at;
      return {};
    }
    if (key == "split") {
      std::uint64_t d = 0;
      if (!w.uint(&d) || d > 0xffffffffu)
        return invalid("\"split\" must be a dimension: a non-negative integer below 2^32", value_at);
      rule.dim = static_cast<std::uint32_t>(d);
      return placed(Placement::split);
    }
    if (key == "experts") {
      std::uint64_t e = 0;
      if (!w.uint(&e) || e == 0)
        return Error(Errc::plan_experts, "\"experts\" must be the number of experts (a positive integer)", value_at);
      rule.experts = e;
      return placed(Placement::expert);
    }
    if (key == "replicate" || key == "skip") {
      bool b = false;
      if (!w.boolean(&b) || !b)
        return invalid("\"" + key + "\" must be true (leave it out otherwise)", value_at);
      return placed(key == "skip" ? Placement::skip : Placement::replicate);
    }
    return invalid("unknown key \"" + key + "\" in a rule (known: match, split, experts, replicate, skip)", at);
  };
  SFT_TRY(each_member(w, "a rule", member));
  if (!has_match) return invalid("the rule has no \"match\" pattern", rule.offset);
  if (!has_placement)
    return invalid("the rule says none of \"split\", \"experts\", \"replicate\" and \"skip\"", rule.offset);
  const std::size_t first = rule.match.find(detail::expert_token);
  const bool has_e = first != std::string::npos;
  if (has_e && rule.match.find(detail::expert_token, first + 1) != std::string::npos)
    return Error(Errc::plan_experts, "the pattern holds {e} more than once", match_at);
  if (rule.placement == Placement::expert && !has_e)
    return Error(Errc::plan_experts, "an experts rule needs {e} in its pattern, where the expert index is", match_at);
  if (rule.placement != Placement::expert && has_e)
    return Error(Errc::plan_experts, "{e} belongs in experts rules only", match_at);
  return rule;
}

}  // namespace

Result<TensorParallelPlan> TensorParallelPlan::parse(std::string_view json, const PlanLimits& limits) {
  if (json.size() > limits.max_plan_bytes)
    return invalid("the plan holds " + std::to_string(json.size()) + " bytes, more than the limit of " +
                       std::to_string(limits.max_plan_bytes),
                   Error::no_offset);
  if (auto at = detail::find_invalid_utf8(reinterpret_cast<const unsigned char*>(json.data()), json.size());
      at != detail::utf8_ok)
    return invalid("the plan is not valid UTF-8", at);
  if (auto r = detail::check_json_syntax(json.data(), json.size(), 16, 0); !r)
    return invalid("the plan is not valid JSON: " + r.error().message, r.error().offset);

  TensorParallelPlan plan;
  Walker w(json);
  if (w.peek() != '{') return invalid(std::string("the plan must be a JSON object, not ") + w.kind(), w.pos());
  auto member = [&](const std::string& key, std::uint64_t at) -> Result<void> {
    w.skip_ws();
    const std::uint64_t value_at = w.pos();
    if (key == "rules") {
      if (w.peek() != '[') return invalid(std::string("\"rules\" must be an array, not ") + w.kind(), value_at);
      w.eat('[');
      if (w.eat(']')) return {};
      do {
        w.skip_ws();
        if (plan.rules.size() >= limits.max_rules)
          return invalid("more than " + std::to_string(limits.max_rules) + " rules", w.pos());
        SFT_TRY_ASSIGN(auto rule, parse_rule(w, limits));
        plan.rules.push_back(std::move(rule));
      } while (w.eat(','));
      w.eat(']');
      return {};
    }
    if (key == "default" || key == "uneven") {
      if (w.peek() != '"') return invalid("\"" + key + "\" must be a string, not " + w.kind(), value_at);
      const std::string v = w.string();
      if (key == "default") {
        if (v == "replicate") plan.default_placement = Placement::replicate;
        else if (v == "skip") plan.default_placement = Placement::skip;
        else return invalid("\"default\" must be \"replicate\" or \"skip\", not \"" + v + "\"", value_at);
      } else {
        if (v == "chunk") plan.uneven = UnevenSplit::chunk;
        else if (v == "error") plan.uneven = UnevenSplit::error;
        else return invalid("\"uneven\" must be \"chunk\" or \"error\", not \"" + v + "\"", value_at);
      }
      return {};
    }
    return invalid("unknown key \"" + key + "\" in the plan (known: rules, default, uneven)", at);
  };
  SFT_TRY(each_member(w, "the plan", member));
  return plan;
}

Result<TensorParallelPlan> TensorParallelPlan::read(const std::filesystem::path& path, const PlanLimits& limits) {
  auto fail = [&](const char* what, int e) {
    return Error(Errc::io_error, std::string(what) + " " + path.string() + ": " + std::strerror(e));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("cannot open", errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error(Errc::io_error, "not a regular file: " + path.string());
  }
  if (static_cast<std::uint64_t>(st.st_size) > limits.max_plan_bytes) {
    ::close(fd);
    return invalid(path.string() + ": the plan holds " + std::to_string(st.st_size) +
                       " bytes, more than the limit of " + std::to_string(limits.max_plan_bytes),
                   Error::no_offset);
  }
  std::string text(static_cast<std::size_t>(st.st_size), '\0');  // bounded by the limit just checked
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t got = ::read(fd, text.data() + done, text.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int e = errno;
      ::close(fd);
      return fail("cannot read", e);
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  ::close(fd);
  text.resize(done);
  return parse(text, limits).with_context(path.string());
}

std::string TensorParallelPlan::to_json() const {
  std::string s = "{\"rules\":[";
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const PlanRule& r = rules[i];
    if (i) s += ',';
    s += "{\"match\":";
    detail::append_json_string(s, r.match);
    s += ",\"";
    s += placement_key(r.placement);
    s += "\":";
    switch (r.placement) {
      case Placement::split: s += std::to_string(r.dim); break;
      case Placement::expert: s += std::to_string(r.experts); break;
      default: s += "true"; break;
    }
    s += '}';
  }
  s += "],\"default\":";
  s += default_placement == Placement::skip ? "\"skip\"" : "\"replicate\"";
  s += ",\"uneven\":";
  s += uneven == UnevenSplit::error ? "\"error\"" : "\"chunk\"";
  s += '}';
  return s;
}

}  // namespace sft
