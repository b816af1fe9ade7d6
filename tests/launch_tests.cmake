qosroute_add_test(config_test SOURCES config_test.cc LIBS qosroute_launch)
qosroute_add_test(report_test SOURCES report_test.cc LIBS qosroute_launch)
qosroute_add_test(cli_test SOURCES cli_test.cc LIBS qosroute_env TIMEOUT 300)
target_compile_definitions(cli_test PRIVATE QOSROUTE_BINARY="$<TARGET_FILE:qosroute>")
add_dependencies(cli_test qosroute)
# `qosroute plot` (tools/plot_run.py, python3-matplotlib): every PNG written and readable,
# missing inputs named with exit code 2.
add_test(NAME plot_test COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/plot_test.sh $<TARGET_FILE:qosroute>)
set_tests_properties(plot_test PROPERTIES TIMEOUT 300)
qosroute_add_test(rollout_policy_test SOURCES rollout_policy_test.cc LIBS qosroute_planner qosroute_launch)
# Planner labels for search-guided SAC: which decisions, what a label holds, determinism, keys.
qosroute_add_test(decision_labeler_test SOURCES decision_labeler_test.cc LIBS qosroute_planner qosroute_launch)
