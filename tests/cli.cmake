# CLI golden tests (see tests/cli/run_cli_tests.py): one ctest test per case in
# tests/cli/cases, run by tests/cli/run_cli_tests.py against bin/sft, plus a
# check that the committed input files are what tests/cli/make_files.py writes.
if(NOT TARGET sft_cli)
  return()
endif()
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  message(WARNING "python3 not found: the CLI golden tests are not registered")
  return()
endif()

set(SFT_CLI_TESTS_DIR ${CMAKE_CURRENT_SOURCE_DIR}/cli)
file(GLOB SFT_CLI_CASES LIST_DIRECTORIES true CONFIGURE_DEPENDS ${SFT_CLI_TESTS_DIR}/cases/*)
foreach(case_dir ${SFT_CLI_CASES})
  if(NOT IS_DIRECTORY ${case_dir})
    continue()
  endif()
  get_filename_component(case ${case_dir} NAME)
  add_test(NAME cli.${case}
           COMMAND ${Python3_EXECUTABLE} ${SFT_CLI_TESTS_DIR}/run_cli_tests.py
                   --sft $<TARGET_FILE:sft_cli> --fixtures ${SFT_FIXTURES_DIR}
                   --work ${CMAKE_CURRENT_BINARY_DIR}/cli-work ${case})
  set_tests_properties(cli.${case} PROPERTIES SKIP_RETURN_CODE 77 LABELS cli TIMEOUT 120)
endforeach()

add_test(NAME cli.files_up_to_date
         COMMAND ${Python3_EXECUTABLE} ${SFT_CLI_TESTS_DIR}/make_files.py --check --out ${SFT_CLI_TESTS_DIR}/files)
set_tests_properties(cli.files_up_to_date PROPERTIES LABELS cli)

# inspect --json and validate checked against MANIFEST.json of the shared
# fixtures and against the reference package on the CLI test files.
add_test(NAME cli.inspect_matches_manifest_and_reference
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/py/cli_inspect_manifest.py
                 $<TARGET_FILE:sft_cli> ${SFT_FIXTURES_DIR})
set_tests_properties(cli.inspect_matches_manifest_and_reference PROPERTIES LABELS cli TIMEOUT 300)
