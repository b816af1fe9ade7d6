# Distributed training: replay pieces, transports, the in-process trainer (ranks as threads),
# and real MPI tests under mpiexec (oversubscribed, each with a TIMEOUT so a hang fails fast).
qosroute_add_test(sum_tree_test SOURCES sum_tree_test.cc LIBS qosroute_replay_shard)
qosroute_add_test(rate_limiter_test SOURCES rate_limiter_test.cc LIBS qosroute_replay_shard)
qosroute_add_test(transition_codec_test SOURCES transition_codec_test.cc LIBS qosroute_replay_shard)
qosroute_add_test(transport_test SOURCES transport_test.cc LIBS qosroute_transport TIMEOUT 60)
qosroute_add_test(distributed_replay_test SOURCES distributed_replay_test.cc LIBS qosroute_replay_shard TIMEOUT 60)
qosroute_add_test(protocol_test SOURCES protocol_test.cc LIBS qosroute_transport TIMEOUT 60)
qosroute_add_test(distributed_roles_test SOURCES distributed_roles_test.cc ${PROJECT_SOURCE_DIR}/launch/roles.cc
                  LIBS qosroute_launch qosroute_replay_shard)
if(NOT QOSROUTE_WITH_TORCH)
  return()  # everything below needs the learner (LibTorch)
endif()
qosroute_add_test(distributed_inproc_test SOURCES distributed_inproc_test.cc LIBS qosroute_runner TIMEOUT 120)
qosroute_add_test(distributed_checkpoint_test SOURCES distributed_checkpoint_test.cc LIBS qosroute_runner TIMEOUT 180)

set(QOSROUTE_MPIEXEC ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG})
set(QOSROUTE_MPIEXEC_FLAGS --allow-run-as-root --oversubscribe)

# qosroute_add_mpi_test(NAME SOURCES ... LIBS ... RANKS n [n ...])
function(qosroute_add_mpi_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;RANKS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES} mpi_test_main.cc)
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} qosroute_transport GTest::gtest qosroute_warnings)
  foreach(n ${ARG_RANKS})
    add_test(NAME ${name}_np${n} COMMAND ${QOSROUTE_MPIEXEC} ${n} ${QOSROUTE_MPIEXEC_FLAGS} $<TARGET_FILE:${name}>)
    set_tests_properties(${name}_np${n} PROPERTIES TIMEOUT 120 PROCESSORS ${n})
  endforeach()
endfunction()

qosroute_add_mpi_test(mpi_transport_test SOURCES mpi_transport_test.cc LIBS qosroute_transport RANKS 2 3 4)
qosroute_add_mpi_test(mpi_gradient_sync_test SOURCES mpi_gradient_sync_test.cc LIBS qosroute_distributed RANKS 2 3)

# The real thing: `qosroute train` under mpiexec on a tiny config. Success is exit code 0:
# learner 0 aborts the job if a transition was lost or duplicated or the learners diverged.
set(QOSROUTE_DIST_CONFIG ${CMAKE_CURRENT_SOURCE_DIR}/distributed_small.cfg)
function(qosroute_add_mpi_train_test name ranks)
  add_test(NAME ${name}
           COMMAND ${QOSROUTE_MPIEXEC} ${ranks} ${QOSROUTE_MPIEXEC_FLAGS} $<TARGET_FILE:qosroute> train
                   --config ${QOSROUTE_DIST_CONFIG} --run-dir ${CMAKE_CURRENT_BINARY_DIR}/dist_runs/${name}
                   --compare false ${ARGN})
  set_tests_properties(${name} PROPERTIES TIMEOUT 120 PROCESSORS ${ranks})
endfunction()
qosroute_add_mpi_train_test(distributed_train_np2 2)
qosroute_add_mpi_train_test(distributed_train_np3_shard 3 --set launch.replay_shards=1)
qosroute_add_mpi_train_test(distributed_train_np4_two_learners 4 --set launch.learners=2 --set launch.replay_shards=1)
qosroute_add_mpi_train_test(distributed_train_np4_prioritized 4 --set launch.learners=2 --set launch.prioritized=true)
# Every learner takes the whole batch (launch.learner_batch = full): the rate limiter admits
# twice the samples per insert and the learners stay identical.
qosroute_add_mpi_train_test(distributed_train_np4_full_batch 4 --set launch.learners=2 --set launch.learner_batch=full)
# A rank that throws ends the whole job, with its rank, role and message, well within the timeout.
qosroute_add_mpi_train_test(distributed_train_np3_rank_failure 3 --set launch.replay_shards=1)
set_tests_properties(distributed_train_np3_rank_failure PROPERTIES
                     ENVIRONMENT QOSROUTE_INJECT_FAILURE_RANK=1
                     PASS_REGULAR_EXPRESSION "qosroute rank 1 \\(shard 0\\): fatal: injected failure"
                     TIMEOUT 60)

# Checkpoints under mpiexec: stop at update 60 and resume (counters continue, every transition
# exactly once across the stop), a SIGUSR1 to mpiexec, a bad --resume file.
function(qosroute_add_mpi_resume_test name mode ranks)
  add_test(NAME ${name}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/mpi_resume_test.sh ${mode} ${MPIEXEC_EXECUTABLE} ${ranks}
                   $<TARGET_FILE:qosroute> ${QOSROUTE_DIST_CONFIG} ${CMAKE_CURRENT_BINARY_DIR}/dist_runs/${name} ${ARGN})
  set_tests_properties(${name} PROPERTIES TIMEOUT 180 PROCESSORS ${ranks} PASS_REGULAR_EXPRESSION "PASS \\(${mode}\\)")
endfunction()
qosroute_add_mpi_resume_test(distributed_resume_np2_hosted_shard stop-resume 2)
qosroute_add_mpi_resume_test(distributed_resume_np3_shard stop-resume 3 --set launch.replay_shards=1)
qosroute_add_mpi_resume_test(distributed_resume_np4_two_learners stop-resume 4 --set launch.learners=2 --set launch.replay_shards=1)
# The same with the aggregate expert features: wider records through MPI, the shard's snapshot
# and the split batch.
qosroute_add_mpi_resume_test(distributed_resume_np4_aggregates stop-resume 4 --set launch.learners=2
                             --set launch.replay_shards=1 --set env.expert_aggregates=true)
# Search-guided SAC under mpiexec: actors label a quarter of their decisions with the rollout
# planner, the labelled records travel to the shard, into its checkpoint and back, and both
# learners train on them (prior = planner) and stay identical.
qosroute_add_mpi_resume_test(distributed_resume_np4_planner_labels stop-resume 4 --set launch.learners=2
                             --set launch.replay_shards=1 --set train.planner_share=0.25
                             --set sac.prior=planner --set env.lookahead_features=true
                             --set env.lookahead_value=true --set planner.samples=4
                             --set planner.max_samples=4 --set planner.horizon=6)
set_tests_properties(distributed_resume_np4_planner_labels PROPERTIES
                     ENVIRONMENT "EXPECT_LOG=planner-labelled samples: [1-9][0-9]* of the")
qosroute_add_mpi_resume_test(distributed_resume_np3_sigusr1 signal 3 --set launch.replay_shards=1 --set train.total_frames=200000)
qosroute_add_mpi_resume_test(distributed_resume_np2_bad_file bad-file 2)
# A damaged newer checkpoint beside the one to resume from: --resume auto sets it aside.
qosroute_add_mpi_resume_test(distributed_resume_np3_damaged_newest damaged-newest 3 --set launch.replay_shards=1)
# One job per run directory and one error line per job (not per rank).
qosroute_add_mpi_resume_test(distributed_run_dir_in_use_np2 in-use 2 --set train.total_frames=200000)
qosroute_add_mpi_resume_test(distributed_bad_config_np3 bad-config 3)
# Model selection under mpiexec (learner 0 validates), and its exact continuation on resume.
qosroute_add_mpi_resume_test(distributed_select_np3 select 3 --set launch.replay_shards=1)
