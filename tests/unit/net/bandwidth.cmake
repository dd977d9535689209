# Unit tests of the bandwidth measurement (src/net/bandwidth.cmake). Test suites are named
# bandwidth* so that `ctest -R bandwidth` selects them. The shaped-link test needs root
# (network namespaces, tc) and skips itself otherwise.
coedge_test(bandwidth_test unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/bandwidth_test.cc
  LIBS coedge_net_bandwidth)
