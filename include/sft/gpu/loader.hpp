// sft/gpu/loader.hpp — upload the tensors of safetensors files to a device.
//
// upload() turns the selected tensors of one or more open sft::Files (the
// shards of a checkpoint, say) into device tensors, at the speed of the slower
// of the disk and the host-to-device link:
//   - plan: the selected tensors in file order, neighbours coalesced into
//     regions (a run of tensors that touch in the file), one device allocation
//     per region (split where a region would exceed the device's largest
//     allocation), cut into chunks of at most one staging buffer;
//   - staged pipeline (discrete devices): reader threads fill a ring of pinned
//     staging buffers (4 x 64 MiB by default) from the mapping, or with pread,
//     while the calling thread queues asynchronous copies that drain them; a
//     buffer is refilled once its copy has completed;
//   - direct (devices whose memory is host memory: the CPU backend, PoCL,
//     integrated GPUs): the regions are mapped and the readers copy straight
//     into them; no staging, no second copy;
//   - optionally, verification on the device (the checksum kernel's digest of
//     each region against the digest of the bytes read from the file) and a
//     dtype conversion of the floating-point tensors on the device.
// Errors are values: io_error (a short read), not_found (a selected name not in
// the file), gpu_* from the device, gpu_verify_failed with the file offset and
// tensor of the first block that differs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sft/dtype.hpp"
#include "sft/file.hpp"
#include "sft/gpu/device.hpp"
#include "sft/gpu/kernels.hpp"
#include "sft/result.hpp"

namespace sft::gpu {

// Which tensors to upload: those named in `names` (each must exist) and
// accepted by `filter`; every tensor when both are empty.
struct Selection {
  std::vector<std::string> names;
  std::function<bool(const TensorInfo&)> filter;
};

enum class Staging : std::uint8_t {
  automatic,  // direct on host-unified devices, staged elsewhere
  staged,     // always through the pinned ring
  direct,     // always map device memory (gpu_unsupported where it cannot be mapped)
};

enum class ReadMethod : std::uint8_t {
  automatic,  // the mapping when the File has one, else pread
  mapping,    // memcpy from the File's mapping (not_mapped in pread mode)
  pread,      // pread from the File's descriptor, never its mapping, even for a mapped File (a file
              // truncated meanwhile is io_error, not SIGBUS); File::from_memory has none: invalid_argument;
              // sources with no descriptor (compressed, remote) are read with read_bytes
};

struct UploadProgress {
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;
};

struct UploadOptions {
  std::size_t staging_buffers = 4;               // ring size, 2..64
  std::uint64_t staging_bytes = 64ull << 20;     // per buffer; rounded down to a multiple of 4096
  unsigned reader_threads = 2;                   // 1..64
  Staging staging = Staging::automatic;
  ReadMethod read = ReadMethod::automatic;
  bool verify = false;                           // digest on the device against the file's bytes
  std::optional<DType> convert_to;               // F32, F16 or BF16: convert every tensor convert() accepts
  std::uint64_t max_region_bytes = 0;            // 0: the device's largest allocation
  LaunchConfig checksum_config{};                // launch shapes of the kernels run (see sft/gpu/tune.hpp)
  LaunchConfig convert_config{};
  // A staging ring to use and keep (staged mode): buffers missing or smaller
  // than a chunk are (re)allocated into it, so that repeated uploads pay for
  // pinned memory once. Null: a ring of the upload's own. However upload()
  // ends (success, error, a callback's exception), it first waits for every
  // copy it queued: once it returns, no copy reads the ring any more.
  std::vector<HostBuffer>* staging_ring = nullptr;
  // Called on the calling thread after each chunk reaches the device. It
  // should not throw; if it does, upload() waits for the queued copies and
  // returns Errc::internal (std::bad_alloc: out_of_memory).
  std::function<void(const UploadProgress&)> progress;
};

struct DeviceRegion {
  Buffer buffer;                 // empty for a region of zero bytes
  std::size_t file = 0;          // index of the File it came from
  std::uint64_t file_offset = 0; // absolute offset in that file (0 for converted tensors)
  std::uint64_t bytes = 0;
  bool converted = false;        // holds one converted tensor, not file bytes
};

struct DeviceTensor {
  std::string name;
  DType dtype = DType::U8;            // on the device (after conversion)
  DType file_dtype = DType::U8;       // in the file
  std::vector<std::uint64_t> shape;
  std::size_t file = 0;               // index of the File it came from
  std::size_t region = 0;             // index into DeviceTensors::regions
  std::uint64_t offset = 0;           // byte offset in that region's buffer
  std::uint64_t bytes = 0;
};

struct UploadStats {
  std::uint64_t bytes = 0;        // file bytes uploaded
  std::size_t tensors = 0, regions = 0, chunks = 0;
  unsigned reader_threads = 0;
  bool direct = false;            // no staging: read straight into device memory
  bool verified = false;
  double seconds = 0;             // wall time of the whole upload
  double alloc_seconds = 0;       // of which allocating (and mapping) device memory and the staging ring
  double read_seconds = 0;        // summed over reader threads: reading (and hashing, with verify)
  double copy_seconds = 0;        // device time of the host-to-device copies (0 when direct)
  double kernel_seconds = 0;      // wall time of the verification and conversion kernels
  double gb_per_second() const noexcept { return seconds > 0 ? static_cast<double>(bytes) / seconds / 1e9 : 0; }
  // The pipeline alone: bytes over the time from the end of allocation to the
  // last byte on the device (no allocation, verification or conversion).
  double pipeline_seconds() const noexcept {
    double s = seconds - alloc_seconds - kernel_seconds;
    return s > 0 ? s : 0;
  }
};

struct DeviceTensors {
  std::vector<DeviceRegion> regions;
  std::vector<DeviceTensor> tensors;  // in file order (files in the order given)
  UploadStats stats;

  // The first tensor of that name, or nullptr.
  const DeviceTensor* find(std::string_view name) const noexcept;
  const Buffer& buffer(const DeviceTensor& t) const { return regions[t.region].buffer; }
  In in(const DeviceTensor& t) const { return In{regions[t.region].buffer, t.offset}; }
};

// Check that the device still holds exactly the file bytes of every region of
// `tensors` (converted copies excepted), reading the files again on the host:
// gpu_verify_failed names the file offset and tensor of the first block that
// differs. `files` are the ones given to upload(), in the same order.
Result<void> verify(Queue& queue, const DeviceTensors& tensors, std::span<const File* const> files,
                    const LaunchConfig& checksum_config = {});

Result<DeviceTensors> upload(const Device& device, const File& file, const Selection& selection = {},
                             const UploadOptions& options = {});
// Several files (the shards of a checkpoint) through one pipeline; `selection`
// applies to each (a name need only exist in one of them).
Result<DeviceTensors> upload(const Device& device, std::span<const File* const> files,
                             const Selection& selection = {}, const UploadOptions& options = {});

}  // namespace sft::gpu
