# Scripted CLI tests of what an outside attack found (issue 13): commands that
# stay within memory on files claiming huge tensors, temporaries removed on
# SIGINT/SIGTERM, modes kept when a file is replaced. Each script in tests/py/
# builds its own inputs; they need only the Python standard library.
if(NOT TARGET sft_cli)
  return()
endif()
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  message(WARNING "python3 not found: the CLI robustness tests are not registered")
  return()
endif()

# ASan reserves terabytes of address space for its shadow memory, so an
# address-space limit (ulimit -v) cannot apply to a sanitized binary: the
# script is told so and skips (exit 77) with that reason.
if(SFT_SANITIZE)
  set(SFT_ULIMIT_NOTE "--sanitized")
else()
  set(SFT_ULIMIT_NOTE "")
endif()
add_test(NAME cli.extract_bounded_memory
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/py/extract_bounded_memory.py
                 $<TARGET_FILE:sft_cli> ${CMAKE_CURRENT_BINARY_DIR}/extract-bounded-memory-work ${SFT_ULIMIT_NOTE})
set_tests_properties(cli.extract_bounded_memory PROPERTIES SKIP_RETURN_CODE 77 LABELS cli TIMEOUT 300)
