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
