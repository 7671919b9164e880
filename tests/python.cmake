# The Python package (pyproject.toml, python/): pip builds it from this source
# tree and installs it into the build directory, then pytest runs
# tests/python/ against the installed copy.
#
#   py.package.install   pip install --no-build-isolation --no-index --no-deps
#                        --target <build>/tests/python/site <source>: no network;
#                        scikit-build-core and nanobind come from SFT_PYTHON's
#                        environment, and scikit-build-core's build directory
#                        (<build>/tests/python/skbuild) is kept, so a rebuild
#                        recompiles only what changed. The interpreter's own
#                        environment is not modified.
#   py.package.pytest    SFT_PYTHON -m pytest tests/python with PYTHONPATH on
#                        that directory (its temporary files under the build
#                        directory too).
#
# SFT_PYTHON is the interpreter, python3 by default; CI passes the pinned test
# environment's (scripts/test.sh). It needs scikit-build-core, nanobind,
# pytest and numpy; ml_dtypes, torch and the reference package safetensors
# widen the suite (tests that need a missing one skip, saying why). Without
# the four, the tests are registered as skipped with the reason.
#
# Not registered in sanitizer builds: the module would be built by pip
# without the sanitizers, so the run would only repeat the release build's.
set(SFT_PYTHON "python3" CACHE STRING "Python interpreter that builds and tests the Python package (tests/python.cmake)")

if(SFT_SANITIZE)
  return()
endif()

set(SFT_PY_DIR ${CMAKE_CURRENT_BINARY_DIR}/python)
set(SFT_PY_REQUIRED scikit_build_core nanobind pytest numpy)
execute_process(
  COMMAND ${SFT_PYTHON} -c "import importlib.util, sys; m = [n for n in sys.argv[1:] if importlib.util.find_spec(n) is None]; print(' '.join(m)); sys.exit(1 if m else 0)" ${SFT_PY_REQUIRED}
  RESULT_VARIABLE SFT_PY_FOUND OUTPUT_VARIABLE SFT_PY_MISSING ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)

if(NOT SFT_PY_FOUND EQUAL 0)
  if(SFT_PY_MISSING STREQUAL "")
    set(SFT_PY_MISSING "the interpreter itself")
  endif()
  foreach(t py.package.install py.package.pytest)
    add_test(NAME ${t} COMMAND sh -c "echo 'skipped: ${SFT_PYTHON} lacks ${SFT_PY_MISSING} (set SFT_PYTHON to an interpreter with ${SFT_PY_REQUIRED})'; exit 77")
    set_tests_properties(${t} PROPERTIES SKIP_RETURN_CODE 77)
  endforeach()
  return()
endif()

add_test(NAME py.package.install
  COMMAND ${CMAKE_COMMAND} -E env PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
          ${SFT_PYTHON} -m pip install --quiet --no-build-isolation --no-index --no-deps --upgrade
          --target ${SFT_PY_DIR}/site --config-settings=build-dir=${SFT_PY_DIR}/skbuild ${PROJECT_SOURCE_DIR})
set_tests_properties(py.package.install PROPERTIES FIXTURES_SETUP sft_python_package TIMEOUT 1800)

add_test(NAME py.package.pytest
  COMMAND ${CMAKE_COMMAND} -E env PYTHONPATH=${SFT_PY_DIR}/site SFT_FIXTURES_DIR=${SFT_FIXTURES_DIR}
          ${SFT_PYTHON} -m pytest -q -p no:cacheprovider --basetemp=${SFT_PY_DIR}/pytest-tmp
          ${CMAKE_CURRENT_SOURCE_DIR}/python)
set_tests_properties(py.package.pytest PROPERTIES FIXTURES_REQUIRED sft_python_package TIMEOUT 600)
