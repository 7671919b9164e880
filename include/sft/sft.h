/* sft/sft.h — the C API of sft: a small, stable ABI for other languages.
 *
 * A thin layer over the C++ library (sft/sft.hpp) for Rust, Go, Julia, C#,
 * Zig, Python's ctypes and plain C. Every type that crosses it is a C type:
 * opaque handles, fixed-width integers, plain structs, pointer + length
 * pairs. No C++ exception ever leaves a function declared here. The header is
 * C99 and C++ compatible and includes only <stddef.h>, <stdint.h> and
 * <stdbool.h>. docs/c-api.md has the guide, the ownership rules and an example.
 *
 * ERRORS. Every fallible function returns an sft_status: SFT_OK (0) on
 * success, otherwise one of the SFT_ERR_* codes below (the same stable numbers
 * as sft::Errc in C++; codes are only ever appended). Its last parameter is
 * `sft_error** err`, which may be NULL; when it is not, the function stores
 * NULL there on success and, on failure, an error object that the caller owns
 * and releases with sft_error_free(). The object carries the code, a message,
 * the byte offset in the file (header errors) and the tensor concerned.
 * There is no hidden "last error" state: a goroutine that moves between
 * threads, an async task or a second thread never sees another call's error.
 * On failure, a function's other out-parameters are left as documented for
 * it (handles: set to NULL).
 *
 * OWNERSHIP. Every handle a function gives out (sft_file, sft_bytes,
 * sft_checkpoint, sft_writer, sft_error) belongs to the caller and is released
 * exactly once with its own function (sft_file_close, sft_bytes_free,
 * sft_checkpoint_close, sft_writer_free, sft_error_free); each accepts NULL.
 * Handles keep what they depend on alive: an sft_bytes keeps its file open,
 * a shard's sft_file keeps its checkpoint open, so handles may be released in
 * any order (convenient for garbage-collected languages). Plain pointers that
 * functions return (names, shapes, metadata, views, messages) point into a
 * handle and stay valid until that handle is released; the documentation of
 * each function names the handle.
 *
 * STRINGS. Tensor names, metadata keys and values are byte strings given as
 * pointer + length: a safetensors name may contain NUL bytes. Names passed in
 * are compared byte for byte; names written must be UTF-8. Paths are
 * NUL-terminated and passed to the operating system unchanged.
 *
 * THREADS. Functions taking a `const` handle may be called on one handle from
 * several threads at once (sft_file, sft_checkpoint, sft_bytes). An
 * sft_writer is used by one thread at a time. No handle may be released while
 * another thread uses it.
 *
 * VERSIONS AND ABI. SFT_VERSION_* give the version of this header,
 * sft_version() that of the library in use. The ABI (function names and
 * signatures, the layout of the structs below, the values of the constants)
 * only grows within one SFT_ABI_VERSION: functions and constants are added,
 * nothing is removed or changed, and structs never change size (new options
 * take the place of reserved fields, whose zero value keeps today's meaning).
 * A build's exported symbols and struct layouts are checked against the lists
 * committed in tests/c/ (docs/c-api.md, "ABI policy").
 */
#ifndef SFT_SFT_H
#define SFT_SFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SFT_VERSION_MAJOR 0
#define SFT_VERSION_MINOR 1
#define SFT_VERSION_PATCH 0
/* Incremented only when the ABI breaks (see VERSIONS AND ABI above). */
#define SFT_ABI_VERSION 1

/* Symbols of the C API are exported from a shared libsft even when the rest of
 * the library is built with hidden visibility. */
#if defined(_WIN32) || defined(__CYGWIN__)
#  if defined(SFT_C_API_BUILD) && defined(SFT_SHARED)
#    define SFT_API __declspec(dllexport)
#  elif defined(SFT_SHARED)
#    define SFT_API __declspec(dllimport)
#  else
#    define SFT_API
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define SFT_API __attribute__((visibility("default")))
#else
#  define SFT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------- */
/* Versions                                                                  */
/* ------------------------------------------------------------------------- */

/* The library's version, "MAJOR.MINOR.PATCH": a static string, never freed. */
SFT_API const char* sft_version(void);

/* The library's SFT_ABI_VERSION. A program built against this header may check
 * sft_abi_version() == SFT_ABI_VERSION at startup when it loads libsft at run
 * time. */
SFT_API uint32_t sft_abi_version(void);

/* ------------------------------------------------------------------------- */
/* Errors                                                                    */
/* ------------------------------------------------------------------------- */

/* SFT_OK or an SFT_ERR_* code. */
typedef int32_t sft_status;

/* The codes, equal to sft::Errc (include/sft/error.hpp, docs/format.md).
 * A newer library may return codes this header does not list yet;
 * sft_errc_name() names them. */
enum {
  SFT_OK = 0,
  /* the header and the file layout */
  SFT_ERR_HEADER_TOO_SMALL = 1,
  SFT_ERR_HEADER_TOO_LARGE = 2,
  SFT_ERR_HEADER_LENGTH = 3,
  SFT_ERR_INVALID_UTF8 = 4,
  SFT_ERR_INVALID_JSON = 5,
  SFT_ERR_NESTING_TOO_DEEP = 6,
  SFT_ERR_DUPLICATE_KEY = 7,
  SFT_ERR_BAD_SCHEMA = 8,
  SFT_ERR_UNKNOWN_DTYPE = 9,
  SFT_ERR_BAD_INTEGER = 10,
  SFT_ERR_BAD_OFFSETS = 11,
  SFT_ERR_SIZE_OVERFLOW = 12,
  SFT_ERR_MISALIGNED_SUBBYTE = 13,
  SFT_ERR_SIZE_MISMATCH = 14,
  SFT_ERR_INCOMPLETE_BUFFER = 15,
  SFT_ERR_LIMIT_EXCEEDED = 16,
  SFT_ERR_STRICT_VIOLATION = 17,
  /* reading */
  SFT_ERR_IO = 40,
  SFT_ERR_NOT_FOUND = 41,
  SFT_ERR_DTYPE_MISMATCH = 42,
  SFT_ERR_MISALIGNED_DATA = 43,
  SFT_ERR_SLICE_OUT_OF_RANGE = 44,
  SFT_ERR_SLICE_BAD_RANGE = 45,
  SFT_ERR_SLICE_TOO_MANY_INDICES = 46,
  SFT_ERR_SLICE_SUBBYTE = 47,
  SFT_ERR_BUFFER_TOO_SMALL = 48,
  SFT_ERR_NOT_MAPPED = 49,
  SFT_ERR_INVALID_ARGUMENT = 50,
  SFT_ERR_OUT_OF_MEMORY = 51,
  SFT_ERR_INTERNAL = 52,
  /* writing */
  SFT_ERR_DUPLICATE_NAME = 60,
  SFT_ERR_INVALID_NAME = 61,
  SFT_ERR_RESERVED_NAME = 62,
  SFT_ERR_DATA_SIZE_MISMATCH = 63,
  SFT_ERR_MISSING_DATA = 64,
  SFT_ERR_WRITE_FAILED = 65,
  SFT_ERR_BAD_ALIGNMENT = 66,
  SFT_ERR_WRITER_STATE = 67,
  /* sharded checkpoints */
  SFT_ERR_BAD_INDEX = 80,
  SFT_ERR_SHARD_PATH = 81,
  SFT_ERR_SHARD_MISSING_TENSOR = 82,
  SFT_ERR_SHARD_UNLISTED_TENSOR = 83,
  SFT_ERR_TOTAL_SIZE_MISMATCH = 84,
  SFT_ERR_SHARD_MISSING = 85,
  SFT_ERR_NO_CHECKPOINT = 86,
  SFT_ERR_UNSUPPORTED_DTYPE = 87,
  /* digests and compression */
  SFT_ERR_DIGEST_MISMATCH = 100,
  SFT_ERR_NO_DIGEST = 101,
  SFT_ERR_BAD_DIGEST = 102,
  SFT_ERR_COMPRESSED_CORRUPT = 103,
  SFT_ERR_COMPRESSED_TRUNCATED = 104,
  SFT_ERR_COMPRESSED_TOO_LARGE = 105,
  SFT_ERR_BAD_SEEK_TABLE = 106,
  SFT_ERR_COMPRESSED_UNSUPPORTED = 107,
  /* the GPU layer (not reachable through this API today) */
  SFT_ERR_GPU_NO_BACKEND = 120,
  SFT_ERR_GPU_NO_DEVICE = 121,
  SFT_ERR_GPU_DRIVER = 122,
  SFT_ERR_GPU_OUT_OF_MEMORY = 123,
  SFT_ERR_GPU_LAUNCH = 124,
  SFT_ERR_GPU_BAD_ARGUMENT = 125,
  SFT_ERR_GPU_UNSUPPORTED = 126,
  SFT_ERR_GPU_VERIFY_FAILED = 127,
  SFT_ERR_TUNE_CACHE = 128,
  /* .npy files */
  SFT_ERR_NPY_BAD_HEADER = 140,
  SFT_ERR_NPY_UNSUPPORTED = 141,
  /* remote files over HTTP(S) (docs/remote.md) */
  SFT_ERR_REMOTE_URL = 160,
  SFT_ERR_REMOTE_UNSUPPORTED = 161,
  SFT_ERR_REMOTE_HTTP = 162,
  SFT_ERR_REMOTE_RANGE = 163,
  SFT_ERR_REMOTE_CHANGED = 164,
  SFT_ERR_REMOTE_TIMEOUT = 165,
  SFT_ERR_REMOTE_TOO_LARGE = 166,
  SFT_ERR_REMOTE_REDIRECT = 167,
  SFT_ERR_REMOTE_TLS = 168,
  SFT_ERR_REMOTE_CONNECTION = 169,
  SFT_ERR_REMOTE_ENCODING = 170,
  /* tensor-parallel plans and distributed loading (docs/distributed.md) */
  SFT_ERR_PLAN_INVALID = 180,
  SFT_ERR_PLAN_SPLIT = 181,
  SFT_ERR_PLAN_SUBBYTE = 182,
  SFT_ERR_PLAN_EXPERTS = 183,
  SFT_ERR_DIST_ENGINE = 184,
  SFT_ERR_DIST_TIMEOUT = 185,
  SFT_ERR_DIST_PEER_FAILED = 186,
  SFT_ERR_DIST_MISMATCH = 187
};

/* sft_error_offset() when no byte position applies. */
#define SFT_NO_OFFSET UINT64_MAX

/* An error: code, message, byte offset, tensor. Opaque; owned by the caller
 * of the function that produced it; released with sft_error_free(). Its
 * accessors are safe from several threads at once. */
typedef struct sft_error sft_error;

/* The error's code (never SFT_OK); SFT_ERR_INVALID_ARGUMENT for NULL. */
SFT_API sft_status sft_error_code(const sft_error* error);

/* What was wrong, in words: a NUL-terminated UTF-8 string owned by `error`,
 * valid until sft_error_free(error). "" for NULL. */
SFT_API const char* sft_error_message(const sft_error* error);

/* The byte offset in the file that the error concerns (header errors), or
 * SFT_NO_OFFSET. */
SFT_API uint64_t sft_error_offset(const sft_error* error);

/* The tensor concerned: its raw name bytes (not NUL-terminated; may contain
 * NUL), owned by `error`. Stores the length in *len (when len is not NULL);
 * 0 and a pointer to "" when no tensor is concerned. */
SFT_API const char* sft_error_tensor(const sft_error* error, size_t* len);

/* Everything on one line, "CODE_NAME: message (offset N, tensor NAME)", as
 * the C++ Error::to_string() (control characters of the name escaped).
 * NUL-terminated, owned by `error`, valid until sft_error_free(error). */
SFT_API const char* sft_error_string(const sft_error* error);

/* Release an error. NULL is accepted. */
SFT_API void sft_error_free(sft_error* error);

/* The snake_case name of a code ("header_length"), "unknown" for a value the
 * library does not know: a static string, never freed. */
SFT_API const char* sft_errc_name(sft_status code);

/* ------------------------------------------------------------------------- */
/* Data types                                                                */
/* ------------------------------------------------------------------------- */

/* The 22 dtypes of the format. These values are the C API's own and never
 * change (they equal today's sft::DType values, the reference's order). */
enum {
  SFT_DTYPE_BOOL = 0,
  SFT_DTYPE_F4 = 1,        /* float4 e2m1, two per byte, low nibble first */
  SFT_DTYPE_F6_E2M3 = 2,   /* float6, packed */
  SFT_DTYPE_F6_E3M2 = 3,
  SFT_DTYPE_U8 = 4,
  SFT_DTYPE_I8 = 5,
  SFT_DTYPE_F8_E5M2 = 6,
  SFT_DTYPE_F8_E4M3 = 7,
  SFT_DTYPE_F8_E8M0 = 8,
  SFT_DTYPE_F8_E4M3FNUZ = 9,
  SFT_DTYPE_F8_E5M2FNUZ = 10,
  SFT_DTYPE_I16 = 11,
  SFT_DTYPE_U16 = 12,
  SFT_DTYPE_F16 = 13,
  SFT_DTYPE_BF16 = 14,
  SFT_DTYPE_I32 = 15,
  SFT_DTYPE_U32 = 16,
  SFT_DTYPE_F32 = 17,
  SFT_DTYPE_C64 = 18,      /* complex of two F32 */
  SFT_DTYPE_F64 = 19,
  SFT_DTYPE_I64 = 20,
  SFT_DTYPE_U64 = 21,
  SFT_DTYPE_COUNT = 22     /* the number of dtypes this header knows */
};

/* The header spelling of a dtype ("BF16"), or NULL for an unknown value: a
 * static string, never freed. */
SFT_API const char* sft_dtype_name(int32_t dtype);

/* The dtype spelled exactly name[0..len) (case-sensitive), or -1. */
SFT_API int32_t sft_dtype_from_name(const char* name, size_t len);

/* Bits per element: 4 for F4, 6 for the F6 types, 8 x bytes otherwise; 0 for
 * an unknown value. */
SFT_API uint32_t sft_dtype_bits(int32_t dtype);

/* ------------------------------------------------------------------------- */
/* Opening a file                                                            */
/* ------------------------------------------------------------------------- */

/* sft_open_options.mode */
enum {
  SFT_READ_MMAP = 0,   /* map the file read-only: zero-copy views */
  SFT_READ_PREAD = 1   /* never map; copy bytes out with pread. A file that another
                          process truncates gives SFT_ERR_IO, never SIGBUS */
};

/* sft_open_options.hint: madvise hints for a mapped file */
enum {
  SFT_HINT_NORMAL = 0,
  SFT_HINT_SEQUENTIAL = 1,  /* whole-file streaming: read ahead */
  SFT_HINT_RANDOM = 2       /* scattered lookups: no read-ahead */
};

/* sft_open_options.flags (bitwise or) */
#define SFT_OPEN_POPULATE 0x1u           /* fault every page in at open (MAP_POPULATE) */
#define SFT_OPEN_REFUSE_COMPRESSED 0x2u  /* treat a compressed checkpoint as any non-safetensors file */

/* How to open a file. Zero-initialise it: every field's zero value is the
 * default (mmap, no hint, no flag, the default limits), so
 * `sft_open_options o = {0};` or passing NULL opens as sft::File::open does.
 * Limits (0 = default) bound the work done on an untrusted header; see
 * sft/limits.hpp. Unknown flag bits, unknown modes or hints and non-zero
 * reserved fields are SFT_ERR_INVALID_ARGUMENT. */
typedef struct sft_open_options {
  uint32_t mode;              /* SFT_READ_* */
  uint32_t hint;              /* SFT_HINT_* */
  uint32_t flags;             /* SFT_OPEN_* */
  uint32_t max_depth;         /* JSON nesting (0: 127, as the reference) */
  uint64_t max_header_bytes;  /* N (0: 100,000,000, the reference's limit) */
  uint64_t max_tensors;       /* 0: no limit */
  uint64_t max_rank;          /* 0: no limit */
  uint64_t max_name_bytes;    /* 0: no limit */
  uint64_t max_frame_bytes;   /* compressed checkpoints: one frame's bytes (0: 16 MiB) */
  uint64_t max_frames;        /* compressed checkpoints: seek-table entries (0: 2^24) */
  uint64_t reserved[4];       /* must be zero */
} sft_open_options;

/* An open safetensors file: the parsed, validated header and the source of
 * its bytes. Opaque. */
typedef struct sft_file sft_file;

/* Open the file at `path` (NUL-terminated) and validate its header. A
 * compressed checkpoint (docs/compression.md) is recognised and read as the
 * file it holds. `options` may be NULL (defaults). On success *out is a new
 * handle, released with sft_file_close(). Errors: SFT_ERR_IO (missing,
 * unreadable, not a regular file), every header error (code and byte
 * offset in the error object), compressed-file errors,
 * SFT_ERR_INVALID_ARGUMENT. */
SFT_API sft_status sft_file_open(const char* path, const sft_open_options* options, sft_file** out,
                                 sft_error** err);

/* Read a whole file already in memory: data[0..size) is borrowed, not copied,
 * and must stay alive and unchanged until the handle and every sft_bytes
 * loaded from it are released. Only the limits of `options` apply (NULL:
 * defaults). Views work as for a mapped file. */
SFT_API sft_status sft_file_open_memory(const void* data, size_t size, const sft_open_options* options,
                                        sft_file** out, sft_error** err);

/* Release the caller's reference to a file. Outstanding sft_bytes loaded from
 * it keep the file's bytes alive until they are freed; every pointer that
 * was obtained from `file` itself (tensor infos, metadata, views) becomes
 * invalid. NULL is accepted. */
SFT_API void sft_file_close(sft_file* file);

/* Bytes in the file (the decompressed size for a compressed checkpoint).
 * 0 for NULL. */
SFT_API uint64_t sft_file_size(const sft_file* file);

/* File offset of the data buffer: 8 + N, N the JSON header's length. */
SFT_API uint64_t sft_file_data_start(const sft_file* file);

/* Where the bytes come from: "mapped", "pread", "memory" or "compressed".
 * A static string, never freed. "" for NULL. */
SFT_API const char* sft_file_source_kind(const sft_file* file);

/* True when the bytes are in memory (mapped, or sft_file_open_memory): only
 * then does sft_file_view() succeed. */
SFT_API bool sft_file_is_mapped(const sft_file* file);

/* ------------------------------------------------------------------------- */
/* Describing tensors                                                        */
/* ------------------------------------------------------------------------- */

/* One tensor of a file. Every pointer in it points into the sft_file it was
 * described from and stays valid until that handle is closed. */
typedef struct sft_tensor_info {
  const char* name;        /* the name's raw bytes, NOT NUL-terminated (may contain NUL) */
  size_t name_len;
  const uint64_t* shape;   /* `rank` dimensions, outermost first */
  size_t rank;             /* 0 for a scalar */
  uint64_t data_begin;     /* data_offsets as in the header: relative to the data buffer */
  uint64_t data_end;
  uint64_t file_offset;    /* offset of the first byte in the file: data_start + data_begin */
  uint64_t byte_size;      /* data_end - data_begin */
  int32_t dtype;           /* SFT_DTYPE_* */
  uint32_t reserved0;      /* set to zero */
  uint64_t reserved[2];    /* set to zero */
} sft_tensor_info;

/* Number of tensors; they are indexed 0 .. count-1 in data order (ascending
 * offsets). 0 for NULL. */
SFT_API size_t sft_file_tensor_count(const sft_file* file);

/* Describe tensor `index` into *info. SFT_ERR_INVALID_ARGUMENT when index >=
 * sft_file_tensor_count(). */
SFT_API sft_status sft_file_tensor_info(const sft_file* file, size_t index, sft_tensor_info* info,
                                        sft_error** err);

/* The index of the tensor named name[0..name_len) (exact bytes; O(1)) in
 * *index. SFT_ERR_NOT_FOUND if there is none. */
SFT_API sft_status sft_file_find(const sft_file* file, const char* name, size_t name_len, size_t* index,
                                 sft_error** err);

/* ------------------------------------------------------------------------- */
/* Getting bytes                                                             */
/* ------------------------------------------------------------------------- */

/* A zero-copy view of tensor `index`: *data and *size describe its bytes in
 * the file's memory, valid until the file is closed. SFT_ERR_NOT_MAPPED when
 * the bytes are not in memory (pread mode, compressed checkpoints): copy them
 * with sft_file_read() or load them with sft_file_load() instead. The bytes
 * of a tensor are not aligned in general (the format does not align its data
 * buffer). A tensor of 0 bytes gives *size 0 and any pointer. */
SFT_API sft_status sft_file_view(const sft_file* file, size_t index, const void** data, size_t* size,
                                 sft_error** err);

/* Copy all bytes of tensor `index` into buffer[0..buffer_size); exactly
 * byte_size bytes are written. SFT_ERR_BUFFER_TOO_SMALL when buffer_size <
 * byte_size (nothing written); SFT_ERR_IO when a read fails. Works in every
 * mode. */
SFT_API sft_status sft_file_read(const sft_file* file, size_t index, void* buffer, size_t buffer_size,
                                 sft_error** err);

/* Copy `size` bytes starting `offset` bytes into tensor `index` into buffer:
 * for reading a large tensor in chunks. SFT_ERR_INVALID_ARGUMENT when the
 * range runs past the tensor's end. */
SFT_API sft_status sft_file_read_range(const sft_file* file, size_t index, uint64_t offset, void* buffer,
                                       size_t size, sft_error** err);

/* A tensor's (or a slice's) bytes with a lifetime of their own. Opaque. */
typedef struct sft_bytes sft_bytes;

/* The bytes of tensor `index` in every mode: a zero-copy view where the file
 * is in memory, otherwise a copy owned by the handle and aligned to 64
 * bytes. On success *out is a new handle, released with sft_bytes_free();
 * it keeps the file alive, so it may outlive sft_file_close(file). */
SFT_API sft_status sft_file_load(const sft_file* file, size_t index, sft_bytes** out, sft_error** err);

/* The bytes: valid until sft_bytes_free(bytes). NULL for NULL. */
SFT_API const void* sft_bytes_data(const sft_bytes* bytes);
/* Their length. */
SFT_API size_t sft_bytes_size(const sft_bytes* bytes);
/* The dtype (SFT_DTYPE_*); -1 for NULL. */
SFT_API int32_t sft_bytes_dtype(const sft_bytes* bytes);
/* The shape of these bytes (the tensor's, or the slice's): `*rank`
 * dimensions, valid until sft_bytes_free(bytes). */
SFT_API const uint64_t* sft_bytes_shape(const sft_bytes* bytes, size_t* rank);
/* True when the handle holds a copy (aligned to 64 bytes), false for a view of
 * the file's memory. */
SFT_API bool sft_bytes_owned(const sft_bytes* bytes);
/* Release the handle (and, if it was the last reference, the file). NULL is
 * accepted. */
SFT_API void sft_bytes_free(sft_bytes* bytes);

/* ------------------------------------------------------------------------- */
/* Slices                                                                    */
/* ------------------------------------------------------------------------- */

/* sft_slice.kind */
enum {
  SFT_SLICE_ALL = 0,    /* `:`     the whole dimension (start, stop, step ignored) */
  SFT_SLICE_RANGE = 1,  /* `start:stop:step` */
  SFT_SLICE_INDEX = 2   /* `i` (start): one index; the dimension is dropped */
};

/* An omitted range bound, Python's None (`::-1`). */
#define SFT_SLICE_NONE INT64_MIN

/* The selection on one dimension, with Python's semantics: negative indices
 * and bounds count from the end; range bounds beyond the dimension are
 * clamped (a range may be empty, never out of range); step may be negative
 * but not 0 (SFT_ERR_SLICE_BAD_RANGE); an index outside [-n, n) is
 * SFT_ERR_SLICE_OUT_OF_RANGE. An array of k selections applies to the first
 * k dimensions; the others are taken whole. So t[1:-1, ::2, 3] is
 *   { {SFT_SLICE_RANGE, 1, -1, 1}, {SFT_SLICE_RANGE, SFT_SLICE_NONE, SFT_SLICE_NONE, 2},
 *     {SFT_SLICE_INDEX, 3, 0, 0} }
 * and a zero-initialised sft_slice is `:`. Sub-byte dtypes (F4, F6) must be
 * sliced on byte boundaries (SFT_ERR_SLICE_SUBBYTE). */
typedef struct sft_slice {
  int64_t kind;   /* SFT_SLICE_* */
  int64_t start;  /* range: first index or SFT_SLICE_NONE; index: the index */
  int64_t stop;   /* range: index to stop before, or SFT_SLICE_NONE */
  int64_t step;   /* range: distance between indices (not 0) */
} sft_slice;

/* The result of slicing tensor `index` with slices[0..slice_count), without
 * reading anything: *rank (at most the tensor's rank) and *byte_size, and,
 * when `shape` is not NULL, the result's dimensions in shape[0..*rank).
 * SFT_ERR_BUFFER_TOO_SMALL when shape_capacity < *rank (*rank and *byte_size
 * still set). `rank` and `byte_size` may be NULL. Slice errors name the
 * tensor. `slices` may be NULL when slice_count is 0 (the whole tensor). */
SFT_API sft_status sft_file_slice_shape(const sft_file* file, size_t index, const sft_slice* slices,
                                        size_t slice_count, uint64_t* shape, size_t shape_capacity,
                                        size_t* rank, uint64_t* byte_size, sft_error** err);

/* Copy the slice's elements, in row-major order of the result, into
 * buffer[0..buffer_size) (byte_size bytes as sft_file_slice_shape() tells;
 * SFT_ERR_BUFFER_TOO_SMALL otherwise, nothing written). Every mode. */
SFT_API sft_status sft_file_read_slice(const sft_file* file, size_t index, const sft_slice* slices,
                                       size_t slice_count, void* buffer, size_t buffer_size, sft_error** err);

/* The slice as an sft_bytes with the slice's shape: a zero-copy view when its
 * bytes are one contiguous run in memory (a mapped file and a slice of the
 * leading dimension), otherwise an owned, aligned copy. Release with
 * sft_bytes_free(). */
SFT_API sft_status sft_file_slice(const sft_file* file, size_t index, const sft_slice* slices,
                                  size_t slice_count, sft_bytes** out, sft_error** err);

/* ------------------------------------------------------------------------- */
/* Metadata (__metadata__)                                                   */
/* ------------------------------------------------------------------------- */

/* True when the header has a __metadata__ object (an absent or null one:
 * false). */
SFT_API bool sft_file_has_metadata(const sft_file* file);

/* Number of metadata entries, in file order 0 .. count-1. */
SFT_API size_t sft_file_metadata_count(const sft_file* file);

/* Entry `index`: key and value as pointer + length (UTF-8; also
 * NUL-terminated, but a value may itself contain NUL, so use the lengths).
 * Valid until the file is closed. Any out-parameter may be NULL.
 * SFT_ERR_INVALID_ARGUMENT when index >= sft_file_metadata_count(). */
SFT_API sft_status sft_file_metadata_at(const sft_file* file, size_t index, const char** key, size_t* key_len,
                                        const char** value, size_t* value_len, sft_error** err);

/* The value of key[0..key_len), as sft_file_metadata_at() gives it.
 * SFT_ERR_NOT_FOUND if there is no such key. */
SFT_API sft_status sft_file_metadata_get(const sft_file* file, const char* key, size_t key_len,
                                         const char** value, size_t* value_len, sft_error** err);

/* ------------------------------------------------------------------------- */
/* Checkpoints: one file, or shards with an index (docs/checkpoints.md)       */
/* ------------------------------------------------------------------------- */

/* sft_checkpoint_options.flags (bitwise or) */
#define SFT_CHECKPOINT_STRICT 0x1u                   /* total_size problems are errors */
#define SFT_CHECKPOINT_FOLLOW_EXTERNAL_SYMLINKS 0x2u /* accept shards linking out of the directory (HF cache) */

/* Zero-initialise; NULL or zero values mean the defaults. */
typedef struct sft_checkpoint_options {
  sft_open_options open;     /* how each shard is opened */
  uint32_t flags;            /* SFT_CHECKPOINT_* */
  uint32_t reserved0;        /* must be zero */
  uint64_t max_index_bytes;  /* 0: 100,000,000 */
  uint64_t reserved[4];      /* must be zero */
} sft_checkpoint_options;

/* A checkpoint. Opaque. Shards are opened on first use. */
typedef struct sft_checkpoint sft_checkpoint;

/* Open a checkpoint: a .safetensors file, an index (*.json) or a directory
 * (model.safetensors.index.json, else one *.safetensors.index.json, else one
 * *.safetensors). Only the index is read now. Errors: SFT_ERR_BAD_INDEX,
 * SFT_ERR_DUPLICATE_KEY, SFT_ERR_SHARD_PATH, SFT_ERR_SHARD_MISSING,
 * SFT_ERR_NO_CHECKPOINT, SFT_ERR_IO, and a single file's open errors. */
SFT_API sft_status sft_checkpoint_open(const char* path, const sft_checkpoint_options* options,
                                       sft_checkpoint** out, sft_error** err);

/* Release the caller's reference. Shard handles from sft_checkpoint_shard() /
 * sft_checkpoint_find() and sft_bytes keep the checkpoint alive until they are
 * released; pointers obtained from the checkpoint itself (names) become
 * invalid. NULL is accepted. */
SFT_API void sft_checkpoint_close(sft_checkpoint* checkpoint);

/* True when opened through an index. */
SFT_API bool sft_checkpoint_sharded(const sft_checkpoint* checkpoint);

/* Number of shard files (1 for a single file). */
SFT_API size_t sft_checkpoint_shard_count(const sft_checkpoint* checkpoint);

/* Shard `index`'s file name, relative to the checkpoint's directory, sorted
 * bytewise: pointer + length (also NUL-terminated), valid until the
 * checkpoint is closed. */
SFT_API sft_status sft_checkpoint_shard_name(const sft_checkpoint* checkpoint, size_t index, const char** name,
                                             size_t* len, sft_error** err);

/* Shard `index` as a file handle, opening it if needed (an open error is
 * remembered and returned again). *out is a new handle, released with
 * sft_file_close(); it keeps the checkpoint alive. */
SFT_API sft_status sft_checkpoint_shard(const sft_checkpoint* checkpoint, size_t index, sft_file** out,
                                        sft_error** err);

/* Number of tensors the index lists (or the single file holds). */
SFT_API size_t sft_checkpoint_tensor_count(const sft_checkpoint* checkpoint);

/* Name `index` of the tensors, sorted bytewise: pointer + length (also
 * NUL-terminated; may contain NUL), valid until the checkpoint is closed. */
SFT_API sft_status sft_checkpoint_tensor_name(const sft_checkpoint* checkpoint, size_t index, const char** name,
                                              size_t* len, sft_error** err);

/* Where tensor name[0..name_len) lives: *shard, a new handle of its shard's
 * file (opened if needed; release with sft_file_close()), and *index, its
 * index in that file for the sft_file_* functions. Errors: SFT_ERR_NOT_FOUND,
 * SFT_ERR_SHARD_MISSING_TENSOR, the shard's open error. */
SFT_API sft_status sft_checkpoint_find(const sft_checkpoint* checkpoint, const char* name, size_t name_len,
                                       sft_file** shard, size_t* index, sft_error** err);

/* The tensor's bytes in every mode (sft_file_load() on its shard). */
SFT_API sft_status sft_checkpoint_load(const sft_checkpoint* checkpoint, const char* name, size_t name_len,
                                       sft_bytes** out, sft_error** err);

/* Open every shard and check every rule of docs/checkpoints.md; the first
 * error (SFT_ERR_SHARD_MISSING_TENSOR, SFT_ERR_SHARD_UNLISTED_TENSOR, a
 * shard's open error, SFT_ERR_TOTAL_SIZE_MISMATCH when strict). Warnings are
 * not reported here. */
SFT_API sft_status sft_checkpoint_validate(const sft_checkpoint* checkpoint, sft_error** err);

/* ------------------------------------------------------------------------- */
/* Writing                                                                   */
/* ------------------------------------------------------------------------- */

/* sft_writer_options.flags (bitwise or) */
#define SFT_WRITE_KEEP_ORDER 0x1u      /* tensors and metadata in insertion order, not the reference's */
#define SFT_WRITE_NO_SYNC 0x2u         /* no fsync: atomic against crashes of the process, not of the machine */
#define SFT_WRITE_EMPTY_METADATA 0x4u  /* write "__metadata__":{} even with no metadata key */

/* Zero-initialise; NULL or zero values mean the defaults (the reference's
 * layout, durable writes). */
typedef struct sft_writer_options {
  uint64_t alignment;    /* data buffer alignment: a power of two from 8 to 1 MiB (0: 8) */
  uint32_t flags;        /* SFT_WRITE_* */
  uint32_t reserved0;    /* must be zero */
  uint64_t reserved[4];  /* must be zero */
} sft_writer_options;

/* Collects tensors and metadata, then writes a file laid out exactly as the
 * reference implementation does (sft/writer.hpp). Opaque; one thread at a
 * time. */
typedef struct sft_writer sft_writer;

/* A new, empty writer; release with sft_writer_free(). SFT_ERR_BAD_ALIGNMENT,
 * SFT_ERR_INVALID_ARGUMENT. */
SFT_API sft_status sft_writer_new(const sft_writer_options* options, sft_writer** out, sft_error** err);

/* Release a writer (the borrowed tensor bytes are not touched). NULL is
 * accepted. */
SFT_API void sft_writer_free(sft_writer* writer);

/* Add a tensor: name[0..name_len) (UTF-8, may contain NUL), dtype, shape[0..rank)
 * (may be NULL when rank is 0) and its bytes data[0..size), which are
 * BORROWED: they must stay alive and unchanged until the last
 * sft_writer_write_file() / sft_writer_serialize() that uses them returns.
 * Name and shape are copied. Errors: SFT_ERR_DUPLICATE_NAME,
 * SFT_ERR_INVALID_NAME, SFT_ERR_RESERVED_NAME ("__metadata__"),
 * SFT_ERR_DATA_SIZE_MISMATCH (size is not dtype x shape),
 * SFT_ERR_SIZE_OVERFLOW, SFT_ERR_MISALIGNED_SUBBYTE, SFT_ERR_INVALID_ARGUMENT
 * (unknown dtype). */
SFT_API sft_status sft_writer_add(sft_writer* writer, const char* name, size_t name_len, int32_t dtype,
                                  const uint64_t* shape, size_t rank, const void* data, size_t size,
                                  sft_error** err);

/* Set (or replace) a metadata entry; both copied. SFT_ERR_INVALID_NAME when
 * key or value is not UTF-8. */
SFT_API sft_status sft_writer_set_metadata(sft_writer* writer, const char* key, size_t key_len,
                                           const char* value, size_t value_len, sft_error** err);

/* Write the file to `path` (NUL-terminated) atomically: a temporary in the
 * same directory, fsync, rename over the target. On any failure the target is
 * untouched and no temporary is left. SFT_ERR_WRITE_FAILED (message with the
 * OS error), SFT_ERR_HEADER_TOO_LARGE. The writer stays usable. */
SFT_API sft_status sft_writer_write_file(const sft_writer* writer, const char* path, sft_error** err);

/* The whole file into buffer[0..buffer_size). *size (required) receives the
 * file's size. With buffer NULL, only *size is computed (SFT_OK): the
 * way to size a buffer. SFT_ERR_BUFFER_TOO_SMALL (nothing written) when
 * buffer_size < *size. */
SFT_API sft_status sft_writer_serialize(const sft_writer* writer, void* buffer, size_t buffer_size,
                                        uint64_t* size, sft_error** err);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* SFT_SFT_H */
