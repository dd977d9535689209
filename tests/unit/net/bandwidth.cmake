# Unit tests of the bandwidth measurement (src/net/bandwidth.cmake). Test suites are named
# bandwidth* so that `ctest -R bandwidth` selects them. The shaped-link test needs root
# (network namespaces, tc) and skips itself otherwise; they run alone (SERIAL): loopback
# ports, namespaces and the probe's throughput are shared by the whole machine.
coedge_test(bandwidth_test unit SERIAL
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/bandwidth_test.cc
  LIBS coedge_net_bandwidth)
add_dependencies(bandwidth_test coedge-probe)
