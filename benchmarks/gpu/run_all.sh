#!/usr/bin/env bash
# One GPU call: tests (in-process), fault isolation, core benchmark. Source tree in $1; logs under $OUT.
src=${1:-.}
python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl 2>/dev/null || exit 1
export PYTHONPATH=/tmp/site:$PWD/$src PYTHONUNBUFFERED=1 KERNELBENCH_HOME=/tmp/kbhome KERNELBENCH_OFFLINE=1
cd "$src" || exit 1
python3 -c "import torch, triton, kernelbench; print(torch.__version__, triton.__version__, kernelbench.device_name())"
KERNELBENCH_ISOLATE=0 timeout 240 python3 -m pytest -q -p no:cacheprovider -rs -x tests > "$OUT/pytest.log" 2>&1
echo "pytest exit $?"; tail -5 "$OUT/pytest.log"
timeout 200 python3 benchmarks/gpu_faults.py --out "$OUT" > "$OUT/faults.log" 2>&1
echo "faults exit $?"; tail -40 "$OUT/faults.log" | grep -v '^\['
timeout 200 python3 benchmarks/core_bench.py --out "$OUT" > "$OUT/core.log" 2>&1
echo "core exit $?"; grep -v "HTML object" "$OUT/core.log" | tail -14
