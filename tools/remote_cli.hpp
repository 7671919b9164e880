// tools/remote_cli.hpp — how every command reads http(s) URLs (docs/cli.md, "Remote files").
//
// The options of remote reads are the same for every command, so they are
// taken once, by main(), wherever they appear before a "--":
//   --ca-file FILE            trust the certificates in FILE instead of the system's
//   --allow-http              fetch plain http:// URLs of hosts other than loopback ones
//   --remote-option KEY=VALUE any RemoteOptions field by name (sft/remote.hpp), repeatable
// after the environment variable SFT_REMOTE_OPTIONS ("KEY=VALUE,KEY=VALUE"),
// so that a flag overrides the environment. The token comes from HF_TOKEN
// only: a command line is visible to every user of the machine.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sft/file.hpp"
#include "sft/remote.hpp"

namespace sft::cli {

// The remote options of this run (after take_remote_flags).
const RemoteOptions& remote_options() noexcept;

// Apply SFT_REMOTE_OPTIONS, then remove the flags above from `args` (up to a
// "--") and apply them. False with a message for a bad value.
bool take_remote_flags(std::vector<std::string_view>& args, std::string* error);

// `base` with the remote options of this run.
OpenOptions with_remote(OpenOptions base = {});

// True for an http:// or https:// argument.
bool is_url_arg(std::string_view s) noexcept;

}  // namespace sft::cli
