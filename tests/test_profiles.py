import pytest

from resnet_lib import claims
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


# ------------------------------------------------------------- each claim's defaults per profile

def _notebook_parameters(number: str) -> set[str]:
    """The names assigned in the notebook's `parameters` cell (its jupytext source)."""
    import ast

    from resnet_lib.report import NOTEBOOKS_DIR

    (source,) = NOTEBOOKS_DIR.glob(f"{number}_*.py")
    cell = source.read_text().split('# %% tags=["parameters"]\n', 1)[1].split("\n# %%", 1)[0]
    return {t.id for node in ast.parse(cell).body if isinstance(node, ast.Assign)
            for t in node.targets}


@pytest.mark.parametrize("number", sorted(claims.NOTEBOOKS))
def test_each_claim_module_gives_its_notebook_defaults_under_every_profile(number):
    """Each claim module owns its notebook's defaults: one entry per profile, naming exactly the
    notebook's parameters that the profile decides (all but profile, data_dir, train_missing)."""
    decided = _notebook_parameters(number) - {"profile", "data_dir", "train_missing"}
    for profile in PROFILES:
        assert set(claims.defaults(number, profile)) == decided, (number, profile)
    assert set(claims.module(number).NOTES) <= set(PROFILES)


def test_a_notebooks_own_departures_are_listed_with_the_recipes():
    notes = claims.notes("01", "cpu")
    assert notes and deviations("cpu", notes)[-len(notes):] == list(notes)
    assert claims.notes("01", "paper") == () and deviations("paper", claims.notes("01", "paper")) == []
    assert notes[0] in describe("cpu", notes)


def test_defaults_are_copies_and_unknown_names_are_refused():
    claims.defaults("01", "cpu")["depths"].append(110)
    assert 110 not in claims.defaults("01", "cpu")["depths"]
    with pytest.raises(ValueError, match="no claim module for notebook '07'"):
        claims.defaults("07", "cpu")
    with pytest.raises(ValueError, match="no defaults for profile 'gpu'"):
        claims.defaults("01", "gpu")


def test_readme_table_of_what_each_notebook_trains_names_the_defaults_seeds():
    """The README's "What each notebook trains" table says the seeds each profile's defaults use."""
    from resnet_lib.data import REPO_ROOT

    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:4]]
            for line in (REPO_ROOT / "README.md").read_text().splitlines()
            if line.startswith("| 0") and line.count("|") == 4}
    for number in claims.NOTEBOOKS:
        for profile, cell in zip(("paper", "cpu"), rows[number]):
            d = claims.defaults(number, profile)
            if "seeds" in d:
                seeds = d["seeds"]
                said = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {min(seeds)}-{max(seeds)}"
                assert said in cell, (number, profile, cell)
            if "depths" in d:
                assert "/".join(map(str, d["depths"])) in cell or (
                    " and ".join(map(str, d["depths"])) in cell), (number, profile, cell)
