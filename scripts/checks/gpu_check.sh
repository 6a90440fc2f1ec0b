#!/usr/bin/env bash
# What a lent GPU machine is for (../shared/gpu/CHECKLIST.md), in one run: builds flowlab against
# the machine's CUDA LibTorch 2.x (.gpu/build-on-device.sh, with the carried debs), runs the test
# suite there, then measures the GPU rows BENCHMARKS.md lacks, each with its FLOPs and utilisation:
#   1. CUDA graphs (compute.cuda_graphs): the replayed-against-eager tests, then the seed's CIFAR-10
#      TinyUNet at batch 128 trained and sampled (50 steps, CFG, batch 256) with and without
#      graphs, 3 alternating rounds;
#   2. quickstart and CIFAR-10 TinyUNet at batch 128: training and sampling, fp32 and bf16;
#   3. MeanFlow's separate and fused JVP passes against CFM, fp32 and bf16, 3 alternating rounds;
#   4. the sampling rows for a DiT-XL/2 on 32x32x4 latents (random weights), bf16, batch 64.
# A failed step is reported and the next one runs. Everything lands in $OUT (default gpu_out/).
# Usage: OUT=DIR scripts/checks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
T0=$(date +%s)
step() { echo "== [$(($(date +%s) - T0)) s] $*"; }

step "build against the CUDA LibTorch"
bash .gpu/build-on-device.sh >"$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log"; exit 1; }
export LD_LIBRARY_PATH=/opt/deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"

step "test suite"
(cd build-gpu && ctest -j 8 --timeout 300 --output-on-failure >"../$OUT/ctest.log" 2>&1)
grep -E "tests passed|tests failed|\(Failed\)|Not Run" "$OUT/ctest.log"

B=build-gpu/apps/benchmark
step "CUDA graphs: replayed against eager"
build-gpu/flowlab_tests --gtest_filter='CudaGraphs.*:GraphedTrainStep.*:DeviceScalarAdamW.*' 2>&1 |
  tee "$OUT/graphs_test.txt" | grep -E "OK|FAILED|SKIPPED|Failure|error" | head -20
step "CUDA graphs: speed, 3 alternating rounds"
for round in 1 2 3; do
  for graphs in false true; do
    "$B" --device cuda --config configs/cfm_cifar10.yaml --batch_size 128 --steps 300 --warmup 5 \
      --methods cfm,meanflow --set meanflow.jvp_pass=fused --num_samples 2048 --sample_batch_size 256 --cfg_scale 2 \
      --suite train,sample \
      --cuda_graphs "$graphs" --output "$OUT/graphs_${graphs}_$round.json" >"$OUT/graphs_${graphs}_$round.txt" 2>&1 ||
      echo "failed: cuda_graphs $graphs round $round"
    echo "-- cuda_graphs $graphs, round $round"
    tail -12 "$OUT/graphs_${graphs}_$round.txt"
  done
done

step "TinyUNet rows, fp32 and bf16"
for config in quickstart cfm_cifar10; do
  for precision in fp32 bf16; do
    "$B" --device cuda --config "configs/$config.yaml" --batch_size 128 --steps 50 --warmup 5 \
      --num_samples 512 --sample_batch_size 256 --precision "$precision" --suite train,sample \
      --output "$OUT/${config}_$precision.json" >"$OUT/${config}_$precision.txt" 2>&1 ||
      echo "failed: $config $precision"
    tail -12 "$OUT/${config}_$precision.txt"
  done
done

step "MeanFlow's passes against CFM"
for precision in fp32 bf16; do
  FLOWLAB_BUILD_DIR=build-gpu ROUNDS=3 scripts/bench/bench_options.sh meanflow --device cuda \
    --config configs/cfm_cifar10.yaml --steps 30 --precision "$precision" >"$OUT/meanflow_$precision.txt" 2>&1 ||
    echo "failed: meanflow $precision"
  cp bench/meanflow.md "$OUT/meanflow_$precision.md" 2>/dev/null && cat "$OUT/meanflow_$precision.md"
done

step "DiT-XL/2 sampling"
"$B" --device cuda --model dit --variant DiT-XL/2 --image_size 32 --channels 4 --suite sample \
  --num_samples 64 --sample_batch_size 64 --precision bf16 --output "$OUT/dit_xl2.json" >"$OUT/dit_xl2.txt" 2>&1 ||
  echo "failed: DiT-XL/2"
tail -12 "$OUT/dit_xl2.txt"
step "done; results in $OUT"
