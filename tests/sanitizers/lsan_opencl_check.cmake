# Script mode (cmake -P), from tests/lsan_opencl.cmake: run opencl_leak_probe
# MODE under ASan with an empty PoCL kernel cache and check what
# LeakSanitizer says (see tests/sanitizers/lsan.supp).
#   -DPROBE=binary -DMODE=clean|leak-program|leak-buffer -DSUPP=lsan.supp -DWORK=scratch dir
function(run_probe out_rc out_text suppressions)
  file(REMOVE_RECURSE ${WORK})
  file(MAKE_DIRECTORY ${WORK}/pocl-cache)
  set(ENV{POCL_CACHE_DIR} ${WORK}/pocl-cache)
  set(ENV{ASAN_OPTIONS} "detect_leaks=1")
  set(options "fast_unwind_on_malloc=0")
  if(suppressions)
    string(PREPEND options "suppressions=${SUPP}:")
  endif()
  set(ENV{LSAN_OPTIONS} "${options}")
  execute_process(COMMAND ${PROBE} ${MODE} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(${out_rc} ${rc} PARENT_SCOPE)
  set(${out_text} "${out}${err}" PARENT_SCOPE)
endfunction()

run_probe(rc text ON)
if(rc EQUAL 77)
  if("$ENV{SFT_REQUIRE_BACKENDS}" MATCHES "(^|,) *opencl *(,|$)")
    message(FATAL_ERROR "opencl is required (SFT_REQUIRE_BACKENDS) but has no device:\n${text}")
  endif()
  # ctest's SKIP_REGULAR_EXPRESSION (tests/lsan_opencl.cmake) matches this line.
  message("SFT-SKIP: no OpenCL device here:\n${text}")
  return()
endif()

if(MODE STREQUAL "clean")
  if(NOT rc EQUAL 0 OR text MATCHES "detected memory leaks")
    message(FATAL_ERROR "with the suppressions, a clean OpenCL run must report no leak (exit ${rc}):\n${text}")
  endif()
  # The suppression must be what makes it pass: without it, the runtime's own
  # compile-time leak shows, under the frame the suppression names.
  run_probe(rc text OFF)
  if(rc EQUAL 0 OR NOT text MATCHES "detected memory leaks" OR NOT text MATCHES "pocl_check_kernel_disk_cache")
    message(FATAL_ERROR "without the suppressions a cold-cache kernel compile should leak under "
                        "pocl_check_kernel_disk_cache (exit ${rc}); if PoCL no longer leaks there, remove the "
                        "suppression from tests/sanitizers/lsan.supp:\n${text}")
  endif()
  message(STATUS "clean: no leak with the suppressions; the runtime's compile-time leak without them")
else()
  if(MODE STREQUAL "leak-program")
    set(frame probe_create_program)
  else()
    set(frame probe_create_buffer)
  endif()
  if(rc EQUAL 0 OR NOT text MATCHES "detected memory leaks" OR NOT text MATCHES "${frame}")
    message(FATAL_ERROR "a leak made by the caller (${MODE}, allocated under ${frame}) must be reported "
                        "despite the suppressions (exit ${rc}):\n${text}")
  endif()
  message(STATUS "${MODE}: reported under ${frame}, as it must be")
endif()
