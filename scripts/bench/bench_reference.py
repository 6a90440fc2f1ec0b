#!/usr/bin/env python3
"""The Python side of scripts/bench/bench.sh: flowlab's training and sampling steps in plain PyTorch.

Same networks (scripts/pytorch/flowlab_models.py; the parameter counts must equal those flowlab reports),
same objectives and samplers, same batch and image sizes, written the way a PyTorch training script
would: a loop of forward, backward, clip, AdamW, EMA; CFG as one double batch; the MeanFlow JVP
with torch.autograd.forward_ad on the rows with r < t. Prints a table and writes JSON in the
format of the `benchmark` app.

Needs Debian's python3-torch (the same LibTorch 1.13 flowlab builds against) and python3-yaml.
Only TinyUNet is mirrored: DiT rows are flowlab-only.
"""
import argparse
import copy
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F
import torch.autograd.forward_ad as fwAD
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from flowlab_models import DiT, TimestepEmbedder, TinyUNet  # noqa: E402


class TinyUNetMeanFlow(TinyUNet):
    """TinyUNet with a second time input: cond = emb(t) + emb2(t - r) + class (flowlab's t,t-r pair)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.interval_embed = TimestepEmbedder(kw["time_embed_dim"], kw["time_embed_dim"])

    def forward_interval(self, x, r, t, y):
        cond = self.time_embed(t) + self.interval_embed(t - r) + self.class_embed(y)
        return self.body(x, cond)

    def forward(self, x, t, y):
        return self.forward_interval(x, t, t, y)


MODEL_DEFAULTS = dict(in_channels=3, base_channels=64, channel_mults=[1, 2, 4], num_res_blocks=2,
                      time_embed_dim=128, num_classes=10, dropout=0.1, attention_resolutions=[8],
                      num_heads=4)


def build_model(model_cfg, image_size, meanflow):
    if model_cfg.get("type") == "dit":
        return DiT(model_cfg.get("variant") or "DiT-S/2", model_cfg.get("in_channels", 3), image_size,
                   model_cfg["num_classes"], two_time=meanflow)
    kw = {k: model_cfg.get(k, v) for k, v in MODEL_DEFAULTS.items()}
    kw["channel_mults"] = tuple(kw["channel_mults"])
    kw["attention_resolutions"] = tuple(kw["attention_resolutions"])
    return (TinyUNetMeanFlow if meanflow else TinyUNet)(image_size=image_size, **kw)


def cosine_alpha_bar(T, s=0.008):
    steps = torch.arange(T + 1, dtype=torch.float64) / T
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    ab = f / f[0]
    betas = (1 - ab[1:] / ab[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, 0).float()


# ---- objectives ------------------------------------------------------------------------------

def cfm_loss(model, x, y):
    t = torch.rand(x.shape[0])
    eps = torch.randn_like(x)
    tb = t[:, None, None, None]
    return F.mse_loss(model((1 - tb) * x + tb * eps, t, y), eps - x)


def ddpm_loss(model, x, y, alpha_bar):
    T = alpha_bar.shape[0]
    t = torch.randint(1, T + 1, (x.shape[0],))
    ab = alpha_bar[t - 1][:, None, None, None]
    eps = torch.randn_like(x)
    return F.mse_loss(model(ab.sqrt() * x + (1 - ab).sqrt() * eps, t.float() / T, y), eps)


def meanflow_loss(model, x, y, p_mean=-2.0, p_std=2.0, ratio=0.75, p=0.75, c=1e-3):
    n = x.shape[0]
    a = torch.sigmoid(torch.randn(n) * p_std + p_mean)
    b = torch.sigmoid(torch.randn(n) * p_std + p_mean)
    t = torch.maximum(a, b)
    r = torch.where(torch.rand(n) < ratio, torch.minimum(a, b), t)
    eps = torch.randn_like(x)
    tb = t[:, None, None, None]
    z = (1 - tb) * x + tb * eps
    v = eps - x
    jvp_rows = torch.nonzero(r < t).view(-1)
    fm_rows = torch.nonzero(r >= t).view(-1)
    us, targets = [], []
    if len(jvp_rows):
        zj, vj, rj, tj, yj = z[jvp_rows], v[jvp_rows], r[jvp_rows], t[jvp_rows], y[jvp_rows]
        with fwAD.dual_level():
            out = model.forward_interval(fwAD.make_dual(zj, vj), rj, fwAD.make_dual(tj, torch.ones_like(tj)), yj)
            u, dudt = fwAD.unpack_dual(out)
        us.append(u)
        targets.append((vj - (tj - rj)[:, None, None, None] * dudt).detach())
    if len(fm_rows):
        tf = t[fm_rows]
        us.append(model.forward_interval(z[fm_rows], tf, tf, y[fm_rows]))
        targets.append(v[fm_rows])
    diff = torch.cat(us) - torch.cat(targets)
    per_sample = diff.pow(2).sum((1, 2, 3))
    weight = (per_sample.detach() + c).pow(-p)
    return (weight * per_sample).mean()


# ---- samplers --------------------------------------------------------------------------------

def guided(model, x, t, y, scale, null):
    if scale == 1.0:
        return model(x, t, y)
    cond, uncond = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, null)])).chunk(2)
    return uncond + scale * (cond - uncond)


@torch.inference_mode()
def sample_cfm(model, noise, y, steps, scale, null, heun=False):
    x = noise
    dt = 1.0 / steps
    for i in range(steps):
        t = 1.0 - i * dt
        tt = torch.full((x.shape[0],), t)
        v = guided(model, x, tt, y, scale, null)
        if heun:
            x_e = x - dt * v
            v2 = guided(model, x_e, torch.full_like(tt, t - dt), y, scale, null)
            v = 0.5 * (v + v2)
        x = x - dt * v
    return x


@torch.inference_mode()
def sample_ddpm(model, noise, y, steps, scale, null, alpha_bar):
    T = alpha_bar.shape[0]
    grid = [round(1 + (T - 1) * k / (steps - 1)) for k in range(steps)]
    x = noise
    for k in reversed(range(len(grid))):
        t, s = grid[k], grid[k - 1] if k > 0 else 0
        ab_t = alpha_bar[t - 1].item()
        ab_s = alpha_bar[s - 1].item() if s > 0 else 1.0
        eps = guided(model, x, torch.full((x.shape[0],), t / T), y, scale, null)
        x0 = ((x - math.sqrt(1 - ab_t) * eps) / math.sqrt(ab_t)).clamp(-1, 1)
        a_ts = ab_t / ab_s
        coef_x0 = math.sqrt(ab_s) * (1 - a_ts) / (1 - ab_t)
        coef_xt = math.sqrt(a_ts) * (1 - ab_s) / (1 - ab_t)
        x = coef_x0 * x0 + coef_xt * x
        if s > 0:
            x = x + math.sqrt((1 - ab_s) / (1 - ab_t) * (1 - a_ts)) * torch.randn_like(x)
    return x


@torch.inference_mode()
def sample_meanflow(model, noise, y, steps):
    z = noise
    for i in range(steps):
        t, r = 1.0 - i / steps, 1.0 - (i + 1) / steps
        n = z.shape[0]
        z = z - (t - r) * model.forward_interval(z, torch.full((n,), r), torch.full((n,), t), y)
    return z


# ---- timing ----------------------------------------------------------------------------------

def timed(warmup, repeats, f):
    for _ in range(warmup):
        f()
    start = time.perf_counter()
    for _ in range(repeats):
        f()
    return time.perf_counter() - start


def row(kind, name, seconds, images, nfe=0, parameters=0):
    r = dict(kind=kind, name=name, images_per_sec=images / seconds, seconds=seconds, images=images,
             nfe=nfe, parameters=parameters)
    print(f"{kind + ' ' + name:<34}{r['images_per_sec']:>12.1f}{nfe:>6}{parameters:>13}{seconds:>10.2f}", flush=True)
    return r


def count(model):
    return sum(p.numel() for p in model.parameters())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", help="flowlab YAML; its model section picks the network")
    ap.add_argument("--model", help="backbone: tiny_unet or dit (overrides the config's model.type)")
    ap.add_argument("--variant", help="DiT size, e.g. DiT-S/2")
    ap.add_argument("--batch_size", type=int, default=64)
    ap.add_argument("--image_size", type=int)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--num_samples", type=int, default=64)
    ap.add_argument("--sample_batch_size", type=int, default=64)
    ap.add_argument("--cfg_scale", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--methods", default="cfm,ddpm,meanflow")
    ap.add_argument("--suite", default="train,sample")
    ap.add_argument("--expect", help="flowlab benchmark JSON: assert equal parameter counts")
    ap.add_argument("--output")
    ap.add_argument("--profile", metavar="DIR",
                    help="also profile each training row (the legacy autograd profiler, as flowlab's "
                         "benchmark uses): DIR/reference_train_<method>.json")
    args = ap.parse_args()

    cfg = yaml.safe_load(open(args.config)) if args.config else {}
    model_cfg = dict(cfg.get("model", {}))
    model_cfg.setdefault("num_classes", 10)
    if args.model:
        model_cfg["type"] = args.model
    if args.variant:
        model_cfg["variant"] = args.variant
    image_size = args.image_size or cfg.get("data", {}).get("image_size", 32)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    alpha_bar = cosine_alpha_bar(1000)
    null = model_cfg["num_classes"]
    suite = args.suite.split(",")
    rows = []
    print(f"{'measure':<34}{'images/s':>12}{'NFE':>6}{'parameters':>13}{'seconds':>10}")

    if "train" in suite:
        for method in args.methods.split(","):
            model = build_model(model_cfg, image_size, method == "meanflow")
            ema = copy.deepcopy(model).requires_grad_(False)
            opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01)
            x = torch.rand(args.batch_size, model_cfg.get("in_channels", 3), image_size, image_size) * 2 - 1
            y = torch.randint(0, null, (args.batch_size,))
            loss_fn = {"cfm": cfm_loss, "ddpm": lambda m, a, b: ddpm_loss(m, a, b, alpha_bar),
                       "meanflow": meanflow_loss}[method]
            model.train()

            def step():
                labels = torch.where(torch.rand(y.shape) < 0.1, torch.full_like(y, null), y)
                loss = loss_fn(model, x, labels)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                if torch.isfinite(loss) and torch.isfinite(norm):
                    opt.step()
                    with torch.no_grad():
                        for e, p in zip(ema.parameters(), model.parameters()):
                            e.mul_(0.9999).add_(p, alpha=1 - 0.9999)

            seconds = timed(args.warmup, args.steps, step)
            if args.profile:
                os.makedirs(args.profile, exist_ok=True)
                with torch.autograd.profiler.profile(use_kineto=False) as prof:
                    for _ in range(args.steps):
                        step()
                prof.export_chrome_trace(f"{args.profile}/reference_train_{method}.json")
            if model_cfg.get("type") == "dit":
                model_type = "dit"
            else:
                model_type = "tiny_unet_meanflow" if method == "meanflow" else "tiny_unet"
            rows.append(row("train", f"{method} {model_type}", seconds, args.steps * args.batch_size,
                            parameters=count(model)))
        rows.append(dict(kind="memory", name="peak_rss_after_training_bytes",
                         value=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))

    if "sample" in suite:
        plain = build_model(model_cfg, image_size, False).eval()
        two_time = build_model(model_cfg, image_size, True).eval()
        b = args.sample_batch_size
        batches = -(-args.num_samples // b)
        noise = torch.randn(b, model_cfg.get("in_channels", 3), image_size, image_size)
        y = torch.arange(b) % null
        cases = [
            ("cfm euler 50 cfg", plain, 50, lambda: sample_cfm(plain, noise, y, 50, args.cfg_scale, null)),
            ("cfm euler 50", plain, 50, lambda: sample_cfm(plain, noise, y, 50, 1.0, null)),
            ("cfm heun 25 cfg", plain, 50, lambda: sample_cfm(plain, noise, y, 25, args.cfg_scale, null, heun=True)),
            ("ddpm 50 cfg", plain, 50, lambda: sample_ddpm(plain, noise, y, 50, args.cfg_scale, null, alpha_bar)),
            ("meanflow 1", two_time, 1, lambda: sample_meanflow(two_time, noise, y, 1)),
            ("meanflow 2", two_time, 2, lambda: sample_meanflow(two_time, noise, y, 2)),
        ]
        for name, model, nfe, f in cases:
            rows.append(row("sample", name, timed(1, batches, f), batches * b, nfe, count(model)))

    if args.expect:
        theirs = {(r["kind"], r["name"]): r["parameters"] for r in json.load(open(args.expect))["results"]}
        for r in rows:
            key = (r["kind"], r.get("name"))
            if key in theirs and r.get("parameters"):
                assert r["parameters"] == theirs[key], f"{key}: {r['parameters']} parameters here, {theirs[key]} in flowlab"
        print("parameter counts equal flowlab's")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"peak RSS {peak / 1048576:.0f} MiB")
    if args.output:
        json.dump(dict(device="cpu", threads=torch.get_num_threads(), batch_size=args.batch_size,
                       image_size=image_size, results=rows, peak_rss_bytes=peak), open(args.output, "w"), indent=2)


if __name__ == "__main__":
    main()
