# The remote-read benchmark driver (included by bench/CMakeLists.txt, which
# globs bench/*.cmake). sft_remote_load is the sft side of bench/remote_bench.py:
# it opens a URL and reads the whole data region into memory (see
# bench/RESULTS-remote.md).
if(NOT TARGET sft_remote_load)
  add_executable(sft_remote_load ${CMAKE_CURRENT_LIST_DIR}/remote_load.cpp)
  target_link_libraries(sft_remote_load PRIVATE sft::sft)
  set_target_properties(sft_remote_load PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
  sft_warnings(sft_remote_load)
endif()
