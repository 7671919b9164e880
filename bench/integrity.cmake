# Benchmarks of digests and compressed checkpoints (bench/bench_digest.cpp,
# bench/bench_compress.cpp; figures in bench/RESULTS-integrity.md). Included by
# bench/CMakeLists.txt (SFT_BUILD_BENCH=ON), whose bench_*.cpp glob normally
# makes both targets already; this makes them only when it has not.
# Run: build/bench/bench_digest, build/bench/bench_compress
# (SFT_FIXTURES_DIR: where real/*.safetensors are, default ../shared/fixtures).
find_package(benchmark QUIET)
if(NOT benchmark_FOUND)
  message(STATUS "bench_digest, bench_compress: Google Benchmark not found, not built")
  return()
endif()
foreach(name bench_digest bench_compress)
  if(NOT TARGET ${name})
    add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.cpp)
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
    target_link_libraries(${name} PRIVATE sft::sft benchmark::benchmark benchmark::benchmark_main)
    sft_warnings(${name})
  endif()
endforeach()
