# The AVX2 XXH3 kernel's target region covers only its own internal code: a
# probe object (the kernel's translation unit plus baseline code after it)
# must hold no AVX-encoded function with external linkage, which the linker
# could pick for the whole program (SIGILL on CPUs without AVX2). x86-64 with
# GCC or clang only, and only where objdump and nm exist.
if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64" OR NOT (CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang"))
  return()
endif()
find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND OR NOT CMAKE_OBJDUMP OR NOT CMAKE_NM)
  message(STATUS "xxh3_avx2_isolated not registered: needs python3, objdump and nm")
  return()
endif()
add_library(xxh3_isa_probe OBJECT ${CMAKE_CURRENT_SOURCE_DIR}/support/xxh3_avx2_probe.cpp)
target_include_directories(xxh3_isa_probe PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src ${SFT_XXHASH_INCLUDE})
target_compile_features(xxh3_isa_probe PRIVATE cxx_std_20)
add_test(NAME xxh3_avx2_isolated
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/py/check_avx2_isolation.py
                 --objdump ${CMAKE_OBJDUMP} --nm ${CMAKE_NM} $<TARGET_OBJECTS:xxh3_isa_probe>)
