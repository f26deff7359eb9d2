# Installs the memloc build tree into a scratch prefix and builds/runs
# examples/consumer against it, proving the installed package is usable on
# its own (headers, exported targets, find_dependency chain).
#
# Run as: cmake -DSOURCE_DIR=<repo> -DBUILD_DIR=<memloc build dir>
#               -DWORK_DIR=<scratch dir> [-DCONFIG=<cfg>] [-DCXX_COMPILER=<path>]
#               [-DGENERATOR=<gen>] [-DMAKE_PROGRAM=<path>]
#               [-DEXPECTED_VERSION=<x.y.z>] -P ConsumerTest.cmake
cmake_minimum_required(VERSION 3.25)

foreach(_var IN ITEMS SOURCE_DIR BUILD_DIR WORK_DIR)
  if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
    message(FATAL_ERROR "ConsumerTest.cmake: ${_var} must be set")
  endif()
endforeach()
if(NOT CONFIG)
  set(CONFIG Release)
endif()

set(_prefix ${WORK_DIR}/prefix)
set(_build ${WORK_DIR}/build)
# Start from scratch so a stale prefix can never make the test pass.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(_consumer_step name)
  execute_process(COMMAND ${ARGN}
                  RESULT_VARIABLE _rc
                  OUTPUT_VARIABLE _out
                  ERROR_VARIABLE _out)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "consumer test: ${name} failed (${_rc}):\n${_out}")
  endif()
  message(STATUS "consumer test: ${name} ok")
  set(_step_output "${_out}" PARENT_SCOPE)
endfunction()

_consumer_step("install"
  ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${_prefix} --config ${CONFIG})

set(_configure_args
  -S ${SOURCE_DIR}/examples/consumer
  -B ${_build}
  -DCMAKE_PREFIX_PATH=${_prefix}
  -DCMAKE_BUILD_TYPE=${CONFIG}
  # Only the scratch prefix may satisfy find_package(memloc).
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(GENERATOR)
  list(APPEND _configure_args -G ${GENERATOR})
endif()
if(MAKE_PROGRAM)
  list(APPEND _configure_args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
if(CXX_COMPILER)
  list(APPEND _configure_args -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
endif()
_consumer_step("configure" ${CMAKE_COMMAND} ${_configure_args})

# Guard against a memloc found somewhere else on the system (e.g. /usr/local).
file(STRINGS ${_build}/CMakeCache.txt _memloc_dir REGEX "^memloc_DIR:")
string(REGEX REPLACE "^memloc_DIR:[A-Z]+=" "" _memloc_dir "${_memloc_dir}")
file(REAL_PATH "${_memloc_dir}" _memloc_dir)
file(REAL_PATH "${_prefix}" _prefix_real)
string(FIND "${_memloc_dir}" "${_prefix_real}/" _pos)
if(NOT _pos EQUAL 0)
  message(FATAL_ERROR "consumer test: memloc was found in '${_memloc_dir}', "
                      "not in the install prefix '${_prefix_real}'")
endif()

_consumer_step("build" ${CMAKE_COMMAND} --build ${_build} --config ${CONFIG})

set(_exe "")
foreach(_candidate IN ITEMS ${_build}/memloc_consumer ${_build}/${CONFIG}/memloc_consumer
                            ${_build}/memloc_consumer.exe ${_build}/${CONFIG}/memloc_consumer.exe)
  if(EXISTS ${_candidate})
    set(_exe ${_candidate})
    break()
  endif()
endforeach()
if(NOT _exe)
  message(FATAL_ERROR "consumer test: memloc_consumer executable not found under ${_build}")
endif()

_consumer_step("run" ${_exe})
message(STATUS "consumer output: ${_step_output}")
string(REPLACE "." "\\." _version_regex "${EXPECTED_VERSION}")
if(EXPECTED_VERSION AND NOT _step_output MATCHES "${_version_regex}")
  message(FATAL_ERROR "consumer test: output does not mention version ${EXPECTED_VERSION}")
endif()
