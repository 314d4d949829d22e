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
    with pytest.raises(ValueError, match="positive"):
        Recipe(iterations=0)
    with pytest.raises(ValueError, match="precision"):
        Recipe(precision="fp16")
