// tools/dist_cli.hpp — what `sft reshard` and `sft load` share.
#pragma once

#include <optional>
#include <string>

#include "sft/error.hpp"

namespace sft::cli {

// Why DIR cannot take a new set of rank files (it already holds
// rank-*-of-*.safetensors files, which the new ones would mix with), or nullopt.
std::optional<std::string> rank_files_problem(const std::string& dir);

// The file an error is about: PLAN for the plan's own errors (their offsets
// are in the plan's JSON), CHECKPOINT otherwise.
const std::string& error_file(const Error& e, const std::string& plan, const std::string& checkpoint) noexcept;

}  // namespace sft::cli
