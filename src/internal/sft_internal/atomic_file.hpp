// src/internal/sft_internal/atomic_file.hpp — a temporary file that becomes the target on commit.
//
// Internal to sft (the Writer and the .npy writer use it). The temporary lives
// in the target's directory, so the final rename never crosses file systems;
// it is created with O_EXCL under a random name, so two writers of one target
// never share a temporary. Until commit() renames it over the target, the
// target is untouched; abort() (and the destructor) unlink it. While it
// exists its path is registered for sft::remove_temporaries() (a program's
// signal handler), and when it replaces a file it takes that file's
// permission bits (and owner and group where permitted) before any byte is
// written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

#include "sft/result.hpp"
#include "sft_internal/temp_registry.hpp"

namespace sft::detail {

class AtomicFile {
 public:
  // Create the temporary for `target`. fail_after_bytes: test hook, see
  // WriterOptions::fail_after_bytes.
  static Result<AtomicFile> create(const std::filesystem::path& target,
                                   std::uint64_t fail_after_bytes = ~std::uint64_t{0});

  // A temporary at the fixed path `temp` (beside `target`), created when
  // missing and kept as it is otherwise, for a download that resumes where an
  // interrupted one stopped. It is locked (flock) while open: a second writer
  // gets write_failed instead of sharing it.
  static Result<AtomicFile> open_resumable(const std::filesystem::path& target, const std::filesystem::path& temp);

  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&& other) noexcept;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  // Set the final size up front (ftruncate, then ask the file system to
  // reserve the blocks so that a full disk shows up now rather than halfway).
  Result<void> reserve(std::uint64_t size);
  // Write all of `bytes` at `offset` (loops over short writes and EINTR).
  Result<void> write_at(std::uint64_t offset, std::span<const std::byte> bytes);
  // Write the spans back to back from `offset`, batching them into pwritev calls.
  Result<void> write_gather(std::uint64_t offset, std::span<const std::span<const std::byte>> parts);

  // fsync the temporary (its bytes so far are on disk when this returns).
  Result<void> sync();

  // The first half of commit(): fsync (when durable) and close, leaving the
  // complete temporary in place (still removed by abort(), the destructor
  // and remove_temporaries()). For writing several files that must appear
  // together: prepare them all, then commit them all. Idempotent.
  Result<void> prepare(bool durable);
  // prepare() unless done, rename over the target, fsync the directory.
  // On failure before the rename the temporary is removed.
  Result<void> commit(bool durable);
  // Close and unlink the temporary. Idempotent, never fails.
  void abort() noexcept;
  // Close and leave the temporary in place (to be resumed later).
  void keep() noexcept;

  bool open() const noexcept { return fd_ >= 0; }
  const std::filesystem::path& temp_path() const noexcept { return temp_; }
  const std::filesystem::path& target() const noexcept { return target_; }

 private:
  AtomicFile() = default;
  Error io_error(const char* what, int err) const;
  Result<void> keep_target_mode();
  // How many of `want` bytes the failure hook lets through (0 means ENOSPC).
  std::size_t allowed(std::size_t want) const noexcept;

  int fd_ = -1;
  std::filesystem::path target_;
  std::filesystem::path temp_;
  TempRegistration registration_;
  std::uint64_t written_ = 0;
  std::uint64_t fail_after_ = ~std::uint64_t{0};
  bool prepared_ = false;  // closed by prepare(), temporary complete, not renamed yet
};

}  // namespace sft::detail
