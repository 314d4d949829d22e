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
# # Claim 2: identity vs projection shortcuts (options A, B, C)
#
# He et al. 2015 (arXiv:1512.03385), sec. 3.3 and 4.1, Table 3. Where a unit changes the shape
# (stride 2, more channels), the shortcut can be
#
# - **A**: the identity, subsampled, with zero-padded extra channels: no parameters;
# - **B**: a projection (1x1 conv + BN) where the shape changes, the identity elsewhere;
# - **C**: projections on every shortcut.
#
# On ImageNet (ResNet-34, 10-crop top-1) the paper finds C (24.19%) slightly better than B
# (24.52%), and B slightly better than A (25.03%), and concludes the differences are small, so
# projections are "not essential for addressing the degradation problem". It gives one reason
# for A's deficit: **the zero-padded channels of A's shortcut carry nothing, so in those
# channels the unit's output is F(x) alone, a plain layer with no identity to learn a residual
# against.** The paper never ran A/B/C on CIFAR-10; this notebook asks the same question there,
# so only the ordering and the size of the gaps can be compared with the ImageNet numbers.

# %%
from resnet_lib import notebook, plots
from resnet_lib.claims import shortcut_options as claim

# %% tags=["parameters"]
profile = "cpu"   # smoke | cpu | paper (resnet_lib/profiles.py)
depths = None     # None: the profile's depths, e.g. [14, 20]
seeds = None      # None: the profile's seeds
data_dir = None   # None: the default search order (resnet_lib/data.py)
train_missing = None  # None: the profile decides (paper: use what `make campaign` stored)

# %%
ctx = notebook.setup("02_shortcut_options", profile, depths=depths, seeds=seeds,
                     train_missing=train_missing)
# compared on the depths and seeds that have every option complete (all, where the profile trains)
runs = claim.complete_sets(ctx.runs(claim.configs(profile, ctx.depths, ctx.seeds), data=data_dir))

# %% [markdown]
# ## What each option costs
# Parameters and multiply-adds of one 32x32 image, computed from the models (convolutions and
# the FC layer, as the paper counts them). B's projections appear only at the two stage
# transitions, so B costs almost nothing over A; C puts a 1x1 conv on every unit.

# %%
costs = claim.cost_table(ctx.depths)
ctx.save_table("costs.csv", costs)
costs

# %% [markdown]
# ## Errors per option
# Final test and training error per option and depth, mean and sd over seeds, beside the
# paper's ImageNet ResNet-34 top-1 errors (a different data set and network: compare the order).

# %%
table = claim.comparison_table(runs)
ctx.save_table("comparison.csv", table)
ctx.save_table("runs.csv", claim.run_table(runs))
table

# %%
fig = plots.grouped_points(claim.run_table(runs), "depth", "option", "test_error",
                           order=list(claim.OPTIONS),
                           title=f"CIFAR-10 test error per shortcut option, profile '{profile}' "
                                 "(grey: seeds; blue: mean +- sd)")
plots.save(fig, ctx.figure_path())

# %% [markdown]
# ## Verdict
# The ordering of the means at each depth, and each gap between options paired by depth and
# seed, with its 95% interval: a gap is "larger than seed noise" when the interval excludes 0.

# %%
verdict = claim.verdict(runs)
ctx.save_json("verdict.json", {"verdict": verdict, "costs": costs.to_dict("records")}, runs=runs)
print(verdict["text"])
