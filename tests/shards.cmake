# Sharded checkpoints and the split / merge / convert / diff commands:
#  - the golden-test inputs under tests/cli/files/checkpoints are what
#    tests/cli/make_checkpoint_files.py writes;
#  - tests/py/shards_reference.py checks the commands against huggingface_hub,
#    safetensors and ml_dtypes (each part skipped with a note when its module
#    is missing; the whole test skips without numpy or safetensors).
# The golden cases themselves (tests/cli/cases/{split,merge,convert,diff,...}_*)
# are registered by tests/cli.cmake.
if(NOT TARGET sft_cli)
  return()
endif()
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  message(WARNING "python3 not found: the checkpoint tests are not registered")
  return()
endif()
add_test(NAME cli.checkpoint_files_up_to_date
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/cli/make_checkpoint_files.py --check)
set_tests_properties(cli.checkpoint_files_up_to_date PROPERTIES LABELS cli)
add_test(NAME py.shards_reference
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/py/shards_reference.py
                 $<TARGET_FILE:sft_cli> ${CMAKE_CURRENT_BINARY_DIR}/shards-reference)
set_tests_properties(py.shards_reference PROPERTIES SKIP_RETURN_CODE 77 LABELS py TIMEOUT 300)
