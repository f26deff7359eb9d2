#!/usr/bin/env python3
"""Fails unless every __global__ function in kernels/ was launched by the emulated tests.

usage: check_kernel_coverage.py KERNELS_DIR LAUNCHED_FILE

LAUNCHED_FILE holds one demangled kernel name per line, appended by every emulated test
process (MEMLOC_EMULATION_LAUNCHED). A kernel no test launches has never run anywhere, since
no GPU has been lent to this project, so it counts as untested code.
"""
import pathlib
import re
import sys

KERNEL = re.compile(r"__global__\s+void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?([A-Za-z_]\w*)\s*\(")


def declared_kernels(kernels_dir):
    found = {}
    for header in sorted(pathlib.Path(kernels_dir).rglob("*.cuh")):
        for name in KERNEL.findall(header.read_text()):
            found.setdefault(name, header.name)
    return found


def launched(name, launches):
    # Demangled names read "void memloc::kernels::NAME<args>(params)" or "...::NAME(params)".
    return any(f"::{name}<" in line or f"::{name}(" in line for line in launches)


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    kernels = declared_kernels(argv[1])
    if not kernels:
        print(f"check_kernel_coverage: no __global__ function found under {argv[1]}", file=sys.stderr)
        return 2
    path = pathlib.Path(argv[2])
    launches = path.read_text().splitlines() if path.exists() else []
    missing = sorted(f"{name} ({header})" for name, header in kernels.items() if not launched(name, launches))
    covered = len(kernels) - len(missing)
    print(f"check_kernel_coverage: {covered} of {len(kernels)} kernels in {argv[1]} launched by the emulated tests")
    if missing:
        print("never launched: " + ", ".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
