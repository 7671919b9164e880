// tools/main.cpp — `sft SUBCOMMAND ...`: dispatch to the registered subcommands.
#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
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

}  // namespace sft::cli

int main(int argc, char** argv) {
  using namespace sft::cli;
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
    return c.run(args);
  }
  err("sft: unknown command '" + printable(name) + "' (see sft --help)\n");
  return 2;
}
