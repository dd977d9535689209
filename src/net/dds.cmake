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
  $<TARGET_OBJECTS:coedge_net_dds_types>)
add_dependencies(coedge_net_dds coedge_net_dds_idl_generate)
target_include_directories(coedge_net_dds
  PUBLIC ${PROJECT_SOURCE_DIR}/src
  PRIVATE ${CMAKE_CURRENT_BINARY_DIR})
target_link_libraries(coedge_net_dds PUBLIC coedge_core CycloneDDS::ddsc PRIVATE coedge_warnings)
