// src/dist/engine_base.hpp — what every engine keeps: its rank, the group's size and nodes (internal).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "sft/distributed.hpp"

namespace sft::detail {

// "2.5", "600": a timeout for messages.
inline std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

class EngineBase : public DistEngine {
 public:
  std::uint32_t rank() const noexcept override { return rank_; }
  std::uint32_t world() const noexcept override { return world_; }
  std::span<const std::uint32_t> nodes() const noexcept override { return nodes_; }

 protected:
  Error size_error(const char* what) const {
    return Error(Errc::invalid_argument, std::string(what) + ": the buffer sizes do not match the counts");
  }
  Error root_error(std::uint32_t root) const {
    return Error(Errc::invalid_argument, "root " + std::to_string(root) + " in a group of " + std::to_string(world_));
  }

  std::uint32_t rank_ = 0, world_ = 1;
  std::vector<std::uint32_t> nodes_{0};
};

}  // namespace sft::detail
