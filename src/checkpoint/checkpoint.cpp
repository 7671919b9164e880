// sft::Checkpoint: one file or an index with shards, opened lazily.
#include "sft/checkpoint.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <numeric>
#include <optional>
#include <unordered_map>

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "checkpoint/checkpoint_index.hpp"
#include "file/file_impl.hpp"
#include "sft/checkpoint_writer.hpp"
#include "sft_internal/guard.hpp"
#include "sft_internal/name_hash.hpp"

namespace sft {

namespace fs = std::filesystem;

namespace {

// One shard: its path, and the File once opened (or the error opening it gave).
struct Slot {
  fs::path path;
  // Below the checkpoint's directory: the shard's path relative to it, opened
  // through Impl::dir_fd without following links (empty: open `path`).
  fs::path relative;
  std::once_flag once;
  std::optional<File> file;
  std::optional<Error> error;
  std::atomic<bool> opened{false};
};

Error with_shard(const std::string& shard, Error e) {
  e.message = shard + ": " + e.message;
  return e;
}

struct Located {
  fs::path path;
  bool is_index = false;
};

// What to open for a directory: see the rules in checkpoint.hpp.
// A FIFO, device or socket with a checkpoint file's name is io_error naming
// it (never skipped, never opened: opening a FIFO blocks).
Error not_a_file(const fs::path& p, fs::file_type t) {
  const char* kind = t == fs::file_type::fifo ? "a FIFO" : t == fs::file_type::socket ? "a socket" : "a device";
  return Error(Errc::io_error, std::string("not a regular file (") + kind + "): " + p.string());
}

bool special(fs::file_type t) {
  return t == fs::file_type::fifo || t == fs::file_type::socket || t == fs::file_type::block ||
         t == fs::file_type::character;
}

Result<Located> locate_in_directory(const fs::path& dir) {
  std::error_code ec;
  fs::path preferred = dir / index_file_name();
  if (auto t = fs::status(preferred, ec).type(); special(t)) return not_a_file(preferred, t);
  if (fs::is_regular_file(preferred, ec)) return Located{preferred, true};
  std::vector<std::string> indexes, files;
  fs::directory_iterator it(dir, ec), end;
  if (ec) return Error(Errc::io_error, "cannot list " + dir.string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Error(Errc::io_error, "cannot list " + dir.string() + ": " + ec.message());
    std::string n = it->path().filename().string();
    const bool named = n.ends_with(".safetensors.index.json") || n.ends_with(".safetensors");
    if (auto t = it->status(ec).type(); named && special(t)) return not_a_file(it->path(), t);
    if (!it->is_regular_file(ec)) continue;
    if (n.ends_with(".safetensors.index.json")) indexes.push_back(n);
    else if (n.ends_with(".safetensors")) files.push_back(n);
  }
  std::sort(indexes.begin(), indexes.end());
  std::sort(files.begin(), files.end());
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& n : v) s += (s.empty() ? "" : ", ") + n;
    return s;
  };
  if (indexes.size() == 1) return Located{dir / indexes[0], true};
  if (indexes.size() > 1)
    return Error(Errc::no_checkpoint, "the directory holds several index files and none is " + index_file_name() +
                                          ": " + list(indexes));
  if (files.size() == 1) return Located{dir / files[0], false};
  if (files.empty()) return Error(Errc::no_checkpoint, "the directory holds no .safetensors file and no index");
  return Error(Errc::no_checkpoint,
               "the directory holds " + std::to_string(files.size()) + " .safetensors files and no index: " + list(files));
}

}  // namespace

struct Checkpoint::Impl {
  CheckpointOptions options;
  bool sharded = false;
  fs::path dir;
  fs::path index;
  std::vector<std::string> shard_names;
  std::unique_ptr<Slot[]> slots;
  std::vector<std::string> names;           // sorted
  std::vector<std::uint32_t> name_shard;    // parallel to names
  std::unordered_map<std::string_view, std::size_t, NameHash> by_name;
  bool has_total = false;
  std::uint64_t total = 0;
  // The checkpoint's directory, opened when the index was read: shards are
  // opened relative to it (openat, O_NOFOLLOW on every component), so that
  // the directory or a shard swapped for a symlink after open() cannot lead
  // a lazy shard open outside the directory checked then.
  detail::UniqueFd dir_fd;

  Result<File> open_shard(const Slot& s) const {
    if (dir_fd.get() < 0 || s.relative.empty()) return File::open(s.path, options.open);
    SFT_TRY_ASSIGN(detail::RegularFile file, detail::open_regular_file_at(dir_fd.get(), s.relative, s.path));
    return detail::open_file(std::move(file), s.path, options.open);
  }

  const File* open_slot(std::size_t i, Error* err) const {
    Slot& s = slots[i];
    std::call_once(s.once, [&] {
      auto f = open_shard(s);
      if (f) s.file.emplace(std::move(*f));
      else s.error = sharded ? with_shard(shard_names[i], std::move(f).error()) : std::move(f).error();
      s.opened.store(true, std::memory_order_release);
    });
    if (s.file) return &*s.file;
    *err = *s.error;
    return nullptr;
  }

  void index_names() {
    by_name.reserve(names.size());
    for (std::size_t i = 0; i < names.size(); ++i) by_name.emplace(names[i], i);
  }
};

Checkpoint::Checkpoint(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Checkpoint::Checkpoint(Checkpoint&&) noexcept = default;
Checkpoint& Checkpoint::operator=(Checkpoint&&) noexcept = default;
Checkpoint::~Checkpoint() = default;

Result<Checkpoint> Checkpoint::open(const fs::path& path, const CheckpointOptions& options) {
  return detail::guarded([&]() -> Result<Checkpoint> {
    // An http(s) URL names a file or an index (its path, without the query,
    // ends in .json); its shards are URLs beside it (docs/remote.md).
    const bool remote = is_url(path.native());
    struct stat st {};
    if (!remote && ::stat(path.c_str(), &st) != 0)
      return Error(Errc::io_error, "cannot open " + path.string() + ": " + std::strerror(errno));
    const std::string& native = path.native();
    Located where{path, native.substr(0, remote ? native.find_first_of("?#") : std::string::npos).ends_with(".json")};
    if (!remote && S_ISDIR(st.st_mode)) {
      auto found = locate_in_directory(path);
      SFT_TRY(found);
      where = std::move(*found);
    }

    auto impl = std::make_unique<Impl>();
    impl->options = options;
    impl->dir = where.path.parent_path();
    if (impl->dir.empty()) impl->dir = ".";

    if (!where.is_index) {
      // One file: opened now, its tensors are the checkpoint's.
      impl->shard_names.push_back(where.path.filename().string());
      impl->slots = std::make_unique<Slot[]>(1);
      impl->slots[0].path = where.path;
      Error err;
      const File* f = impl->open_slot(0, &err);
      if (!f) return err;
      for (const auto& t : f->header().tensors()) impl->names.emplace_back(t.name);
      std::sort(impl->names.begin(), impl->names.end());
      impl->name_shard.assign(impl->names.size(), 0);
      impl->index_names();
      return Checkpoint(std::move(impl));
    }

    impl->sharded = true;
    impl->index = where.path;
    std::string real_dir;
    detail::ParsedIndex parsed;
    if (remote) {
      SFT_TRY_ASSIGN(parsed, detail::read_remote_index(native, options.open.remote, options.max_index_bytes));
    } else {
      char buf[PATH_MAX];
      if (::realpath(impl->dir.c_str(), buf) == nullptr)
        return Error(Errc::io_error, "cannot resolve " + impl->dir.string() + ": " + std::strerror(errno));
      real_dir = buf;
      if (!options.follow_external_symlinks) {
        const int fd = ::open(real_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) return Error(Errc::io_error, "cannot open the directory " + real_dir + ": " + std::strerror(errno));
        impl->dir_fd = detail::UniqueFd(fd);
      }
      SFT_TRY_ASSIGN(const fs::path index_file,
                     detail::resolve_index(where.path, real_dir, options.follow_external_symlinks));
      SFT_TRY_ASSIGN(parsed, detail::read_index(index_file, options.max_index_bytes));
    }
    impl->has_total = parsed.has_total_size;
    impl->total = parsed.total_size;

    impl->shard_names = std::move(parsed.shards);
    impl->slots = std::make_unique<Slot[]>(impl->shard_names.size());
    for (std::size_t i = 0; i < impl->shard_names.size(); ++i) {
      auto p = remote ? detail::remote_shard(native, impl->shard_names[i])
                      : detail::resolve_shard(impl->dir, real_dir, impl->shard_names[i], options.follow_external_symlinks);
      // Name the tensor that first maps to the bad shard, so the error points into weight_map.
      if (!p) return std::move(p).error().with_tensor(parsed.tensors[parsed.shard_first[i]]);
      impl->slots[i].path = std::move(*p);
      // resolve_shard returned the real path, inside real_dir unless links
      // leading outside are followed: relative to the directory's descriptor.
      const std::string& real = impl->slots[i].path.native();
      if (impl->dir_fd.get() >= 0 && real.size() > real_dir.size() && real.compare(0, real_dir.size(), real_dir) == 0)
        impl->slots[i].relative = real.substr(real_dir == "/" ? 1 : real_dir.size() + 1);
    }
    impl->names = std::move(parsed.tensors);
    impl->name_shard = std::move(parsed.tensor_shard);
    impl->index_names();
    return Checkpoint(std::move(impl));
  });
}

bool Checkpoint::sharded() const noexcept { return impl_->sharded; }
const fs::path& Checkpoint::directory() const noexcept { return impl_->dir; }
const fs::path& Checkpoint::index_path() const noexcept { return impl_->index; }
std::span<const std::string> Checkpoint::shards() const noexcept { return impl_->shard_names; }
Result<fs::path> Checkpoint::shard_path(std::size_t shard) const {
  if (shard >= impl_->shard_names.size())
    return Error(Errc::invalid_argument, "shard " + std::to_string(shard) + " of " +
                                             std::to_string(impl_->shard_names.size()));
  return impl_->slots[shard].path;
}
std::span<const std::string> Checkpoint::names() const noexcept { return impl_->names; }
std::size_t Checkpoint::size() const noexcept { return impl_->names.size(); }
bool Checkpoint::has_total_size() const noexcept { return impl_->has_total; }
std::uint64_t Checkpoint::total_size() const noexcept { return impl_->total; }

bool Checkpoint::contains(std::string_view name) const noexcept { return impl_->by_name.count(name) != 0; }

bool Checkpoint::shard_opened(std::size_t shard) const noexcept {
  return shard < impl_->shard_names.size() && impl_->slots[shard].opened.load(std::memory_order_acquire);
}

Result<const File*> Checkpoint::shard(std::size_t shard) const {
  return detail::guarded([&]() -> Result<const File*> {
    if (shard >= impl_->shard_names.size())
      return Error(Errc::invalid_argument, "shard " + std::to_string(shard) + " of " +
                                               std::to_string(impl_->shard_names.size()));
    Error err;
    const File* f = impl_->open_slot(shard, &err);
    if (!f) return err;
    return f;
  });
}

Result<std::size_t> Checkpoint::shard_of(std::string_view name) const {
  auto it = impl_->by_name.find(name);
  if (it == impl_->by_name.end())
    return Error(Errc::not_found, "no tensor of that name in the checkpoint", Error::no_offset, std::string(name));
  return static_cast<std::size_t>(impl_->name_shard[it->second]);
}

Result<CheckpointTensor> Checkpoint::find(std::string_view name) const {
  return detail::guarded([&]() -> Result<CheckpointTensor> {
    auto s = shard_of(name);
    SFT_TRY(s);
    auto f = shard(*s);
    SFT_TRY(f);
    const TensorInfo* info = (*f)->header().find(name);
    if (!info)
      return Error(Errc::shard_missing_tensor,
                   "weight_map maps the tensor to " + impl_->shard_names[*s] + ", which does not hold it",
                   Error::no_offset, std::string(name));
    return CheckpointTensor{*s, *f, info};
  });
}

Result<TensorView> Checkpoint::tensor(std::string_view name) const& {
  return find(name).and_then([](const CheckpointTensor& t) { return t.view(); });
}

Result<TensorBytes> Checkpoint::load(std::string_view name) const& {
  return find(name).and_then([](const CheckpointTensor& t) { return t.load(); });
}

Result<std::vector<CheckpointTensor>> Checkpoint::tensors() const {
  return detail::guarded([&]() -> Result<std::vector<CheckpointTensor>> {
    std::vector<CheckpointTensor> out;
    out.reserve(impl_->names.size());
    for (std::size_t s = 0; s < impl_->shard_names.size(); ++s) {
      auto f = shard(s);
      SFT_TRY(f);
      for (const auto& t : (*f)->header().tensors()) {
        auto it = impl_->by_name.find(t.name);
        if (it != impl_->by_name.end() && impl_->name_shard[it->second] == s) out.push_back({s, *f, &t});
      }
    }
    if (out.size() != impl_->names.size()) {
      for (const auto& n : impl_->names)
        SFT_TRY(find(n));
    }
    return out;
  });
}

CheckpointReport Checkpoint::check() const {
  try {
    CheckpointReport report;
    const auto& names = impl_->shard_names;
    bool all_open = true;
    std::uint64_t sum = 0;
    std::vector<bool> found(impl_->names.size(), false);
    for (std::size_t s = 0; s < names.size(); ++s) {
      auto f = shard(s);
      if (!f) {
        report.errors.push_back(std::move(f).error());
        all_open = false;
        continue;
      }
      for (const auto& t : (*f)->header().tensors()) {
        auto it = impl_->by_name.find(t.name);
        if (it == impl_->by_name.end()) {
          report.errors.emplace_back(Errc::shard_unlisted_tensor, names[s] + " holds a tensor that weight_map does not list",
                                     Error::no_offset, std::string(t.name));
        } else if (impl_->name_shard[it->second] != s) {
          report.errors.emplace_back(Errc::shard_unlisted_tensor,
                                     names[s] + " holds a tensor that weight_map maps to " +
                                         names[impl_->name_shard[it->second]],
                                     Error::no_offset, std::string(t.name));
        } else {
          found[it->second] = true;
          sum += t.byte_size();
        }
      }
    }
    for (std::size_t i = 0; i < impl_->names.size(); ++i) {
      const std::size_t s = impl_->name_shard[i];
      if (!found[i] && shard_opened(s) && impl_->slots[s].file)
        report.errors.emplace_back(Errc::shard_missing_tensor,
                                   "weight_map maps the tensor to " + names[s] + ", which does not hold it",
                                   Error::no_offset, impl_->names[i]);
    }
    if (impl_->sharded && all_open) {
      std::optional<Error> problem;
      if (!impl_->has_total)
        problem.emplace(Errc::total_size_mismatch,
                        "the index has no metadata.total_size (the tensors hold " + std::to_string(sum) + " bytes)");
      else if (impl_->total != sum)
        problem.emplace(Errc::total_size_mismatch, "metadata.total_size is " + std::to_string(impl_->total) +
                                                       " but the tensors hold " + std::to_string(sum) + " bytes");
      if (problem) (impl_->options.strict ? report.errors : report.warnings).push_back(std::move(*problem));
    }
    return report;
  } catch (const std::bad_alloc&) {
    // Reporting needs a little memory of its own; after a failed allocation
    // of the checks' size, that much is normally there again.
    CheckpointReport report;
    report.errors.emplace_back(Errc::out_of_memory, "out of memory");
    return report;
  }
}

Result<std::vector<Error>> Checkpoint::validate() const {
  return detail::guarded([&]() -> Result<std::vector<Error>> {
    auto report = check();
    if (!report.errors.empty()) return std::move(report.errors.front());
    return std::move(report.warnings);
  });
}

}  // namespace sft
