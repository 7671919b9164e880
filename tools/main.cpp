// tools/main.cpp — `sft SUBCOMMAND ...`: dispatch to the registered subcommands.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include <signal.h>
#include <unistd.h>

#include "command.hpp"
#include "sft/temporaries.hpp"
#include "remote_cli.hpp"
#include "sft/remote.hpp"

namespace sft::cli {

std::vector<Command>& registry() {
  static std::vector<Command> commands;
  return commands;
}

void out(std::string_view s) { std::fwrite(s.data(), 1, s.size(), stdout); }
void err(std::string_view s) { std::fwrite(s.data(), 1, s.size(), stderr); }

int usage_error(std::string_view command, std::string_view message) {
  std::string line = "sft " + std::string(command) + ": " + std::string(message) + "\n";
  for (const auto& c : registry())
    if (c.name == command) line += "usage: " + std::string(c.usage) + "\n";
  err(line);
  return 2;
}

std::string printable(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string r;
  r.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || c == '\\') {
      if (c == '\\') { r += "\\\\"; continue; }
      r += "\\x";
      r += hex[c >> 4];
      r += hex[c & 15];
    } else {
      r += static_cast<char>(c);
    }
  }
  return r;
}

std::string shown_path(std::string_view path) { return printable(redact_url(path)); }

static void print_help() {
  auto cmds = registry();
  std::sort(cmds.begin(), cmds.end(), [](auto& a, auto& b) { return a.name < b.name; });
  std::string s = "usage: sft COMMAND [ARGS...]\n\ncommands:\n";
  for (const auto& c : cmds) {
    s += "  " + std::string(c.name);
    s.append(c.name.size() < 12 ? 12 - c.name.size() : 1, ' ');
    s += std::string(c.summary) + "\n";
  }
  s += "\n`sft COMMAND --help` shows a command's usage. FILE arguments may be http(s) URLs; the options\n"
       "--ca-file FILE, --allow-http and --remote-option KEY=VALUE apply to them (docs/remote.md).\n";
  out(s);
}

// SIGINT, SIGTERM, SIGHUP: remove the temporaries of the files being written
// (sft/temporaries.hpp), then die of the same signal with its default action,
// so the exit status still says "killed by signal N" to the shell. Only
// async-signal-safe calls: remove_temporaries() unlinks and touches nothing
// else; SA_RESETHAND restores the default action before the handler runs, and
// the re-raised signal is delivered when the handler returns. SIGKILL cannot
// be caught: its leftovers are recognised by their name (docs/cli.md).
extern "C" void remove_temporaries_and_die(int sig) {
  sft::remove_temporaries();
  ::raise(sig);
}

static void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = remove_temporaries_and_die;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    // A signal the invoking shell ignores (nohup, a background job's SIGINT) stays ignored.
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    ::sigaction(sig, &sa, nullptr);
  }
}

namespace {
volatile sig_atomic_t stall_released = 0;
extern "C" void release_stall(int) { stall_released = 1; }
}  // namespace

void test_stall_point(std::string_view where) {
  static bool stalled = false;  // once per process
  const char* want = std::getenv("SFT_TEST_STALL");
  if (stalled || want == nullptr || where != want) return;
  stalled = true;
  // SIGUSR1 ends the wait early (installed before the line is printed, so a
  // test that has read the line may send it at once).
  struct sigaction sa {};
  sa.sa_handler = release_stall;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGUSR1, &sa, nullptr);
  err("sft: stalled at " + std::string(where) + " (SFT_TEST_STALL)\n");
  for (int i = 0; i < 6000 && !stall_released; ++i) ::usleep(10000);  // 60 s at most, then go on
}

}  // namespace sft::cli

int main(int argc, char** argv) {
  using namespace sft::cli;
  install_signal_handlers();
  // The options of remote reads apply to every command (tools/remote_cli.hpp).
  std::vector<std::string_view> args(argv + 1, argv + argc);
  std::string bad;
  if (!take_remote_flags(args, &bad)) {
    err("sft: " + printable(bad) + "\n");
    return 2;
  }
  if (args.empty()) {
    print_help();
    return 2;
  }
  std::string_view name = args.front();
  args.erase(args.begin());
  if (name == "--help" || name == "-h" || name == "help") {
    print_help();
    return 0;
  }
  for (const auto& c : registry()) {
    if (c.name != name) continue;
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
      out("usage: " + std::string(c.usage) + "\n");
      return 0;
    }
    // The library reports allocation failures as out_of_memory; this catches
    // the tool's own (a std::vector sized by a valid but huge file), so that
    // no command ends in std::terminate and SIGABRT.
    try {
      return c.run(args);
    } catch (const std::bad_alloc&) {
      err("sft " + std::string(name) + ": out_of_memory: not enough memory to finish\n");
      return 2;
    }
  }
  err("sft: unknown command '" + printable(name) + "' (see sft --help)\n");
  return 2;
}
