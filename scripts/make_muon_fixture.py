#!/usr/bin/python3
"""Golden values for flowlab's Muon test (tests/fixtures/muon_golden.json).

Run with Debian's python3-torch:
    /usr/bin/python3 scripts/make_muon_fixture.py tests/fixtures/muon_golden.json

A plain-PyTorch mirror of Muon as Jordan et al. publish it (Nesterov momentum by lerp, five
Newton-Schulz iterations with the quintic coefficients on the update's matrix, scaled by
sqrt(max(1, rows / cols)), decoupled weight decay), in fp32 where the original runs the iteration
in bf16, beside torch.optim.AdamW for the parameters Muon leaves alone. Three steps on fixed
weights and gradients; the fixture holds the starting weights, each step's gradients and the
weights after each step.
"""
import json
import sys

import torch

A, B, C = 3.4445, -4.7750, 2.0315


def newton_schulz(g, steps=5):
    x = g.float()
    tall = g.size(0) > g.size(1)
    if tall:
        x = x.T
    x = x / (x.norm() + 1e-7)
    for _ in range(steps):
        a = x @ x.T
        x = A * x + (B * a + C * a @ a) @ x
    return x.T if tall else x


def muon_step(params, momenta, lr, beta, weight_decay):
    with torch.no_grad():
        for p, m in zip(params, momenta):
            g = p.grad
            m.lerp_(g, 1 - beta)
            update = g.lerp(m, beta)
            matrix = update.reshape(update.size(0), -1)
            o = newton_schulz(matrix) * max(1.0, matrix.size(0) / matrix.size(1)) ** 0.5
            p.mul_(1 - lr * weight_decay)
            p.add_(o.view_as(p), alpha=-lr)


def main(path):
    torch.manual_seed(0)
    shapes = {"matrices": [[6, 4], [3, 2, 3, 3], [8, 3]], "others": [[6], [5, 4]]}
    params = {k: [torch.randn(s, dtype=torch.float32).requires_grad_() for s in v] for k, v in shapes.items()}
    settings = {"muon_lr": 0.02, "momentum": 0.95, "lr": 3e-3, "betas": [0.9, 0.999], "weight_decay": 0.01}
    start = {k: [p.detach().flatten().tolist() for p in v] for k, v in params.items()}
    adamw = torch.optim.AdamW(params["others"], lr=settings["lr"], betas=tuple(settings["betas"]),
                              weight_decay=settings["weight_decay"])
    momenta = [torch.zeros_like(p) for p in params["matrices"]]
    steps = []
    for _ in range(3):
        grads = {k: [torch.randn(p.shape) for p in v] for k, v in params.items()}
        for k in params:
            for p, g in zip(params[k], grads[k]):
                p.grad = g.clone()
        muon_step(params["matrices"], momenta, settings["muon_lr"], settings["momentum"], settings["weight_decay"])
        adamw.step()
        steps.append({"grads": {k: [g.flatten().tolist() for g in v] for k, v in grads.items()},
                      "after": {k: [p.detach().flatten().tolist() for p in v] for k, v in params.items()}})
    with open(path, "w") as f:
        json.dump({"shapes": shapes, "settings": settings, "start": start, "steps": steps}, f)


if __name__ == "__main__":
    main(sys.argv[1])
