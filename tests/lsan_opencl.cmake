# LeakSanitizer suppressions for the OpenCL runtime (tests/sanitizers/lsan.supp),
# checked in every sanitizer build with OpenCL: opencl_leak_probe runs a kernel
# with an empty PoCL cache and must be clean with the suppressions and leak
# without them, and a cl_program or cl_mem it never releases must still be
# reported with them (tests/sanitizers/lsan_opencl_check.cmake). Skipped
# without an OpenCL device, unless SFT_REQUIRE_BACKENDS lists opencl.
if(NOT SFT_SANITIZE)
  return()
endif()
find_package(OpenCL QUIET)
if(NOT OpenCL_FOUND)
  return()
endif()
add_executable(opencl_leak_probe ${CMAKE_CURRENT_SOURCE_DIR}/support/opencl_leak_probe.cpp)
target_include_directories(opencl_leak_probe PRIVATE ${OpenCL_INCLUDE_DIRS})
target_compile_definitions(opencl_leak_probe PRIVATE CL_TARGET_OPENCL_VERSION=120)
target_link_libraries(opencl_leak_probe PRIVATE sft_sanitize ${OpenCL_LIBRARIES})
foreach(mode clean leak-program leak-buffer)
  add_test(NAME lsan_suppressions_opencl_${mode}
           COMMAND ${CMAKE_COMMAND} -DPROBE=$<TARGET_FILE:opencl_leak_probe> -DMODE=${mode}
                   -DSUPP=${SFT_LSAN_SUPPRESSIONS} -DWORK=${CMAKE_CURRENT_BINARY_DIR}/lsan-opencl-${mode}
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/sanitizers/lsan_opencl_check.cmake)
  set_tests_properties(lsan_suppressions_opencl_${mode} PROPERTIES SKIP_REGULAR_EXPRESSION "SFT-SKIP:"
                       TIMEOUT 600 LABELS sanitizer)
endforeach()
