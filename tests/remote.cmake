# Remote files against a real server (tests/remote/remote_tests.py): nginx
# from Debian's packages, started by tests/remote/nginx_fixture.py on loopback
# ports chosen at run time, with a throw-away CA made by `openssl`, and a
# fault-injecting proxy (tests/remote/fault_proxy.py). One ctest test per
# group of cases. Each skips (exit 77, with the reason) when nginx or openssl
# is missing or sft was built without libcurl, and fails instead when the
# environment sets SFT_REQUIRE_NGINX=1 (CI does). The rules that need no
# server are tests/remote_rules_test.cpp.
if(NOT TARGET sft_cli)
  return()
endif()
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  message(WARNING "python3 not found: the remote tests are not registered")
  return()
endif()
set(SFT_REMOTE_TEST_ARGS)
if(NOT SFT_HAVE_CURL)
  list(APPEND SFT_REMOTE_TEST_ARGS --without-curl)
endif()
foreach(group files requests faults security hostile pull)
  add_test(NAME remote.${group}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/remote/remote_tests.py
                   --sft $<TARGET_FILE:sft_cli> --work ${CMAKE_CURRENT_BINARY_DIR}/remote-work
                   ${SFT_REMOTE_TEST_ARGS} ${group})
  # PoCL and other caches the CPU GPU backend may touch stay inside the build tree.
  set_tests_properties(remote.${group} PROPERTIES SKIP_RETURN_CODE 77 LABELS remote TIMEOUT 120
                       ENVIRONMENT "XDG_CACHE_HOME=${CMAKE_CURRENT_BINARY_DIR}/remote-work/xdg-cache;POCL_CACHE_DIR=${CMAKE_CURRENT_BINARY_DIR}/remote-work/pocl-cache")
endforeach()
