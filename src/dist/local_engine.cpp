// The engine of a group of one rank: collectives are local copies.
#include <cstdlib>
#include <cstring>
#include <new>

#include "dist/engine_base.hpp"

namespace sft {

namespace {

class LocalEngine final : public detail::EngineBase {
 public:
  std::string_view name() const noexcept override { return "local"; }

  Result<void> all_gather(std::span<const std::byte> mine, std::span<std::byte> out) override {
    if (out.size() != mine.size()) return size_error("all_gather");
    copy(out, mine);
    return {};
  }
  Result<void> broadcast(std::span<std::byte>, std::uint32_t root) override {
    if (root != 0) return root_error(root);
    return {};
  }
  Result<void> scatter(std::span<const std::byte> send, std::span<std::byte> recv, std::uint32_t root) override {
    if (root != 0) return root_error(root);
    if (send.size() != recv.size()) return size_error("scatter");
    copy(recv, send);
    return {};
  }
  Result<void> all_to_all(std::span<const std::byte> send, std::span<const std::uint64_t> send_counts,
                          std::span<std::byte> recv, std::span<const std::uint64_t> recv_counts) override {
    if (send_counts.size() != 1 || recv_counts.size() != 1 || send_counts[0] != recv_counts[0] ||
        send.size() < send_counts[0] || recv.size() < recv_counts[0])
      return size_error("all_to_all");
    copy(recv.first(recv_counts[0]), send.first(send_counts[0]));
    return {};
  }
  Result<void> barrier() override { return {}; }

 private:
  static void copy(std::span<std::byte> to, std::span<const std::byte> from) noexcept {
    if (!from.empty()) std::memcpy(to.data(), from.data(), from.size());
  }
};

}  // namespace

unsigned launcher_world_size() noexcept {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"}) {
    const char* v = std::getenv(var);
    if (!v || !*v) continue;
    char* end = nullptr;
    const unsigned long n = std::strtoul(v, &end, 10);
    if (*end == '\0' && n > 0 && n < (1ul << 31)) return static_cast<unsigned>(n);
  }
  return 0;
}

std::unique_ptr<DistEngine> make_local_engine() { return std::unique_ptr<DistEngine>(new (std::nothrow) LocalEngine()); }

}  // namespace sft
