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
# # Claim 5: a ResNet behaves like an ensemble of shallower paths (lesion study)
#
# Veit, Wilber and Belongie 2016 (arXiv:1605.06431), sec. 4-5. On a trained ResNet-110
# (54 units), deleting any single unit at test time, leaving its skip connection, barely
# changes the error, except at the few units that downsample; deleting one layer of a plain
# (VGG-style) net destroys it. Deleting k random units raises the error smoothly (about 0.2
# after 10 deletions); swapping pairs of units hurts smoothly as the order departs from the
# trained one (Kendall tau).
#
# **How we do it.** The nets of notebook 01 (the ResNet and the plain net at the profile's
# depth), nothing retrained; `resnet_lib.analysis.lesion` builds each lesioned or reordered
# copy. A deleted ResNet unit outputs relu(h(x)), its skip alone; a deleted plain unit passes
# its input on (subsampled and zero-padded like option A where it changes the shape). Errors
# are on every test image with BN in eval mode; each change from the intact net carries the
# sd of a paired difference on those images.

# %%
from resnet_lib import notebook, plots
from resnet_lib.claims import lesion_study as claim
from resnet_lib.data import load_cifar10

# %% tags=["parameters"]
profile = "cpu"       # smoke | cpu | paper (resnet_lib/profiles.py)
depth = None          # None: the profile's depth (paper: 56 until ResNet-110 is trained)
seed = None           # None: the profile's seed
delete_ks = None      # numbers of units deleted at random
delete_draws = None   # random draws per k
swap_ks = None        # numbers of random swaps
swap_draws = None     # random draws per number of swaps
data_dir = None       # None: the default search order (resnet_lib/data.py)
train_missing = None  # None: the profile decides (paper: use what `make campaign` stored)

# %%
ctx = notebook.setup("05_lesion_study", profile, depth=depth, seed=seed, delete_ks=delete_ks,
                     delete_draws=delete_draws, swap_ks=swap_ks, swap_draws=swap_draws,
                     train_missing=train_missing)
data = load_cifar10(data_dir)
runs = claim.analysed_runs(ctx, data)
# Computed once (on the GPU where there is one), then read from results/<profile>/05_lesion_study/
single, deletions, swaps = claim.tables(ctx, runs, data)

# %% [markdown]
# ## Figures (Veit et al. Figs. 3-5)

# %%
means = claim.deletion_means(deletions)  # error per k: every draw, and the verdict's draws
fig = plots.lesion_panels(single, means, swaps,
                          title=f"ResNet-{ctx.depth} and plain-{ctx.depth}, CIFAR-10 test set, profile '{profile}'")
plots.save(fig, ctx.figure_path())

# %% [markdown]
# Test error (%) after deleting k random units: over every draw, and over the draws that spare
# both downsampling units, whose curve the verdict judges for smoothness.

# %%
means

# %% [markdown]
# ## Verdict
# Four parts, each against a threshold named, with its reason, in
# `resnet_lib/claims/lesion_study.py`: one deletion of a non-downsampling unit changes the error
# by at most 1 point (the paper's "no noticeable change"), and far less than one deletion in
# the plain net; each downsampling unit on its own matters more than the other units; error
# grows smoothly with the number of deleted units (no deletion adds more than a quarter of the
# total rise, measured per unit so the grid of k does not matter, on draws that delete no
# downsampling unit; each step judged with the 95% interval of the draws' scatter, so the part
# is undecided where that interval spans a quarter); error grows as the order departs from the
# trained one.

# %%
verdict = claim.verdict(single, deletions, swaps)
ctx.save_json("verdict.json", {"verdict": verdict}, runs=runs)
print(verdict["text"])
