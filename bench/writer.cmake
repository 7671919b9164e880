# The writer's benchmark driver (included by bench/CMakeLists.txt, which globs
# bench/*.cmake; bench/bench_writer.cpp is picked up by its bench_*.cpp glob).
# sft_write_driver is the sft side of bench/write_compare.py and the 8 GiB
# streaming demonstration (see bench/RESULTS-writer.md).
if(NOT TARGET sft_write_driver)
  add_executable(sft_write_driver ${CMAKE_CURRENT_LIST_DIR}/write_driver.cpp)
  target_link_libraries(sft_write_driver PRIVATE sft::sft)
  set_target_properties(sft_write_driver PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
  sft_warnings(sft_write_driver)
endif()
