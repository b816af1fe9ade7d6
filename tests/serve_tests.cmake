# serve/: unit tests without sockets (the live-state accounting among them), the Prometheus text
# format, and end-to-end runs of fake backends, router and load generator over loopback HTTP
# (each bounded in time).
qosroute_add_test(prometheus_text_test SOURCES prometheus_text_test.cc LIBS qosroute_serve)
qosroute_add_test(serve_unit_test SOURCES serve_unit_test.cc LIBS qosroute_serve qosroute_launch)
qosroute_add_test(serve_live_state_test SOURCES serve_live_state_test.cc LIBS qosroute_serve)
# The e2e tests run one at a time: their emulated backends keep real time only with CPU to
# spare (one starved by another test's planner dropped more requests than its bound allows).
qosroute_add_test(serve_e2e_test SOURCES serve_e2e_test.cc LIBS qosroute_serve TIMEOUT 180
                  RESOURCE_LOCK realtime_backends)
target_compile_definitions(serve_e2e_test PRIVATE QOSROUTE_BINARY="$<TARGET_FILE:qosroute>")
add_dependencies(serve_e2e_test qosroute)
