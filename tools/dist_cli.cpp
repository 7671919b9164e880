#include "dist_cli.hpp"

#include <filesystem>

#include "command.hpp"

namespace sft::cli {

std::optional<std::string> rank_files_problem(const std::string& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (n.rfind("rank-", 0) == 0 && n.find("-of-") != std::string::npos && n.size() > 12 &&
        n.compare(n.size() - 12, 12, ".safetensors") == 0) {
      return printable(dir) + " already holds " + printable(n) + "; give an empty or new directory";
    }
  }
  return std::nullopt;
}

const std::string& error_file(const Error& e, const std::string& plan, const std::string& checkpoint) noexcept {
  const bool in_plan = e.code == Errc::plan_invalid || e.code == Errc::plan_split || e.code == Errc::plan_subbyte ||
                       e.code == Errc::plan_experts;
  return in_plan ? plan : checkpoint;
}

}  // namespace sft::cli
