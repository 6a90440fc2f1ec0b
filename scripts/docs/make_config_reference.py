#!/usr/bin/python3
"""Rewrites the key tables of docs/configuration.md (from its first "### `model`" to the end)
from the field comments in include/flowlab/config.h, with the short meanings below for fields
that have none. Run from anywhere; scripts/docs/check_docs.py (a ctest) fails when a key is missing.
"""
import os
import re

os.chdir(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
src = open('include/flowlab/config.h').read()
sections = dict(re.findall(r'^\s+(\w+Config) (\w+);$', src[src.index('struct Config {'):src.index('};', src.index('struct Config {'))], re.M))
out = []
for struct, section in sections.items():
    body = src[src.index('struct ' + struct + ' {'):]
    body = body[:body.index('\n};')]
    rows, comment = [], []
    for line in body.split('\n')[1:]:
        s = line.strip()
        if s.startswith('//'):
            comment.append(s[2:].strip()); continue
        m = re.match(r'^([\w:<>, ]+?) (\w+)(?: = ([^;]+)|\{([^}]*)\})?;\s*(?://\s*(.*))?$', s)
        if m and '(' not in s.split('//')[0]:
            typ, name, default, brace, trailing = m.groups()
            if brace is not None: default = '[' + brace + ']'
            text = ' '.join(comment + ([trailing] if trailing else []))
            default = (default or '').strip()
            if typ.strip() == 'std::string': default = default or '""'
            if 'vector' in typ and not default: default = '[]'
            rows.append((name, default, text))
        comment = [] if not s.startswith('//') else comment
    out.append((section, rows))
md = []
for section, rows in out:
    md.append(f'### `{section}`\n\n| key | default | meaning |\n| --- | --- | --- |')
    for name, default, text in rows:
        text = text.replace('|', '\\|')
        md.append(f'| `{section}.{name}` | `{default}` | {text} |')
    md.append('')
tables = '\n'.join(md)
fill = {
 'model.base_channels': "TinyUNet's width at the first level",
 'model.channel_mults': "TinyUNet's level widths, base_channels times each; one level per entry",
 'model.num_res_blocks': 'residual blocks per TinyUNet level',
 'model.time_embed_dim': "TinyUNet's time-embedding width",
 'model.dropout': 'dropout in residual blocks (TinyUNet) and MLPs (DiT)',
 'model.attention_resolutions': 'TinyUNet feature-map sides with self-attention',
 'model.depth': 'DiT blocks (see hidden_size)',
 'model.patch_size': 'DiT patch side (see hidden_size)',
 'model.vae_sha256': "the autoencoder file's SHA-256, recorded (see vae)",
 'model.vae_scaling_factor': 'latent scale (see vae)',
 'model.vae_shift_factor': 'latent shift (see vae)',
 'data.data_dir': "the dataset's folder (cifar10, mnist, folder, latents)",
 'method.logit_mean': 'logit-normal location of CFM times (time_sampling logit_normal)',
 'method.logit_std': 'logit-normal scale of CFM times',
 'ddpm.timesteps': 'T, the number of diffusion steps',
 'meanflow.adaptive_c': 'c of the adaptive weight (see adaptive_p)',
 'meanflow.guidance_t_max': 'see guidance_t_min',
 'vae.num_res_blocks': 'ResNet blocks per level',
 'vae.z_channels': 'latent channels',
 'vae.norm_groups': 'GroupNorm groups',
 'vae.shift_factor': 'see scaling_factor',
 'vae.kl_weight': 'weight of the KL term',
 'vae.perceptual_weight': 'weight of the perceptual term',
 'vae.disc_layers': "PatchGAN's strided layers",
 'vae.disc_channels': "PatchGAN's first width",
 'scheduler.min_lr': 'the cosine schedule ends here',
 'scheduler.warmup_steps': 'linear warm-up from 0 over these steps',
 'training.epochs': 'passes over the data (steps > 0 overrides)',
 'training.muon_lr': "Muon's learning rate (optimizer muon)",
 'training.muon_momentum': "Muon's Nesterov momentum",
 'training.lr': "AdamW's learning rate (peak of the schedule)",
 'training.beta1': "AdamW's beta1",
 'training.beta2': "AdamW's beta2",
 'training.ema_decay': 'EMA decay of the sampled weights',
 'training.cfg_dropout': 'probability that a row trains with the null label (CFG)',
 'training.log_every': 'steps between metrics.jsonl records and log lines',
 'training.checkpoint_every': 'steps between last.pt writes',
 'training.seed': 'seed of every random draw (with the step)',
 'training.output_dir': "the run's folder",
 'eval.num_samples': 'samples per evaluation',
 'sampling.steps': 'sampler steps (NFE per step: docs/samplers.md)',
 'sampling.shift': "s of the shift schedule",
 'sampling.sde_norm': 'multiplies the sde diffusion coefficient',
 'sampling.cfg_scale': 'classifier-free guidance scale; 1 = off',
 'sampling.cfg_t_max': 'see cfg_t_min',
 'sampling.num_samples': 'images generate_samples writes',
 'sampling.batch_size': 'images per sampling batch',
 'sampling.resample_repeats': 'see resample_jump',
}
md = tables.split('\n')
for i, line in enumerate(md):
    m = re.match(r'^\| `([a-z_]+\.[a-z_0-9]+)` \| (.*) \|  \|$', line)
    if m and m.group(1) in fill:
        md[i] = f'| `{m.group(1)}` | {m.group(2)} | {fill[m.group(1)]} |'
page = open('docs/configuration.md').read()
start = page.index('### `model`')
open('docs/configuration.md', 'w').write(page[:start] + '\n'.join(md))
print('docs/configuration.md:', sum(1 for l in md if l.startswith('| `')), 'keys')
