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
# # Claim 1: deeper plain nets train worse, deeper ResNets train better
#
# He et al. 2015 (arXiv:1512.03385), sec. 4.2, Fig. 6 and Table 6:
#
# > "the deeper plain nets suffer from increased depth, and exhibit higher training error when
# > going deeper. [...] ResNets manage to overcome the optimization difficulty and demonstrate
# > accuracy gains when the depth increases."
#
# The paper trains plain and residual nets of depth 20, 32, 44, 56 and 110 on CIFAR-10 for 64k
# iterations. ResNet test errors (Table 6): 8.75, 7.51, 7.17, 6.97 and 6.43%. Plain nets are shown
# only as curves (Fig. 6): their errors *rise* with depth, to above 60% for plain-110.
#
# We train both families with the recipe of the chosen profile, draw Fig. 6 again, put our errors
# beside the paper's, and compute a verdict: does the final training error rise with depth for
# plain nets and fall for ResNets, by more than run-to-run noise?
#
# Reading a short budget: the `cpu` profile trains for 2 epochs instead of 164, so its errors
# are far above the paper's and the comparison is of directions, not values. Degradation is a
# claim about optimisation and can show at any budget; the *gain* from depth in ResNets is a
# claim about the end of training, so "not shown" for ResNets at a short budget says more about
# the budget than about the paper.

# %%
from resnet_lib import notebook, plots
from resnet_lib.claims import plain_vs_residual as claim

# %% tags=["parameters"]
profile = "cpu"   # smoke | cpu | paper (resnet_lib/profiles.py)
depths = None     # None: the profile's depths, e.g. [20, 32, 44, 56]
seeds = None      # None: the profile's seeds
data_dir = None   # None: the default search order (resnet_lib/data.py)
train_missing = None  # None: the profile decides (paper: use what `make campaign` stored)

# %% [markdown]
# Under the `paper` profile the notebook trains nothing: its 30 runs take GPU-hours and come from
# `make campaign PROFILE=paper`. It analyses the runs complete so far and first lists which runs
# are complete, which are partial (and at what iteration) and which are not started.

# %%
ctx = notebook.setup("01_plain_vs_residual", profile, depths=depths, seeds=seeds,
                     train_missing=train_missing)
runs = ctx.runs(claim.configs(profile, ctx.depths, ctx.seeds), data=data_dir)
by_family = {f: [r for r in runs if r.config.model == f] for f in claim.FAMILIES}

# %% [markdown]
# ## Training curves (Fig. 6)
# Thin lines: training error, averaged over the iterations since the previous point (with
# augmentation, BN in training mode), as in the paper's figure. Bold lines: test error.

# %%
fig = plots.training_curves(by_family, title=f"CIFAR-10, profile '{profile}'")
plots.save(fig, ctx.figure_path())

# %% [markdown]
# ## Reproduced errors beside the paper's (Table 6)
# `train_error` is measured at the end of training on a fixed subset of the training images,
# without augmentation and with BN in eval mode; `test_error` on the official test set, whose
# size `test_images` gives. Runs trained before all 10,000 test images were on this study's
# machines (2026-11-26) logged their test error on the first 1,000; their final weights were
# scored again on all 10,000 (`resnet_lib/evaluation.py`), and `runs.csv` keeps the logged
# number beside it. Sampling noise of a test error: +-0.25 points at 7% and +-0.5 at 35% on
# 10,000 images, sqrt(10) times more on 1,000.

# %%
table = claim.comparison_table(runs)
ctx.save_table("comparison.csv", table)
ctx.save_table("runs.csv", claim.run_table(runs))
table

# %% [markdown]
# ## Verdict
# For each family, the least-squares slope of final error against depth, over every run, as the
# change from the shallowest to the deepest net with its 95% interval. The noise it is judged
# against is seed noise: the spread between runs that differ only in seed, pooled over depths.
# With one seed per depth the verdict is "undecided": the scatter about the line would mix
# noise with any curvature of the trend. It stays "undecided" until both ends of the line, the
# shallowest and the deepest depth, have two or more seeds, since a deep net's seed noise need
# not be a shallow one's. Undecided, it still says which way the line goes and by how much,
# without an interval. A change against the paper's direction is named as such, with the
# budget in epochs beside the paper's 164.

# %%
verdicts = {split: claim.verdict(runs, split) for split in ("train", "test")}
ctx.save_json("verdict.json", {"verdicts": verdicts}, runs=runs)
print(claim.verdicts_text(verdicts))
