// tools/cmd_pull.cpp — `sft pull URL DIR` (docs/cli.md): download a remote file, or a
// sharded checkpoint through its index, with resume, parallel parts, digest
// verification and an atomic rename into place.
//
// Each file goes to DIR/.NAME.sft-partial (created with AtomicFile, locked
// while written) in chunks fetched by a few workers, each chunk's parts in
// parallel (RemoteOptions::connections). Which chunks are complete is
// recorded in DIR/.NAME.sft-partial.state, with the file's URL, size and
// validator (ETag / Last-Modified), after an fsync of the partial file: a
// pull that stops for any reason resumes with the chunks still missing, if
// the server's file is the same one (otherwise it starts over; the opened
// remote File pins the validator, so no chunk of another version is ever
// mixed in). A complete file's embedded digests (sft hash --embed) are checked
// before it is renamed to DIR/NAME; a mismatch removes it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <new>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint_cli.hpp"
#include "command.hpp"
#include "header_loader.hpp"
#include "number_arg.hpp"
#include "progress.hpp"
#include "remote_cli.hpp"
#include "sft/checkpoint.hpp"
#include "sft/digest.hpp"
#include "sft/file.hpp"
#include "sft/remote.hpp"
#include "sft_internal/atomic_file.hpp"
#include "write_options.hpp"

namespace sft::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kUsage =
    "sft pull [--jobs N] [--chunk SIZE] URL DIR\n"
    "  URL: a .safetensors file, or a checkpoint's index (*.json) whose shards are pulled too\n"
    "  DIR: created if missing; files keep their names; the index is written last\n"
    "  --jobs N      chunks fetched at once (default 2), each in parallel parts (--remote-option connections=N)\n"
    "  --chunk SIZE  bytes per chunk, the unit of resumption (default 32MiB)\n"
    "  an interrupted pull resumes where it stopped if the server's file is unchanged;\n"
    "  embedded digests (sft hash --embed) are verified before a file is renamed into place\n"
    "exit status: 0 done, 1 an invalid file, a digest mismatch or a failed write, 2 unreadable or a usage error";

constexpr std::uint64_t kMaxIndexBytes = 100'000'000;

int fail(std::string_view where, const Error& e) {
  err(error_line(where, e));
  return exit_code_for(e);
}

// The last segment of a URL's path, percent-decoded: the local file name.
std::string url_file_name(std::string_view url) {
  std::string_view path = url.substr(0, url.find_first_of("?#"));
  path = path.substr(path.rfind('/') + 1);
  std::string name;
  for (std::size_t i = 0; i < path.size(); ++i) {
    auto hex = [](char c) -> int {
      return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    };
    if (path[i] == '%' && i + 2 < path.size() + 0 && hex(path[i + 1]) >= 0 && hex(path[i + 2]) >= 0) {
      name += static_cast<char>(hex(path[i + 1]) * 16 + hex(path[i + 2]));
      i += 2;
    } else {
      name += path[i];
    }
  }
  return name;
}

// A name that is safe as a file in DIR: one plain component.
bool plain_name(std::string_view n) {
  if (n.empty() || n == "." || n == ".." || n.size() > 200) return false;
  for (unsigned char c : n)
    if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) return false;
  return true;
}

// The progress record of a partial download.
struct State {
  std::string url, etag, last_modified;
  std::uint64_t size = 0, chunk = 0;
  std::set<std::uint64_t> done;

  bool same_file(const State& o) const {
    return url == o.url && size == o.size && chunk == o.chunk && etag == o.etag && last_modified == o.last_modified &&
           (!etag.empty() || !last_modified.empty());  // without a validator nothing can be trusted
  }
  static std::optional<State> load(const fs::path& p) {
    std::ifstream in(p);
    if (!in) return std::nullopt;
    State s;
    std::string line;
    if (!std::getline(in, line) || line != "sft-pull-state 1") return std::nullopt;
    while (std::getline(in, line)) {
      const auto sp = line.find(' ');
      const std::string key = line.substr(0, sp), value = sp == std::string::npos ? "" : line.substr(sp + 1);
      std::uint64_t n = 0;
      if (key == "url") s.url = value;
      else if (key == "etag") s.etag = value;
      else if (key == "last-modified") s.last_modified = value;
      else if (key == "size" && parse_u64(value, n)) s.size = n;
      else if (key == "chunk" && parse_u64(value, n)) s.chunk = n;
      else if (key == "done" && parse_u64(value, n)) s.done.insert(n);
    }
    return s;
  }
  // Written beside the partial file and renamed over the old record.
  bool save(const fs::path& p) const {
    const fs::path tmp = p.string() + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << "sft-pull-state 1\nurl " << url << "\nsize " << size << "\nchunk " << chunk << "\netag " << etag
          << "\nlast-modified " << last_modified << "\n";
      for (auto d : done) out << "done " << d << "\n";
      if (!out.flush()) return false;
    }
    std::error_code ec;
    fs::rename(tmp, p, ec);
    return !ec;
  }
};

struct PullOptions {
  unsigned jobs = 2;
  std::uint64_t chunk = 32ull << 20;
};

// Download one file; prints its report line. Returns the exit status.
int pull_file(const std::string& url, const fs::path& dir, const std::string& name, const PullOptions& po) {
  const auto t0 = std::chrono::steady_clock::now();
  // The raw bytes are downloaded: a compressed checkpoint is not decompressed
  // on the way (compressed_unsupported; fetch it with any HTTP client).
  auto f = File::open(url, with_remote({.mode = ReadMode::pread, .allow_compressed = false}));
  if (!f) return fail(url, f.error());
  auto info = remote_info(*f);
  if (!info) return fail(url, info.error());
  const std::uint64_t size = f->size();
  const fs::path target = dir / name;

  // Already there (a pull writes files whole, by rename): same size, same header bytes.
  std::error_code ec;
  if (fs::is_regular_file(target, ec) && fs::file_size(target, ec) == size) {
    auto mine = File::open(target, {.mode = ReadMode::pread});
    std::vector<std::byte> a(static_cast<std::size_t>(f->header().data_start())), b(a.size());
    if (mine && mine->size() == size && f->read_bytes(0, a) && mine->read_bytes(0, b) && a == b) {
      out(shown_path(url) + " -> " + printable(target.string()) + ": up to date\n");
      return 0;
    }
  }

  const fs::path partial = dir / ("." + name + ".sft-partial");
  const fs::path state_path = dir / ("." + name + ".sft-partial.state");
  State want;
  want.url = info->url;
  want.size = size;
  want.chunk = po.chunk;
  want.etag = info->etag;
  want.last_modified = info->last_modified;
  auto af = detail::AtomicFile::open_resumable(target, partial);
  if (!af) return fail(partial.string(), af.error());
  State st = want;
  if (auto old = State::load(state_path); old && old->same_file(want) && fs::file_size(partial, ec) == size)
    st.done = old->done;
  else if (auto r = af->reserve(0); !r)  // start over: drop whatever the partial file held
    return fail(partial.string(), r.error());
  if (auto r = af->reserve(size); !r) return fail(partial.string(), r.error());

  const std::uint64_t chunks = size == 0 ? 0 : (size + po.chunk - 1) / po.chunk;
  std::uint64_t resumed = 0;
  std::vector<std::uint64_t> todo;
  for (std::uint64_t i = 0; i < chunks; ++i) {
    const std::uint64_t len = std::min(po.chunk, size - i * po.chunk);
    if (st.done.count(i)) resumed += len;
    else todo.push_back(i);
  }

  Progress progress(name, size);
  progress.add(resumed);
  std::mutex mutex;
  std::size_t next = 0;
  std::optional<Error> failure;
  auto last_save = std::chrono::steady_clock::now();
  auto save = [&] {  // the record only lists chunks whose bytes are on disk
    if (af->sync()) st.save(state_path);
  };
  auto worker = [&] {
    std::vector<std::byte> buf;
    for (;;) {
      std::uint64_t i = 0;
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (failure || next == todo.size()) return;
        i = todo[next++];
      }
      const std::uint64_t at = i * po.chunk, len = std::min(po.chunk, size - at);
      buf.resize(static_cast<std::size_t>(len));
      auto r = f->read_bytes(at, buf);
      if (r) r = af->write_at(at, buf);
      std::lock_guard<std::mutex> lock(mutex);
      if (!r) {
        if (!failure) failure = std::move(r).error();
        return;
      }
      st.done.insert(i);
      progress.add(len);
      if (std::chrono::steady_clock::now() - last_save > std::chrono::seconds(5)) {
        save();
        last_save = std::chrono::steady_clock::now();
      }
    }
  };
  // A worker's exception (bad_alloc of its buffer) becomes the failure,
  // never std::terminate; the state saved so far keeps the pull resumable.
  auto guarded_worker = [&] {
    try {
      worker();
    } catch (const std::bad_alloc&) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!failure) failure = Error(Errc::out_of_memory, "out of memory");
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!failure) failure = Error(Errc::internal, "an exception escaped a download thread");
    }
  };
  std::vector<std::thread> pool;
  for (unsigned w = 1; w < po.jobs && w < todo.size(); ++w) pool.emplace_back(guarded_worker);
  guarded_worker();
  for (auto& t : pool) t.join();
  progress.finish();
  if (failure) {
    save();
    af->keep();  // resumable
    return fail(url, *failure);
  }

  // Complete: the file must parse, and its embedded digests (if any) match.
  if (auto r = af->sync(); !r) return fail(partial.string(), r.error());
  bool verified = false;
  {
    auto mine = File::open(partial);
    if (!mine) {
      af->abort();
      fs::remove(state_path, ec);
      return fail(partial.string(), mine.error());
    }
    auto table = DigestTable::of(mine->header());
    if (table || table.error().code != Errc::no_digest) {
      auto r = table ? verify(*mine) : Result<void>(table.error());
      if (!r) {
        af->abort();
        fs::remove(state_path, ec);
        return fail(url, r.error());
      }
      verified = true;
    }
  }
  if (auto r = af->commit(true); !r) return fail(target.string(), r.error());
  fs::remove(state_path, ec);

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.1f MB/s", secs > 0 ? static_cast<double>(size - resumed) / secs / 1e6 : 0.0);
  std::string line = shown_path(url) + " -> " + printable(target.string()) + ": " + std::to_string(size) + " bytes, " +
                     rate;
  if (resumed) line += ", resumed after " + std::to_string(resumed) + " bytes";
  if (verified) line += ", digests verified";
  out(line + "\n");
  return 0;
}

int pull_checkpoint(const std::string& url, const fs::path& dir, const PullOptions& po) {
  int status = 0;
  auto c = open_checkpoint_or_report(url, &status);
  if (!c) return status;
  const std::string index_name = url_file_name(url);
  if (!plain_name(index_name))
    return fail(url, Error(Errc::invalid_argument, "the URL names no file to write (its path ends in '/')"));
  for (std::size_t i = 0; i < c->shards().size(); ++i) {
    const std::string shard_url = c->shard_path(i)->string();
    if (int rc = pull_file(shard_url, dir, c->shards()[i], po); rc != 0) return rc;
  }
  // The index last, so that a reader never finds it before its shards.
  auto text = fetch_text(url, remote_options(), kMaxIndexBytes);
  if (!text) return fail(url, text.error());
  auto af = detail::AtomicFile::create(dir / index_name);
  if (!af) return fail((dir / index_name).string(), af.error());
  auto r = af->write_at(0, std::as_bytes(std::span(text->data(), text->size())));
  if (r) r = af->commit(true);
  if (!r) return fail((dir / index_name).string(), r.error());
  out(shown_path(url) + " -> " + printable((dir / index_name).string()) + ": index of " +
      std::to_string(c->shards().size()) + " shard(s)\n");
  return 0;
}

int run_pull(std::span<const std::string_view> args) {
  PullOptions po;
  std::vector<std::string> pos;
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto a = args[i];
    std::uint64_t n = 0;
    if (!options_done && a == "--") {
      options_done = true;
    } else if (!options_done && (a == "--jobs" || a == "--chunk")) {
      if (i + 1 == args.size()) return usage_error("pull", std::string(a) + " needs a value");
      const auto v = args[++i];
      if (a == "--jobs") {
        if (!parse_u64(v, n) || n < 1 || n > 64) return usage_error("pull", "--jobs needs 1..64");
        po.jobs = static_cast<unsigned>(n);
      } else {
        auto size = parse_size(v);
        if (!size || *size < 4096) return usage_error("pull", "--chunk needs a size of at least 4096 bytes");
        po.chunk = *size;
      }
    } else if (!options_done && a.size() > 1 && a[0] == '-') {
      return usage_error("pull", "unknown option '" + printable(a) + "'");
    } else {
      pos.emplace_back(a);
    }
  }
  if (pos.size() != 2) return usage_error("pull", "expected URL DIR");
  const std::string& url = pos[0];
  if (!is_url(url)) return usage_error("pull", "not an http:// or https:// URL: " + shown_path(url));
  const fs::path dir = pos[1];
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir, ec))
    return fail(dir.string(), Error(Errc::write_failed, "cannot create the directory: " + ec.message()));
  if (is_checkpoint_path(url)) return pull_checkpoint(url, dir, po);
  const std::string name = url_file_name(url);
  if (!plain_name(name))
    return fail(url, Error(Errc::invalid_argument, "the URL names no file to write (its path ends in '/')"));
  return pull_file(url, dir, name, po);
}

}  // namespace

SFT_COMMAND("pull", "download a remote file or checkpoint, resumably, verifying its digests", kUsage, run_pull);

}  // namespace sft::cli
