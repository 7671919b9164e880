/* A C program using the installed library through the C API (sft/sft.h): it
 * writes a file into memory, opens it and reads a tensor back. Built twice by
 * tests/support/install_test.cmake: with find_package(sft) and with
 * `pkg-config --cflags --libs sft`. */
#include <sft/sft.h>

#include <stdio.h>
#include <string.h>

static int fail(const char* what, sft_error* err) {
  printf("error: %s: %s\n", what, sft_error_string(err));
  sft_error_free(err);
  return 1;
}

int main(void) {
  char version[32];
  snprintf(version, sizeof version, "%d.%d.%d", SFT_VERSION_MAJOR, SFT_VERSION_MINOR, SFT_VERSION_PATCH);
  if (strcmp(sft_version(), version) != 0 || sft_abi_version() != SFT_ABI_VERSION) {
    printf("error: header %s, library %s\n", version, sft_version());
    return 1;
  }

  sft_error* err = NULL;
  sft_writer* w = NULL;
  const float values[2] = {1.0f, 2.0f};
  const uint64_t shape[1] = {2};
  unsigned char file[256];
  uint64_t size = 0;
  if (sft_writer_new(NULL, &w, &err) ||
      sft_writer_add(w, "w", 1, SFT_DTYPE_F32, shape, 1, values, sizeof values, &err) ||
      sft_writer_serialize(w, file, sizeof file, &size, &err))
    return fail("writing", err);
  sft_writer_free(w);

  sft_file* f = NULL;
  size_t index = 0;
  float back[2] = {0, 0};
  if (sft_file_open_memory(file, (size_t)size, NULL, &f, &err) || sft_file_find(f, "w", 1, &index, &err) ||
      sft_file_read(f, index, back, sizeof back, &err))
    return fail("reading", err);
  if (back[0] != 1.0f || back[1] != 2.0f) return 1;
  printf("c consumer ok: %zu tensor(s)\n", sft_file_tensor_count(f));
  sft_file_close(f);
  return 0;
}
