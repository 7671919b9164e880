/* sft/sft.h promises C99: this file is compiled as C99 with -pedantic -Werror
 * (tests/capi.cmake), so that a C11-ism in the header breaks the build. */
#include <sft/sft.h>

int sft_header_is_c99(void);
int sft_header_is_c99(void) {
  sft_open_options o = {0};
  sft_slice s = {SFT_SLICE_RANGE, 0, SFT_SLICE_NONE, 1};
  return (int)(o.mode + (uint32_t)s.kind) + (int)sizeof(sft_tensor_info) + (int)true;
}
