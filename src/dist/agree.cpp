#include "dist/agree.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace sft {

namespace detail {

namespace {

constexpr std::uint32_t magic = 0x41544653;  // "SFTA"
constexpr std::size_t fixed = 4 + 4 + 8 + 16 + 2 + 2;

void put_le(std::byte* p, std::uint64_t v, int n) noexcept {
  for (int i = 0; i < n; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}
std::uint64_t get_le(const std::byte* p, int n) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

void encode(std::byte* b, const Result<void>& local, const Digest128& fp) {
  std::memset(b, 0, agreement_block_bytes);
  put_le(b, magic, 4);
  std::string_view msg, tensor;
  std::uint64_t offset = Error::no_offset;
  if (!local) {
    put_le(b + 4, static_cast<std::uint32_t>(local.error().code), 4);
    offset = local.error().offset;
    msg = local.error().message;
    tensor = local.error().tensor;
  }
  put_le(b + 8, offset, 8);
  put_le(b + 16, fp.high, 8);
  put_le(b + 24, fp.low, 8);
  const std::size_t room = agreement_block_bytes - fixed;
  const std::size_t tn = std::min(tensor.size(), room / 2);
  const std::size_t mn = std::min(msg.size(), room - tn);
  put_le(b + 32, mn, 2);
  put_le(b + 34, tn, 2);
  if (mn) std::memcpy(b + fixed, msg.data(), mn);  // (an empty view's data() may be null)
  if (tn) std::memcpy(b + fixed + mn, tensor.data(), tn);
}

struct Decoded {
  bool valid = false;
  Errc code = Errc::ok;
  std::uint64_t offset = Error::no_offset;
  Digest128 fp;
  std::string message, tensor;
};

Decoded decode(const std::byte* b) {
  Decoded d;
  if (get_le(b, 4) != magic) return d;
  d.valid = true;
  d.code = static_cast<Errc>(static_cast<int>(get_le(b + 4, 4)));
  d.offset = get_le(b + 8, 8);
  d.fp.high = get_le(b + 16, 8);
  d.fp.low = get_le(b + 24, 8);
  const std::size_t room = agreement_block_bytes - fixed;
  const std::size_t mn = std::min<std::size_t>(get_le(b + 32, 2), room);
  const std::size_t tn = std::min<std::size_t>(get_le(b + 34, 2), room - mn);
  d.message.assign(reinterpret_cast<const char*>(b + fixed), mn);
  d.tensor.assign(reinterpret_cast<const char*>(b + fixed + mn), tn);
  return d;
}

}  // namespace

Result<void> agree_on(DistEngine& engine, const Result<void>& local, const Digest128& fingerprint,
                      std::uint64_t* control_bytes) {
  const std::uint32_t world = engine.world();
  std::vector<std::byte> mine(agreement_block_bytes), all;
  try {
    all.resize(static_cast<std::size_t>(world) * agreement_block_bytes);
  } catch (...) {
    return Error(Errc::out_of_memory, "no memory for the agreement of " + std::to_string(world) + " ranks");
  }
  encode(mine.data(), local, fingerprint);
  SFT_TRY(engine.all_gather(mine, all));
  if (control_bytes) *control_bytes += all.size();
  if (!local) return local;
  const std::string of = " of " + std::to_string(world);
  for (std::uint32_t r = 0; r < world; ++r) {
    const Decoded d = decode(all.data() + static_cast<std::size_t>(r) * agreement_block_bytes);
    if (!d.valid)
      return Error(Errc::dist_mismatch, "rank " + std::to_string(r) + of +
                                            " sent a status that is not an sft agreement (a different program or version?)");
    if (d.code != Errc::ok)
      return Error(Errc::dist_peer_failed,
                   "rank " + std::to_string(r) + of + " failed: " + std::string(errc_name(d.code)) + ": " + d.message,
                   d.offset, d.tensor);
  }
  const Decoded first = decode(all.data());
  for (std::uint32_t r = 1; r < world; ++r) {
    const Decoded d = decode(all.data() + static_cast<std::size_t>(r) * agreement_block_bytes);
    if (!(d.fp == first.fp))
      return Error(Errc::dist_mismatch, "ranks 0 and " + std::to_string(r) + of +
                                            " planned different loads: their checkpoints, plans, options or node "
                                            "layouts differ (fingerprints " + first.fp.hex() + " and " + d.fp.hex() + ")");
  }
  return {};
}

}  // namespace detail

Result<void> agree(DistEngine& engine, const Result<void>& local) {
  return detail::agree_on(engine, local, Digest128{}, nullptr);
}

}  // namespace sft
