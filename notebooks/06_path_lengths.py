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
# # Claim 6: the gradient comes from short paths
#
# Veit, Wilber and Belongie 2016 (arXiv:1605.06431), sec. 6, Fig. 6. A ResNet of n units is a
# collection of 2^n paths; a path's length is the number of residual branches it passes
# through, Binomial(n, 1/2) over all paths (for n = 54, 95% of paths have 19-35 units). To see
# which lengths the gradient comes from, run the forward pass as usual, then in the backward
# pass propagate through the residual branches of k randomly chosen units and through the
# skips of the others, and measure the gradient norm at the input. It falls fast with k, so
# the total gradient per length (number of paths x mean gradient) comes almost all from paths
# of 5-17 units, 0.45% of all paths.
#
# **How we do it.** `resnet_lib.analysis.paths`: one forward pass per batch (BN in eval mode,
# summed cross-entropy, so images do not interact), then a restricted backward pass per chosen
# set of units, reusing it. Because the backward pass is linear once the forward pass is fixed,
# the restricted gradients over all 2^n sets sum exactly to the ordinary gradient; the tests
# check this on a small net by enumerating every path. "The input" is the input of the first
# unit (every path shares the stem before it).

# %%
from resnet_lib import notebook, plots
from resnet_lib.claims import path_lengths as claim
from resnet_lib.data import load_cifar10

# %% tags=["parameters"]
profile = "cpu"     # smoke | cpu | paper (resnet_lib/profiles.py)
depth = None        # None: the profile's depth (paper: 56 until ResNet-110 is trained)
seed = None         # None: the profile's seed
batches = None      # batches of test images
batch_size = None   # images per batch
samples = None      # random sets of units per path length and batch
data_dir = None     # None: the default search order (resnet_lib/data.py)
train_missing = None  # None: the profile decides (paper: use what `make campaign` stored)

# %%
ctx = notebook.setup("06_path_lengths", profile, depth=depth, seed=seed, batches=batches,
                     batch_size=batch_size, samples=samples, train_missing=train_missing)
data = load_cifar10(data_dir)
runs = claim.analysed_runs(ctx, data)
# Computed once (on the GPU where there is one), then read from results/<profile>/06_path_lengths/
(grads,) = claim.tables(ctx, runs, data)

# %% [markdown]
# ## Fig. 6: path lengths, gradient per path, total gradient per length

# %%
table = claim.by_length(grads)
ctx.save_table("by_length.csv", table)
fig = plots.path_gradients(table, grads, title=f"ResNet-{ctx.depth}, profile '{profile}'")
plots.save(fig, ctx.figure_path())
table

# %% [markdown]
# ## Verdict
# The gradient per path falls with its length if the slope of log gradient on length is below
# zero over batches (95% t interval); it comes from short paths if the lengths that hold 90% of
# the total gradient end below n/2, where most paths are, for the batches pooled and for every
# batch alone (the per-batch ranges show how stable the pooled one is).

# %%
verdict = claim.verdict(grads)
ctx.save_json("verdict.json", {"verdict": verdict}, runs=runs)
print(verdict["text"])
