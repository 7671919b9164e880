# Conformance with the reference Python package (safetensors + numpy + ml_dtypes):
# files the reference writes are read by sft with identical dtypes, shapes and
# bytes, and slices match its get_slice. sft_dump (tests/tools/) is the small
# C++ helper the Python scripts drive; the test skips (exit code 77) with a
# reason when a Python module is missing.
add_executable(sft_dump ${CMAKE_CURRENT_SOURCE_DIR}/tools/sft_dump.cpp ${CMAKE_CURRENT_SOURCE_DIR}/support/test_support.cpp)
target_link_libraries(sft_dump PRIVATE sft::sft)
target_include_directories(sft_dump PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/support)
target_compile_definitions(sft_dump PRIVATE SFT_FIXTURES_DIR="${SFT_FIXTURES_DIR}")

find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME conformance_reference
           COMMAND Python3::Interpreter ${CMAKE_CURRENT_SOURCE_DIR}/py/conformance.py
                   --dump $<TARGET_FILE:sft_dump> --work ${CMAKE_CURRENT_BINARY_DIR}/conformance)
  set_tests_properties(conformance_reference PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
else()
  message(STATUS "Python 3 not found: the conformance test against the reference package is not registered")
endif()
