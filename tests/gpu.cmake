# Tests of the GPU layer beyond the GoogleTest suites (tests/gpu_*_test.cpp):
# the conversion kernels against ml_dtypes, bit for bit, on the CPU and OpenCL
# backends (a backend with no device here skips, exit code 77).
if(NOT TARGET sft_gpu)
  return()
endif()

add_executable(gpu_convert_dump ${CMAKE_CURRENT_LIST_DIR}/support/gpu_convert_dump.cpp)
target_link_libraries(gpu_convert_dump PRIVATE sft_gpu)
sft_warnings(gpu_convert_dump)

find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  foreach(backend cpu opencl cuda)
    add_test(NAME gpu_convert_vs_ml_dtypes_${backend}
             COMMAND Python3::Interpreter ${CMAKE_CURRENT_LIST_DIR}/py/gpu_convert_vs_ml_dtypes.py
                     --dump $<TARGET_FILE:gpu_convert_dump> --backend ${backend})
    # sft's kernel cache off: this test reads or fills no cache of the user's.
    set_tests_properties(gpu_convert_vs_ml_dtypes_${backend} PROPERTIES SKIP_RETURN_CODE 77 LABELS gpu TIMEOUT 120
                         ENVIRONMENT "SFT_KERNEL_CACHE=off")
    if(SFT_SANITIZE)
      set_tests_properties(gpu_convert_vs_ml_dtypes_${backend} PROPERTIES ENVIRONMENT_MODIFICATION "${SFT_LSAN_OPENCL_ENV}")
    endif()
  endforeach()
endif()

# The CLI end to end: `sft gpu info`, `sft gpu load --verify` over the real
# fixtures on each backend (skipped where the backend has no device).
if(TARGET sft_cli AND Python3_Interpreter_FOUND)
  foreach(backend cpu opencl cuda)
    add_test(NAME gpu_cli_${backend}
             COMMAND Python3::Interpreter ${CMAKE_CURRENT_LIST_DIR}/py/gpu_cli.py $<TARGET_FILE:sft_cli> ${backend}
                     ${SFT_FIXTURES_DIR})
    set_tests_properties(gpu_cli_${backend} PROPERTIES SKIP_RETURN_CODE 77 LABELS gpu TIMEOUT 300)
    if(SFT_SANITIZE)
      set_tests_properties(gpu_cli_${backend} PROPERTIES ENVIRONMENT_MODIFICATION "${SFT_LSAN_OPENCL_ENV}")
    endif()
  endforeach()
endif()
