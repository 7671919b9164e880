// tools/progress.hpp — a progress bar on stderr for long operations.
//
// Drawn only when stderr is a terminal (isatty), so pipes, files and the golden
// tests see nothing. Redrawn at most ten times a second; the line is cleared
// when the operation ends, leaving the terminal as it was.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sft::cli {

class Progress {
 public:
  // `total` is in bytes; a total of 0 draws nothing.
  Progress(std::string label, std::uint64_t total);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  ~Progress();

  bool enabled() const noexcept { return enabled_; }
  void add(std::uint64_t bytes);
  void finish();

 private:
  void draw();
  std::string label_;
  std::uint64_t total_ = 0;
  std::uint64_t done_ = 0;
  bool enabled_ = false;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

// "1.5 GB": bytes in decimal units, as sizes are given on the command line.
std::string human_bytes(std::uint64_t bytes);

}  // namespace sft::cli
