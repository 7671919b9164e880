// Embedding digests: the "sft.xxh3_128" metadata value, and a copy of a file that carries it.
#include <string>

#include "json_escape.hpp"
#include "sft/digest.hpp"
#include "sft/file.hpp"

namespace sft {

std::string format_digest_metadata(std::span<const TensorDigest> digests) {
  std::string s = "{";
  for (const TensorDigest& d : digests) {
    if (s.size() > 1) s += ',';
    detail::append_json_string(s, d.name);
    s += ":\"";
    s += d.digest.hex();
    s += '"';
  }
  s += '}';
  return s;
}

}  // namespace sft
