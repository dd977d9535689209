# coedge_net_bandwidth: bandwidth measurement between nodes — active probes with libiperf
# (bandwidth_probe.*, run in the coedge-probe program, apps/probe) and the pure
# passive-rate / combined estimators (passive_rate.*). libiperf (Debian: libiperf-dev)
# ships no CMake package or pkg-config file, so it is found by hand. Links core and os
# (the probe program is started with os::spawn), plus libiperf and nlohmann_json.
find_path(COEDGE_IPERF_INCLUDE_DIR iperf_api.h)
find_library(COEDGE_IPERF_LIBRARY iperf)
if(NOT COEDGE_IPERF_INCLUDE_DIR OR NOT COEDGE_IPERF_LIBRARY)
  message(FATAL_ERROR "libiperf not found (iperf_api.h / libiperf): install libiperf-dev "
                      "or set COEDGE_IPERF_INCLUDE_DIR and COEDGE_IPERF_LIBRARY")
endif()

add_library(coedge_net_bandwidth
  ${CMAKE_CURRENT_LIST_DIR}/bandwidth_probe.cc
  ${CMAKE_CURRENT_LIST_DIR}/passive_rate.cc)
target_include_directories(coedge_net_bandwidth SYSTEM PRIVATE ${COEDGE_IPERF_INCLUDE_DIR})
target_link_libraries(coedge_net_bandwidth
  PUBLIC coedge_core
  PRIVATE coedge_os ${COEDGE_IPERF_LIBRARY} nlohmann_json::nlohmann_json coedge_warnings)
