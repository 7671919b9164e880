# The C API (include/sft/sft.h, docs/c-api.md): its tests, written in C11 and
# compiled as a C user would compile them, and the ABI checks.
#   capi.NAME         one test function of tests/c/capi_test.c (each T(NAME) line of its table)
#   capi.abi_symbols  the exported sft_* functions equal tests/c/abi_symbols.txt and the header
#   capi.abi_layout   struct sizes, field offsets and constants equal tests/c/abi_layout.txt
set(SFT_CAPI_DIR ${CMAKE_CURRENT_SOURCE_DIR}/c)
foreach(exe capi_test abi_layout)
  add_executable(${exe} ${SFT_CAPI_DIR}/${exe}.c)
  set_target_properties(${exe} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${exe} PRIVATE -Wall -Wextra -Werror -pedantic)
  endif()
  # A static libsft brings the C++ runtime along: CMake links with the C++ driver.
  target_link_libraries(${exe} PRIVATE sft::sft)
endforeach()

# The header is C99: compiled as such (a compile-time check, nothing to run).
add_library(capi_header_c99 OBJECT ${SFT_CAPI_DIR}/header_c99.c)
set_target_properties(capi_header_c99 PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_include_directories(capi_header_c99 PRIVATE ${PROJECT_SOURCE_DIR}/include)
if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(capi_header_c99 PRIVATE -Wall -Wextra -Werror -pedantic)
endif()

file(STRINGS ${SFT_CAPI_DIR}/capi_test.c capi_lines REGEX "^    T\\([a-z0-9_]+\\),$")
foreach(line IN LISTS capi_lines)
  string(REGEX REPLACE "^    T\\(([a-z0-9_]+)\\),$" "\\1" name "${line}")
  add_test(NAME capi.${name} COMMAND capi_test ${name})
  set_tests_properties(capi.${name} PROPERTIES
                       ENVIRONMENT "SFT_TEST_TMP=${CMAKE_CURRENT_BINARY_DIR}/tmp;SFT_CLI=$<$<TARGET_EXISTS:sft_cli>:$<TARGET_FILE:sft_cli>>"
                       SKIP_REGULAR_EXPRESSION "skipped: ")
endforeach()
if(NOT capi_lines)
  message(FATAL_ERROR "no T(name) line found in ${SFT_CAPI_DIR}/capi_test.c")
endif()

add_test(NAME capi.abi_symbols
  COMMAND ${CMAKE_COMMAND} -DMODE=symbols -DNM=${CMAKE_NM} -DLIBRARY=$<TARGET_FILE:sft>
          -DLIBRARY_TYPE=$<TARGET_PROPERTY:sft,TYPE> -DEXPECTED=${SFT_CAPI_DIR}/abi_symbols.txt
          -DHEADER=${PROJECT_SOURCE_DIR}/include/sft/sft.h -P ${SFT_CAPI_DIR}/abi_check.cmake)
add_test(NAME capi.abi_layout
  COMMAND ${CMAKE_COMMAND} -DMODE=layout -DPROGRAM=$<TARGET_FILE:abi_layout>
          -DEXPECTED=${SFT_CAPI_DIR}/abi_layout.txt -P ${SFT_CAPI_DIR}/abi_check.cmake)
set_tests_properties(capi.abi_layout PROPERTIES SKIP_REGULAR_EXPRESSION "skipped: ")
