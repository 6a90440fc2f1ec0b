"""flowlab's networks in plain PyTorch, with the same parameter names as the C++ modules.

A weight file exported by flowlab (weights_ema.pt, a {name: tensor} dict) loads into these with
load_state_dict(strict=True). Used by scripts/checks/check_export.py and the Python benchmark reference.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def hashed_uniform(n, k):
    """u_j in [-1, 1), j < n, float64: a 32-bit integer hash of (j, k), exact in any language
    (flowlab/hashed_uniform.h)."""
    mask, mul = 0xFFFFFFFF, 0x45D9F3B
    h = (torch.arange(n, dtype=torch.int64) * mul + k * 7919 + 1) & mask
    h = ((torch.div(h, 65536, rounding_mode="floor") ^ h) * mul) & mask
    h = ((torch.div(h, 65536, rounding_mode="floor") ^ h) * mul) & mask
    h = torch.div(h, 65536, rounding_mode="floor") ^ h
    return h.double() / 2.0**32 * 2 - 1


def sinusoidal_embedding(t, dim, max_period=10000.0):
    """t: (N,) in [0, 1] -> (N, dim) [cos | sin] features of 1000 t."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = (t.float() * 1000.0)[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=1)
    return emb


class TimestepEmbedder(nn.Module):
    def __init__(self, frequency_dim, out_dim):
        super().__init__()
        self.frequency_dim = frequency_dim
        self.mlp = nn.Sequential(nn.Linear(frequency_dim, out_dim), nn.SiLU(), nn.Linear(out_dim, out_dim))

    def forward(self, t):
        return self.mlp(sinusoidal_embedding(t, self.frequency_dim))


def group_norm(channels):
    return nn.GroupNorm(math.gcd(channels, 32), channels)


class ResBlock(nn.Module):
    def __init__(self, in_ch, out_ch, cond_dim, dropout):
        super().__init__()
        self.norm1 = group_norm(in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.cond_proj = nn.Linear(cond_dim, 2 * out_ch)
        self.norm2 = group_norm(out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else None

    def forward(self, x, cond):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.cond_proj(F.silu(cond))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return (self.skip(x) if self.skip is not None else x) + h


class AttentionBlock(nn.Module):
    def __init__(self, channels, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.norm = group_norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        n, c, h, w = x.shape
        d = c // self.num_heads
        qkv = self.qkv(self.norm(x)).reshape(n, 3, self.num_heads, d, h * w).permute(1, 0, 2, 4, 3)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
        out = (attn @ v).permute(0, 1, 3, 2).reshape(n, c, h, w)
        return x + self.proj(out)


class UNetLevel(nn.Module):
    def __init__(self):
        super().__init__()
        self.res = nn.ModuleList()
        self.attn = None


class TinyUNet(nn.Module):
    def __init__(self, in_channels=3, image_size=32, base_channels=64, channel_mults=(1, 2, 4),
                 num_res_blocks=2, time_embed_dim=128, num_classes=10, dropout=0.1,
                 attention_resolutions=(8,), num_heads=4):
        super().__init__()
        cond = time_embed_dim
        self.time_embed = TimestepEmbedder(time_embed_dim, cond)
        self.class_embed = nn.Embedding(num_classes + 1, cond)
        self.conv_in = nn.Conv2d(in_channels, base_channels, 3, padding=1)
        levels = len(channel_mults)
        ch = base_channels
        skips = [ch]
        self.down = nn.ModuleList()
        for l in range(levels):
            level = UNetLevel()
            out = base_channels * channel_mults[l]
            attn = (image_size >> l) in attention_resolutions
            if attn:
                level.attn = nn.ModuleList()
            for _ in range(num_res_blocks):
                level.res.append(ResBlock(ch, out, cond, dropout))
                ch = out
                if attn:
                    level.attn.append(AttentionBlock(ch, num_heads))
                skips.append(ch)
            if l != levels - 1:
                level.downsample = nn.Conv2d(ch, ch, 3, stride=2, padding=1)
                skips.append(ch)
            self.down.append(level)
        self.mid_res1 = ResBlock(ch, ch, cond, dropout)
        self.mid_attn = AttentionBlock(ch, num_heads)
        self.mid_res2 = ResBlock(ch, ch, cond, dropout)
        self.up = nn.ModuleList()
        for l in reversed(range(levels)):
            level = UNetLevel()
            out = base_channels * channel_mults[l]
            attn = (image_size >> l) in attention_resolutions
            if attn:
                level.attn = nn.ModuleList()
            for _ in range(num_res_blocks + 1):
                level.res.append(ResBlock(ch + skips.pop(), out, cond, dropout))
                ch = out
                if attn:
                    level.attn.append(AttentionBlock(ch, num_heads))
            if l != 0:
                level.upsample = nn.Conv2d(ch, ch, 3, padding=1)
            self.up.append(level)
        self.out_norm = group_norm(ch)
        self.out_conv = nn.Conv2d(ch, in_channels, 3, padding=1)

    def forward(self, x, t, y):
        return self.body(x, self.time_embed(t) + self.class_embed(y))

    def body(self, x, cond):
        """The network given its conditioning vector (N, time_embed_dim)."""
        h = self.conv_in(x)
        skips = [h]
        for level in self.down:
            for j, block in enumerate(level.res):
                h = block(h, cond)
                if level.attn is not None:
                    h = level.attn[j](h)
                skips.append(h)
            if hasattr(level, "downsample"):
                h = level.downsample(h)
                skips.append(h)
        h = self.mid_res2(self.mid_attn(self.mid_res1(h, cond)), cond)
        for level in self.up:
            for j, block in enumerate(level.res):
                h = block(torch.cat([h, skips.pop()], dim=1), cond)
                if level.attn is not None:
                    h = level.attn[j](h)
            if hasattr(level, "upsample"):
                h = level.upsample(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out_conv(F.silu(self.out_norm(h)))


def tiny_unet_from_config(config):
    """config: the parsed config.yaml of a flowlab run."""
    m, d = config["model"], config["data"]
    return TinyUNet(in_channels=m["in_channels"], image_size=d["image_size"],
                    base_channels=m["base_channels"], channel_mults=tuple(m["channel_mults"]),
                    num_res_blocks=m["num_res_blocks"], time_embed_dim=m["time_embed_dim"],
                    num_classes=m["num_classes"], dropout=m["dropout"],
                    attention_resolutions=tuple(m["attention_resolutions"]), num_heads=m["num_heads"])


# ---- DiT (Peebles & Xie 2023), as src/models/dit.cpp --------------------------------------------

DIT_SIZES = {  # depth, width, heads, patch
    "DiT-T/2": (2, 64, 4, 2), "DiT-S/2": (12, 384, 6, 2), "DiT-S/4": (12, 384, 6, 4),
    "DiT-B/2": (12, 768, 12, 2), "DiT-B/4": (12, 768, 12, 4), "DiT-L/2": (24, 1024, 16, 2),
    "DiT-L/4": (24, 1024, 16, 4), "DiT-XL/2": (28, 1152, 16, 2),
}


def sincos_position_embedding_2d(dim, grid):
    """(grid * grid, dim): [sin | cos] of the column, then of the row (DiT/MAE layout)."""
    quarter = dim // 4
    omega = 10000.0 ** (-torch.arange(quarter, dtype=torch.float64) / quarter)
    idx = torch.arange(grid * grid, dtype=torch.float64)
    row = torch.floor(idx / grid)
    col = idx - row * grid
    def axis(pos):
        args = pos[:, None] * omega[None]
        return torch.cat([torch.sin(args), torch.cos(args)], 1)
    return torch.cat([axis(col), axis(row)], 1).float()


def modulate(x, shift, scale):
    return x * (1 + scale[:, None]) + shift[:, None]


def plain_layer_norm(dim):
    return nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)


class TokenAttention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        n, tokens, dim = x.shape
        d = dim // self.num_heads
        q, k, v = self.qkv(x).reshape(n, tokens, 3, self.num_heads, d).permute(2, 0, 3, 1, 4)
        attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), -1)
        return self.proj((attn @ v).transpose(1, 2).reshape(n, tokens, dim))


class DiTBlock(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4):
        super().__init__()
        self.norm1 = plain_layer_norm(dim)
        self.attn = TokenAttention(dim, num_heads)
        self.norm2 = plain_layer_norm(dim)
        self.fc1 = nn.Linear(dim, mlp_ratio * dim)
        self.fc2 = nn.Linear(mlp_ratio * dim, dim)
        self.adaLN_modulation = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(self.adaLN_modulation.weight)
        nn.init.zeros_(self.adaLN_modulation.bias)

    def forward(self, x, c):
        m = self.adaLN_modulation(F.silu(c)).chunk(6, 1)
        h = x + m[2][:, None] * self.attn(modulate(self.norm1(x), m[0], m[1]))
        mlp = self.fc2(F.gelu(self.fc1(modulate(self.norm2(h), m[3], m[4])), approximate="tanh"))
        return h + m[5][:, None] * mlp


class DiT(nn.Module):
    """two_time: MeanFlow's form, a second embedder for t - r (flowlab's t,t-r pair)."""

    def __init__(self, variant="DiT-S/2", in_channels=3, image_size=32, num_classes=10, two_time=False,
                 frequency_dim=256):
        super().__init__()
        depth, dim, heads, p = DIT_SIZES[variant]
        self.patch, self.channels = p, in_channels
        self.patch_embed = nn.Linear(p * p * in_channels, dim)
        self.register_buffer("pos_embed", sincos_position_embedding_2d(dim, image_size // p)[None])
        self.t_embedder = TimestepEmbedder(frequency_dim, dim)
        if two_time:
            self.interval_embedder = TimestepEmbedder(frequency_dim, dim)
        self.y_embedder = nn.Embedding(num_classes + 1, dim)
        self.blocks = nn.ModuleList([DiTBlock(dim, heads) for _ in range(depth)])
        self.final_norm = plain_layer_norm(dim)
        self.final_adaLN = nn.Linear(dim, 2 * dim)
        self.final_linear = nn.Linear(dim, p * p * in_channels)
        for layer in (self.final_adaLN, self.final_linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x, t, y):
        return self.forward_with_cond(x, self.t_embedder(t) + self.y_embedder(y))

    def forward_interval(self, x, r, t, y):
        return self.forward_with_cond(x, self.t_embedder(t) + self.y_embedder(y) + self.interval_embedder(t - r))

    def forward_with_cond(self, x, c):
        n, ch, size, p = x.shape[0], self.channels, x.shape[2], self.patch
        g = size // p
        tokens = x.reshape(n, ch, g, p, g, p).permute(0, 2, 4, 3, 5, 1).reshape(n, g * g, p * p * ch)
        h = self.patch_embed(tokens) + self.pos_embed
        for block in self.blocks:
            h = block(h, c)
        shift, scale = self.final_adaLN(F.silu(c)).chunk(2, 1)
        h = self.final_linear(modulate(self.final_norm(h), shift, scale))
        return h.reshape(n, g, g, p, p, ch).permute(0, 5, 1, 3, 2, 4).reshape(n, ch, size, size)


# ---- AutoencoderKL (Rombach et al. 2022), as src/models/autoencoder_kl.cpp, diffusers' names ------

def vae_norm(channels, groups):
    return nn.GroupNorm(groups, channels, eps=1e-6)


class VaeResnet(nn.Module):
    def __init__(self, cin, cout, groups):
        super().__init__()
        self.norm1, self.conv1 = vae_norm(cin, groups), nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2, self.conv2 = vae_norm(cout, groups), nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv2(F.silu(self.norm2(self.conv1(F.silu(self.norm1(x))))))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class VaeAttention(nn.Module):
    def __init__(self, channels, groups):
        super().__init__()
        self.group_norm = vae_norm(channels, groups)
        self.to_q, self.to_k, self.to_v = (nn.Linear(channels, channels) for _ in range(3))
        self.to_out = nn.ModuleList([nn.Linear(channels, channels)])

    def forward(self, x):
        n, c, h, w = x.shape
        t = self.group_norm(x).reshape(n, c, h * w).transpose(1, 2)
        q, k, v = self.to_q(t), self.to_k(t), self.to_v(t)
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(c), dim=-1) @ v
        return x + self.to_out[0](a).transpose(1, 2).reshape(n, c, h, w)


class VaeMidBlock(nn.Module):
    def __init__(self, channels, groups):
        super().__init__()
        self.resnets = nn.ModuleList([VaeResnet(channels, channels, groups), VaeResnet(channels, channels, groups)])
        self.attentions = nn.ModuleList([VaeAttention(channels, groups)])

    def forward(self, x):
        return self.resnets[1](self.attentions[0](self.resnets[0](x)))


class VaeConv(nn.Module):
    """A convolution under the name `conv`, as diffusers' Downsample2D and Upsample2D hold it."""

    def __init__(self, conv):
        super().__init__()
        self.conv = conv


class VaeLevel(nn.Module):
    def __init__(self, cin, cout, blocks, groups, resample):
        super().__init__()
        self.resample = resample
        self.resnets = nn.ModuleList([VaeResnet(cin if b == 0 else cout, cout, groups) for b in range(blocks)])
        if resample == "down":
            self.downsamplers = nn.ModuleList([VaeConv(nn.Conv2d(cout, cout, 3, stride=2))])
        elif resample == "up":
            self.upsamplers = nn.ModuleList([VaeConv(nn.Conv2d(cout, cout, 3, padding=1))])

    def forward(self, x):
        for block in self.resnets:
            x = block(x)
        if self.resample == "down":
            x = self.downsamplers[0].conv(F.pad(x, (0, 1, 0, 1)))
        elif self.resample == "up":
            x = self.upsamplers[0].conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return x


class VaeEncoder(nn.Module):
    def __init__(self, in_channels, widths, blocks, latent, groups):
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        ch = widths[0]
        for i, w in enumerate(widths):
            self.down_blocks.append(VaeLevel(ch, w, blocks, groups, "down" if i + 1 < len(widths) else ""))
            ch = w
        self.mid_block = VaeMidBlock(ch, groups)
        self.conv_norm_out = vae_norm(ch, groups)
        self.conv_out = nn.Conv2d(ch, 2 * latent, 3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for level in self.down_blocks:
            x = level(x)
        return self.conv_out(F.silu(self.conv_norm_out(self.mid_block(x))))


class VaeDecoder(nn.Module):
    def __init__(self, out_channels, widths, blocks, latent, groups):
        super().__init__()
        widths = list(reversed(widths))
        self.conv_in = nn.Conv2d(latent, widths[0], 3, padding=1)
        self.mid_block = VaeMidBlock(widths[0], groups)
        self.up_blocks = nn.ModuleList()
        ch = widths[0]
        for i, w in enumerate(widths):
            self.up_blocks.append(VaeLevel(ch, w, blocks + 1, groups, "up" if i + 1 < len(widths) else ""))
            ch = w
        self.conv_norm_out = vae_norm(ch, groups)
        self.conv_out = nn.Conv2d(ch, out_channels, 3, padding=1)

    def forward(self, z):
        z = self.mid_block(self.conv_in(z))
        for level in self.up_blocks:
            z = level(z)
        return self.conv_out(F.silu(self.conv_norm_out(z)))


class AutoencoderKL(nn.Module):
    """encode(x) -> (mean, logvar clamped to [-30, 20]); decode(z) -> image."""

    def __init__(self, in_channels=3, block_out_channels=(128, 256, 512, 512), layers_per_block=2,
                 latent_channels=4, norm_groups=32):
        super().__init__()
        self.encoder = VaeEncoder(in_channels, block_out_channels, layers_per_block, latent_channels, norm_groups)
        self.decoder = VaeDecoder(in_channels, block_out_channels, layers_per_block, latent_channels, norm_groups)
        self.quant_conv = nn.Conv2d(2 * latent_channels, 2 * latent_channels, 1)
        self.post_quant_conv = nn.Conv2d(latent_channels, latent_channels, 1)

    def encode(self, x):
        mean, logvar = self.quant_conv(self.encoder(x)).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z):
        return self.decoder(self.post_quant_conv(z))
