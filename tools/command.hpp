// tools/command.hpp — how subcommands of the sft tool register themselves.
//
// Each subcommand lives in its own tools/cmd_NAME.cpp and registers with
//   SFT_COMMAND("name", "one-line summary", "usage text", run_fn);
// where run_fn is `int (std::span<const std::string_view> args)` receiving the
// arguments after the subcommand name. Exit codes: 0 success, 1 a negative
// answer (invalid file, difference found), 2 a usage error or unreadable input.
#pragma once

#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sft::cli {

using CommandFn = int (*)(std::span<const std::string_view> args);

struct Command {
  std::string_view name;
  std::string_view summary;
  std::string_view usage;
  CommandFn run;
};

std::vector<Command>& registry();

struct Registrar {
  Registrar(std::string_view name, std::string_view summary, std::string_view usage, CommandFn fn) {
    registry().push_back({name, summary, usage, fn});
  }
};

// Print "sft NAME: message" and the usage to stderr; returns 2.
int usage_error(std::string_view command, std::string_view message);

// Write `s` to stdout / stderr exactly (names may hold NUL).
void out(std::string_view s);
void err(std::string_view s);

// For tests of what happens when sft is interrupted mid-write: when the
// environment variable SFT_TEST_STALL equals `where`, print
// "sft: stalled at WHERE (SFT_TEST_STALL)" on stderr and wait (60 s at most)
// so that a test can send a signal at a known point, or change a file (SIGUSR1
// then ends the wait: the command goes on). Otherwise nothing.
void test_stall_point(std::string_view where);

// A tensor name or other untrusted string made printable on one line:
// control characters, DEL and invalid UTF-8 as \xNN / \u escapes.
std::string printable(std::string_view s);

// A FILE argument as shown in output: printable, and for a URL with its
// credentials and query hidden (sft::redact_url).
std::string shown_path(std::string_view path);

}  // namespace sft::cli

#define SFT_CONCAT_INNER(a, b) a##b
#define SFT_CONCAT(a, b) SFT_CONCAT_INNER(a, b)
#define SFT_COMMAND(name, summary, usage, fn) \
  static const ::sft::cli::Registrar SFT_CONCAT(sft_command_, __LINE__)(name, summary, usage, fn)
