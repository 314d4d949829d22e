# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Claim 3: identity shortcuts and pre-activation
#
# He et al. 2016, "Identity Mappings in Deep Residual Networks" (arXiv:1603.05027). A unit
# computes x_{l+1} = f(h(x_l) + F(x_l)). The paper argues that signal passes directly between
# any two units when both the shortcut h and the after-addition f are identities, and tests it
# with two families of ablations on ResNet-110 (CIFAR-10, median of 5 runs):
#
# - **Table 1, shortcut variants** on the original unit: scaling the shortcut, gating it
#   (g = sigmoid(1x1 conv + b_g)), a 1x1 conv or dropout on it. Every one is worse than the
#   identity (6.61%); constant scaling by 0.5 and dropout "fail" (above 20%).
# - **Table 2, activation placement**: BN after the addition (8.17%), ReLU before the addition
#   (7.84%), ReLU-only pre-activation (6.71%), full pre-activation (6.37%).
#
# The 2016 protocol warms up every run at lr 0.01 (the 2015 paper did it for ResNet-110 only).
#
# **Depth and the expected effect size.** The failures in Table 1 are multiplicative: a shortcut
# scaled by lambda passes lambda^L of the signal (and of the gradient) across L units, so they
# grow with the number of units. Where a profile trains a shallower net than ResNet-110, the
# damage a variant does to the shortcut is much smaller (the table below says how much), and a
# shallow net trains passably even without shortcuts (claim 1): expect the gaps of Table 1 to
# shrink towards zero, and Table 2's differences (about 1-2 points at depth 110) to be below the
# seed noise of a short run.

# %%
from resnet_lib import notebook, plots
from resnet_lib.claims import identity_mappings as claim
from resnet_lib.models import units_per_stage

# %% tags=["parameters"]
profile = "cpu"        # smoke | cpu | paper (resnet_lib/profiles.py)
depth = None           # None: the profile's depth (paper: 110)
variants = None        # None: the profile's variants (claims/identity_mappings.py VARIANTS)
seeds = None           # None: the profile's seeds, for every variant
original_seeds = None  # None: the profile's seeds for the original unit (the seed-noise estimate)
bottleneck_depth = None  # None: the profile's (paper: 164, Table 2's bottleneck column; cpu: none)
data_dir = None        # None: the default search order (resnet_lib/data.py)
train_missing = None  # None: the profile decides (paper: use what `make campaign` stored)

# %%
ctx = notebook.setup("03_identity_mappings", profile, depth=depth, variants=variants,
                     seeds=seeds, original_seeds=original_seeds, bottleneck_depth=bottleneck_depth,
                     train_missing=train_missing)
print(claim.recipe(profile).warmup_iterations, "warm-up iterations at lr",
      claim.recipe(profile).warmup_lr, "on every run (2016 protocol)")
runs = ctx.runs(claim.configs(profile, ctx.depth, ctx.variants, ctx.seeds,
                                        ctx.original_seeds, ctx.bottleneck_depth), data=data_dir)

# %% [markdown]
# How much of the signal a scaled shortcut passes from the first unit to the last, here and in
# the paper's ResNet-110 (54 units):

# %%
units = 3 * units_per_stage(ctx.depth)
for lam in (0.5,):
    print(f"lambda={lam}: lambda^{units} = {lam ** units:.1e} at depth {ctx.depth} "
          f"({units} units); lambda^54 = {lam ** 54:.1e} at depth 110")

# %% [markdown]
# ## Training curves per variant

# %%
panels = {}
for run in runs:
    v, net = claim.variant_of(run), claim.net_of(run)
    for family, name in (("shortcut", "Table 1: shortcut variants"), ("activation", "Table 2: activation placement")):
        if v.family in (family, "both") and not (family == "shortcut" and "bottleneck" in net):
            panels.setdefault(f"{net}, {name}", []).append((v.key, run))
fig = plots.curves_by_label(panels, title=f"CIFAR-10, profile '{profile}'")
plots.save(fig, ctx.figure_path())

# %% [markdown]
# ## Errors beside the paper's (Tables 1 and 2)
# Median over seeds (as the paper), mean and sd; the change from the original unit of the same
# net with its 95% interval, judged against the seed noise of the variants trained with several
# seeds; the paper's error for its ResNet-110 (or ResNet-164, for bottleneck nets) and whether
# it calls the variant a failure (above 20%).

# %%
table = claim.comparison_table(runs)
ctx.save_table("comparison.csv", table)
ctx.save_table("runs.csv", claim.run_table(runs))
table

# %% [markdown]
# ## Verdict, per ablation family

# %%
verdict = claim.verdict(runs)
ctx.save_json("verdict.json", {"verdict": verdict}, runs=runs)
print(verdict["text"])
