#!/usr/bin/env bash
# scripts/gpu-check's own logic, on this machine, in seconds: the loader check refuses a
# binary that needs a library from outside the bundle and the base set, and accepts it once
# the library travels; `run` records a machine that refuses compute-sanitizer without
# failing; a dry run passes steps that stop for lack of a device and fails one that cannot
# load. The programs are stand-ins; the real bundle's dry run is the CTest gpu_bundle_dry_run.
set -euo pipefail

gpu_check="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/gpu-check"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0 passes=0
expect() {  # expect DESCRIPTION CONDITION...
  local what="$1"
  shift
  if "$@"; then echo "ok: $what"; passes=$((passes + 1)); else echo "FAILED: $what"; failures=$((failures + 1)); fi
}
contains() { grep -q -F -- "$2" "$1"; }

# 1. The loader check, on a real ELF file that links zlib (not in the base set).
mkdir -p "$work/bundle/lib"
printf '#include <zlib.h>\nint main(void) { return zlibVersion()[0] == 0; }\n' >"$work/uses_zlib.c"
cc "$work/uses_zlib.c" -o "$work/bundle/uses_zlib" -lz
status=0
"$gpu_check" check "$work/bundle" >"$work/check1.log" 2>&1 || status=$?
expect "check fails when a library is not carried" test "$status" -ne 0
expect "check names the binary and the library" contains "$work/check1.log" "uses_zlib: libz.so.1 resolves outside the bundle"
cp -L "$(ldd "$work/bundle/uses_zlib" | awk '/libz\.so/ {print $3}')" "$work/bundle/lib/"
patchelf --set-rpath '$ORIGIN/lib' "$work/bundle/uses_zlib"
expect "check passes once the library travels" "$gpu_check" check "$work/bundle"

# 2. A machine whose compute-sanitizer refuses the device, as under gVisor.
fake_bundle() {  # fake_bundle DIR TEXT EXIT: every program prints TEXT and exits with EXIT
  mkdir -p "$1/sanitizer/bin"
  local program
  for program in memloc_cuda_tests memloc_cuda_quickstart memloc_cuda_bench; do
    printf '#!/bin/sh\necho "%s"\nexit %s\n' "$2" "$3" >"$1/$program"
    chmod +x "$1/$program"
  done
  echo "0000000 (stand-in)" >"$1/commit.txt"
}
fake_bundle "$work/refusing" "[doctest] test cases: 1 | 1 passed | 0 failed" 0
printf '#!/bin/sh\necho "========= Error: Device not supported"\necho "error 999 at the first allocation"\nexit 1\n' \
  >"$work/refusing/sanitizer/bin/compute-sanitizer"
chmod +x "$work/refusing/sanitizer/bin/compute-sanitizer"
status=0
PATH="/usr/bin:/bin" "$gpu_check" run --steps tests,sanitizer "$work/refusing" "$work/out-refusing" \
  >"$work/run-refusing.log" 2>&1 || status=$?
expect "a refused sanitizer does not fail the run" test "$status" -eq 0
expect "the summary says the sanitizer is unavailable" \
  contains "$work/out-refusing/summary.txt" "compute-sanitizer unavailable on this machine"
expect "memcheck is not attempted after a refusal" test ! -e "$work/out-refusing/memcheck.log"

# 3. Dry runs: programs that stop for lack of a device pass; one that cannot load fails.
fake_bundle "$work/no-device" "memloc CUDA tests: no usable CUDA device (no CUDA-capable device is detected); skipped" 77
rm -rf "$work/no-device/sanitizer"
expect "a dry run passes when every step stops at no device" \
  "$gpu_check" run --dry-run --steps tests,bench "$work/no-device" "$work/out-dry"
expect "each step has its line" contains "$work/out-dry/summary.txt" "bench: loaded, stopped: no usable CUDA device (dry run)"
printf '#!/bin/sh\necho "memloc_cuda_bench: error while loading shared libraries: libbenchmark.so.1debian: cannot open shared object file"\nexit 127\n' \
  >"$work/no-device/memloc_cuda_bench"
status=0
"$gpu_check" run --dry-run --steps tests,bench "$work/no-device" "$work/out-dry2" >"$work/run-dry2.log" 2>&1 || status=$?
expect "a dry run fails when a binary cannot load" test "$status" -ne 0
expect "the summary names the library" contains "$work/out-dry2/summary.txt" "bench: FAILED to load"
status=0
"$gpu_check" run --steps tests "$work/no-device" "$work/out-real" >"$work/run-real.log" 2>&1 || status=$?
expect "a real run fails without a device" test "$status" -ne 0

echo "$passes passed, $failures failed"
[[ $failures -eq 0 ]]
