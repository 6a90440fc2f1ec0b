#!/usr/bin/env bash
# A published-model round trip through the programs, as a new user makes it, on CPU in minutes:
# DiT-S/2- and SiT-S/2-sized networks (width 384, depth 12, 6 heads, 4 x 16 x 16 latents, 10
# classes, learned variance) saved by plain PyTorch in the authors' layout
# (scripts/fixtures/make_published_fixtures.py), imported with a small autoencoder trained for two steps
# here, then sampled with ddpm, ddim, dpmpp_2m, euler and sde, scored with evaluate_fid
# --random_weights, used to inpaint an image, and fine-tuned for 3 steps (train_ddpm for DiT, train_cfm for SiT).
# Usage: scripts/walkthrough_published.sh [work folder, default /tmp/flowlab_published]
# Needs a build (scripts/build.sh) and Debian's python3-torch.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/flowlab_published}
BIN=${FLOWLAB_BUILD_DIR:-build}/apps
mkdir -p "$WORK"
step() { echo; echo "== $*"; }

step "1. two S/2 networks saved by plain PyTorch in the published layout"
/usr/bin/python3 - "$WORK" <<'EOF'
import sys
import torch
sys.path.insert(0, "scripts/fixtures")
from make_published_fixtures import Network
for name, seed in [("dit", 1), ("sit", 2)]:
    torch.manual_seed(seed)
    net = Network(True, width=384, depth=12, heads=6, side=16, classes=10)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.02)
    torch.save(net.state_dict(), f"{sys.argv[1]}/{name}_s2.pt")
    print(name, sum(t.numel() for t in net.state_dict().values()), "tensor values")
EOF

step "2. an 8x autoencoder (4 latent channels) for 128x128 images, trained 2 steps"
"$BIN/train_vae" --config configs/vae_mnist.yaml --dataset shapes --set data.num_images=16 --set data.image_size=128 --steps 2 --batch_size 2 \
  --set vae.ch=16 --set "vae.ch_mult=[1,2,4,4]" --set training.sample_every=0 --threads 2 \
  --output_dir "$WORK/vae" 2>&1 | tail -1

step "3. import"
for f in dit sit; do
  "$BIN/import_checkpoint" --format $f --weights "$WORK/${f}_s2.pt" --vae "$WORK/vae/weights_ema.safetensors" \
    --output "$WORK/$f.pt"
done

step "4. sample: DiT with ddpm, ddim and dpmpp_2m; SiT with euler and sde"
for s in ddpm ddim dpmpp_2m; do
  "$BIN/generate_samples" --checkpoint "$WORK/dit.pt" --sampler $s --steps 10 --num_samples 4 \
    --output_dir "$WORK/dit_$s" 2>&1 | tail -1
done
for s in euler sde; do
  "$BIN/generate_samples" --checkpoint "$WORK/sit.pt" --sampler $s --steps 10 --num_samples 4 \
    --output_dir "$WORK/sit_$s" --save_individual 2>&1 | tail -1
done

step "5. FID (hashed Inception weights: a smoke test) of 8 SiT samples against 4 others"
"$BIN/evaluate_fid" --checkpoint "$WORK/sit.pt" --num_samples 8 --steps 5 --random_weights \
  --reference "$WORK/sit_euler/images" --output "$WORK/fid.json" 2>&1 | grep -E "protocol|FID|overall"

step "6. inpaint a 128x128 image through the latents (one of the SiT samples)"
"$BIN/inpaint" demo --checkpoint "$WORK/sit.pt" --image "$WORK/sit_euler/images/00000.png" --num_samples 2 \
  --steps 5 --mask_type center --output_dir "$WORK/inpainting" 2>&1 | tail -2

step "7. fine-tune 3 steps: train_ddpm from DiT, train_cfm from SiT (shapes, encoded by the autoencoder)"
model_flags=(--model dit --set model.hidden_size=384 --set model.depth=12
             --set model.num_heads=6 --set model.patch_size=2 --set model.learn_sigma=true
             --dataset shapes --set data.num_images=16 --set data.image_size=16 --set model.vae="$WORK/vae/weights_ema.safetensors"
             --steps 3 --batch_size 4 --threads 2 --set training.sample_every=0)
"$BIN/train_ddpm" "${model_flags[@]}" --set model.convention=dit --set ddpm.schedule=linear \
  --set ddpm.variance=learned_range --set training.init_from="$WORK/dit.pt" --output_dir "$WORK/ft_dit" 2>&1 |
  grep -E "initialised|done"
"$BIN/train_cfm" "${model_flags[@]}" --set model.convention=sit \
  --set training.init_from="$WORK/sit.pt" --output_dir "$WORK/ft_sit" 2>&1 | grep -E "initialised|done"
echo; echo "walkthrough done: $WORK"
