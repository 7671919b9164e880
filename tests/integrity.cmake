# CLI tests of hash, verify, compress and decompress (tests/py/integrity_cli.py):
# exit codes, embedded digests read back by the reference package, and
# `zstd -d` restoring compressed checkpoints byte for byte (that part is
# skipped inside the script when the zstd command-line tool is missing).
if(NOT TARGET sft_cli)
  return()
endif()
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  message(WARNING "python3 not found: the integrity CLI tests are not registered")
  return()
endif()
add_test(NAME integrity_cli
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/py/integrity_cli.py
                 $<TARGET_FILE:sft_cli> ${SFT_FIXTURES_DIR} ${CMAKE_CURRENT_BINARY_DIR}/integrity-cli-work)
set_tests_properties(integrity_cli PROPERTIES SKIP_RETURN_CODE 77 LABELS cli TIMEOUT 300)
