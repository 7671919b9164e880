// tools/cmd_validate.cpp — `sft validate [--strict] [--json] FILE...` (docs/cli.md).
//
// Each file's header is read and checked (header_loader.hpp); with --strict a
// valid file is also run through sft::strict_check. Exit status: the worst of
// the files: 0 all valid, 1 some invalid, 2 some unreadable (or a usage error).
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "checkpoint_cli.hpp"
#include "command.hpp"
#include "header_loader.hpp"
#include "sft_internal/json_escape.hpp"
#include "sft/strict.hpp"

namespace sft::cli {
namespace {

constexpr std::string_view kUsage =
    "sft validate [--strict] [--json] FILE...\n"
    "  FILE may also be a checkpoint: a directory or an index (*.json); the index and every shard are checked\n"
    "  --strict  also report what the format's README forbids but the reference accepts\n"
    "  --json    print a JSON array of results on stdout instead of report lines\n"
    "exit status: 0 all valid, 1 any invalid, 2 any unreadable or a usage error";

struct FileResult {
  std::string path;
  LoadedHeader::Status status;
  std::vector<Error> errors;  // empty when valid
  std::vector<Error> warnings;  // checkpoints only: total_size problems without --strict
  bool checkpoint = false;
};

// A directory or an index: open it, check the index and every shard
// (Checkpoint::check), and with --strict run every shard through strict_check.
FileResult validate_checkpoint(const std::string& path, bool strict) {
  FileResult r{path, LoadedHeader::Status::valid, {}, {}, true};
  CheckpointOptions options;
  options.strict = strict;
  auto c = Checkpoint::open(path, options);
  if (!c) {
    r.status = error_status(c.error()) == 2 ? LoadedHeader::Status::unreadable : LoadedHeader::Status::invalid;
    r.errors.push_back(std::move(c).error());
    return r;
  }
  auto report = c->check();
  r.errors = std::move(report.errors);
  r.warnings = std::move(report.warnings);
  if (strict) {
    for (std::size_t s = 0; s < c->shards().size(); ++s) {
      if (!c->shard_opened(s)) continue;
      auto f = c->shard(s);
      if (!f) continue;
      auto whole = (*f)->bytes();
      if (!whole) continue;
      const auto& h = (*f)->header();
      for (auto& e : strict_check(whole->first(h.data_start()), h)) {
        e.message = c->shards()[s] + ": " + e.message;
        r.errors.push_back(std::move(e));
      }
    }
  }
  for (const auto& e : r.errors)
    if (error_status(e) == 2) r.status = LoadedHeader::Status::unreadable;
  if (!r.errors.empty() && r.status == LoadedHeader::Status::valid) r.status = LoadedHeader::Status::invalid;
  return r;
}

FileResult validate_one(const std::string& path, bool strict) {
  if (is_checkpoint_path(path)) return validate_checkpoint(path, strict);
  auto loaded = load_header(path);
  FileResult r{path, loaded.status, {}, {}, false};
  if (loaded.status != LoadedHeader::Status::valid) {
    r.errors.push_back(std::move(loaded.error));
    return r;
  }
  if (strict) {
    r.errors = strict_check(loaded.prefix, *loaded.header);
    if (!r.errors.empty()) r.status = LoadedHeader::Status::invalid;
  }
  return r;
}

std::string_view status_name(LoadedHeader::Status s) {
  switch (s) {
    case LoadedHeader::Status::valid: return "valid";
    case LoadedHeader::Status::invalid: return "invalid";
    case LoadedHeader::Status::unreadable: return "unreadable";
  }
  return "unreadable";
}

void append_error_json(std::string& s, const Error& e) {
  s += "{\"code\":";
  detail::append_json_string(s, errc_name(e.code));
  s += ",\"message\":";
  detail::append_json_string(s, e.message);
  s += ",\"offset\":";
  s += e.offset == Error::no_offset ? std::string("null") : std::to_string(e.offset);
  s += ",\"tensor\":";
  if (e.tensor.empty())
    s += "null";
  else
    detail::append_json_string(s, e.tensor);
  s += "}";
}

// One result per line inside a JSON array, so the output is both one document
// and easy to grep.
std::string results_json(const std::vector<FileResult>& results) {
  std::string s = "[";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    s += i == 0 ? "\n  " : ",\n  ";
    s += "{\"file\":";
    detail::append_json_string(s, r.path);
    s += ",\"status\":";
    detail::append_json_string(s, status_name(r.status));
    s += ",\"errors\":[";
    for (std::size_t k = 0; k < r.errors.size(); ++k) {
      if (k) s += ",";
      append_error_json(s, r.errors[k]);
    }
    s += "]";
    if (r.checkpoint) {
      s += ",\"warnings\":[";
      for (std::size_t k = 0; k < r.warnings.size(); ++k) {
        if (k) s += ",";
        append_error_json(s, r.warnings[k]);
      }
      s += "]";
    }
    s += "}";
  }
  s += results.empty() ? "]\n" : "\n]\n";
  return s;
}

int run_validate(std::span<const std::string_view> args) {
  bool strict = false, json = false, options_done = false;
  std::vector<std::string> files;
  for (auto a : args) {
    if (!options_done && a.size() > 1 && a[0] == '-') {
      if (a == "--") options_done = true;
      else if (a == "--strict") strict = true;
      else if (a == "--json") json = true;
      else return usage_error("validate", "unknown option '" + printable(a) + "'");
      continue;
    }
    files.emplace_back(a);
  }
  if (files.empty()) return usage_error("validate", "no FILE given");

  int status = 0;
  std::vector<FileResult> results;
  results.reserve(files.size());
  for (const auto& path : files) {
    auto r = validate_one(path, strict);
    status = std::max(status, exit_status(r.status));
    if (!json) {
      if (!r.warnings.empty()) {
        std::string lines;
        for (const auto& e : r.warnings) {
          std::string line = error_line(path, e);
          lines += line.insert(printable(path).size() + 2, "warning: ");
        }
        std::fflush(stdout);
        err(lines);
      }
      if (r.errors.empty()) {
        out(printable(path) + ": ok\n");
      } else {
        std::string lines;
        for (const auto& e : r.errors) lines += error_line(path, e);
        std::fflush(stdout);  // keep "ok" lines and reports in order when both go to one file
        err(lines);
      }
    }
    if (json) results.push_back(std::move(r));
  }
  if (json) out(results_json(results));
  return status;
}

}  // namespace

SFT_COMMAND("validate", "check that files are valid safetensors", kUsage, run_validate);

}  // namespace sft::cli
