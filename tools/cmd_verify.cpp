// tools/cmd_verify.cpp — `sft verify` (docs/cli.md): check tensors against the
// digests embedded by `sft hash --embed`.
#include <string>
#include <vector>

#include "command.hpp"
#include "sft/digest.hpp"
#include "write_options.hpp"

namespace sft::cli {
namespace {

constexpr std::string_view kUsage =
    "sft verify [--tensor NAME]... FILE...\n"
    "  hashes every tensor (or only the named ones) and compares it with the digest\n"
    "  recorded under __metadata__ \"sft.xxh3_128\" (written by sft hash --embed)\n"
    "exit status: 0 every digest matches, 1 a mismatch, a missing digest or an invalid file,\n"
    "             2 unreadable or a usage error";

// "FILE: CODE: message (tensor NAME)", the shape of every report line.
std::string line(std::string_view file, std::string_view what, std::string_view tensor) {
  return shown_path(file) + ": " + std::string(what) + " (tensor " + printable(tensor) + ")\n";
}

int fail(std::string_view file, const Error& e) {
  err(error_line(file, e));
  return exit_code_for(e);
}

int verify_one(const std::string& path, const std::vector<std::string_view>& names) {
  int status = 0;
  auto f = open_input(path, status);
  if (!f) return status;
  test_stall_point("inputs-open");
  if (!names.empty()) {
    auto table = DigestTable::of(f->header());
    if (!table) return fail(path, table.error());
    int worst = 0;
    for (auto n : names) {
      if (auto r = verify(*f, *table, n); !r) worst = std::max(worst, fail(path, r.error()));
    }
    if (worst == 0) out(shown_path(path) + ": ok (" + std::to_string(names.size()) + " of " +
                        std::to_string(f->header().size()) + " tensors)\n");
    return worst;
  }
  auto rep = check_digests(*f);
  if (!rep) return fail(path, rep.error());
  if (rep->ok()) {
    out(shown_path(path) + ": ok (" + std::to_string(rep->checked) + " tensors)\n");
    return 0;
  }
  std::string s;
  for (const auto& n : rep->mismatched) s += line(path, "digest_mismatch: the bytes do not match the recorded digest", n);
  for (const auto& n : rep->absent) s += line(path, "digest_mismatch: a digest is recorded for a tensor the file does not hold", n);
  for (const auto& n : rep->unlisted) s += line(path, "no_digest: no digest is recorded for this tensor", n);
  err(s);
  return 1;
}

int run(std::span<const std::string_view> args) {
  std::vector<std::string> files;
  std::vector<std::string_view> names;
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto a = args[i];
    if (!options_done && a == "--") options_done = true;
    else if (!options_done && a == "--tensor") {
      if (i + 1 == args.size()) return usage_error("verify", "--tensor needs a NAME");
      names.push_back(args[++i]);
    } else if (!options_done && a.size() > 1 && a[0] == '-') {
      return usage_error("verify", "unknown option " + printable(a));
    } else {
      files.emplace_back(a);
    }
  }
  if (files.empty()) return usage_error("verify", "no FILE given");
  int worst = 0;
  for (const auto& f : files) worst = std::max(worst, verify_one(f, names));
  return worst;
}

}  // namespace

SFT_COMMAND("verify", "check tensors against their embedded XXH3-128 digests", kUsage, run);

}  // namespace sft::cli
