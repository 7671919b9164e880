// Parses a header from memory through the installed library and prints what it found.
#include <sft/sft.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

int main() {
  const std::string json = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::vector<std::byte> file(8 + json.size() + 8);
  std::uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) file[i] = static_cast<std::byte>(n >> (8 * i));
  std::memcpy(file.data() + 8, json.data(), json.size());
  auto f = sft::File::from_memory(file);
  if (!f) {
    std::printf("error: %s\n", f.error().to_string().c_str());
    return 1;
  }
  const auto* w = f->header().find("w");
  if (!w || w->byte_size() != 8 || f->header().size() != 1) return 1;
  std::printf("consumer ok: %zu tensor(s)\n", f->header().size());
  return 0;
}
