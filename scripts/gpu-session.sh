#!/usr/bin/env bash
# One prepared run for a session that is lent an NVIDIA GPU machine (see docs/benchmarks.md and
# models/README.md for what it measures). That machine has torch and transformers but no diffusers,
# pydantic or accelerate wheels of ours, and no network. Here, before the call:
#   echo /.whl/ >> .git/info/exclude; python -m models.data   # training pictures into models/.data
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#     diffusers==0.42.1 importlib_metadata pydantic==2.14.4 pydantic_core==2.50.5 annotated_types \
#     typing_inspection typing_extensions==4.16.0 accelerate==1.15.0 psutil
# then run `bash scripts/gpu-session.sh` there, carrying models/.data and .whl; results land in $OUT.
set -u
OUT=${OUT:-/tmp/gpu-session}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1

# 1. Train the shipped model further (its loss was still falling); the result comes back as tar parts.
python3 -m models.train --continue-from models/emoji64 --out /tmp/emoji64 --checkpoints /tmp/ck \
  --unet-minutes "${UNET_MINUTES:-4}" --unet-batch 512 --unet-lr 3e-4 --warmup 200 --ema-decay 0.999 \
  --name-caption 0.2 --caption-draw caption 2>&1 | tee "$OUT/train.log"
(cd /tmp && tar cf - emoji64 | split -b 15m - "$OUT/emoji64.tar.part-")

# 2. Its quality (the CPU figures are taken again here after unpacking, with the same script).
timeout 60 python3 benchmarks/embedded_quality.py --model /tmp/emoji64 --count 200 --sheets /tmp/sheets \
  2>&1 | tee "$OUT/quality.log"

# 3. Precompute on CUDA: the whole command twice, cached, and against the CPU; then the overhead.
timeout 120 python3 benchmarks/precompute_gpu_check.py --dtype float16 2>&1 | tee "$OUT/gpu-check.log"
timeout 60 python3 benchmarks/precompute_overhead.py --device cuda --dtype float16 --repeats 5 2>&1 \
  | tee "$OUT/overhead.log"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader >> "$OUT/overhead.log"
