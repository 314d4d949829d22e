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
# # Claim 4: ResNet layers respond less than plain ones, and less as depth grows
#
# He et al. 2015 (arXiv:1512.03385), sec. 4.2, Fig. 7: "the standard deviations (std) of layer
# responses [...] are the outputs of each 3x3 layer, after BN and before other nonlinearity
# (ReLU/addition)". The paper finds ResNet responses generally smaller than those of plain
# nets, which supports the idea that residual functions are closer to zero than
# non-residual ones; and the deeper the ResNet, the smaller its responses: "an individual layer
# of ResNets tends to modify the signal less".
#
# **How we measure.** The trained nets of notebook 01 (the same stored runs; nothing is trained
# here) in eval mode (BN with its running statistics), over every test image; a forward hook on
# each BN that follows a 3x3 conv (the stem's, and both of every unit) records the output. The
# std of a layer is taken over all elements of its output: images x channels x positions (the
# paper does not say; a per-channel std would be close to BN's learned scale). The 95% intervals
# resample the test images (bootstrap); with one trained net per model they do not cover
# seed-to-seed variation.

# %%
from resnet_lib import notebook, plots
from resnet_lib.claims import layer_responses as claim
from resnet_lib.data import load_cifar10

# %% tags=["parameters"]
profile = "cpu"   # smoke | cpu | paper (resnet_lib/profiles.py)
depths = None     # None: the profile's depths (nets of notebook 01)
seeds = None      # None: the profile's seeds
data_dir = None   # None: the default search order (resnet_lib/data.py)
train_missing = None  # None: the profile decides (paper: use what `make campaign` stored)

# %%
ctx = notebook.setup("04_layer_responses", profile, depths=depths, seeds=seeds,
                     train_missing=train_missing)
data = load_cifar10(data_dir)
runs = ctx.runs(claim.configs(profile, ctx.depths, ctx.seeds), data=data)
key = notebook.analysis_key(runs, data, claim.ANALYSIS_VERSION)
measured = {}


def measure_once():
    if not measured:
        measured["layers"], measured["draws"] = claim.measure(runs, data)
    return measured


layers = ctx.cached_table("layers.csv", key, lambda: measure_once()["layers"])
draws = ctx.cached_table("bootstrap.csv", key, lambda: measure_once()["draws"])

# %% [markdown]
# ## Fig. 7: response std per layer
# Top: in forward order. Bottom: each net's layers sorted by magnitude. Dashed: plain nets.

# %%
fig = plots.layer_responses(layers, title=f"CIFAR-10 test set, profile '{profile}'")
plots.save(fig, ctx.figure_path())

# %%
summary = (layers.groupby(["family", "depth"])["std"].agg(["mean", "median", "max"])
           .rename(columns=lambda c: f"{c}_std").reset_index())
ctx.save_table("summary.csv", summary)
summary

# %% [markdown]
# ## Verdict
# The mean response std over a net's layers, ResNet against plain at the same depth, and each
# ResNet against the next shallower one, as ratios of geometric means over nets. Their 95%
# intervals come from net-to-net variation: the spread between nets that differ only in seed.
# Two trainings of one config can move a ratio by 20% or more, far beyond the choice of test
# images, so with one net per model the verdict is "undecided". So is each comparison in which
# either model has one net: a deeper net's variation need not be a shallower one's, so it is
# not borrowed from other models (the rule of notebook 01's verdict). The bootstrap interval
# over test images is printed where there is no other.

# %%
verdict = claim.verdict(layers, draws)
ctx.save_json("verdict.json", {"verdict": verdict}, runs=runs)
print(verdict["text"])
