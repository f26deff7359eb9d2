#!/usr/bin/env bash
# What a user does: `pip install .` into a new virtual environment that has nothing but pip,
# then `import memloc` from outside the source tree. pip builds the wheel in isolation, so
# scikit-build-core, nanobind and NumPy come from the package index, as they would for a user.
#   pip_install.sh SOURCE_DIR WORK_DIR
set -euo pipefail
source_dir="$1"
work_dir="$2"

rm -rf "$work_dir"
mkdir -p "$work_dir"
/usr/bin/python3 -m venv "$work_dir/venv"
python="$work_dir/venv/bin/python"
"$python" -m pip install --disable-pip-version-check --quiet "$source_dir"

cd "$work_dir"
"$python" - <<'PY'
import numpy as np
import memloc

acts = np.random.default_rng(0).random((6, 2, 3, 4))
result = memloc.unitmem(acts, layout="nvus")
assert result.unitmem.shape == (3,) and np.all(np.isfinite(result.unitmem)), result
assert "site-packages" in memloc.__file__, memloc.__file__
print(f"pip install: memloc {memloc.__version__} imported from {memloc.__file__}; unitmem {result.unitmem}")
PY
