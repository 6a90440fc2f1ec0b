#!/usr/bin/python3
"""Small random networks in the layouts DiT, SiT and REPA release, and what they compute, for
flowlab's import tests (tests/published_models_test.cpp). Needs Debian's python3-torch.

The network below is written here from the DiT paper (Peebles & Xie 2023, Sec. 3 and Fig. 3:
patchify, a fixed 2-D sin-cos position table, a 256-frequency [cos, sin] timestep embedding through
a two-layer MLP, a class table whose last row is the null class, adaLN-Zero blocks with shift,
scale and gate for attention and then for the MLP, a final adaLN layer, unpatchify) under the
parameter names of the authors' released state dicts. The samplers follow the papers: DDIM
(Song et al. 2021) over improved diffusion's respaced steps (Nichol & Dhariwal 2021), and Euler
steps of SiT's probability-flow ODE and Euler-Maruyama steps of its reverse SDE (Ma et al. 2024,
Sec. 3.3) in SiT's time (0 = noise, 1 = data).

Writes tests/fixtures/published/:
  dit.pt, sit.pt, repa.pt  state dicts (learned variance for dit and sit; repa has no variance and
                           two projector tensors); width 48, depth 2, 6 heads, patch 2, 4x16x16
                           latents, 10 classes; every tensor random, so no zero-initialised layer
                           hides a mapping
  xl2_keys.txt             every tensor name and shape of DiT-XL/2 at 256x256 (32x32x4 latents, 1,000
                           classes, learned variance), as released in DiT-XL-2-256x256.pt; SiT-XL-2-256.pt
                           is the same network with the same names and shapes
  golden.pt                inputs and outputs (float32):
    noise (2, 4, 16, 16), labels (2,), dit_steps (2,) DDPM indices, sit_times (2,) SiT times
    dit_forward, sit_forward, repa_forward: the networks' outputs at those inputs (repa at 1 - sit_times)
    dit_ddim, dit_ddim_cfg: DDIM over 10 respaced steps from noise, without and with CFG 1.5 on 3 channels
    sit_euler, sit_euler_cfg: 10 Euler steps from noise, without and with CFG 1.5 on 3 channels
    sit_sde_cfg: SiT's SDE protocol at 10 steps (9 noisy, a last noise-free step of 0.04), CFG 1.5
                 on 3 channels, its noise from torch.manual_seed(5)
"""
import math
import os

import torch
from torch import nn

WIDTH, DEPTH, HEADS, PATCH, CHANNELS, SIDE, CLASSES = 48, 2, 6, 2, 4, 16, 10
XL2 = dict(width=1152, depth=28, heads=16, side=32, classes=1000)


class TimeEmbedding(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(256, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t):
        freqs = torch.exp(-math.log(10000) * torch.arange(128, dtype=torch.float32) / 128)
        angles = t.float()[:, None] * freqs[None]
        return self.mlp(torch.cat([torch.cos(angles), torch.sin(angles)], dim=1))


class Attention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x):
        n, tokens, width = x.shape
        q, k, v = self.qkv(x).reshape(n, tokens, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(width // self.heads), dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(n, tokens, width))


class Mlp(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc1 = nn.Linear(width, 4 * width)
        self.fc2 = nn.Linear(4 * width, width)

    def forward(self, x):
        return self.fc2(nn.functional.gelu(self.fc1(x), approximate="tanh"))


def shifted(x, shift, scale):
    return x * (1 + scale[:, None]) + shift[:, None]


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(width, heads)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(width)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))

    def forward(self, x, c):
        s1, c1, g1, s2, c2, g2 = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + g1[:, None] * self.attn(shifted(self.norm1(x), s1, c1))
        return x + g2[:, None] * self.mlp(shifted(self.norm2(x), s2, c2))


class Final(nn.Module):
    def __init__(self, width, outputs):
        super().__init__()
        self.norm_final = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(width, outputs)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(shifted(self.norm_final(x), shift, scale))


class Network(nn.Module):
    """forward(x, t, y) -> every output channel; t is what the time embedding takes."""

    def __init__(self, learn_sigma, projectors=False, width=WIDTH, depth=DEPTH, heads=HEADS, side=SIDE,
                 classes=CLASSES):
        super().__init__()
        self.out_channels = 2 * CHANNELS if learn_sigma else CHANNELS
        self.side = side
        self.x_embedder = nn.Module()
        self.x_embedder.proj = nn.Conv2d(CHANNELS, width, PATCH, stride=PATCH)
        tokens = (side // PATCH) ** 2
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, width), requires_grad=False)
        self.t_embedder = TimeEmbedding(width)
        self.y_embedder = nn.Module()
        self.y_embedder.embedding_table = nn.Embedding(classes + 1, width)
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(depth)])
        if projectors:
            self.projectors = nn.ModuleList([nn.Sequential(nn.Linear(width, 8))])
        self.final_layer = Final(width, PATCH * PATCH * self.out_channels)

    def forward(self, x, t, y):
        n = x.shape[0]
        tokens = self.x_embedder.proj(x).flatten(2).transpose(1, 2) + self.pos_embed
        c = self.t_embedder(t) + self.y_embedder.embedding_table(y)
        for block in self.blocks:
            tokens = block(tokens, c)
        out = self.final_layer(tokens, c)
        grid = self.side // PATCH
        out = out.reshape(n, grid, grid, PATCH, PATCH, self.out_channels)
        return torch.einsum("nhwpqc->nchpwq", out).reshape(n, self.out_channels, self.side, self.side)


def random_network(seed, learn_sigma, projectors=False):
    torch.manual_seed(seed)
    net = Network(learn_sigma, projectors)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.1)
    return net.eval()


def guided(net, x, t, y, scale, channels=3):
    """CFG on the first `channels` output channels, the conditional output on the rest."""
    if scale == 1.0:
        return net(x, t, y)
    out = net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, CLASSES)]))
    cond, null = out.chunk(2)
    mixed = null[:, :channels] + scale * (cond[:, :channels] - null[:, :channels])
    return torch.cat([mixed, cond[:, channels:]], dim=1)


def respaced(total, count):
    """improved diffusion's space_timesteps(total, str(count)): a running sum, rounded half to even."""
    stride, position, steps = (total - 1) / (count - 1), 0.0, []
    for _ in range(count):
        steps.append(round(position))
        position += stride
    return steps


def ddim(net, noise, labels, steps, scale):
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    alpha_bars = torch.cumprod(1 - betas, dim=0)
    kept = respaced(1000, steps)
    x = noise
    for i in reversed(range(len(kept))):
        ab = alpha_bars[kept[i]].item()
        ab_prev = alpha_bars[kept[i - 1]].item() if i > 0 else 1.0
        eps = guided(net, x, torch.full((x.shape[0],), kept[i]), labels, scale)[:, :CHANNELS]
        x0 = (x - math.sqrt(1 - ab) * eps) / math.sqrt(ab)
        x = math.sqrt(ab_prev) * x0 + math.sqrt(1 - ab_prev) * eps
    return x


def euler(net, noise, labels, steps, scale):
    """SiT's time: 0 = noise, 1 = data; the network's first channels are the velocity x - eps."""
    x = noise
    for k in range(steps):
        t = torch.full((x.shape[0],), k / steps)
        x = x + (1 / steps) * guided(net, x, t, labels, scale)[:, :CHANNELS]
    return x


def sit_sde(net, noise, labels, steps, scale, last_step=0.04):
    """SiT's SDE sampler in SiT's time on the linear path x_t = t x + (1 - t) eps: steps - 1
    Euler-Maruyama steps over linspace(0, 1 - last_step, steps) with the "sigma" diffusion
    D = 1 - t, drift v + D score (score = (t v - x) / (1 - t)) and noise sqrt(2 D dt) z, then one
    noise-free step of last_step along the drift. z = torch.randn of x's shape per noisy step."""
    times = torch.linspace(0, 1 - last_step, steps)
    dt = (times[1] - times[0]).item()

    def drift(x, t):
        v = guided(net, x, torch.full((x.shape[0],), t), labels, scale)[:, :CHANNELS]
        return v + (1 - t) * (t * v - x) / (1 - t)

    x = noise
    for t in times[:-1].tolist():
        z = torch.randn(x.shape)
        x = x + drift(x, t) * dt + math.sqrt(2 * (1 - t) * dt) * z
    return x + drift(x, times[-1].item()) * last_step


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(root, "tests", "fixtures", "published")
    os.makedirs(out, exist_ok=True)
    dit, sit, repa = random_network(1, True), random_network(2, True), random_network(3, False, projectors=True)
    for name, net in [("dit", dit), ("sit", sit), ("repa", repa)]:
        torch.save(net.state_dict(), os.path.join(out, name + ".pt"))
    torch.manual_seed(4)
    noise = torch.randn(2, CHANNELS, SIDE, SIDE)
    labels = torch.tensor([3, 7])
    dit_steps = torch.tensor([999, 37])
    sit_times = torch.tensor([0.25, 0.9])
    with torch.no_grad():
        golden = {
            "noise": noise, "labels": labels, "dit_steps": dit_steps, "sit_times": sit_times,
            "dit_forward": dit(noise, dit_steps, labels), "sit_forward": sit(noise, sit_times, labels),
            "repa_forward": repa(noise, 1 - sit_times, labels),
            "dit_ddim": ddim(dit, noise, labels, 10, 1.0), "dit_ddim_cfg": ddim(dit, noise, labels, 10, 1.5),
            "sit_euler": euler(sit, noise, labels, 10, 1.0), "sit_euler_cfg": euler(sit, noise, labels, 10, 1.5),
        }
        torch.manual_seed(5)
        golden["sit_sde_cfg"] = sit_sde(sit, noise, labels, 10, 1.5)
    torch.save(golden, os.path.join(out, "golden.pt"))
    xl2 = Network(True, **XL2)
    with open(os.path.join(out, "xl2_keys.txt"), "w") as f:
        for name, tensor in xl2.state_dict().items():
            f.write(name + " " + ",".join(str(d) for d in tensor.shape) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
