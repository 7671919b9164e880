# Differential test against the reference Python package: 2,500 seeded mutants of
# valid files, on which sft's accept/reject decision must equal the reference's
# apart from the documented deviations. Disagreements are listed in
# ${CMAKE_CURRENT_BINARY_DIR}/differential/disagreements.txt. Uses sft_dump from
# tests/conformance.cmake; skips (77) with a reason when a Python module is missing.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME differential_reference
           COMMAND Python3::Interpreter ${CMAKE_CURRENT_SOURCE_DIR}/py/differential.py
                   --dump $<TARGET_FILE:sft_dump> --work ${CMAKE_CURRENT_BINARY_DIR}/differential
                   --count 2500 --seed 1)
  set_tests_properties(differential_reference PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
endif()
