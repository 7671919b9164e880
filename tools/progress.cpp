#include "progress.hpp"

#include <cstdio>

#include <unistd.h>

#include "command.hpp"

namespace sft::cli {

std::string human_bytes(std::uint64_t bytes) {
  static const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000.0 && u < 6) {
    v /= 1000.0;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

Progress::Progress(std::string label, std::uint64_t total)
    : label_(std::move(label)), total_(total), enabled_(total > 0 && ::isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() { finish(); }

void Progress::add(std::uint64_t bytes) {
  if (!enabled_) return;
  done_ += bytes;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(100) && done_ < total_) return;
  last_ = now;
  draw();
}

void Progress::draw() {
  constexpr int width = 30;
  const std::uint64_t done = done_ < total_ ? done_ : total_;
  const int filled = static_cast<int>(static_cast<double>(done) / static_cast<double>(total_) * width);
  std::string line = "\r" + label_ + " [";
  line.append(static_cast<std::size_t>(filled), '#');
  line.append(static_cast<std::size_t>(width - filled), '.');
  char pct[16];
  std::snprintf(pct, sizeof pct, "] %3d%% ", static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total_)));
  line += pct + human_bytes(done) + " / " + human_bytes(total_) + "\x1b[K";
  err(line);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::finish() {
  if (!enabled_) return;
  if (drawn_) {
    err("\r\x1b[K");
    std::fflush(stderr);
  }
  enabled_ = false;
}

}  // namespace sft::cli
