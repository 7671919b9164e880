// `sft extract FILE TENSOR OUT.npy`: one tensor as a NumPy .npy file; FILE may
// be a checkpoint (directory or index) and a URL. Dtypes
// NumPy lacks are written as raw bits of the same width (BF16 as '<u2', the F8
// types as '|u1', F4/F6 as packed '|u1' bytes): see sft/npy.hpp and docs/cli.md.
// The tensor is read with pread (never mapped), so a file truncated meanwhile
// is an io_error, not a crash, and streamed to the .npy in chunks of 8 MiB,
// so memory stays bounded whatever size the file claims.
#include <span>
#include <string>

#include "checkpoint_cli.hpp"
#include "command.hpp"
#include "header_loader.hpp"
#include "sft/file.hpp"
#include "sft/npy.hpp"
#include "write_options.hpp"

namespace sft::cli {
namespace {

int run_extract(std::span<const std::string_view> args) {
  if (args.size() != 3) return usage_error("extract", "expected FILE TENSOR OUT.npy");
  const std::string path(args[0]), out_path(args[2]);
  int status = 0;
  // A checkpoint (directory or index, local or a URL): the shard that holds the tensor.
  std::optional<Checkpoint> ckpt;
  std::optional<File> single;
  const File* file = nullptr;
  const TensorInfo* t = nullptr;
  if (is_checkpoint_path(path)) {
    ckpt = open_checkpoint_or_report(path, &status, CheckpointOptions{.open = {.mode = ReadMode::pread}});
    if (!ckpt) return status;
    auto found = ckpt->find(args[1]);
    if (!found) {
      err(error_line(path, found.error()));
      return error_status(found.error());
    }
    file = found->file;
    t = found->info;
  } else {
    single = open_input(path, status);
    if (!single) return status;
    file = &*single;
    t = file->header().find(args[1]);
  }
  if (t == nullptr) {
    err(error_line(path, Error(Errc::not_found, "no tensor of this name", Error::no_offset, std::string(args[1]))));
    return 1;
  }
  // Streamed in bounded chunks: a file may claim a tensor far larger than
  // memory (a compressed one needs only a few bytes per 4 MiB of zeros).
  bool input_failed = false;
  auto fill = [&](std::uint64_t offset, std::span<std::byte> piece) {
    auto r = file->read_range(*t, offset, piece);
    input_failed = !r;
    return r;
  };
  if (auto r = write_npy(out_path, t->dtype, t->shape, t->byte_size(), fill); !r) {
    err(error_line(input_failed ? path : out_path, r.error()));
    return input_failed ? exit_code_for(r.error()) : 1;
  }
  return 0;
}

SFT_COMMAND("extract", "write one tensor as a NumPy .npy file",
            "sft extract FILE TENSOR OUT.npy\n"
            "  FILE may also be a checkpoint (a directory or an index *.json), and an http(s) URL of a file or an index",
            run_extract);

}  // namespace
}  // namespace sft::cli
