// tools/cmd_hash.cpp — `sft hash` (docs/cli.md): XXH3-128 of a file and of
// each of its tensors, or (--embed) a copy that carries the tensor digests.
#include <string>
#include <vector>

#include "command.hpp"
#include "sft_internal/json_escape.hpp"
#include "sft/digest.hpp"
#include "write_options.hpp"

namespace sft::cli {
namespace {

constexpr std::string_view kUsage =
    "sft hash [--json] FILE...\n"
    "       sft hash --embed IN OUT\n"
    "  prints, per FILE, the XXH3-128 of the whole file (decompressed, for a compressed\n"
    "  checkpoint) and then of each tensor in data order: `DIGEST  NAME`, 32 hex digits\n"
    "  --json   one JSON object per FILE: {\"file\",\"algorithm\",\"digest\",\"tensors\":[{\"name\",\"digest\"}]}\n"
    "  --embed  write OUT, a copy of IN whose __metadata__ records every tensor's digest\n"
    "           under \"sft.xxh3_128\" (check it with sft verify)\n"
    "exit status: 0 done, 1 an invalid file or a failed write, 2 unreadable or a usage error";

int embed(const std::string& in, const std::string& out_path) {
  int status = 0;
  auto f = open_input(in, status);
  if (!f) return status;
  test_stall_point("inputs-open");
  if (auto r = embed_digests(*f, out_path); !r) {
    const bool writing = r.error().code == Errc::write_failed;
    err(error_line(writing ? out_path : in, r.error()));
    return exit_code_for(r.error());
  }
  out(printable(out_path) + ": " + std::to_string(f->header().size()) + " tensor digests embedded\n");
  return 0;
}

int hash_one(const std::string& path, bool json) {
  int status = 0;
  auto f = open_input(path, status);
  if (!f) return status;
  test_stall_point("inputs-open");
  auto d = hash_all(*f);
  if (!d) {
    err(error_line(path, d.error()));
    return exit_code_for(d.error());
  }
  std::string s;
  if (json) {
    s = "{\"file\":";
    detail::append_json_string(s, path);
    s += ",\"algorithm\":\"xxh3-128\",\"digest\":\"" + d->file.hex() + "\",\"tensors\":[";
    for (std::size_t i = 0; i < d->tensors.size(); ++i) {
      if (i) s += ",";
      s += "{\"name\":";
      detail::append_json_string(s, d->tensors[i].name);
      s += ",\"digest\":\"" + d->tensors[i].digest.hex() + "\"}";
    }
    s += "]}\n";
  } else {
    s = d->file.hex() + "  " + shown_path(path) + "\n";
    for (const auto& t : d->tensors) s += t.digest.hex() + "  " + printable(t.name) + "\n";
  }
  out(s);
  return 0;
}

int run(std::span<const std::string_view> args) {
  bool json = false, embed_mode = false, options_done = false;
  std::vector<std::string> files;
  for (auto a : args) {
    if (!options_done && a == "--") options_done = true;
    else if (!options_done && a == "--json") json = true;
    else if (!options_done && a == "--embed") embed_mode = true;
    else if (!options_done && a.size() > 1 && a[0] == '-') return usage_error("hash", "unknown option " + printable(a));
    else files.emplace_back(a);
  }
  if (embed_mode) {
    if (json) return usage_error("hash", "--embed and --json do not go together");
    if (files.size() != 2) return usage_error("hash", "--embed takes IN and OUT");
    return embed(files[0], files[1]);
  }
  if (files.empty()) return usage_error("hash", "no FILE given");
  int worst = 0;
  for (const auto& f : files) worst = std::max(worst, hash_one(f, json));
  return worst;
}

}  // namespace

SFT_COMMAND("hash", "XXH3-128 digests of a file and its tensors; --embed records them in a copy", kUsage, run);

}  // namespace sft::cli
