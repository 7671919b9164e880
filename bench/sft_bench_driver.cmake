# sft_bench_driver: the sft side of bench/compare.py, a plain executable (no
# Google Benchmark) in ${PROJECT_BINARY_DIR}/bin. Included by bench/CMakeLists.txt
# and by tests/bench_smoke.cmake, so it is built whenever either is on; the
# guard keeps the second inclusion from defining it twice. Extra operations are
# bench/driver_op_*.cpp files (see bench/driver.hpp).
if(NOT TARGET sft_bench_driver)
  file(GLOB SFT_BENCH_DRIVER_OPS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/driver_op_*.cpp)
  add_executable(sft_bench_driver ${CMAKE_CURRENT_LIST_DIR}/sft_bench_driver.cpp
                                  ${CMAKE_CURRENT_LIST_DIR}/support/workload.cpp ${SFT_BENCH_DRIVER_OPS})
  target_link_libraries(sft_bench_driver PRIVATE sft::sft)
  target_include_directories(sft_bench_driver PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  target_compile_definitions(sft_bench_driver PRIVATE SFT_BENCH_BUILD_TYPE="${CMAKE_BUILD_TYPE}")
  # The write operation needs sft's Writer. Decided here rather than by
  # __has_include alone: a header that appears later (a merge) is no dependency
  # of an object that never included it, so the build would not notice; a
  # CONFIGURE_DEPENDS glob makes the build re-check and recompile.
  file(GLOB SFT_BENCH_WRITER_HEADER CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/sft/writer.hpp)
  if(SFT_BENCH_WRITER_HEADER)
    target_compile_definitions(sft_bench_driver PRIVATE SFT_BENCH_HAVE_WRITER=1)
  endif()
  set_target_properties(sft_bench_driver PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
  sft_warnings(sft_bench_driver)
endif()
