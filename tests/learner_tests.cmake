# The learner (LibTorch) and the toy environment it is tested on.
qosroute_add_test(han_encoder_test SOURCES han_encoder_test.cc LIBS qosroute_learner)
qosroute_add_test(sac_test SOURCES sac_test.cc LIBS qosroute_learner TIMEOUT 300)
# Search-guided SAC: planner labels as the actor's KL target where they exist.
qosroute_add_test(sac_planner_prior_test SOURCES sac_planner_prior_test.cc LIBS qosroute_learner)
qosroute_add_test(sac_options_test SOURCES sac_options_test.cc LIBS qosroute_learner)
# The policy-file compatibility test removes an attribute with the HDF5 C library.
target_link_libraries(sac_options_test PRIVATE qosroute_hdf5)
# Needs no torch; it lives here because it tests the environment the learner tests train on.
qosroute_add_test(toy_env_test SOURCES toy_env_test.cc LIBS qosroute_env)
# Model selection on validation episodes: the rule, the scores, the trainer's selected policy
# and its exact resume.
qosroute_add_test(policy_selection_test SOURCES policy_selection_test.cc LIBS qosroute_learner qosroute_launch TIMEOUT 300)
# The run's reports through the trainer: rolling QoS, empty cells, greedy-qos reference,
# TensorBoard scalars.
qosroute_add_test(run_reporting_test SOURCES run_reporting_test.cc LIBS qosroute_launch_learner TIMEOUT 300)
# Adam over flat buffers against torch::optim::Adam, and its state in per-parameter form.
qosroute_add_test(fused_adam_test SOURCES fused_adam_test.cc LIBS qosroute_learner)
# Learners that split the global batch: averaged slice gradients equal the whole-batch one.
qosroute_add_test(split_batch_test SOURCES split_batch_test.cc LIBS qosroute_learner)
# A policy fed observations of another layout through evaluate, simulate and serve's router.
qosroute_add_test(schema_entry_points_test SOURCES schema_entry_points_test.cc
                  LIBS qosroute_launch_learner qosroute_serve)
