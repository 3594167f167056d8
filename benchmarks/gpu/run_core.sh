#!/usr/bin/env bash
# On a lent GPU host: the test suite on the GPU, then benchmarks/core_bench.py. Logs under $OUT.
# Expects .whl/ (../shared/gpu/wheels.sh plus IPython/ipywidgets/plotly/pytest wheels) and a source tree in $1.
src=${1:-.}
python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/$src PYTHONUNBUFFERED=1
cd "$src" || exit 1
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
python3 -c "import torch, triton, helion, kernelbench; print(torch.__version__, triton.__version__, kernelbench.DEVICE, kernelbench.device_name())" > "$OUT/versions.txt" 2>&1
cat "$OUT/versions.txt"
[ -n "$SKIP_TESTS" ] || timeout 400 python3 -m pytest -q -p no:cacheprovider -rs tests > "$OUT/pytest.log" 2>&1
echo "pytest exit $?"
timeout 420 python3 benchmarks/core_bench.py --out "$OUT" > "$OUT/core.log" 2>&1
echo "core_bench exit $?"
tail -25 "$OUT/pytest.log"
grep -v "HTML object" "$OUT/core.log" | tail -12
