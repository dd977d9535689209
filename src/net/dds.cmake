# coedge_net_dds: the DDS adapter (Cyclone DDS 0.10 C API). The IDL types in idl/ are
# compiled by idlc into C (final extensibility, like rmw_cyclonedds; case-sensitive so a
# member may share a type's name) and built into an object library with relaxed warnings,
# because generated code is not ours. Our own sources build with -Werror. No Cyclone type
# appears in dds.h, so dependents only see the plain C++ API; the Cyclone link is PUBLIC
# only because static libraries carry their link dependencies to the final executable.
# vision_msgs.idl includes ros_image.idl (std_msgs' Header_): its generated header includes
# ros_image.h, so every type is defined once.
enable_language(C)
find_package(CycloneDDS REQUIRED)

idlc_generate(TARGET coedge_net_dds_idl
  FILES ${CMAKE_CURRENT_SOURCE_DIR}/idl/ros_image.idl ${CMAKE_CURRENT_SOURCE_DIR}/idl/vision_msgs.idl
        ${CMAKE_CURRENT_SOURCE_DIR}/idl/coedge.idl
  INCLUDES ${CMAKE_CURRENT_SOURCE_DIR}/idl
  DEFAULT_EXTENSIBILITY final
  FEATURES case-sensitive)

# Generated C code: compiled once, without -Werror (idlc output is not warning-clean).
add_library(coedge_net_dds_types OBJECT)
target_link_libraries(coedge_net_dds_types PRIVATE coedge_net_dds_idl CycloneDDS::ddsc)
set_target_properties(coedge_net_dds_types PROPERTIES POSITION_INDEPENDENT_CODE ON)
target_compile_options(coedge_net_dds_types PRIVATE -w)

add_library(coedge_net_dds
  dds.cc
  dds_image.cc
  dds_vision.cc
  dds_control.cc
  dds_convert.cc
  dds_discovery.cc
  $<TARGET_OBJECTS:coedge_net_dds_types>)
add_dependencies(coedge_net_dds coedge_net_dds_idl_generate)
target_include_directories(coedge_net_dds
  PUBLIC ${PROJECT_SOURCE_DIR}/src
  PRIVATE ${CMAKE_CURRENT_BINARY_DIR})
target_link_libraries(coedge_net_dds PUBLIC coedge_core CycloneDDS::ddsc PRIVATE coedge_warnings)

# DDS Security: Cyclone loads its plugins (libdds_security_{auth,ac,crypto}.so) by path. They
# live next to libddsc, or in Debian's private folder libddsc0debian/ beside it. The folder
# found here is compiled in; COEDGE_DDS_SECURITY_PLUGIN_DIR overrides it at run time
# (net::dds_security_plugin_dir). Not found: "" (secure domains then refuse to start).
get_target_property(_coedge_ddsc_lib CycloneDDS::ddsc LOCATION)
get_filename_component(_coedge_ddsc_dir "${_coedge_ddsc_lib}" DIRECTORY)
find_file(COEDGE_DDS_SECURITY_AUTH_PLUGIN libdds_security_auth.so
  PATHS "${_coedge_ddsc_dir}" "${_coedge_ddsc_dir}/libddsc0debian"
  NO_DEFAULT_PATH)
if(COEDGE_DDS_SECURITY_AUTH_PLUGIN)
  get_filename_component(_coedge_dds_plugin_dir "${COEDGE_DDS_SECURITY_AUTH_PLUGIN}" DIRECTORY)
  message(STATUS "DDS Security plugins: ${_coedge_dds_plugin_dir}")
else()
  set(_coedge_dds_plugin_dir "")
  message(STATUS "DDS Security plugins: not found next to ${_coedge_ddsc_lib} (set COEDGE_DDS_SECURITY_PLUGIN_DIR at run time)")
endif()
set_source_files_properties(dds.cc PROPERTIES
  COMPILE_DEFINITIONS "COEDGE_DDS_SECURITY_PLUGIN_DIR=\"${_coedge_dds_plugin_dir}\"")
