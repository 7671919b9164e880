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

# An address-space limit (ulimit -v) cannot apply to a sanitized binary: ASan
# reserves terabytes for its shadow memory. The test is registered only in
# builds without sanitizers (scripts/test.sh's release stage runs it), so that
# it never shows up as a skip, which CI refuses (scripts/ctest_report.py).
if(NOT SFT_SANITIZE)
  add_test(NAME cli.extract_bounded_memory
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/py/extract_bounded_memory.py
                   $<TARGET_FILE:sft_cli> ${CMAKE_CURRENT_BINARY_DIR}/extract-bounded-memory-work)
  set_tests_properties(cli.extract_bounded_memory PROPERTIES SKIP_RETURN_CODE 77 LABELS cli TIMEOUT 300)
endif()

# SIGINT / SIGTERM / SIGHUP in the middle of `sft rewrite` (stopped at a known
# point with SFT_TEST_STALL): the temporary is removed, OUT untouched.
add_test(NAME cli.signal_removes_temporaries
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/py/signal_temporaries.py
                 $<TARGET_FILE:sft_cli> ${CMAKE_CURRENT_BINARY_DIR}/signal-temporaries-work)
set_tests_properties(cli.signal_removes_temporaries PROPERTIES LABELS cli TIMEOUT 300)

# Replacing a file keeps its mode (and owner where permitted); new files honour the umask.
add_test(NAME cli.replaced_files_keep_their_mode
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/py/file_modes.py
                 $<TARGET_FILE:sft_cli> ${CMAKE_CURRENT_BINARY_DIR}/file-modes-work)
set_tests_properties(cli.replaced_files_keep_their_mode PROPERTIES LABELS cli TIMEOUT 120)

# inspect caps its table at 1000 rows per file (--all lists every one; --json is complete).
add_test(NAME cli.inspect_many_tensors
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/py/inspect_many_tensors.py
                 $<TARGET_FILE:sft_cli> ${CMAKE_CURRENT_BINARY_DIR}/inspect-many-tensors-work)
set_tests_properties(cli.inspect_many_tensors PROPERTIES LABELS cli TIMEOUT 120)

# FIFOs as file arguments, shards and indexes never hang a command (exit 2,
# io_error naming the FIFO); an input truncated while a command reads it
# (stopped with SFT_TEST_STALL=inputs-open, resumed with SIGUSR1) is io_error
# naming it, exit 2, never SIGBUS nor an error blamed on OUT. Every sft run
# in the script has its own timeout.
add_test(NAME cli.fifo_and_shrinking_inputs
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/py/fifo_and_shrinking_inputs.py
                 $<TARGET_FILE:sft_cli> ${CMAKE_CURRENT_BINARY_DIR}/fifo-shrinking-work)
set_tests_properties(cli.fifo_and_shrinking_inputs PROPERTIES LABELS cli TIMEOUT 600)
