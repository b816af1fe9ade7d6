qosroute_add_test(config_test SOURCES config_test.cc LIBS qosroute_launch)
qosroute_add_test(cli_test SOURCES cli_test.cc LIBS qosroute_env TIMEOUT 300)
target_compile_definitions(cli_test PRIVATE QOSROUTE_BINARY="$<TARGET_FILE:qosroute>")
add_dependencies(cli_test qosroute)
