# The GPU layer's benchmark (bench/bench_gpu.cpp): the upload pipeline against
# memcpy and a plain pinned-copy loop in the same run. Include this file from
# bench/CMakeLists.txt (SFT_BUILD_BENCH=ON); it adds the target bench_gpu when
# sft_gpu and Google Benchmark are there. Run: build/bench/bench_gpu
# (SFT_BENCH_GPU_MB sets the file size, SFT_BENCH_DIR where it is written).
if(NOT TARGET sft_gpu)
  return()
endif()
find_package(benchmark QUIET)
if(NOT benchmark_FOUND)
  message(STATUS "bench_gpu: Google Benchmark not found, not built")
  return()
endif()
add_executable(bench_gpu ${CMAKE_CURRENT_LIST_DIR}/bench_gpu.cpp)
target_link_libraries(bench_gpu PRIVATE sft_gpu benchmark::benchmark)
sft_warnings(bench_gpu)
