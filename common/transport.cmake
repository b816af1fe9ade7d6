# Messaging between ranks (common/transport*.{h,cc}) and the MPI helpers (common/mpi_*):
# a library of its own, so that only the distributed code links MPI.
add_library(qosroute_transport STATIC
  ${PROJECT_SOURCE_DIR}/common/transport.cc
  ${PROJECT_SOURCE_DIR}/common/transport_inproc.cc
  ${PROJECT_SOURCE_DIR}/common/transport_mpi.cc
  ${PROJECT_SOURCE_DIR}/common/mpi_scope.cc
)
target_include_directories(qosroute_transport PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(qosroute_transport PUBLIC qosroute_common MPI::MPI_CXX fmt::fmt Threads::Threads
                      PRIVATE qosroute_warnings)
