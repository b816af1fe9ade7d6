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
