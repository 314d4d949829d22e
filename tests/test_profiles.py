import pytest

from resnet_lib.profiles import PAPER_RECIPE, PROFILES, Recipe, describe, deviations, get_profile


def test_paper_profile_is_the_paper_recipe():
    assert get_profile("paper").recipe == PAPER_RECIPE
    r = PAPER_RECIPE
    assert (r.iterations, r.batch_size, r.lr, r.lr_milestones, r.momentum, r.weight_decay) == (
        64_000, 128, 0.1, (32_000, 48_000), 0.9, 1e-4)
    assert deviations("paper") == []


def test_every_other_profile_says_what_it_changes():
    for name in PROFILES:
        if name != "paper":
            assert any(d.startswith("iterations:") for d in deviations(name))
            assert "Changes from the paper" in describe(name)


def test_compressed_schedule_keeps_the_paper_proportions():
    r = PAPER_RECIPE.compressed(800)
    assert r.lr_milestones == (400, 600) and r.iterations == 800


def test_unknown_profile_and_bad_recipe_are_errors():
    with pytest.raises(ValueError, match="unknown profile 'gpu'.*paper"):
        get_profile("gpu")
    with pytest.raises(ValueError, match="iterations must be a whole number >= 1"):
        Recipe(iterations=0)
    with pytest.raises(ValueError, match="precision"):
        Recipe(precision="fp16")


@pytest.mark.parametrize("change", [
    {"lr": float("nan")}, {"lr": float("inf")}, {"lr": -0.1}, {"lr": 0.0}, {"momentum": 5},
    {"iterations": 2.5}, {"iterations": True}, {"train_subset": 0}, {"test_subset": 0},
    {"weight_decay": -1e-4}, {"batch_size": 0}, {"lr_milestones": (1.5,)}, {"val_split": 1},
])
def test_bad_recipes_are_refused_saying_what_is_allowed(change):
    import dataclasses

    from resnet_lib.profiles import PAPER_RECIPE

    with pytest.raises(ValueError, match=f"{next(iter(change))} must be"):
        dataclasses.replace(PAPER_RECIPE, **change)


@pytest.mark.parametrize("seed", [True, -1, 1.0, "0"])
def test_bad_seeds_are_refused(seed):
    from resnet_lib.config import RunConfig
    from resnet_lib.profiles import PAPER_RECIPE

    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        RunConfig("resnet20", seed, PAPER_RECIPE)
