# Float conversions (sft/convert.hpp) bit for bit against numpy and ml_dtypes:
# tests/support/convert_probe runs sft::convert on raw bytes for the Python script.
add_executable(convert_probe ${CMAKE_CURRENT_SOURCE_DIR}/support/convert_probe.cpp)
target_link_libraries(convert_probe PRIVATE sft::sft)
sft_warnings(convert_probe)
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME py.convert_ml_dtypes
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/py/convert_ml_dtypes.py $<TARGET_FILE:convert_probe>)
  set_tests_properties(py.convert_ml_dtypes PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900 LABELS py)
else()
  message(WARNING "python3 not found: py.convert_ml_dtypes is not registered")
endif()
