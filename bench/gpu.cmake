# The GPU layer's benchmark (bench/bench_gpu.cpp): the upload pipeline against
# memcpy and a plain pinned-copy loop in the same run. Included by
# bench/CMakeLists.txt (SFT_BUILD_BENCH=ON), which may already have made the
# target from its bench_*.cpp glob: then this only adds sft_gpu to it.
# bench_gpu.cpp has its own main(): it measures memcpy before the benchmarks
# run, so benchmark_main's is never pulled in.
# Run: build/bench/bench_gpu (SFT_BENCH_GPU_MB: file size, default 512;
# SFT_BENCH_DIR: where the file is written, default /tmp).
if(NOT TARGET sft_gpu)
  if(TARGET bench_gpu)
    set_target_properties(bench_gpu PROPERTIES EXCLUDE_FROM_ALL ON)
  endif()
  return()
endif()
find_package(benchmark QUIET)
if(NOT benchmark_FOUND)
  message(STATUS "bench_gpu: Google Benchmark not found, not built")
  return()
endif()
if(NOT TARGET bench_gpu)
  add_executable(bench_gpu ${CMAKE_CURRENT_LIST_DIR}/bench_gpu.cpp)
  set_target_properties(bench_gpu PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
  target_link_libraries(bench_gpu PRIVATE sft::sft benchmark::benchmark)
  sft_warnings(bench_gpu)
endif()
target_link_libraries(bench_gpu PRIVATE sft_gpu)

# The autotuner's benchmark (bench/gpu_tune_bench.cpp, driven by
# bench/gpu_tune_compare.sh): its own main, no Google Benchmark.
add_executable(bench_gpu_tune ${CMAKE_CURRENT_LIST_DIR}/gpu_tune_bench.cpp)
set_target_properties(bench_gpu_tune PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
target_link_libraries(bench_gpu_tune PRIVATE sft_gpu)
sft_warnings(bench_gpu_tune)
