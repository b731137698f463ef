#!/usr/bin/env bash
# One GPU lease's checks (device tool; see docs/benchmarks.md "GPU"): the CUDA tests and the GPU
# update benchmarks, torch.compile inside the CUDA graph against the eager graph. (The Real-NVP
# s/t-width training runs of the 2026-11-26 lease are settled and no longer part of it.)
# Usage on the GPU machine, from the repository root: OUT=dir bash benchmarks/gpu_session.sh
# Wheels for the packages the image lacks are expected in .whl/ (gymnasium, mujoco, tyro, ...).
set -u
OUT=${OUT:-gpu_out}; mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="/tmp/site:$PWD"
else
  export PYTHONPATH="$PWD"
fi
export PYTHONUNBUFFERED=1
LOG="$OUT/gpu.log"
{ date -u; nvidia-smi -L; python3 -c "import torch, numpy, gymnasium, mujoco; print('torch', torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0), 'numpy', numpy.__version__, 'gymnasium', gymnasium.__version__, 'mujoco', mujoco.__version__)"; nproc; } >"$LOG" 2>&1
echo "== pytest (CUDA tests)" >>"$LOG"
timeout 300 python3 -m pytest -q -p no:cacheprovider tests/skills/test_graph.py >>"$LOG" 2>&1
echo "== benchmarks" >>"$LOG"
B="$OUT/bench.jsonl"; : >"$B"
bench() { echo "-- sac_update.py $*" >>"$LOG"; timeout 240 python3 benchmarks/sac_update.py --device cuda --no-sb3 --json "$@" 2>>"$LOG" | tail -1 | tee -a "$LOG" >>"$B"; }
# torch.compile inside the CUDA graph against the eager graph (--compare-plain), then Real-NVP/Gaussian
bench --skills 1 --policy gaussian --compile --compare-plain --rounds 5 --updates 2000
bench --skills 1 --policy realnvp --compile --compare-policy gaussian --rounds 5 --updates 2000
bench --skills 64 --policy gaussian --compile --compare-plain --rounds 5 --updates 500
bench --skills 64 --policy gaussian --precision bf16 --compile --rounds 3 --updates 500
bench --skills 1 --policy realnvp --compare-policy gaussian --rounds 5 --updates 2000
date -u >>"$LOG"
