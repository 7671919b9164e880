# Conformance of the writer and the create / rewrite / extract commands with
# the reference Python package (safetensors, numpy, ml_dtypes). Skipped (exit
# 77) when a module is missing; needs the sft CLI.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND AND TARGET sft_cli)
  add_test(NAME writer_conformance
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/py/test_writer_conformance.py
                   --sft $<TARGET_FILE:sft_cli> --fixtures ${SFT_FIXTURES_DIR}/real)
  set_tests_properties(writer_conformance PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS "conformance;python")
endif()
