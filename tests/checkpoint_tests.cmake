# --resume auto's choice of checkpoint on small HDF5 files (no torch: also under the sanitizers).
qosroute_add_test(resume_auto_test SOURCES resume_auto_test.cc LIBS qosroute_checkpoint)
if(NOT QOSROUTE_WITH_TORCH)
  return()
endif()
# Checkpoints (issue 5): file rules, exact resume and bad files in one process; crash safety
# and signals against the real binary in child processes.
qosroute_add_test(checkpoint_test SOURCES checkpoint_test.cc LIBS qosroute_learner qosroute_launch TIMEOUT 300)
# The bad-file tests edit HDF5 attributes and links directly.
target_link_libraries(checkpoint_test PRIVATE qosroute_hdf5)
qosroute_add_test(checkpoint_cli_test SOURCES checkpoint_cli_test.cc LIBS qosroute_learner qosroute_launch qosroute_telemetry TIMEOUT 300)
target_compile_definitions(checkpoint_cli_test PRIVATE QOSROUTE_BINARY="$<TARGET_FILE:qosroute>")
add_dependencies(checkpoint_cli_test qosroute)
# Files written before the observation schema (tests/fixtures/files-5a09ce3): a policy gives
# the same simulate episodes, both checkpoint kinds inspect, the single-process one resumes to
# the same metrics as the old build's resumed run, the distributed one resumes under mpiexec.
add_test(NAME legacy_files
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/legacy_files_test.sh $<TARGET_FILE:qosroute>
                 ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/files-5a09ce3 ${CMAKE_CURRENT_BINARY_DIR}/legacy_files
                 ${MPIEXEC_EXECUTABLE})
set_tests_properties(legacy_files PROPERTIES TIMEOUT 300 PROCESSORS 2 PASS_REGULAR_EXPRESSION "PASS \\(legacy files\\)")
