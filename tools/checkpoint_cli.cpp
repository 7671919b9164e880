#include "checkpoint_cli.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include <sys/stat.h>

#include "command.hpp"
#include "header_loader.hpp"
#include "remote_cli.hpp"

namespace sft::cli {

bool is_checkpoint_path(const std::string& path) {
  if (is_url(path)) {
    // A URL's path, without its query: .../model.safetensors.index.json?download=true
    const std::string p = path.substr(0, path.find_first_of("?#"));
    return p.size() >= 5 && p.compare(p.size() - 5, 5, ".json") == 0;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return true;
  return path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0;
}

int error_status(const Error& e) noexcept {
  return e.code == Errc::io_error || e.code == Errc::no_checkpoint || is_remote_error(e.code) ? 2 : 1;
}

std::optional<Checkpoint> open_checkpoint_or_report(const std::string& path, int* status,
                                                    const CheckpointOptions& options) {
  CheckpointOptions o = options;
  o.open = with_remote(o.open);
  auto c = Checkpoint::open(path, o);
  if (!c) {
    err(error_line(path, c.error()));
    *status = error_status(c.error());
    return std::nullopt;
  }
  return std::move(*c);
}

std::optional<Checkpoint> open_checked_checkpoint(const std::string& path, int* status,
                                                  const CheckpointOptions& options) {
  auto c = open_checkpoint_or_report(path, status, options);
  if (!c) return std::nullopt;
  auto report = c->check();
  if (report.ok()) return c;
  // The first errors say what is wrong; a million more lines would not.
  constexpr std::size_t kShown = 100;
  std::string lines;
  *status = 1;
  for (std::size_t i = 0; i < report.errors.size(); ++i) {
    if (i < kShown) lines += error_line(path, report.errors[i]);
    *status = std::max(*status, error_status(report.errors[i]));
  }
  if (report.errors.size() > kShown)
    lines += printable(path) + ": ... and " + std::to_string(report.errors.size() - kShown) +
             " more errors (sft validate lists every one)\n";
  err(lines);
  return std::nullopt;
}

bool checkpoint_metadata(const std::string& path, const Checkpoint& c, std::vector<MetadataEntry>* out, int* status) {
  for (std::size_t i = 0; i < c.shards().size(); ++i) {
    auto f = c.shard(i);
    if (!f) {
      err(error_line(path, f.error()));
      *status = error_status(f.error());
      return false;
    }
    for (const auto& m : (*f)->header().metadata()) {
      auto it = std::find_if(out->begin(), out->end(), [&](const MetadataEntry& e) { return e.key == m.key; });
      if (it == out->end()) out->push_back(m);
      else if (it->value != m.value)
        err(shown_path(path) + ": warning: metadata key \"" + printable(m.key) + "\" differs between shards; kept " +
            "the value of the first\n");
    }
  }
  return true;
}

std::optional<SourceCheckpoint> open_source(const std::string& path, int* status) {
  CheckpointOptions options;
  options.open.hint = AccessHint::sequential;
  options.open.mode = ReadMode::pread;  // read, never mapped: a shrinking input is an io_error, not SIGBUS
  auto c = open_checked_checkpoint(path, status, options);
  if (!c) return std::nullopt;
  auto list = c->tensors();
  if (!list) {
    err(error_line(path, list.error()));
    *status = error_status(list.error());
    return std::nullopt;
  }
  for (const auto& t : *list)
    if (!readable_in_place(path, t, status)) return std::nullopt;
  std::vector<MetadataEntry> metadata;
  if (!checkpoint_metadata(path, *c, &metadata, status)) return std::nullopt;
  return SourceCheckpoint{std::move(*c), std::move(*list), std::move(metadata)};
}

bool readable_in_place(const std::string& path, const CheckpointTensor& t, int* status) {
  if (!t.file->compressed()) return true;
  err(error_line(path, Error(Errc::compressed_unsupported,
                             "a compressed checkpoint cannot be read in place by this command; "
                             "restore it first with sft decompress",
                             Error::no_offset, std::string(t.info->name))));
  *status = 1;
  return false;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  std::string number(text.substr(0, i));
  std::string unit(text.substr(i));
  for (auto& ch : unit) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  if (number.empty() || number.size() > 24 || number == "." || number.find('.') != number.rfind('.')) return std::nullopt;
  struct Unit { const char* name; double factor; };
  static const Unit units[] = {
      {"", 1}, {"b", 1}, {"k", 1e3}, {"kb", 1e3}, {"m", 1e6}, {"mb", 1e6}, {"g", 1e9}, {"gb", 1e9},
      {"t", 1e12}, {"tb", 1e12}, {"kib", 1024.0}, {"mib", 1048576.0}, {"gib", 1073741824.0},
      {"tib", 1099511627776.0}};
  for (const auto& u : units) {
    if (unit != u.name) continue;
    const double v = std::stod(number) * u.factor;
    if (!(v >= 1) || v >= 18446744073709551616.0 || std::floor(v) != v) return std::nullopt;
    return static_cast<std::uint64_t>(v);
  }
  return std::nullopt;
}

}  // namespace sft::cli
