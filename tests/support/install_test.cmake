# Script mode (cmake -P): install, configure a consumer with find_package(sft), build, run.
file(REMOVE_RECURSE ${SFT_SCRATCH})
set(prefix ${SFT_SCRATCH}/prefix)
execute_process(COMMAND ${CMAKE_COMMAND} --install ${SFT_BUILD_DIR} --prefix ${prefix}
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
# Public headers must not pull in private dependencies (simdjson, xxHash,
# zstd) nor GPU toolkits (CUDA, OpenCL).
file(GLOB_RECURSE installed_headers ${prefix}/include/sft/*.hpp)
if(NOT installed_headers)
  message(FATAL_ERROR "no headers were installed under ${prefix}/include/sft")
endif()
foreach(h ${installed_headers})
  file(STRINGS ${h} bad REGEX "#[ ]*include[ ]*[<\"](simdjson|xxhash|zstd|cuda|CL/|OpenCL/)")
  if(bad)
    message(FATAL_ERROR "${h} includes a private or GPU header: ${bad}")
  endif()
endforeach()
# A sanitizer build installs an instrumented static library: the consumer
# must link the same runtimes.
set(consumer_flags "")
if(SANITIZE)
  set(consumer_flags "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined" "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SFT_CONSUMER_SRC} -B ${SFT_SCRATCH}/build -G ${CMAKE_GENERATOR}
                        -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX} ${consumer_flags}
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
