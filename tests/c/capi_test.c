/* Tests of the C API (include/sft/sft.h), written in C11 and compiled with
 * -std=c11 -Wall -Wextra -Werror -pedantic, as a C user would.
 *
 * `capi_test NAME` runs one test, `capi_test` all of them; tests/capi.cmake
 * registers each entry of the `tests` table below with ctest (as capi.NAME).
 * Files are written under $SFT_TEST_TMP (else /tmp) in a directory of their
 * own, removed at the end. Exit status: 0 passed, 1 failed. */
#define _POSIX_C_SOURCE 200809L

#include <sft/sft.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef __STDC_NO_THREADS__
#include <threads.h>
#endif

/* ---- checks ------------------------------------------------------------- */

static int failures;

#define CHECK(cond) check_((cond) != 0, __FILE__, __LINE__, #cond)
static void check_(int ok, const char* file, int line, const char* text) {
  if (!ok) {
    fprintf(stderr, "%s:%d: CHECK(%s) failed\n", file, line, text);
    ++failures;
  }
}

/* Each test declares `sft_error* err = NULL;` and passes &err to the API. */
#define CHECK_OK(expr) check_ok_((expr), &err, __FILE__, __LINE__, #expr)
static void check_ok_(sft_status s, sft_error** err, const char* file, int line, const char* text) {
  if (s != SFT_OK) {
    fprintf(stderr, "%s:%d: %s returned %d (%s): %s\n", file, line, text, s, sft_errc_name(s), sft_error_string(*err));
    ++failures;
  } else if (*err) {
    fprintf(stderr, "%s:%d: %s succeeded but left an error object\n", file, line, text);
    ++failures;
  }
  sft_error_free(*err);
  *err = NULL;
}

/* What the last CHECK_ERR saw, for a test to inspect; the error object itself
 * is freed by CHECK_ERR. */
static struct {
  sft_status code;
  uint64_t offset;
  char message[1024];
  char tensor[256];
  size_t tensor_len;
  char line[1024];
} seen;

#define CHECK_ERR(expr, code) check_err_((expr), &err, (code), __FILE__, __LINE__, #expr)
static void check_err_(sft_status s, sft_error** err, sft_status code, const char* file, int line, const char* text) {
  memset(&seen, 0, sizeof seen);
  if (s != code) {
    fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s): %s\n", file, line, text, s, sft_errc_name(s), code,
            sft_errc_name(code), sft_error_string(*err));
    ++failures;
  }
  if (!*err) {
    fprintf(stderr, "%s:%d: %s failed without an error object\n", file, line, text);
    ++failures;
    return;
  }
  if (sft_error_code(*err) != s) {
    fprintf(stderr, "%s:%d: %s: the error object's code %d is not the status %d\n", file, line, text,
            sft_error_code(*err), s);
    ++failures;
  }
  seen.code = sft_error_code(*err);
  seen.offset = sft_error_offset(*err);
  snprintf(seen.message, sizeof seen.message, "%s", sft_error_message(*err));
  snprintf(seen.line, sizeof seen.line, "%s", sft_error_string(*err));
  const char* t = sft_error_tensor(*err, &seen.tensor_len);
  if (seen.tensor_len < sizeof seen.tensor) memcpy(seen.tensor, t, seen.tensor_len);
  sft_error_free(*err);
  *err = NULL;
}

static int seen_tensor(const char* name) {
  return seen.tensor_len == strlen(name) && memcmp(seen.tensor, name, seen.tensor_len) == 0;
}

/* ---- files -------------------------------------------------------------- */

static char dir[512];

static void make_dir(void) {
  const char* base = getenv("SFT_TEST_TMP");
  if (!base || !*base) base = "/tmp";
  mkdir(base, 0777); /* may exist */
  snprintf(dir, sizeof dir, "%s/capi-%ld", base, (long)getpid());
  if (mkdir(dir, 0777) != 0) {
    fprintf(stderr, "cannot create %s\n", dir);
    exit(1);
  }
}

/* Removes dir/ and everything in it (one level of subdirectories). */
static void remove_tree(const char* path) {
  DIR* d = opendir(path);
  if (!d) return;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", path, e->d_name);
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
      remove_tree(p);
    else
      unlink(p);
  }
  closedir(d);
  rmdir(path);
}

static const char* path_of(const char* name) {
  static char p[4][1024];
  static int next;
  char* out = p[next++ % 4];
  snprintf(out, 1024, "%s/%s", dir, name);
  return out;
}

static void write_bytes(const char* path, const void* data, size_t size) {
  FILE* f = fopen(path, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(1);
  }
}

/* A safetensors file with header `json` and `data_size` zero bytes of data. */
static void write_raw(const char* path, const char* json, size_t data_size) {
  size_t n = strlen(json);
  unsigned char* buf = calloc(8 + n + data_size + 1, 1);
  for (int i = 0; i < 8; ++i) buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
  memcpy(buf + 8, json, n);
  write_bytes(path, buf, 8 + n + data_size);
  free(buf);
}

static unsigned char* read_all(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char* buf = malloc((size_t)n + 1);
  *size = fread(buf, 1, (size_t)n, f);
  fclose(f);
  return buf;
}

/* ---- the model most tests read -------------------------------------------
 * "embed": F32 [4, 3] = 0 .. 11; "bias": BF16 [2]; "a\0b": U8 [3] = 7 8 9 (a name
 * holding NUL); metadata format=pt, note=hello. Data order (the reference's):
 * embed (F32), bias (BF16), then the U8 one. */
static float embed[12];
static const uint16_t bias[2] = {0x3f80, 0x4000};
static const uint8_t small[3] = {7, 8, 9};
static const char nul_name[] = {'a', '\0', 'b'};

static void add_model(sft_writer* w) {
  sft_error* err = NULL;
  const uint64_t embed_shape[2] = {4, 3}, bias_shape[1] = {2}, small_shape[1] = {3};
  for (int i = 0; i < 12; ++i) embed[i] = (float)i;
  CHECK_OK(sft_writer_add(w, "embed", 5, SFT_DTYPE_F32, embed_shape, 2, embed, sizeof embed, &err));
  CHECK_OK(sft_writer_add(w, "bias", 4, SFT_DTYPE_BF16, bias_shape, 1, bias, sizeof bias, &err));
  CHECK_OK(sft_writer_add(w, nul_name, sizeof nul_name, SFT_DTYPE_U8, small_shape, 1, small, sizeof small, &err));
  CHECK_OK(sft_writer_set_metadata(w, "format", 6, "pt", 2, &err));
  CHECK_OK(sft_writer_set_metadata(w, "note", 4, "hello", 5, &err));
}

static const char* write_model(const char* name) {
  sft_error* err = NULL;
  sft_writer* w = NULL;
  CHECK_OK(sft_writer_new(NULL, &w, &err));
  add_model(w);
  const char* path = path_of(name);
  CHECK_OK(sft_writer_write_file(w, path, &err));
  sft_writer_free(w);
  return path;
}

static sft_file* open_model(const char* path, uint32_t mode) {
  sft_error* err = NULL;
  sft_open_options o;
  memset(&o, 0, sizeof o);
  o.mode = mode;
  sft_file* f = NULL;
  CHECK_OK(sft_file_open(path, &o, &f, &err));
  return f;
}

static size_t index_of(const sft_file* f, const char* name, size_t len) {
  sft_error* err = NULL;
  size_t i = (size_t)-1;
  CHECK_OK(sft_file_find(f, name, len, &i, &err));
  return i;
}

/* ---- tests --------------------------------------------------------------- */

static void test_version(void) {
  char expect[64];
  snprintf(expect, sizeof expect, "%d.%d.%d", SFT_VERSION_MAJOR, SFT_VERSION_MINOR, SFT_VERSION_PATCH);
  CHECK(strcmp(sft_version(), expect) == 0);
  CHECK(sft_abi_version() == SFT_ABI_VERSION);
}

/* Every code of the C++ library has its C constant: the names the library
 * knows are exactly these. */
static void test_error_codes(void) {
  static const struct { sft_status code; const char* name; } codes[] = {
      {SFT_OK, "ok"}, {SFT_ERR_HEADER_TOO_SMALL, "header_too_small"}, {SFT_ERR_HEADER_TOO_LARGE, "header_too_large"},
      {SFT_ERR_HEADER_LENGTH, "header_length"}, {SFT_ERR_INVALID_UTF8, "invalid_utf8"},
      {SFT_ERR_INVALID_JSON, "invalid_json"}, {SFT_ERR_NESTING_TOO_DEEP, "nesting_too_deep"},
      {SFT_ERR_DUPLICATE_KEY, "duplicate_key"}, {SFT_ERR_BAD_SCHEMA, "bad_schema"},
      {SFT_ERR_UNKNOWN_DTYPE, "unknown_dtype"}, {SFT_ERR_BAD_INTEGER, "bad_integer"},
      {SFT_ERR_BAD_OFFSETS, "bad_offsets"}, {SFT_ERR_SIZE_OVERFLOW, "size_overflow"},
      {SFT_ERR_MISALIGNED_SUBBYTE, "misaligned_subbyte"}, {SFT_ERR_SIZE_MISMATCH, "size_mismatch"},
      {SFT_ERR_INCOMPLETE_BUFFER, "incomplete_buffer"}, {SFT_ERR_LIMIT_EXCEEDED, "limit_exceeded"},
      {SFT_ERR_STRICT_VIOLATION, "strict_violation"}, {SFT_ERR_IO, "io_error"}, {SFT_ERR_NOT_FOUND, "not_found"},
      {SFT_ERR_DTYPE_MISMATCH, "dtype_mismatch"}, {SFT_ERR_MISALIGNED_DATA, "misaligned_data"},
      {SFT_ERR_SLICE_OUT_OF_RANGE, "slice_out_of_range"}, {SFT_ERR_SLICE_BAD_RANGE, "slice_bad_range"},
      {SFT_ERR_SLICE_TOO_MANY_INDICES, "slice_too_many_indices"}, {SFT_ERR_SLICE_SUBBYTE, "slice_subbyte"},
      {SFT_ERR_BUFFER_TOO_SMALL, "buffer_too_small"}, {SFT_ERR_NOT_MAPPED, "not_mapped"},
      {SFT_ERR_INVALID_ARGUMENT, "invalid_argument"}, {SFT_ERR_OUT_OF_MEMORY, "out_of_memory"},
      {SFT_ERR_INTERNAL, "internal"}, {SFT_ERR_DUPLICATE_NAME, "duplicate_name"},
      {SFT_ERR_INVALID_NAME, "invalid_name"}, {SFT_ERR_RESERVED_NAME, "reserved_name"},
      {SFT_ERR_DATA_SIZE_MISMATCH, "data_size_mismatch"}, {SFT_ERR_MISSING_DATA, "missing_data"},
      {SFT_ERR_WRITE_FAILED, "write_failed"}, {SFT_ERR_BAD_ALIGNMENT, "bad_alignment"},
      {SFT_ERR_WRITER_STATE, "writer_state"}, {SFT_ERR_BAD_INDEX, "bad_index"}, {SFT_ERR_SHARD_PATH, "shard_path"},
      {SFT_ERR_SHARD_MISSING_TENSOR, "shard_missing_tensor"}, {SFT_ERR_SHARD_UNLISTED_TENSOR, "shard_unlisted_tensor"},
      {SFT_ERR_TOTAL_SIZE_MISMATCH, "total_size_mismatch"}, {SFT_ERR_SHARD_MISSING, "shard_missing"},
      {SFT_ERR_NO_CHECKPOINT, "no_checkpoint"}, {SFT_ERR_UNSUPPORTED_DTYPE, "unsupported_dtype"},
      {SFT_ERR_DIGEST_MISMATCH, "digest_mismatch"}, {SFT_ERR_NO_DIGEST, "no_digest"},
      {SFT_ERR_BAD_DIGEST, "bad_digest"}, {SFT_ERR_COMPRESSED_CORRUPT, "compressed_corrupt"},
      {SFT_ERR_COMPRESSED_TRUNCATED, "compressed_truncated"}, {SFT_ERR_COMPRESSED_TOO_LARGE, "compressed_too_large"},
      {SFT_ERR_BAD_SEEK_TABLE, "bad_seek_table"}, {SFT_ERR_COMPRESSED_UNSUPPORTED, "compressed_unsupported"},
      {SFT_ERR_GPU_NO_BACKEND, "gpu_no_backend"}, {SFT_ERR_GPU_NO_DEVICE, "gpu_no_device"},
      {SFT_ERR_GPU_DRIVER, "gpu_driver"}, {SFT_ERR_GPU_OUT_OF_MEMORY, "gpu_out_of_memory"},
      {SFT_ERR_GPU_LAUNCH, "gpu_launch"}, {SFT_ERR_GPU_BAD_ARGUMENT, "gpu_bad_argument"},
      {SFT_ERR_GPU_UNSUPPORTED, "gpu_unsupported"}, {SFT_ERR_GPU_VERIFY_FAILED, "gpu_verify_failed"},
      {SFT_ERR_TUNE_CACHE, "tune_cache"}, {SFT_ERR_NPY_BAD_HEADER, "npy_bad_header"},
      {SFT_ERR_NPY_UNSUPPORTED, "npy_unsupported"},
      {SFT_ERR_REMOTE_URL, "remote_url"},
      {SFT_ERR_REMOTE_UNSUPPORTED, "remote_unsupported"},
      {SFT_ERR_REMOTE_HTTP, "remote_http"},
      {SFT_ERR_REMOTE_RANGE, "remote_range"},
      {SFT_ERR_REMOTE_CHANGED, "remote_changed"},
      {SFT_ERR_REMOTE_TIMEOUT, "remote_timeout"},
      {SFT_ERR_REMOTE_TOO_LARGE, "remote_too_large"},
      {SFT_ERR_REMOTE_REDIRECT, "remote_redirect"},
      {SFT_ERR_REMOTE_TLS, "remote_tls"},
      {SFT_ERR_REMOTE_CONNECTION, "remote_connection"},
      {SFT_ERR_REMOTE_ENCODING, "remote_encoding"},
      {SFT_ERR_PLAN_INVALID, "plan_invalid"},
      {SFT_ERR_PLAN_SPLIT, "plan_split"},
      {SFT_ERR_PLAN_SUBBYTE, "plan_subbyte"},
      {SFT_ERR_PLAN_EXPERTS, "plan_experts"},
      {SFT_ERR_DIST_ENGINE, "dist_engine"},
      {SFT_ERR_DIST_TIMEOUT, "dist_timeout"},
      {SFT_ERR_DIST_PEER_FAILED, "dist_peer_failed"},
      {SFT_ERR_DIST_MISMATCH, "dist_mismatch"}};
  const size_t n = sizeof codes / sizeof codes[0];
  for (size_t i = 0; i < n; ++i) {
    if (strcmp(sft_errc_name(codes[i].code), codes[i].name) != 0) {
      fprintf(stderr, "code %d: library says %s, header says %s\n", codes[i].code, sft_errc_name(codes[i].code),
              codes[i].name);
      ++failures;
    }
  }
  size_t known = 0;
  for (sft_status c = -10; c < 4096; ++c)
    if (strcmp(sft_errc_name(c), "unknown") != 0) ++known;
  if (known != n) {
    fprintf(stderr, "the library names %zu codes, sft.h lists %zu: add the new codes to sft.h and this table\n", known, n);
    ++failures;
  }
  CHECK(strcmp(sft_errc_name(9999), "unknown") == 0);
}

static void test_dtypes(void) {
  for (int32_t d = 0; d < SFT_DTYPE_COUNT; ++d) {
    const char* name = sft_dtype_name(d);
    CHECK(name != NULL);
    if (!name) continue;
    CHECK(sft_dtype_from_name(name, strlen(name)) == d);
    CHECK(sft_dtype_bits(d) > 0);
  }
  CHECK(strcmp(sft_dtype_name(SFT_DTYPE_BF16), "BF16") == 0);
  CHECK(strcmp(sft_dtype_name(SFT_DTYPE_F8_E4M3FNUZ), "F8_E4M3FNUZ") == 0);
  CHECK(sft_dtype_bits(SFT_DTYPE_F4) == 4);
  CHECK(sft_dtype_bits(SFT_DTYPE_F6_E3M2) == 6);
  CHECK(sft_dtype_bits(SFT_DTYPE_C64) == 64);
  CHECK(sft_dtype_name(SFT_DTYPE_COUNT) == NULL);
  CHECK(sft_dtype_name(-1) == NULL);
  CHECK(sft_dtype_bits(99) == 0);
  CHECK(sft_dtype_from_name("bf16", 4) == -1); /* case-sensitive, as the reference */
  CHECK(sft_dtype_from_name("F32x", 3) == SFT_DTYPE_F32); /* the length counts, not a NUL */
  CHECK(sft_dtype_from_name(NULL, 0) == -1);
}

static void test_open_describe(void) {
  sft_error* err = NULL;
  sft_file* f = open_model(write_model("m.safetensors"), SFT_READ_MMAP);
  if (!f) return;
  CHECK(sft_file_tensor_count(f) == 3);
  CHECK(sft_file_is_mapped(f));
  CHECK(strcmp(sft_file_source_kind(f), "mapped") == 0);
  const uint64_t data_start = sft_file_data_start(f);
  CHECK(data_start % 8 == 0 && data_start > 8);
  CHECK(sft_file_size(f) == data_start + 48 + 4 + 3);

  sft_tensor_info info;
  memset(&info, 0xff, sizeof info);
  CHECK_OK(sft_file_tensor_info(f, 0, &info, &err));
  CHECK(info.name_len == 5 && memcmp(info.name, "embed", 5) == 0);
  CHECK(info.dtype == SFT_DTYPE_F32);
  CHECK(info.rank == 2 && info.shape[0] == 4 && info.shape[1] == 3);
  CHECK(info.data_begin == 0 && info.data_end == 48 && info.byte_size == 48);
  CHECK(info.file_offset == data_start);
  CHECK(info.reserved0 == 0 && info.reserved[0] == 0 && info.reserved[1] == 0);

  CHECK_OK(sft_file_tensor_info(f, 1, &info, &err));
  CHECK(info.name_len == 4 && memcmp(info.name, "bias", 4) == 0);
  CHECK(info.dtype == SFT_DTYPE_BF16 && info.rank == 1 && info.shape[0] == 2);
  CHECK(info.data_begin == 48 && info.data_end == 52 && info.file_offset == data_start + 48);

  /* A name holding NUL: found by its bytes, described by its length. */
  size_t i = index_of(f, nul_name, sizeof nul_name);
  CHECK(i == 2);
  CHECK_OK(sft_file_tensor_info(f, i, &info, &err));
  CHECK(info.name_len == 3 && memcmp(info.name, nul_name, 3) == 0);
  CHECK(info.dtype == SFT_DTYPE_U8 && info.byte_size == 3);
  CHECK_ERR(sft_file_find(f, "a", 1, &i, &err), SFT_ERR_NOT_FOUND); /* "a" alone is another name */

  CHECK_ERR(sft_file_find(f, "nope", 4, &i, &err), SFT_ERR_NOT_FOUND);
  CHECK(seen_tensor("nope"));
  CHECK_ERR(sft_file_tensor_info(f, 3, &info, &err), SFT_ERR_INVALID_ARGUMENT);
  sft_file_close(f);
}

static void test_view_and_copy(void) {
  sft_error* err = NULL;
  sft_file* f = open_model(write_model("m.safetensors"), SFT_READ_MMAP);
  if (!f) return;
  const void* data = NULL;
  size_t size = 0;
  CHECK_OK(sft_file_view(f, 0, &data, &size, &err));
  CHECK(size == sizeof embed && memcmp(data, embed, size) == 0);

  float copy[12];
  memset(copy, 0, sizeof copy);
  CHECK_OK(sft_file_read(f, 0, copy, sizeof copy, &err));
  CHECK(memcmp(copy, embed, sizeof copy) == 0);
  float big[16]; /* a larger buffer: exactly byte_size bytes are written */
  for (int k = 0; k < 16; ++k) big[k] = -1.0f;
  CHECK_OK(sft_file_read(f, 0, big, sizeof big, &err));
  CHECK(memcmp(big, embed, sizeof embed) == 0 && big[12] == -1.0f);

  CHECK_ERR(sft_file_read(f, 0, copy, sizeof copy - 1, &err), SFT_ERR_BUFFER_TOO_SMALL);
  CHECK(seen_tensor("embed"));

  float two[2];
  CHECK_OK(sft_file_read_range(f, 0, 4 * sizeof(float), two, sizeof two, &err));
  CHECK(two[0] == 4.0f && two[1] == 5.0f);
  CHECK_ERR(sft_file_read_range(f, 0, 44, two, sizeof two, &err), SFT_ERR_INVALID_ARGUMENT);

  /* A load of a mapped file is a view; it keeps the file alive after close. */
  sft_bytes* b = NULL;
  CHECK_OK(sft_file_load(f, 0, &b, &err));
  CHECK(!sft_bytes_owned(b));
  CHECK(sft_bytes_data(b) == data);
  size_t rank = 0;
  const uint64_t* shape = sft_bytes_shape(b, &rank);
  CHECK(rank == 2 && shape[0] == 4 && shape[1] == 3);
  CHECK(sft_bytes_dtype(b) == SFT_DTYPE_F32);
  sft_file_close(f);
  CHECK(sft_bytes_size(b) == sizeof embed && memcmp(sft_bytes_data(b), embed, sizeof embed) == 0);
  sft_bytes_free(b);
}

static void test_pread_mode(void) {
  sft_error* err = NULL;
  sft_file* f = open_model(write_model("m.safetensors"), SFT_READ_PREAD);
  if (!f) return;
  CHECK(!sft_file_is_mapped(f));
  CHECK(strcmp(sft_file_source_kind(f), "pread") == 0);
  const void* data = NULL;
  size_t size = 0;
  CHECK_ERR(sft_file_view(f, 0, &data, &size, &err), SFT_ERR_NOT_MAPPED);
  CHECK(seen_tensor("embed"));

  float copy[12];
  CHECK_OK(sft_file_read(f, 0, copy, sizeof copy, &err));
  CHECK(memcmp(copy, embed, sizeof copy) == 0);

  sft_bytes* b = NULL;
  CHECK_OK(sft_file_load(f, 0, &b, &err));
  CHECK(sft_bytes_owned(b));
  CHECK(((uintptr_t)sft_bytes_data(b)) % 64 == 0);
  CHECK(sft_bytes_size(b) == sizeof embed && memcmp(sft_bytes_data(b), embed, sizeof embed) == 0);
  sft_bytes_free(b);

  const sft_slice rows[1] = {{SFT_SLICE_RANGE, 1, 3, 1}};
  float out[6];
  CHECK_OK(sft_file_read_slice(f, 0, rows, 1, out, sizeof out, &err));
  CHECK(memcmp(out, embed + 3, sizeof out) == 0);
  sft_file_close(f);
}

static void test_memory(void) {
  sft_error* err = NULL;
  size_t size = 0;
  unsigned char* bytes = read_all(write_model("m.safetensors"), &size);
  CHECK(bytes != NULL);
  sft_file* f = NULL;
  CHECK_OK(sft_file_open_memory(bytes, size, NULL, &f, &err));
  CHECK(strcmp(sft_file_source_kind(f), "memory") == 0);
  CHECK(sft_file_is_mapped(f));
  const void* data = NULL;
  size_t n = 0;
  CHECK_OK(sft_file_view(f, index_of(f, "bias", 4), &data, &n, &err));
  CHECK(n == 4 && memcmp(data, bias, 4) == 0);
  CHECK((const unsigned char*)data >= bytes && (const unsigned char*)data < bytes + size); /* borrowed, not copied */
  sft_file_close(f);

  CHECK_ERR(sft_file_open_memory(bytes, 7, NULL, &f, &err), SFT_ERR_HEADER_TOO_SMALL);
  CHECK(f == NULL);
  free(bytes);
}

/* A compressed checkpoint (written by the sft tool, $SFT_CLI) opens like any
 * file: no views, loads are owned copies, reads decompress what they need. */
static void test_compressed(void) {
  sft_error* err = NULL;
  const char* cli = getenv("SFT_CLI");
  if (!cli || !*cli) {
    printf("skipped: SFT_CLI is not set (the tool is not built: SFT_BUILD_TOOLS=OFF)\n");
    return;
  }
  const char* in = write_model("m.safetensors");
  const char* out = path_of("m.safetensors.zst");
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "'%s' compress '%s' '%s'", cli, in, out);
  if (system(cmd) != 0) {
    printf("skipped: `sft compress` failed (a build without zstd?)\n");
    return;
  }
  sft_file* f = open_model(out, SFT_READ_MMAP);
  if (!f) return;
  CHECK(strcmp(sft_file_source_kind(f), "compressed") == 0);
  CHECK(!sft_file_is_mapped(f));
  const void* data = NULL;
  size_t size = 0;
  CHECK_ERR(sft_file_view(f, 0, &data, &size, &err), SFT_ERR_NOT_MAPPED);
  sft_bytes* b = NULL;
  CHECK_OK(sft_file_load(f, 0, &b, &err));
  CHECK(sft_bytes_owned(b) && sft_bytes_size(b) == sizeof embed && memcmp(sft_bytes_data(b), embed, sizeof embed) == 0);
  sft_bytes_free(b);
  const sft_slice col[2] = {{SFT_SLICE_ALL, 0, 0, 0}, {SFT_SLICE_INDEX, 2, 0, 0}};
  float c[4];
  CHECK_OK(sft_file_read_slice(f, 0, col, 2, c, sizeof c, &err));
  CHECK(c[0] == 2.0f && c[3] == 11.0f);
  sft_file_close(f);

  sft_open_options o;
  memset(&o, 0, sizeof o);
  o.flags = SFT_OPEN_REFUSE_COMPRESSED;
  CHECK_ERR(sft_file_open(out, &o, &f, &err), SFT_ERR_HEADER_TOO_LARGE);
}

static void test_slices(void) {
  sft_error* err = NULL;
  sft_file* f = open_model(write_model("m.safetensors"), SFT_READ_MMAP);
  if (!f) return;
  uint64_t shape[2] = {0, 0};
  size_t rank = 99;
  uint64_t bytes = 0;

  /* t[1:3]: rows 1 and 2, a zero-copy view of a mapped file. */
  const sft_slice rows[1] = {{SFT_SLICE_RANGE, 1, 3, 1}};
  CHECK_OK(sft_file_slice_shape(f, 0, rows, 1, shape, 2, &rank, &bytes, &err));
  CHECK(rank == 2 && shape[0] == 2 && shape[1] == 3 && bytes == 24);
  sft_bytes* b = NULL;
  CHECK_OK(sft_file_slice(f, 0, rows, 1, &b, &err));
  CHECK(!sft_bytes_owned(b) && sft_bytes_size(b) == 24 && memcmp(sft_bytes_data(b), embed + 3, 24) == 0);
  const uint64_t* bs = sft_bytes_shape(b, &rank);
  CHECK(rank == 2 && bs[0] == 2 && bs[1] == 3);
  sft_bytes_free(b);

  /* t[::-1, 1]: column 1 backwards, a copy; the index drops a dimension. */
  const sft_slice col[2] = {{SFT_SLICE_RANGE, SFT_SLICE_NONE, SFT_SLICE_NONE, -1}, {SFT_SLICE_INDEX, 1, 0, 0}};
  CHECK_OK(sft_file_slice_shape(f, 0, col, 2, shape, 2, &rank, &bytes, &err));
  CHECK(rank == 1 && shape[0] == 4 && bytes == 16);
  float out[4] = {0, 0, 0, 0};
  CHECK_OK(sft_file_read_slice(f, 0, col, 2, out, sizeof out, &err));
  CHECK(out[0] == 10.0f && out[1] == 7.0f && out[2] == 4.0f && out[3] == 1.0f);
  CHECK_OK(sft_file_slice(f, 0, col, 2, &b, &err));
  CHECK(sft_bytes_owned(b) && memcmp(sft_bytes_data(b), out, sizeof out) == 0);
  sft_bytes_free(b);

  /* t[-1]: the last row; t[:, 1:]: a zero-initialised sft_slice is `:`. */
  sft_slice last[1] = {{SFT_SLICE_INDEX, -1, 0, 0}};
  CHECK_OK(sft_file_read_slice(f, 0, last, 1, out, sizeof out, &err));
  CHECK(out[0] == 9.0f && out[2] == 11.0f);
  sft_slice tail[2];
  memset(tail, 0, sizeof tail);
  tail[1].kind = SFT_SLICE_RANGE;
  tail[1].start = 1;
  tail[1].stop = SFT_SLICE_NONE;
  tail[1].step = 1;
  CHECK_OK(sft_file_slice_shape(f, 0, tail, 2, shape, 2, &rank, &bytes, &err));
  CHECK(rank == 2 && shape[0] == 4 && shape[1] == 2 && bytes == 32);

  /* Sizing only (shape NULL), then a shape array that is too short. */
  CHECK_OK(sft_file_slice_shape(f, 0, NULL, 0, NULL, 0, &rank, &bytes, &err));
  CHECK(rank == 2 && bytes == 48);
  CHECK_ERR(sft_file_slice_shape(f, 0, rows, 1, shape, 1, &rank, &bytes, &err), SFT_ERR_BUFFER_TOO_SMALL);
  CHECK(rank == 2 && bytes == 24);

  /* Bad slices, each with its code and the tensor's name. */
  const sft_slice step0[1] = {{SFT_SLICE_RANGE, 0, 2, 0}};
  CHECK_ERR(sft_file_read_slice(f, 0, step0, 1, out, sizeof out, &err), SFT_ERR_SLICE_BAD_RANGE);
  CHECK(seen_tensor("embed"));
  const sft_slice beyond[1] = {{SFT_SLICE_INDEX, 4, 0, 0}};
  CHECK_ERR(sft_file_slice(f, 0, beyond, 1, &b, &err), SFT_ERR_SLICE_OUT_OF_RANGE);
  CHECK(b == NULL);
  const sft_slice three[3] = {{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}};
  CHECK_ERR(sft_file_slice_shape(f, 0, three, 3, shape, 2, &rank, &bytes, &err), SFT_ERR_SLICE_TOO_MANY_INDICES);
  const sft_slice odd[1] = {{7, 0, 0, 0}};
  CHECK_ERR(sft_file_read_slice(f, 0, odd, 1, out, sizeof out, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK_ERR(sft_file_read_slice(f, 0, rows, 1, out, sizeof out, &err), SFT_ERR_BUFFER_TOO_SMALL);
  CHECK_ERR(sft_file_read_slice(f, 0, NULL, 1, out, sizeof out, &err), SFT_ERR_INVALID_ARGUMENT);
  sft_file_close(f);
}

static void test_metadata(void) {
  sft_error* err = NULL;
  sft_file* f = open_model(write_model("m.safetensors"), SFT_READ_MMAP);
  if (!f) return;
  CHECK(sft_file_has_metadata(f));
  CHECK(sft_file_metadata_count(f) == 2);
  const char *k = NULL, *v = NULL;
  size_t kl = 0, vl = 0;
  CHECK_OK(sft_file_metadata_at(f, 0, &k, &kl, &v, &vl, &err));
  CHECK(kl == 6 && memcmp(k, "format", 6) == 0 && vl == 2 && strcmp(v, "pt") == 0);
  CHECK_OK(sft_file_metadata_at(f, 1, &k, &kl, NULL, NULL, &err));
  CHECK(kl == 4 && memcmp(k, "note", 4) == 0);
  CHECK_ERR(sft_file_metadata_at(f, 2, &k, &kl, &v, &vl, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK_OK(sft_file_metadata_get(f, "note", 4, &v, &vl, &err));
  CHECK(vl == 5 && memcmp(v, "hello", 5) == 0);
  CHECK_ERR(sft_file_metadata_get(f, "notes", 5, &v, &vl, &err), SFT_ERR_NOT_FOUND);
  sft_file_close(f);

  write_raw(path_of("plain.safetensors"), "{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2);
  f = open_model(path_of("plain.safetensors"), SFT_READ_MMAP);
  CHECK(!sft_file_has_metadata(f) && sft_file_metadata_count(f) == 0);
  CHECK_ERR(sft_file_metadata_get(f, "format", 6, &v, &vl, &err), SFT_ERR_NOT_FOUND);
  sft_file_close(f);
}

/* The writer's bytes are the reference's layout; serialize == write_file. */
static void test_write_round_trip(void) {
  sft_error* err = NULL;
  sft_writer* w = NULL;
  CHECK_OK(sft_writer_new(NULL, &w, &err));
  const uint64_t shape[1] = {2};
  const float a[2] = {1.5f, -2.0f};
  const uint8_t b[2] = {1, 2};
  CHECK_OK(sft_writer_add(w, "b", 1, SFT_DTYPE_U8, shape, 1, b, 2, &err));
  CHECK_OK(sft_writer_add(w, "a", 1, SFT_DTYPE_F32, shape, 1, a, sizeof a, &err));
  CHECK_OK(sft_writer_set_metadata(w, "format", 6, "pt", 2, &err));

  uint64_t size = 0;
  CHECK_OK(sft_writer_serialize(w, NULL, 0, &size, &err));
  const char* json = "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[8,10]}}";
  const size_t n = strlen(json), padded = (8 + n + 7) / 8 * 8 - 8;
  CHECK(size == 8 + padded + 10);
  unsigned char* buf = malloc((size_t)size);
  CHECK_ERR(sft_writer_serialize(w, buf, (size_t)size - 1, &size, &err), SFT_ERR_BUFFER_TOO_SMALL);
  CHECK_OK(sft_writer_serialize(w, buf, (size_t)size, &size, &err));
  CHECK(buf[0] == (unsigned char)padded && buf[1] == 0 && buf[7] == 0);
  CHECK(memcmp(buf + 8, json, n) == 0);
  for (size_t i = 8 + n; i < 8 + padded; ++i) CHECK(buf[i] == ' ');
  CHECK(memcmp(buf + 8 + padded, a, 8) == 0 && memcmp(buf + 8 + padded + 8, b, 2) == 0);

  const char* path = path_of("w.safetensors");
  CHECK_OK(sft_writer_write_file(w, path, &err));
  size_t disk_size = 0;
  unsigned char* disk = read_all(path, &disk_size);
  CHECK(disk && disk_size == size && memcmp(disk, buf, disk_size) == 0);
  free(disk);
  free(buf);
  sft_writer_free(w);

  sft_file* f = open_model(path, SFT_READ_MMAP);
  float back[2];
  CHECK_OK(sft_file_read(f, index_of(f, "a", 1), back, sizeof back, &err));
  CHECK(back[0] == 1.5f && back[1] == -2.0f);
  sft_file_close(f);

  /* Options: alignment 64, insertion order, no fsync, metadata {} forced. */
  sft_writer_options o;
  memset(&o, 0, sizeof o);
  o.alignment = 64;
  o.flags = SFT_WRITE_KEEP_ORDER | SFT_WRITE_NO_SYNC | SFT_WRITE_EMPTY_METADATA;
  CHECK_OK(sft_writer_new(&o, &w, &err));
  CHECK_OK(sft_writer_add(w, "b", 1, SFT_DTYPE_U8, shape, 1, b, 2, &err));
  CHECK_OK(sft_writer_add(w, "a", 1, SFT_DTYPE_F32, shape, 1, a, sizeof a, &err));
  CHECK_OK(sft_writer_write_file(w, path, &err));
  sft_writer_free(w);
  f = open_model(path, SFT_READ_MMAP);
  sft_tensor_info info;
  CHECK_OK(sft_file_tensor_info(f, 0, &info, &err));
  CHECK(info.name_len == 1 && info.name[0] == 'b'); /* insertion order */
  CHECK(sft_file_data_start(f) % 64 == 0);
  CHECK(sft_file_has_metadata(f) && sft_file_metadata_count(f) == 0);
  sft_file_close(f);

  /* An empty writer: "{}" and six spaces, as the reference. */
  CHECK_OK(sft_writer_new(NULL, &w, &err));
  unsigned char empty[16];
  CHECK_OK(sft_writer_serialize(w, empty, sizeof empty, &size, &err));
  CHECK(size == 16 && empty[0] == 8 && memcmp(empty + 8, "{}      ", 8) == 0);
  sft_writer_free(w);
}

static void test_writer_errors(void) {
  sft_error* err = NULL;
  sft_writer* w = NULL;
  sft_writer_options o;
  memset(&o, 0, sizeof o);
  o.alignment = 12;
  CHECK_ERR(sft_writer_new(&o, &w, &err), SFT_ERR_BAD_ALIGNMENT);
  CHECK(w == NULL);
  o.alignment = 0;
  o.flags = 0x80;
  CHECK_ERR(sft_writer_new(&o, &w, &err), SFT_ERR_INVALID_ARGUMENT);
  o.flags = 0;
  o.reserved[3] = 1;
  CHECK_ERR(sft_writer_new(&o, &w, &err), SFT_ERR_INVALID_ARGUMENT);

  CHECK_OK(sft_writer_new(NULL, &w, &err));
  const uint64_t shape[1] = {2};
  const uint8_t b[3] = {1, 2, 3};
  CHECK_OK(sft_writer_add(w, "x", 1, SFT_DTYPE_U8, shape, 1, b, 2, &err));
  CHECK_ERR(sft_writer_add(w, "x", 1, SFT_DTYPE_U8, shape, 1, b, 2, &err), SFT_ERR_DUPLICATE_NAME);
  CHECK(seen_tensor("x"));
  CHECK_ERR(sft_writer_add(w, "__metadata__", 12, SFT_DTYPE_U8, shape, 1, b, 2, &err), SFT_ERR_RESERVED_NAME);
  CHECK_ERR(sft_writer_add(w, "y", 1, SFT_DTYPE_U8, shape, 1, b, 3, &err), SFT_ERR_DATA_SIZE_MISMATCH);
  CHECK_ERR(sft_writer_add(w, "y", 1, 22, shape, 1, b, 2, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK_ERR(sft_writer_add(w, "\xff", 1, SFT_DTYPE_U8, shape, 1, b, 2, &err), SFT_ERR_INVALID_NAME);
  const uint64_t odd[1] = {3};
  CHECK_ERR(sft_writer_add(w, "f4", 2, SFT_DTYPE_F4, odd, 1, b, 1, &err), SFT_ERR_MISALIGNED_SUBBYTE);
  CHECK_ERR(sft_writer_add(w, "y", 1, SFT_DTYPE_U8, NULL, 1, b, 2, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK_ERR(sft_writer_set_metadata(w, "k", 1, "\xc3", 1, &err), SFT_ERR_INVALID_NAME);

  /* A failed write leaves the target untouched and no temporary behind. */
  const char* target = path_of("kept.safetensors");
  write_bytes(target, "old", 3);
  CHECK_ERR(sft_writer_write_file(w, path_of("no-such-dir/x.safetensors"), &err), SFT_ERR_WRITE_FAILED);
  CHECK(strlen(seen.message) > 0);
  size_t n = 0;
  unsigned char* old = read_all(target, &n);
  CHECK(old && n == 3 && memcmp(old, "old", 3) == 0);
  free(old);
  sft_writer_free(w);
}

static void test_open_errors(void) {
  sft_error* err = NULL;
  sft_file* f = (sft_file*)&f; /* not NULL: a failed open must set it to NULL */
  CHECK_ERR(sft_file_open(path_of("missing.safetensors"), NULL, &f, &err), SFT_ERR_IO);
  CHECK(f == NULL);
  CHECK(strstr(seen.message, "missing.safetensors") != NULL);
  CHECK_ERR(sft_file_open(dir, NULL, &f, &err), SFT_ERR_IO); /* a directory */

  write_bytes(path_of("short.safetensors"), "\x01\x02\x03", 3);
  CHECK_ERR(sft_file_open(path_of("short.safetensors"), NULL, &f, &err), SFT_ERR_HEADER_TOO_SMALL);

  /* N runs past the end of the file. */
  write_bytes(path_of("long.safetensors"), "\x40\x00\x00\x00\x00\x00\x00\x00{}", 10);
  CHECK_ERR(sft_file_open(path_of("long.safetensors"), NULL, &f, &err), SFT_ERR_HEADER_LENGTH);
  CHECK(seen.offset == 0);

  /* An unknown dtype: the code, the byte offset of the value in the file, the tensor. */
  const char* json = "{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  write_raw(path_of("dtype.safetensors"), json, 4);
  CHECK_ERR(sft_file_open(path_of("dtype.safetensors"), NULL, &f, &err), SFT_ERR_UNKNOWN_DTYPE);
  CHECK(seen.offset == 8 + (uint64_t)(strstr(json, "\"F33\"") - json));
  CHECK(seen_tensor("w"));
  CHECK(strncmp(seen.line, "unknown_dtype: ", 15) == 0 && strstr(seen.line, "tensor w)") != NULL);

  /* The same bytes through the pread path report the same. */
  sft_open_options o;
  memset(&o, 0, sizeof o);
  o.mode = SFT_READ_PREAD;
  CHECK_ERR(sft_file_open(path_of("dtype.safetensors"), &o, &f, &err), SFT_ERR_UNKNOWN_DTYPE);
  CHECK(seen.offset == 8 + (uint64_t)(strstr(json, "\"F33\"") - json));

  write_raw(path_of("json.safetensors"), "{\"w\":", 0);
  CHECK_ERR(sft_file_open(path_of("json.safetensors"), NULL, &f, &err), SFT_ERR_INVALID_JSON);
  CHECK(seen.offset != SFT_NO_OFFSET && seen.offset >= 8);

  /* Limits from the options. */
  const char* model = write_model("m.safetensors");
  memset(&o, 0, sizeof o);
  o.max_tensors = 2;
  CHECK_ERR(sft_file_open(model, &o, &f, &err), SFT_ERR_LIMIT_EXCEEDED);
  o.max_tensors = 3;
  CHECK_OK(sft_file_open(model, &o, &f, &err));
  sft_file_close(f);

  /* Options the library does not know are refused, not ignored. */
  memset(&o, 0, sizeof o);
  o.mode = 7;
  CHECK_ERR(sft_file_open(model, &o, &f, &err), SFT_ERR_INVALID_ARGUMENT);
  o.mode = 0;
  o.hint = 3;
  CHECK_ERR(sft_file_open(model, &o, &f, &err), SFT_ERR_INVALID_ARGUMENT);
  o.hint = SFT_HINT_SEQUENTIAL;
  o.flags = 0x100;
  CHECK_ERR(sft_file_open(model, &o, &f, &err), SFT_ERR_INVALID_ARGUMENT);
  o.flags = SFT_OPEN_POPULATE;
  o.reserved[0] = 1;
  CHECK_ERR(sft_file_open(model, &o, &f, &err), SFT_ERR_INVALID_ARGUMENT);
  o.reserved[0] = 0;
  CHECK_OK(sft_file_open(model, &o, &f, &err));
  sft_file_close(f);
}

/* NULL handles and out-parameters are errors, never crashes; err may be NULL. */
static void test_null_arguments(void) {
  sft_error* err = NULL;
  sft_file* f = NULL;
  size_t i = 0;
  const void* p = NULL;
  char buf[4];
  CHECK_ERR(sft_file_open(NULL, NULL, &f, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK_ERR(sft_file_open("x", NULL, NULL, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK(sft_file_open(NULL, NULL, &f, NULL) == SFT_ERR_INVALID_ARGUMENT);
  CHECK_ERR(sft_file_open_memory(NULL, 8, NULL, &f, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK_ERR(sft_file_find(NULL, "w", 1, &i, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK_ERR(sft_file_view(NULL, 0, &p, &i, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK_ERR(sft_file_read(NULL, 0, buf, 4, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK_ERR(sft_file_tensor_info(NULL, 0, NULL, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK_ERR(sft_file_metadata_at(NULL, 0, NULL, NULL, NULL, NULL, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK_ERR(sft_checkpoint_open(NULL, NULL, NULL, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK_ERR(sft_checkpoint_validate(NULL, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK_ERR(sft_writer_add(NULL, "x", 1, SFT_DTYPE_U8, NULL, 0, buf, 1, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK_ERR(sft_writer_serialize(NULL, NULL, 0, NULL, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK(sft_file_tensor_count(NULL) == 0 && sft_file_size(NULL) == 0 && !sft_file_is_mapped(NULL));
  CHECK(strcmp(sft_file_source_kind(NULL), "") == 0);
  CHECK(sft_bytes_data(NULL) == NULL && sft_bytes_size(NULL) == 0 && sft_bytes_dtype(NULL) == -1);
  CHECK(sft_checkpoint_tensor_count(NULL) == 0 && sft_checkpoint_shard_count(NULL) == 0);
  CHECK(sft_error_code(NULL) == SFT_ERR_INVALID_ARGUMENT && strcmp(sft_error_message(NULL), "") == 0);
  CHECK(sft_error_offset(NULL) == SFT_NO_OFFSET);
  sft_file_close(NULL);
  sft_bytes_free(NULL);
  sft_checkpoint_close(NULL);
  sft_writer_free(NULL);
  sft_error_free(NULL);
}

/* Two shards and an index, written with the C API and by hand. */
static void write_checkpoint(const char* name, const char* index_json) {
  sft_error* err = NULL;
  char sub[600];
  snprintf(sub, sizeof sub, "%s/%s", dir, name);
  mkdir(sub, 0777);
  const uint64_t shape[1] = {3};
  static const float x[3] = {1, 2, 3}, y[3] = {4, 5, 6};
  char p[700];
  sft_writer* w = NULL;
  CHECK_OK(sft_writer_new(NULL, &w, &err));
  CHECK_OK(sft_writer_add(w, "layer.0", 7, SFT_DTYPE_F32, shape, 1, x, sizeof x, &err));
  snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", sub);
  CHECK_OK(sft_writer_write_file(w, p, &err));
  sft_writer_free(w);
  CHECK_OK(sft_writer_new(NULL, &w, &err));
  CHECK_OK(sft_writer_add(w, "layer.1", 7, SFT_DTYPE_F32, shape, 1, y, sizeof y, &err));
  snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", sub);
  CHECK_OK(sft_writer_write_file(w, p, &err));
  sft_writer_free(w);
  snprintf(p, sizeof p, "%s/model.safetensors.index.json", sub);
  write_bytes(p, index_json, strlen(index_json));
}

static const char* good_index =
    "{\"metadata\":{\"total_size\":24},\"weight_map\":{"
    "\"layer.0\":\"model-00001-of-00002.safetensors\",\"layer.1\":\"model-00002-of-00002.safetensors\"}}";

static void test_checkpoint(void) {
  sft_error* err = NULL;
  write_checkpoint("ckpt", good_index);
  sft_checkpoint* c = NULL;
  CHECK_OK(sft_checkpoint_open(path_of("ckpt"), NULL, &c, &err));
  if (!c) return;
  CHECK(sft_checkpoint_sharded(c));
  CHECK(sft_checkpoint_shard_count(c) == 2);
  CHECK(sft_checkpoint_tensor_count(c) == 2);
  const char* name = NULL;
  size_t len = 0;
  CHECK_OK(sft_checkpoint_shard_name(c, 1, &name, &len, &err));
  CHECK(len == strlen("model-00002-of-00002.safetensors") && strcmp(name, "model-00002-of-00002.safetensors") == 0);
  CHECK_OK(sft_checkpoint_tensor_name(c, 0, &name, &len, &err));
  CHECK(len == 7 && memcmp(name, "layer.0", 7) == 0);
  CHECK_ERR(sft_checkpoint_tensor_name(c, 2, &name, &len, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK_ERR(sft_checkpoint_shard_name(c, 2, &name, &len, &err), SFT_ERR_INVALID_ARGUMENT);

  sft_file* shard = NULL;
  size_t index = 99;
  CHECK_OK(sft_checkpoint_find(c, "layer.1", 7, &shard, &index, &err));
  CHECK(shard != NULL && index == 0);
  float v[3] = {0, 0, 0};
  CHECK_OK(sft_file_read(shard, index, v, sizeof v, &err));
  CHECK(v[0] == 4.0f && v[2] == 6.0f);
  sft_bytes* b = NULL;
  CHECK_OK(sft_checkpoint_load(c, "layer.0", 7, &b, &err));
  CHECK(sft_bytes_size(b) == 12 && ((const float*)sft_bytes_data(b))[1] == 2.0f);
  sft_bytes_free(b);
  sft_file_close(shard);
  CHECK_ERR(sft_checkpoint_find(c, "layer.2", 7, &shard, &index, &err), SFT_ERR_NOT_FOUND);
  CHECK(shard == NULL);
  CHECK(seen_tensor("layer.2"));
  CHECK_ERR(sft_checkpoint_load(c, "layer.2", 7, &b, &err), SFT_ERR_NOT_FOUND);
  CHECK_OK(sft_checkpoint_validate(c, &err));

  /* Handles keep the checkpoint alive: close it first, use them after. */
  CHECK_OK(sft_checkpoint_shard(c, 1, &shard, &err));
  sft_checkpoint_close(c);
  CHECK_OK(sft_file_read(shard, 0, v, sizeof v, &err));
  CHECK(v[1] == 5.0f);
  sft_file_close(shard);
  CHECK_ERR(sft_checkpoint_load(NULL, "x", 1, &b, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK(b == NULL);

  /* A single file opens as a checkpoint of one shard. */
  CHECK_OK(sft_checkpoint_open(write_model("single.safetensors"), NULL, &c, &err));
  CHECK(!sft_checkpoint_sharded(c) && sft_checkpoint_shard_count(c) == 1 && sft_checkpoint_tensor_count(c) == 3);
  sft_checkpoint_close(c);

  /* Options: the shards in pread mode give no views. */
  sft_checkpoint_options o;
  memset(&o, 0, sizeof o);
  o.open.mode = SFT_READ_PREAD;
  o.flags = SFT_CHECKPOINT_STRICT;
  CHECK_OK(sft_checkpoint_open(path_of("ckpt"), &o, &c, &err));
  CHECK_OK(sft_checkpoint_find(c, "layer.0", 7, &shard, &index, &err));
  const void* p = NULL;
  size_t n = 0;
  CHECK_ERR(sft_file_view(shard, index, &p, &n, &err), SFT_ERR_NOT_MAPPED);
  CHECK_OK(sft_checkpoint_load(c, "layer.0", 7, &b, &err));
  CHECK(sft_bytes_owned(b));
  sft_bytes_free(b);
  sft_file_close(shard);
  sft_checkpoint_close(c);
  o.flags = 0x40;
  CHECK_ERR(sft_checkpoint_open(path_of("ckpt"), &o, &c, &err), SFT_ERR_INVALID_ARGUMENT);
  CHECK(c == NULL);
}

static void test_checkpoint_errors(void) {
  sft_error* err = NULL;
  sft_checkpoint* c = NULL;
  CHECK_ERR(sft_checkpoint_open(path_of("nothing-here"), NULL, &c, &err), SFT_ERR_IO);

  write_checkpoint("bad", "{\"weight_map\":[1]}");
  CHECK_ERR(sft_checkpoint_open(path_of("bad"), NULL, &c, &err), SFT_ERR_BAD_INDEX);

  write_checkpoint("missing", "{\"weight_map\":{\"layer.0\":\"model-00001-of-00002.safetensors\","
                              "\"layer.9\":\"model-00009-of-00009.safetensors\"}}");
  CHECK_ERR(sft_checkpoint_open(path_of("missing"), NULL, &c, &err), SFT_ERR_SHARD_MISSING);

  write_checkpoint("escape", "{\"weight_map\":{\"layer.0\":\"../m.safetensors\"}}");
  CHECK_ERR(sft_checkpoint_open(path_of("escape"), NULL, &c, &err), SFT_ERR_SHARD_PATH);

  /* layer.1 mapped to the shard that lacks it: found at lookup and by validate. */
  write_checkpoint("wrong", "{\"weight_map\":{\"layer.0\":\"model-00001-of-00002.safetensors\","
                            "\"layer.1\":\"model-00001-of-00002.safetensors\"}}");
  CHECK_OK(sft_checkpoint_open(path_of("wrong"), NULL, &c, &err));
  sft_file* shard = NULL;
  size_t index = 0;
  CHECK_ERR(sft_checkpoint_find(c, "layer.1", 7, &shard, &index, &err), SFT_ERR_SHARD_MISSING_TENSOR);
  CHECK(seen_tensor("layer.1"));
  CHECK_ERR(sft_checkpoint_validate(c, &err), SFT_ERR_SHARD_MISSING_TENSOR);
  sft_checkpoint_close(c);

  /* Strict: a total_size that disagrees is an error. */
  write_checkpoint("total", "{\"metadata\":{\"total_size\":7},\"weight_map\":{"
                            "\"layer.0\":\"model-00001-of-00002.safetensors\","
                            "\"layer.1\":\"model-00002-of-00002.safetensors\"}}");
  sft_checkpoint_options o;
  memset(&o, 0, sizeof o);
  CHECK_OK(sft_checkpoint_open(path_of("total"), &o, &c, &err));
  CHECK_OK(sft_checkpoint_validate(c, &err)); /* only a warning */
  sft_checkpoint_close(c);
  o.flags = SFT_CHECKPOINT_STRICT;
  CHECK_OK(sft_checkpoint_open(path_of("total"), &o, &c, &err));
  CHECK_ERR(sft_checkpoint_validate(c, &err), SFT_ERR_TOTAL_SIZE_MISMATCH);
  sft_checkpoint_close(c);
}

#ifndef __STDC_NO_THREADS__
enum { thread_count = 8, rounds = 200 };
struct job {
  const sft_file* shared; /* one handle used by every thread at once */
  const char* path;
  int id;
  int failures;
};

/* Each thread's errors are its own: the name in every error object is the one
 * this thread asked for, whatever the others do meanwhile. */
static int worker(void* arg) {
  struct job* j = arg;
  char name[32];
  for (int r = 0; r < rounds; ++r) {
    int len = snprintf(name, sizeof name, "missing-%d-%d", j->id, r);
    size_t i = 0;
    sft_error* e = NULL;
    if (sft_file_find(j->shared, name, (size_t)len, &i, &e) != SFT_ERR_NOT_FOUND || !e) {
      ++j->failures;
      sft_error_free(e);
      continue;
    }
    size_t tl = 0;
    const char* t = sft_error_tensor(e, &tl);
    if (tl != (size_t)len || memcmp(t, name, tl) != 0) ++j->failures;
    sft_error_free(e);

    const void* data = NULL;
    size_t size = 0;
    if (sft_file_view(j->shared, 0, &data, &size, NULL) != SFT_OK || size != sizeof embed ||
        memcmp(data, embed, size) != 0)
      ++j->failures;

    /* A handle of its own, in pread mode: the not_mapped error is this thread's. */
    sft_open_options o;
    memset(&o, 0, sizeof o);
    o.mode = SFT_READ_PREAD;
    sft_file* f = NULL;
    if (r % 20 == 0) {
      if (sft_file_open(j->path, &o, &f, &e) != SFT_OK) {
        ++j->failures;
        sft_error_free(e);
        continue;
      }
      if (sft_file_view(f, 1, &data, &size, &e) != SFT_ERR_NOT_MAPPED || sft_error_code(e) != SFT_ERR_NOT_MAPPED)
        ++j->failures;
      t = sft_error_tensor(e, &tl);
      if (tl != 4 || memcmp(t, "bias", 4) != 0) ++j->failures;
      sft_error_free(e);
      sft_file_close(f);
    }
  }
  return 0;
}

static void test_threads(void) {
  const char* path = write_model("m.safetensors");
  sft_file* f = open_model(path, SFT_READ_MMAP);
  if (!f) return;
  struct job jobs[thread_count];
  thrd_t threads[thread_count];
  for (int i = 0; i < thread_count; ++i) {
    jobs[i].shared = f;
    jobs[i].path = path;
    jobs[i].id = i;
    jobs[i].failures = 0;
    CHECK(thrd_create(&threads[i], worker, &jobs[i]) == thrd_success);
  }
  for (int i = 0; i < thread_count; ++i) {
    thrd_join(threads[i], NULL);
    if (jobs[i].failures) fprintf(stderr, "thread %d: %d failures\n", i, jobs[i].failures);
    failures += jobs[i].failures;
  }
  sft_file_close(f);
}
#else
static void test_threads(void) { printf("skipped: this C library has no <threads.h>\n"); }
#endif

/* ---- main ---------------------------------------------------------------- */

#define T(name) {#name, test_##name}
static const struct {
  const char* name;
  void (*run)(void);
} tests[] = {
    /* tests/capi.cmake reads the names from these lines: one T(name) per line */
    T(version),
    T(error_codes),
    T(dtypes),
    T(open_describe),
    T(view_and_copy),
    T(pread_mode),
    T(memory),
    T(compressed),
    T(slices),
    T(metadata),
    T(write_round_trip),
    T(writer_errors),
    T(open_errors),
    T(null_arguments),
    T(checkpoint),
    T(checkpoint_errors),
    T(threads),
};

int main(int argc, char** argv) {
  const size_t n = sizeof tests / sizeof tests[0];
  int ran = 0;
  make_dir();
  for (size_t i = 0; i < n; ++i) {
    if (argc > 1 && strcmp(argv[1], tests[i].name) != 0) continue;
    int before = failures;
    tests[i].run();
    printf("%s %s\n", failures == before ? "ok  " : "FAIL", tests[i].name);
    ++ran;
  }
  remove_tree(dir);
  if (!ran) {
    fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "");
    return 1;
  }
  return failures ? 1 : 0;
}
