# Workload data, arrival processes and the routing-time predictor.
qosroute_add_test(workload_test SOURCES workload_test.cc LIBS qosroute_env)
qosroute_add_test(arrivals_test SOURCES arrivals_test.cc LIBS qosroute_env)
qosroute_add_test(predictor_test SOURCES predictor_test.cc LIBS qosroute_env)
