#!/usr/bin/env bash
# One GPU lease's checks (device tool; see docs/benchmarks.md "GPU"): the CUDA tests and the GPU
# update benchmarks: torch.compile inside the CUDA graph against the eager graph at K = 1 and 64,
# Real-NVP against Gaussian, bf16 at K = 64 (measured on 2026-11-26: docs/benchmarks.md "GPU, second lease").
# Usage on the GPU machine, from the repository root: OUT=dir [DEADLINE=s] bash benchmarks/gpu_session.sh
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
# Everything runs under one deadline (DEADLINE seconds from the start, default 480) so that a
# lease's single call returns with what it measured; each step gets at most what is left.
DEADLINE=${DEADLINE:-480}; T0=$(date +%s)
left() { local l=$(( DEADLINE - ($(date +%s) - T0) )); echo $(( l < $1 ? (l > 0 ? l : 1) : $1 )); }
echo "== pytest (CUDA tests)" >>"$LOG"
timeout "$(left 200)" python3 -m pytest -q -p no:cacheprovider tests/skills/test_graph.py >>"$LOG" 2>&1
echo "== benchmarks" >>"$LOG"
B="$OUT/bench.jsonl"; : >"$B"
bench() { echo "-- sac_update.py $* ($(date -u +%T))" >>"$LOG"; timeout "$(left 150)" python3 benchmarks/sac_update.py --device cuda --no-sb3 --json "$@" 2>>"$LOG" | tail -1 | tee -a "$LOG" >>"$B"; }
# torch.compile inside the CUDA graph against the eager graph (--compare-plain), then Real-NVP/Gaussian
bench --skills 1 --policy gaussian --compile --compare-plain --rounds 5 --updates 2000
bench --skills 64 --policy gaussian --compile --compare-plain --rounds 5 --updates 500
bench --skills 1 --policy realnvp --compile --compare-policy gaussian --rounds 5 --updates 2000
bench --skills 64 --policy gaussian --precision bf16 --compile --rounds 3 --updates 500
date -u >>"$LOG"
