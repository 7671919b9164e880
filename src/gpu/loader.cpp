// upload(): plan, pipeline, verify, convert (sft/gpu/loader.hpp).
//
// Threads: the calling thread (the "coordinator") owns the queue: it maps
// regions, queues copies, waits on events and calls the progress callback.
// Reader threads only read file bytes into host memory (a staging slot or a
// mapped region) and hash them; they meet the coordinator in one mutex-guarded
// State. Chunk i always uses staging slot i % ring size, so a slot is handed
// from copy to reader in chunk order and no chunk can overtake another.
#include "sft/gpu/loader.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <thread>
#include <unordered_set>

#include <sys/mman.h>
#include <unistd.h>

#include "backend.hpp"
#include "sft/gpu/checksum.hpp"
#include "sft_internal/name_hash.hpp"
#include "sft_internal/regular_file.hpp"

namespace sft::gpu {

const DeviceTensor* DeviceTensors::find(std::string_view name) const noexcept {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

namespace {

using Clock = std::chrono::steady_clock;
using detail::gpu_error;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Chunk {
  std::size_t region;
  std::uint64_t offset;  // within the region
  std::uint64_t length;
};

struct Plan {
  std::vector<DeviceRegion> regions;
  std::vector<DeviceTensor> tensors;
  std::vector<Chunk> chunks;
  std::uint64_t total = 0;
};

Result<Plan> make_plan(std::span<const File* const> files, const Selection& sel, std::uint64_t max_region,
                       std::uint64_t chunk_bytes) {
  std::unordered_set<std::string_view, NameHash> wanted(sel.names.begin(), sel.names.end());
  for (const auto& n : sel.names) {
    bool found = false;
    for (const File* f : files) found = found || f->header().find(n) != nullptr;
    if (!found) return Error(Errc::not_found, "no tensor of that name to upload", Error::no_offset, n);
  }
  Plan p;
  for (std::size_t fi = 0; fi < files.size(); ++fi) {
    const Header& h = files[fi]->header();
    bool open = false;  // the last region may grow: the previous tensor was taken
    for (const TensorInfo& info : h.tensors()) {
      bool take = (sel.names.empty() || wanted.count(info.name) != 0) && (!sel.filter || sel.filter(info));
      if (!take) {
        open = false;
        continue;
      }
      const std::uint64_t bytes = info.byte_size();
      if (bytes > max_region)
        return Error(Errc::gpu_out_of_memory,
                     "tensor of " + std::to_string(bytes) + " bytes exceeds the largest region (" + std::to_string(max_region) +
                         " bytes: the device's largest allocation or UploadOptions::max_region_bytes)",
                     h.data_start() + info.data_offsets.begin, std::string(info.name));
      // Tensors tile the data buffer, so consecutive taken tensors touch.
      if (!open || p.regions.back().bytes + bytes > max_region) {
        DeviceRegion r;
        r.file = fi;
        r.file_offset = h.data_start() + info.data_offsets.begin;
        p.regions.push_back(std::move(r));
      }
      DeviceRegion& r = p.regions.back();
      DeviceTensor t;
      t.name = std::string(info.name);
      t.dtype = t.file_dtype = info.dtype;
      t.shape.assign(info.shape.begin(), info.shape.end());
      t.file = fi;
      t.region = p.regions.size() - 1;
      t.offset = r.bytes;
      t.bytes = bytes;
      p.tensors.push_back(std::move(t));
      r.bytes += bytes;
      p.total += bytes;
      open = true;
    }
  }
  for (std::size_t ri = 0; ri < p.regions.size(); ++ri)
    for (std::uint64_t off = 0; off < p.regions[ri].bytes; off += chunk_bytes)
      p.chunks.push_back({ri, off, std::min(chunk_bytes, p.regions[ri].bytes - off)});
  return p;
}

// Fault in freshly mapped device memory (host memory, in direct mode) in one
// call, about twice as fast as the readers' first writes would one page at a
// time. Advice only: where the kernel lacks it, the first writes do the work.
void prefault(std::byte* p, std::uint64_t n) {
#if defined(MADV_POPULATE_WRITE)
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  auto begin = reinterpret_cast<std::uintptr_t>(p) / page * page;
  ::madvise(reinterpret_cast<void*>(begin), static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(p) + n - begin),
            MADV_POPULATE_WRITE);
#else
  (void)p;
  (void)n;
#endif
}

// Everything the readers and the coordinator share.
struct State {
  std::mutex m;
  std::condition_variable cv;
  std::vector<char> ready;            // per chunk: its bytes are in host memory
  std::vector<std::uint64_t> free_for;  // per slot: the chunk that may fill it next (staged mode)
  std::size_t next_chunk = 0;         // the next chunk a reader takes
  bool stop = false;
  Error error;                        // the first failure (code ok: none)
  double read_seconds = 0;

  void fail(Error e) {
    std::lock_guard lock(m);
    if (error.code == Errc::ok) error = std::move(e);
    stop = true;
    cv.notify_all();
  }
};

struct Reader {
  std::span<const File* const> files;
  const Plan& plan;
  bool use_pread;
  bool verify;
  std::vector<std::vector<std::uint64_t>>& level0;  // per region, when verifying
  // Where chunk i goes: a staging slot, or the mapped region.
  std::function<std::byte*(std::size_t chunk)> destination;
  State& st;

  // Copy (and hash) one chunk in pieces small enough to stay in cache between
  // the copy and the hash.
  Result<void> read_chunk(const Chunk& c, std::byte* dst) const {
    constexpr std::uint64_t piece = 1 << 20;  // a multiple of the checksum block
    const DeviceRegion& r = plan.regions[c.region];
    const File& f = *files[r.file];
    for (std::uint64_t done = 0; done < c.length; done += piece) {
      const std::uint64_t n = std::min(piece, c.length - done);
      const std::uint64_t at = r.file_offset + c.offset + done;
      std::span<const std::byte> bytes;
      if (use_pread) {
        bytes = {dst + done, static_cast<std::size_t>(n)};
        // ReadMethod::pread never touches a mapping: a mapped File is read
        // with pread on its descriptor (its read_bytes would copy from the
        // mapping, and a file truncated meanwhile would raise SIGBUS); any
        // other source through read_bytes (pread, decompression, ranges).
        const std::span<std::byte> out(dst + done, static_cast<std::size_t>(n));
        if (auto rd = f.mapped() && f.fd() >= 0 ? sft::detail::pread_exact(f.fd(), at, out) : f.read_bytes(at, out); !rd)
          return rd;
      } else {
        auto whole = f.bytes();  // mapped: checked when the read method was chosen
        SFT_TRY(whole);
        bytes = whole->subspan(static_cast<std::size_t>(at), static_cast<std::size_t>(n));
        std::memcpy(dst + done, bytes.data(), static_cast<std::size_t>(n));
      }
      if (verify) {
        const std::uint64_t first = (c.offset + done) / checksum_block_size;
        block_hashes(bytes, 0, std::span(level0[c.region]).subspan(first, checksum_block_count(n)));
      }
    }
    return {};
  }

  // A reader thread's body: an exception (a failed allocation in a source's
  // read, a system_error from a lock) stops the upload with an Error instead
  // of leaving the thread and terminating the process.
  void run() noexcept {
    try {
      run_chunks();
    } catch (const std::bad_alloc&) {
      st.fail(Error(Errc::out_of_memory, "out of memory"));
    } catch (...) {
      st.fail(Error(Errc::internal, "an exception escaped a reader thread"));
    }
  }

  void run_chunks() {
    double busy = 0;
    for (;;) {
      std::size_t i;
      std::byte* dst;
      {
        std::unique_lock lock(st.m);
        if (st.stop || st.next_chunk >= plan.chunks.size()) break;
        i = st.next_chunk++;
        if (!st.free_for.empty()) {
          const std::size_t slot = i % st.free_for.size();
          st.cv.wait(lock, [&] { return st.stop || st.free_for[slot] >= i; });
          if (st.stop) break;
        }
      }
      dst = destination(i);
      auto t0 = Clock::now();
      auto r = read_chunk(plan.chunks[i], dst);
      busy += since(t0);
      if (!r) {
        st.fail(std::move(r).error());
        break;
      }
      std::lock_guard lock(st.m);
      st.ready[i] = 1;
      st.cv.notify_all();
    }
    std::lock_guard lock(st.m);
    st.read_seconds += busy;
  }
};

// Starts the readers; joins them when it goes out of scope (after stopping
// them if the coordinator leaves early).
class ReaderPool {
 public:
  ReaderPool(State& st) : st_(st) {}
  ~ReaderPool() { join(); }
  ReaderPool(const ReaderPool&) = delete;
  ReaderPool& operator=(const ReaderPool&) = delete;

  Result<void> start(Reader& reader, unsigned n) {
    try {
      for (unsigned t = 0; t < n; ++t) threads_.emplace_back([&reader] { reader.run(); });
    } catch (...) {
      if (threads_.empty()) return gpu_error(Errc::gpu_driver, "cannot start a reader thread");
    }
    return {};
  }
  void join() {
    {
      std::lock_guard lock(st_.m);
      if (st_.error.code == Errc::ok && !all_done_) st_.stop = true;
      st_.cv.notify_all();
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  void finished() { all_done_ = true; }

 private:
  State& st_;
  std::vector<std::thread> threads_;
  bool all_done_ = false;
};

// Queued copies read the staging ring (and write the regions' device
// buffers) until they complete. Declared after the ring and the events it
// waits for, so that it is destroyed first on every way out of upload(): a
// return, an error, an exception unwinding. It waits for every copy still
// queued, so the ring is freed or handed back to the caller, and the device
// buffers are freed, only when no copy can touch them any more.
class DrainQueue {
 public:
  DrainQueue(Queue& q, std::vector<Event>& inflight) : q_(q), inflight_(inflight) {}
  DrainQueue(const DrainQueue&) = delete;
  DrainQueue& operator=(const DrainQueue&) = delete;
  ~DrainQueue() { (void)drain(); }
  // Wait for the queue, then for each event not yet waited for (a queue
  // whose finish() fails may still hold copies that complete, or fail, one
  // by one). The first error, if any; idempotent.
  Result<void> drain() noexcept {
    Result<void> first = q_.finish();
    for (Event& e : inflight_) {
      if (!e.valid()) continue;
      auto w = e.wait();
      if (!w && first) first = std::move(w);
      e = Event{};
    }
    return first;
  }

 private:
  Queue& q_;
  std::vector<Event>& inflight_;
};

Result<void> check_options(const UploadOptions& o) {
  if (o.staging_buffers < 2 || o.staging_buffers > 64)
    return gpu_error(Errc::gpu_bad_argument, "staging_buffers must be 2..64, not " + std::to_string(o.staging_buffers));
  if (o.staging_bytes < checksum_block_size)
    return gpu_error(Errc::gpu_bad_argument, "staging_bytes must be at least 4096, not " + std::to_string(o.staging_bytes));
  if (o.reader_threads < 1 || o.reader_threads > 64)
    return gpu_error(Errc::gpu_bad_argument, "reader_threads must be 1..64, not " + std::to_string(o.reader_threads));
  if (o.convert_to && !convert_target_ok(*o.convert_to))
    return gpu_error(Errc::gpu_unsupported, "cannot convert to " + std::string(name(*o.convert_to)));
  return {};
}

// The digest of region ri on the device against the one computed on the
// host from its level-0 hashes; on a difference, the first block that differs.
Result<void> verify_region(Queue& q, const DeviceRegion& r, std::size_t ri, std::span<const DeviceTensor> tensors,
                           const std::vector<std::uint64_t>& host0, const LaunchConfig& config) {
  if (r.bytes == 0) return {};
  const std::uint64_t want = digest_from_level0(host0, r.bytes);
  std::vector<std::uint64_t> device0;
  auto got = device_digest(q, In{r.buffer}, r.bytes, config);
  SFT_TRY(got);
  if (*got == want) return {};
  auto again = device_digest(q, In{r.buffer}, r.bytes, config, &device0);
  SFT_TRY(again);
  std::uint64_t block = 0;
  while (block < device0.size() && block < host0.size() && device0[block] == host0[block]) ++block;
  const std::uint64_t in_region = std::min(block * checksum_block_size, r.bytes - 1);
  std::string tensor;
  for (const DeviceTensor& t : tensors)
    if (t.region == ri && in_region >= t.offset && in_region < t.offset + t.bytes) tensor = t.name;
  char hex[64];
  std::snprintf(hex, sizeof hex, "device digest %016llx, file %016llx", static_cast<unsigned long long>(*got),
                static_cast<unsigned long long>(want));
  return Error(Errc::gpu_verify_failed,
               "device bytes differ from the file's in the 4096-byte block at this offset (" + std::string(hex) + ")",
               r.file_offset + block * checksum_block_size, tensor);
}

// Convert each tensor convert() accepts into a buffer of its own.
Result<void> convert_tensors(const Device& dev, Queue& q, DType to, std::vector<DeviceRegion>& regions,
                             std::vector<DeviceTensor>& tensors, const LaunchConfig& config) {
  for (DeviceTensor& t : tensors) {
    if (t.dtype == to || !convert_source_ok(t.dtype) || t.bytes == 0) continue;
    const std::uint64_t count = t.bytes / element_size(t.dtype);
    auto buf = dev.alloc(count * element_size(to));
    if (!buf) return std::move(buf).error().with_tensor(t.name);
    auto e = convert(q, In{regions[t.region].buffer, t.offset}, t.dtype, Out{*buf}, to, count, config);
    if (!e) return std::move(e).error().with_tensor(t.name);
    DeviceRegion r;
    r.buffer = std::move(*buf);
    r.file = t.file;
    r.bytes = count * element_size(to);
    r.converted = true;
    regions.push_back(std::move(r));
    t.region = regions.size() - 1;
    t.offset = 0;
    t.bytes = count * element_size(to);
    t.dtype = to;
  }
  return q.finish();
}

Result<DeviceTensors> upload_files(const Device& device, std::span<const File* const> files, const Selection& selection,
                                   const UploadOptions& options) {
  const auto t_start = Clock::now();
  if (!device.valid()) return gpu_error(Errc::gpu_bad_argument, "upload to an empty Device");
  if (auto r = check_options(options); !r) return r.error();
  for (const File* f : files)
    if (!f) return gpu_error(Errc::gpu_bad_argument, "upload of a null File");

  // How to read.
  bool use_pread = false;
  for (const File* f : files) {
    // Any source not in memory is read with read_bytes (pread, decompression, range requests).
    bool can_map = f->mapped(), can_pread = f->fd() >= 0 || !f->mapped();
    if (options.read == ReadMethod::mapping && !can_map)
      return Error(Errc::not_mapped, "ReadMethod::mapping asked of a file opened in pread mode");
    if (options.read == ReadMethod::pread && !can_pread)
      return Error(Errc::invalid_argument, "ReadMethod::pread asked of a File with no descriptor (from_memory)");
    if (options.read == ReadMethod::pread || (options.read == ReadMethod::automatic && !can_map)) use_pread = true;
  }

  const DeviceInfo& info = device.info();
  bool direct = options.staging == Staging::direct || (options.staging == Staging::automatic && info.host_unified);
  const std::uint64_t max_region = options.max_region_bytes ? std::min(options.max_region_bytes, info.max_allocation)
                                                            : info.max_allocation;
  std::uint64_t slot_bytes = options.staging_bytes / checksum_block_size * checksum_block_size;

  auto planned = make_plan(files, selection, max_region, slot_bytes);
  SFT_TRY(planned);
  Plan& plan = *planned;
  DeviceTensors out;
  out.stats.tensors = plan.tensors.size();
  out.stats.regions = plan.regions.size();
  out.stats.chunks = plan.chunks.size();
  out.stats.bytes = plan.total;
  out.stats.direct = direct;

  const auto t_alloc = Clock::now();
  auto q = device.queue();
  SFT_TRY(q);
  for (DeviceRegion& r : plan.regions) {
    if (r.bytes == 0) continue;
    auto b = device.alloc(r.bytes);
    if (!b) return std::move(b).error().with_offset(r.file_offset);
    r.buffer = std::move(*b);
  }

  std::vector<std::vector<std::uint64_t>> level0(plan.regions.size());
  if (options.verify)
    for (std::size_t ri = 0; ri < plan.regions.size(); ++ri) level0[ri].resize(checksum_block_count(plan.regions[ri].bytes));

  State st;
  st.ready.assign(plan.chunks.size(), 0);
  const std::size_t slots = direct ? 0 : std::min(options.staging_buffers, std::max<std::size_t>(plan.chunks.size(), 1));
  std::vector<HostBuffer> own_ring;
  std::vector<HostBuffer>& ring = options.staging_ring ? *options.staging_ring : own_ring;
  std::vector<std::byte*> mapped(plan.regions.size(), nullptr);
  if (direct) {
    for (std::size_t ri = 0; ri < plan.regions.size(); ++ri) {
      if (plan.regions[ri].bytes == 0) continue;
      auto p = q->map_for_write(plan.regions[ri].buffer, 0, plan.regions[ri].bytes);
      if (!p) {
        for (std::size_t k = 0; k < ri; ++k)
          if (mapped[k]) (void)q->unmap(plan.regions[k].buffer, mapped[k]);
        return std::move(p).error();
      }
      mapped[ri] = *p;
      prefault(*p, plan.regions[ri].bytes);
    }
  } else {
    const std::uint64_t largest = plan.chunks.empty() ? 0 : std::max_element(plan.chunks.begin(), plan.chunks.end(),
        [](const Chunk& a, const Chunk& b) { return a.length < b.length; })->length;
    // Keep what the caller's ring has, as long as it fits; allocate the rest.
    if (ring.size() > slots) ring.resize(slots);
    for (std::size_t s = 0; s < slots && largest > 0; ++s) {
      if (s < ring.size() && ring[s].size() >= largest) continue;
      auto h = device.alloc_host(largest);
      SFT_TRY(h);
      if (s < ring.size()) ring[s] = std::move(*h);
      else ring.push_back(std::move(*h));
    }
    st.free_for.resize(ring.size());
    for (std::size_t s = 0; s < ring.size(); ++s) st.free_for[s] = s;
  }

  out.stats.alloc_seconds = since(t_alloc);

  std::vector<Event> inflight(plan.chunks.size());  // the copy of each chunk, until waited for
  DrainQueue drain(*q, inflight);                   // after the ring: destroyed before it

  Reader reader{files, plan, use_pread, options.verify, level0,
                [&](std::size_t i) -> std::byte* {
                  const Chunk& c = plan.chunks[i];
                  return direct ? mapped[c.region] + c.offset : ring[i % ring.size()].data();
                },
                st};
  const unsigned threads = static_cast<unsigned>(std::min<std::size_t>(options.reader_threads, std::max<std::size_t>(plan.chunks.size(), 1)));
  out.stats.reader_threads = threads;

  // The coordinator: queue each chunk's copy as soon as it is read, release
  // staging slots as copies complete, report progress.
  Error failure;
  {
    ReaderPool pool(st);
    if (!plan.chunks.empty())
      if (auto r = pool.start(reader, threads); !r) failure = r.error();
    std::size_t next_submit = 0, oldest = 0;  // chunks [oldest, next_submit) are being copied
    UploadProgress progress{0, plan.total};
    auto complete = [&](std::size_t i) {  // chunk i is on the device
      progress.bytes_done += plan.chunks[i].length;
      if (options.progress) options.progress(progress);
    };
    auto release_oldest = [&]() -> Result<void> {
      if (auto w = inflight[oldest].wait(); !w) return w;
      if (auto s = inflight[oldest].seconds(); s) out.stats.copy_seconds += *s;
      inflight[oldest] = Event{};
      {
        std::lock_guard lock(st.m);
        st.free_for[oldest % ring.size()] = oldest + ring.size();
        st.cv.notify_all();
      }
      complete(oldest++);
      return {};
    };
    while (failure.code == Errc::ok && oldest < plan.chunks.size()) {
      // Give back the slots of copies that have completed, without blocking.
      while (!direct && oldest < next_submit) {
        auto done = inflight[oldest].ready();
        if (done && !*done) break;
        if (auto r = release_oldest(); !r) failure = r.error();
        if (failure.code != Errc::ok) break;
      }
      if (failure.code != Errc::ok || oldest == plan.chunks.size()) break;
      bool is_ready = false;
      {
        std::unique_lock lock(st.m);
        if (st.error.code != Errc::ok) break;
        if (next_submit < plan.chunks.size()) {
          is_ready = st.ready[next_submit] != 0;
          if (!is_ready && oldest == next_submit) {  // nothing in flight: wait for the readers
            st.cv.wait(lock, [&] { return st.stop || st.ready[next_submit] != 0; });
            continue;
          }
        }
      }
      if (is_ready && direct) {
        complete(next_submit++);
        oldest = next_submit;
      } else if (is_ready) {
        const Chunk& c = plan.chunks[next_submit];
        auto e = q->write(plan.regions[c.region].buffer, c.offset, ring[next_submit % ring.size()].data(), c.length);
        if (!e) failure = std::move(e).error();
        else inflight[next_submit++] = std::move(*e);
      } else if (auto r = release_oldest(); !r) {  // block on the oldest copy
        failure = r.error();
      }
    }
    if (failure.code == Errc::ok && st.error.code == Errc::ok) pool.finished();
    pool.join();
    // Copies still in flight read from the ring: let them finish before it
    // goes (DrainQueue does the same on the ways out that skip this line).
    if (auto d = drain.drain(); !d && failure.code == Errc::ok) failure = d.error();
  }
  for (std::size_t ri = 0; ri < mapped.size(); ++ri)
    if (mapped[ri])
      if (auto u = q->unmap(plan.regions[ri].buffer, mapped[ri]); !u && failure.code == Errc::ok) failure = u.error();
  if (failure.code == Errc::ok && st.error.code != Errc::ok) failure = st.error;
  if (failure.code != Errc::ok) return failure;
  if (auto f = q->finish(); !f) return f.error();
  out.stats.read_seconds = st.read_seconds;

  auto t_kernels = Clock::now();
  if (options.verify) {
    for (std::size_t ri = 0; ri < plan.regions.size(); ++ri)
      if (auto v = verify_region(*q, plan.regions[ri], ri, plan.tensors, level0[ri], options.checksum_config); !v)
        return v.error();
    out.stats.verified = true;
  }
  if (options.convert_to)
    if (auto c = convert_tensors(device, *q, *options.convert_to, plan.regions, plan.tensors, options.convert_config); !c)
      return c.error();
  out.stats.kernel_seconds = since(t_kernels);

  out.regions = std::move(plan.regions);
  out.tensors = std::move(plan.tensors);
  out.stats.seconds = since(t_start);
  return out;
}

}  // namespace

Result<DeviceTensors> upload(const Device& device, std::span<const File* const> files, const Selection& selection,
                             const UploadOptions& options) {
  // No exception leaves the library: one thrown inside (an allocation, the
  // caller's progress callback or filter) has already unwound through
  // DrainQueue, so no copy is left reading freed memory.
  try {
    return upload_files(device, files, selection, options);
  } catch (const std::bad_alloc&) {
    return Error(Errc::out_of_memory, "upload: out of memory");
  } catch (const std::exception& e) {
    return Error(Errc::internal, std::string("upload: an exception escaped (a callback's?): ") + e.what());
  } catch (...) {
    return Error(Errc::internal, "upload: an exception escaped (a callback's?)");
  }
}

Result<void> verify(Queue& queue, const DeviceTensors& tensors, std::span<const File* const> files,
                    const LaunchConfig& checksum_config) {
  std::vector<std::byte> buf;
  for (std::size_t ri = 0; ri < tensors.regions.size(); ++ri) {
    const DeviceRegion& r = tensors.regions[ri];
    if (r.converted || r.bytes == 0) continue;
    if (r.file >= files.size() || !files[r.file])
      return gpu_error(Errc::gpu_bad_argument, "verify: region " + std::to_string(ri) + " names file " +
                                                   std::to_string(r.file) + ", not given");
    const File& f = *files[r.file];
    if (r.file_offset > f.size() || r.bytes > f.size() - r.file_offset)
      return gpu_error(Errc::gpu_bad_argument, "verify: region " + std::to_string(ri) + " lies outside its file");
    std::vector<std::uint64_t> host0(checksum_block_count(r.bytes));
    constexpr std::uint64_t piece = 4 << 20;
    for (std::uint64_t done = 0; done < r.bytes; done += piece) {
      const std::uint64_t n = std::min(piece, r.bytes - done);
      std::span<const std::byte> bytes;
      if (auto whole = f.bytes()) {
        bytes = whole->subspan(static_cast<std::size_t>(r.file_offset + done), static_cast<std::size_t>(n));
      } else {
        buf.resize(static_cast<std::size_t>(n));
        if (auto rd = f.read_bytes(r.file_offset + done, buf); !rd) return rd;
        bytes = buf;
      }
      block_hashes(bytes, 0, std::span(host0).subspan(done / checksum_block_size, checksum_block_count(n)));
    }
    if (auto v = verify_region(queue, r, ri, tensors.tensors, host0, checksum_config); !v) return v;
  }
  return {};
}

Result<DeviceTensors> upload(const Device& device, const File& file, const Selection& selection,
                             const UploadOptions& options) {
  const File* files[] = {&file};
  return upload(device, std::span<const File* const>(files), selection, options);
}

}  // namespace sft::gpu
