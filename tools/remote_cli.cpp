#include "remote_cli.hpp"

#include <cstdlib>

namespace sft::cli {

namespace {

RemoteOptions& options() {
  static RemoteOptions o;
  return o;
}

}  // namespace

const RemoteOptions& remote_options() noexcept { return options(); }

bool is_url_arg(std::string_view s) noexcept { return is_url(s); }

OpenOptions with_remote(OpenOptions base) {
  base.remote = options();
  return base;
}

bool take_remote_flags(std::vector<std::string_view>& args, std::string* error) {
  if (const char* env = std::getenv("SFT_REMOTE_OPTIONS")) {
    if (auto r = set_remote_options(options(), env); !r) {
      *error = "SFT_REMOTE_OPTIONS: " + r.error().message;
      return false;
    }
  }
  std::vector<std::string_view> kept;
  kept.reserve(args.size());
  bool done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (done || a == "--") {
      done = true;
      kept.push_back(a);
      continue;
    }
    if (a == "--allow-http") {
      options().allow_http = true;
    } else if (a == "--ca-file" || a == "--remote-option") {
      if (i + 1 == args.size()) {
        *error = std::string(a) + " needs a value";
        return false;
      }
      const std::string_view v = args[++i];
      if (a == "--remote-option" && (v.substr(0, 6) == "token=" || v.find(",token=") != std::string_view::npos)) {
        *error = "--remote-option token=... would put the token on the command line; set HF_TOKEN instead";
        return false;
      }
      auto r = a == "--ca-file" ? set_remote_option(options(), "ca_file", v) : set_remote_options(options(), v);
      if (!r) {
        *error = r.error().message;
        return false;
      }
    } else {
      kept.push_back(a);
    }
  }
  args = std::move(kept);
  return true;
}

}  // namespace sft::cli
