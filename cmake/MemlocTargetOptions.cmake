# Build-flag helpers for memloc's own tests and examples. They use PRIVATE
# options so nothing here propagates to consumers of the library targets.
include_guard(GLOBAL)

# Warnings-as-errors. -Wpedantic is deliberately not forwarded to nvcc's host
# compiler: nvcc-generated host stubs trip it.
function(memloc_strict_warnings target)
  target_compile_options(${target} PRIVATE
    "$<$<COMPILE_LANGUAGE:CXX>:-Wall;-Wextra;-Wpedantic;-Wshadow;-Werror>"
    "$<$<COMPILE_LANGUAGE:CUDA>:--Werror=all-warnings;-Xcompiler=-Wall,-Wextra,-Werror>")
endfunction()

# ASan+UBSan when MEMLOC_SANITIZE is on; a no-op otherwise. Host code only:
# nvcc cannot instrument device code, so CUDA targets are not sanitized.
function(memloc_sanitize target)
  if(NOT MEMLOC_SANITIZE)
    return()
  endif()
  set(_flags -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_compile_options(${target} PRIVATE "$<$<COMPILE_LANGUAGE:CXX>:${_flags}>")
  get_target_property(_type ${target} TYPE)
  if(NOT _type STREQUAL "OBJECT_LIBRARY")
    target_link_options(${target} PRIVATE ${_flags})
  endif()
endfunction()

# Extra mpiexec flags for the MPI tests and example: Open MPI refuses more ranks than
# cores (CI has 2) without --oversubscribe, and refuses to run as root (CI runs as root)
# without --allow-run-as-root. Other MPI implementations get neither.
function(memloc_mpiexec_flags out_var)
  set(_flags)
  execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version
    OUTPUT_VARIABLE _version ERROR_VARIABLE _version RESULT_VARIABLE _rc)
  if(_rc EQUAL 0 AND _version MATCHES "Open MPI|OpenRTE")
    list(APPEND _flags --oversubscribe)
    execute_process(COMMAND id -u OUTPUT_VARIABLE _uid OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
    if(_rc EQUAL 0 AND _uid STREQUAL "0")
      list(APPEND _flags --allow-run-as-root)
    endif()
  endif()
  set(${out_var} ${_flags} PARENT_SCOPE)
endfunction()

# Open MPI never frees what MPI_Init allocates (about 120 KB per rank), so LeakSanitizer
# would fail every MPI run; ASan and UBSan otherwise stay on for the MPI tests.
function(memloc_mpi_sanitize_options test)
  if(MEMLOC_SANITIZE)
    set_tests_properties(${test} PROPERTIES ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
  endif()
endfunction()
