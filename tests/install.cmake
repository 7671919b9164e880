# find_package(sft) and pkg-config after `cmake --install`: install into a scratch
# prefix, then configure, build and run tests/consumer (C++ and C) against it.
add_test(NAME install_and_find_package
  COMMAND ${CMAKE_COMMAND}
    -DSFT_BUILD_DIR=${PROJECT_BINARY_DIR}
    -DSFT_CONSUMER_SRC=${CMAKE_CURRENT_SOURCE_DIR}/consumer
    -DSFT_SCRATCH=${CMAKE_CURRENT_BINARY_DIR}/install-test
    -DCMAKE_GENERATOR=${CMAKE_GENERATOR}
    -DCXX=${CMAKE_CXX_COMPILER}
    -DCC=${CMAKE_C_COMPILER}
    -DPKG_CONFIG=${PKG_CONFIG_EXECUTABLE}
    -DSANITIZE=${SFT_SANITIZE}
    -P ${CMAKE_CURRENT_SOURCE_DIR}/support/install_test.cmake)
set_tests_properties(install_and_find_package PROPERTIES TIMEOUT 300)
