# Distributed loading over real engines (docs/distributed.md):
#  - tests/py/dist_mpi.py runs `mpirun -np N sft load` for N = 1..4 against
#    `sft reshard` (byte for byte) and against the reference package reading
#    the whole checkpoint (each rank's tensors = numpy / torch slicing), the
#    MPI engine's collectives (tests/tools/dist_mpi_probe.cpp) and the faults
#    (a missing or truncated checkpoint on one rank, a rank that stalls);
#  - the NCCL engine is compiled here; tests/py/dist_mpi.py --part nccl loads
#    the library and, only where a GPU is, runs a load over it.
# SFT_REQUIRE_MPI=1 in the environment (CI) turns a build without MPI into a
# failing test instead of a skipped one (and a configure error in src/dist).
#
# Open MPI in a container, as root, on few cores: the environment below lets
# mpirun run as root, over shared memory only, more ranks than cores, unbound.
find_package(Python3 COMPONENTS Interpreter)
get_property(sft_dist_mpi GLOBAL PROPERTY SFT_DIST_MPI)
get_property(sft_dist_nccl GLOBAL PROPERTY SFT_DIST_NCCL)
set(sft_require_mpi "$ENV{SFT_REQUIRE_MPI}")

if(NOT TARGET sft_cli OR NOT Python3_Interpreter_FOUND)
  return()
endif()

if(NOT sft_dist_mpi OR NOT MPIEXEC_EXECUTABLE)
  if(sft_require_mpi)
    add_test(NAME dist.mpi COMMAND ${Python3_EXECUTABLE} -c
             "print('FAIL: SFT_REQUIRE_MPI is set but sft was built without MPI or mpiexec was not found'); raise SystemExit(1)")
    set_tests_properties(dist.mpi PROPERTIES LABELS dist)
  else()
    add_test(NAME dist.mpi COMMAND ${Python3_EXECUTABLE} -c "print('SKIP: sft was built without MPI (install openmpi-bin and libopenmpi-dev)'); raise SystemExit(77)")
    set_tests_properties(dist.mpi PROPERTIES SKIP_RETURN_CODE 77 LABELS dist)
  endif()
  return()
endif()

add_executable(dist_mpi_probe ${CMAKE_CURRENT_SOURCE_DIR}/tools/dist_mpi_probe.cpp)
target_link_libraries(dist_mpi_probe PRIVATE sft_dist)

set(SFT_MPI_TEST_ENV
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
  OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_hwloc_base_binding_policy=none
  SFT_REQUIRE_MPI=${sft_require_mpi})
if(SFT_SANITIZE)
  # Open MPI (with PMIx, hwloc and its dlopen'ed components, unloaded before
  # LeakSanitizer reports, so their frames cannot be suppressed by name) keeps
  # allocations until exit. Leak checking of the loader itself is
  # dist_load_test's, which runs the same code over threads; here ASan and
  # UBSan still check every access.
  list(APPEND SFT_MPI_TEST_ENV ASAN_OPTIONS=detect_leaks=0)
endif()
foreach(part engine load faults nccl)
  add_test(NAME dist.mpi_${part}
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/py/dist_mpi.py --part ${part}
                   --sft $<TARGET_FILE:sft_cli> --probe $<TARGET_FILE:dist_mpi_probe> --mpiexec ${MPIEXEC_EXECUTABLE}
                   --nccl ${sft_dist_nccl} --work ${CMAKE_CURRENT_BINARY_DIR}/dist-${part})
  set_tests_properties(dist.mpi_${part} PROPERTIES SKIP_RETURN_CODE 77 LABELS dist TIMEOUT 300
                       ENVIRONMENT "${SFT_MPI_TEST_ENV}")
endforeach()

# Smoke test of the benchmark harness (bench/dist_bench.py, which embeds
# bench/dist_sim.py's model): a tiny workload, two ranks, sft and the
# reference's read-all; checks the report is well formed. No time is asserted.
add_test(NAME bench.dist_smoke
         COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/bench/dist_bench.py --layers 1 --hidden 256 --worlds 2
                 --methods sft read-all --sft $<TARGET_FILE:sft_cli> --mpiexec ${MPIEXEC_EXECUTABLE}
                 --work-dir ${CMAKE_CURRENT_BINARY_DIR}/dist-bench-smoke --out -)
set_tests_properties(bench.dist_smoke PROPERTIES LABELS "bench;dist" TIMEOUT 300
                     PASS_REGULAR_EXPRESSION "sft: the most any rank requested is [0-9.]+ GB \\([0-9.]+ x the bound\\): within"
                     ENVIRONMENT "${SFT_MPI_TEST_ENV}")
