/* Prints the layout of every public struct of sft.h and the value of every
 * constant that is not an error code (those are checked against the C++ enum
 * at compile time and by capi.error_codes). tests/capi.cmake compares the
 * output with tests/c/abi_layout.txt: a change there is an ABI change.
 * The committed layout is that of LP64 platforms (64-bit Linux, macOS);
 * elsewhere the test is skipped (exit 77). */
#include <sft/sft.h>

#include <stddef.h>
#include <stdio.h>

#define STRUCT(s) printf("%s size %zu align %zu\n", #s, sizeof(s), _Alignof(s))
#define FIELD(s, f) printf("%s.%s offset %zu size %zu\n", #s, #f, offsetof(s, f), sizeof(((s*)0)->f))
#define CONST(c) printf("%s %lld\n", #c, (long long)(c))

int main(void) {
  if (sizeof(void*) != 8 || sizeof(long) != 8) {
    printf("skipped: the committed layout is for LP64 platforms\n");
    return 77;
  }
  STRUCT(sft_open_options);
  FIELD(sft_open_options, mode);
  FIELD(sft_open_options, hint);
  FIELD(sft_open_options, flags);
  FIELD(sft_open_options, max_depth);
  FIELD(sft_open_options, max_header_bytes);
  FIELD(sft_open_options, max_tensors);
  FIELD(sft_open_options, max_rank);
  FIELD(sft_open_options, max_name_bytes);
  FIELD(sft_open_options, max_frame_bytes);
  FIELD(sft_open_options, max_frames);
  FIELD(sft_open_options, reserved);

  STRUCT(sft_tensor_info);
  FIELD(sft_tensor_info, name);
  FIELD(sft_tensor_info, name_len);
  FIELD(sft_tensor_info, shape);
  FIELD(sft_tensor_info, rank);
  FIELD(sft_tensor_info, data_begin);
  FIELD(sft_tensor_info, data_end);
  FIELD(sft_tensor_info, file_offset);
  FIELD(sft_tensor_info, byte_size);
  FIELD(sft_tensor_info, dtype);
  FIELD(sft_tensor_info, reserved0);
  FIELD(sft_tensor_info, reserved);

  STRUCT(sft_slice);
  FIELD(sft_slice, kind);
  FIELD(sft_slice, start);
  FIELD(sft_slice, stop);
  FIELD(sft_slice, step);

  STRUCT(sft_checkpoint_options);
  FIELD(sft_checkpoint_options, open);
  FIELD(sft_checkpoint_options, flags);
  FIELD(sft_checkpoint_options, reserved0);
  FIELD(sft_checkpoint_options, max_index_bytes);
  FIELD(sft_checkpoint_options, reserved);

  STRUCT(sft_writer_options);
  FIELD(sft_writer_options, alignment);
  FIELD(sft_writer_options, flags);
  FIELD(sft_writer_options, reserved0);
  FIELD(sft_writer_options, reserved);

  printf("sft_status size %zu\n", sizeof(sft_status));
  CONST(SFT_ABI_VERSION);
  CONST(SFT_NO_OFFSET == UINT64_MAX);
  CONST(SFT_DTYPE_BOOL); CONST(SFT_DTYPE_F4); CONST(SFT_DTYPE_F6_E2M3); CONST(SFT_DTYPE_F6_E3M2);
  CONST(SFT_DTYPE_U8); CONST(SFT_DTYPE_I8); CONST(SFT_DTYPE_F8_E5M2); CONST(SFT_DTYPE_F8_E4M3);
  CONST(SFT_DTYPE_F8_E8M0); CONST(SFT_DTYPE_F8_E4M3FNUZ); CONST(SFT_DTYPE_F8_E5M2FNUZ); CONST(SFT_DTYPE_I16);
  CONST(SFT_DTYPE_U16); CONST(SFT_DTYPE_F16); CONST(SFT_DTYPE_BF16); CONST(SFT_DTYPE_I32); CONST(SFT_DTYPE_U32);
  CONST(SFT_DTYPE_F32); CONST(SFT_DTYPE_C64); CONST(SFT_DTYPE_F64); CONST(SFT_DTYPE_I64); CONST(SFT_DTYPE_U64);
  CONST(SFT_READ_MMAP); CONST(SFT_READ_PREAD);
  CONST(SFT_HINT_NORMAL); CONST(SFT_HINT_SEQUENTIAL); CONST(SFT_HINT_RANDOM);
  CONST(SFT_OPEN_POPULATE); CONST(SFT_OPEN_REFUSE_COMPRESSED);
  CONST(SFT_SLICE_ALL); CONST(SFT_SLICE_RANGE); CONST(SFT_SLICE_INDEX); CONST(SFT_SLICE_NONE);
  CONST(SFT_CHECKPOINT_STRICT); CONST(SFT_CHECKPOINT_FOLLOW_EXTERNAL_SYMLINKS);
  CONST(SFT_WRITE_KEEP_ORDER); CONST(SFT_WRITE_NO_SYNC); CONST(SFT_WRITE_EMPTY_METADATA);
  return 0;
}
