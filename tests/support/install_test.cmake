# Script mode (cmake -P): install, configure a consumer with find_package(sft), build, run;
# then build the C consumer (the C API) with pkg-config's flags alone and run it.
file(REMOVE_RECURSE ${SFT_SCRATCH})
set(prefix ${SFT_SCRATCH}/prefix)
execute_process(COMMAND ${CMAKE_COMMAND} --install ${SFT_BUILD_DIR} --prefix ${prefix}
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
# Public headers must not pull in private dependencies (simdjson, xxHash,
# zstd) nor GPU toolkits (CUDA, OpenCL).
file(GLOB_RECURSE installed_headers ${prefix}/include/sft/*.hpp ${prefix}/include/sft/*.h)
if(NOT installed_headers)
  message(FATAL_ERROR "no headers were installed under ${prefix}/include/sft")
endif()
foreach(h ${installed_headers})
  file(STRINGS ${h} bad REGEX "#[ ]*include[ ]*[<\"](simdjson|xxhash|zstd|cuda|CL/|OpenCL/)")
  if(bad)
    message(FATAL_ERROR "${h} includes a private or GPU header: ${bad}")
  endif()
endforeach()
# The C API's header includes nothing but the three C headers it promises.
if(NOT EXISTS ${prefix}/include/sft/sft.h)
  message(FATAL_ERROR "include/sft/sft.h (the C API) was not installed")
endif()
file(STRINGS ${prefix}/include/sft/sft.h c_includes REGEX "#[ ]*include")
foreach(inc IN LISTS c_includes)
  if(NOT inc MATCHES "<(stddef|stdint|stdbool)\\.h>")
    message(FATAL_ERROR "sft.h includes more than stddef.h, stdint.h, stdbool.h: ${inc}")
  endif()
endforeach()
# A sanitizer build installs an instrumented static library: the consumer
# must link the same runtimes.
set(consumer_flags "")
set(sanitize_flags "")
if(SANITIZE)
  set(sanitize_flags -fsanitize=address,undefined)
  set(consumer_flags "-DCMAKE_CXX_FLAGS=${sanitize_flags}" "-DCMAKE_C_FLAGS=${sanitize_flags}"
                     "-DCMAKE_EXE_LINKER_FLAGS=${sanitize_flags}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SFT_CONSUMER_SRC} -B ${SFT_SCRATCH}/build -G ${CMAKE_GENERATOR}
                        -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_C_COMPILER=${CC}
                        ${consumer_flags}
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the consumer failed: ${rc}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${SFT_SCRATCH}/build RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the consumer failed: ${rc}")
endif()
execute_process(COMMAND ${SFT_SCRATCH}/build/consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message(STATUS "${out}")
if(rc OR NOT out MATCHES "consumer ok: 1 tensor")
  message(FATAL_ERROR "the consumer failed: ${rc} ${out}")
endif()

# The C API through find_package: a C program linked against sft::sft.
execute_process(COMMAND ${SFT_SCRATCH}/build/c_consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message(STATUS "${out}")
if(rc OR NOT out MATCHES "c consumer ok: 1 tensor")
  message(FATAL_ERROR "the C consumer (find_package) failed: ${rc} ${out}")
endif()

# The C API through pkg-config alone: `cc main.c $(pkg-config --cflags --libs sft)`.
if(NOT PKG_CONFIG)
  message(STATUS "skipped the pkg-config consumer: pkg-config was not found (scripts/install-deps.sh installs it)")
  return()
endif()
file(GLOB_RECURSE pc_files ${prefix}/*/sft.pc)
if(NOT pc_files)
  message(FATAL_ERROR "sft.pc was not installed under ${prefix}")
endif()
list(GET pc_files 0 pc_file)
get_filename_component(pc_dir ${pc_file} DIRECTORY)
execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pc_dir} ${PKG_CONFIG} --cflags --libs sft
                RESULT_VARIABLE rc OUTPUT_VARIABLE pc_flags ERROR_VARIABLE pc_err OUTPUT_STRIP_TRAILING_WHITESPACE)
if(rc)
  message(FATAL_ERROR "pkg-config --cflags --libs sft failed: ${pc_err}")
endif()
message(STATUS "pkg-config --cflags --libs sft: ${pc_flags}")
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
# An instrumented libsft holds UBSan's C++ checks (vptr), whose runtime clang
# links only for C++ programs unless asked to.
if(SANITIZE AND CC MATCHES "clang")
  list(APPEND sanitize_flags -fsanitize-link-c++-runtime)
endif()
execute_process(COMMAND ${CC} -std=c11 -Wall -Wextra -Werror -pedantic ${sanitize_flags}
                        ${SFT_CONSUMER_SRC}/main.c ${pc_flags} -o ${SFT_SCRATCH}/c_consumer_pkgconfig
                RESULT_VARIABLE rc ERROR_VARIABLE cc_err)
if(rc)
  message(FATAL_ERROR "building the C consumer with pkg-config's flags failed: ${cc_err}")
endif()
execute_process(COMMAND ${SFT_SCRATCH}/c_consumer_pkgconfig RESULT_VARIABLE rc OUTPUT_VARIABLE out)
message(STATUS "${out}")
if(rc OR NOT out MATCHES "c consumer ok: 1 tensor")
  message(FATAL_ERROR "the C consumer (pkg-config) failed: ${rc} ${out}")
endif()
