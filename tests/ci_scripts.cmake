# The scripts that CI's verdict depends on are tested like the library:
# scripts/lsan_tracer_retry.py against real ctest runs of a scratch project
# (tests/py/lsan_tracer_retry_check.py).
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  message(WARNING "python3 not found: the CI script tests are not registered")
  return()
endif()
add_test(NAME ci.lsan_tracer_retry
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/py/lsan_tracer_retry_check.py
                 ${PROJECT_SOURCE_DIR} ${CMAKE_COMMAND} ${CMAKE_CTEST_COMMAND}
                 ${CMAKE_CURRENT_BINARY_DIR}/lsan-tracer-retry-work)
set_tests_properties(ci.lsan_tracer_retry PROPERTIES LABELS ci TIMEOUT 300)
