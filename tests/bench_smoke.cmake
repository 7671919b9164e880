# CI smoke test of the benchmark harness: bench/compare.py --quick with tiny
# workloads against sft_bench_driver, checking that it runs and produces a
# well-formed report in which both sides read the same bytes. No time is
# asserted. The driver is built here even when SFT_BUILD_BENCH is OFF (it
# needs no Google Benchmark); skipped (77) when the reference package is absent.
include(${PROJECT_SOURCE_DIR}/bench/sft_bench_driver.cmake)
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME bench_compare_smoke
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/py/bench_smoke.py
                   --driver $<TARGET_FILE:sft_bench_driver>
                   --work-dir ${CMAKE_CURRENT_BINARY_DIR}/bench_smoke)
  set_tests_properties(bench_compare_smoke PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS bench)
endif()
