#!/usr/bin/env bash
# One GPU lease's checks (device tool; see docs/benchmarks.md "GPU"): the CUDA tests, the GPU
# update benchmarks, then the Real-NVP s/t-width comparison (3 arms x K = 3 seeds on HalfCheetah-v5).
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
STEPS=${STEPS:-100000}; TLIM=${TLIM:-380}
train() {  # arm name, extra flags
  local name=$1; shift
  timeout "$TLIM" python3 -m softskills.cli train --env HalfCheetah-v5 --skills 3 --seed 0 --device cuda \
    --steps "$STEPS" --warmup-steps 10000 --eval-every 10000 --eval-episodes 5 --checkpoint-every 50000 \
    --threads 1 --no-progress --no-tensorboard --out "/tmp/st_$name" "$@" >"/tmp/st_$name.log" 2>&1
  echo "exit $?" >>"/tmp/st_$name.log"
}
echo "== pytest (CUDA tests)" >>"$LOG"
timeout 150 python3 -m pytest -q -p no:cacheprovider tests/skills/test_graph.py >>"$LOG" 2>&1
echo "== benchmarks" >>"$LOG"
B="$OUT/bench.jsonl"; : >"$B"
bench() { echo "-- sac_update.py $*" >>"$LOG"; timeout 90 python3 benchmarks/sac_update.py --device cuda --no-sb3 --json "$@" 2>>"$LOG" | tail -1 | tee -a "$LOG" >>"$B"; }
bench --skills 1 --policy realnvp --compare-policy gaussian --rounds 5 --updates 2000
bench --skills 1 --policy realnvp --flow-st-hidden 64 --compare-policy gaussian --rounds 5 --updates 2000
bench --skills 64 --policy realnvp --compare-policy gaussian --rounds 5 --updates 500
bench --skills 1 --policy gaussian --no-graph --rounds 3 --updates 500
bench --skills 64 --policy gaussian --precision bf16 --rounds 3 --updates 500
echo "== s/t width training ($STEPS steps, limit $TLIM s) $(date -u)" >>"$LOG"
train gaussian --policy gaussian &
train realnvp_a --policy realnvp &
train realnvp_64 --policy realnvp --flow-st-hidden 64 &
wait
date -u >>"$LOG"
for n in gaussian realnvp_a realnvp_64; do
  cp "/tmp/st_$n/progress.csv" "$OUT/st_$n.csv" 2>/dev/null
  { echo "== $n"; tail -5 "/tmp/st_$n.log"; } >>"$OUT/train.log"
done
