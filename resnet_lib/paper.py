"""The published numbers this study compares against (../shared/reference/paper_numbers.md).

CIFAR-10 test error in %. Each entry names its source, so a table can cite it.
"""

HE2015 = "He et al. 2015, arXiv:1512.03385"

# Table 6: ResNets with option A shortcuts; for 110 the best of 5 runs (mean 6.61 +- 0.16).
RESNET_TEST_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93}
RESNET_PARAMETERS = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962,
                     1202: 19_421_274}
# Fig. 6 gives plain nets only as curves; these are read off the figure (about +-0.5), not
# published values. Plain-110 is above 60% error.
PLAIN_TEST_ERROR_FIG6 = {20: 9.5, 32: 10.0, 44: 12.0, 56: 13.5}


def test_error(family: str, depth: int) -> tuple[float | None, str]:
    """(paper's test error, where it comes from) for one net of claim 1."""
    if family == "resnet" and depth in RESNET_TEST_ERROR:
        return RESNET_TEST_ERROR[depth], f"{HE2015}, Table 6"
    if family == "plain" and depth in PLAIN_TEST_ERROR_FIG6:
        return PLAIN_TEST_ERROR_FIG6[depth], f"{HE2015}, Fig. 6 (read off the plot)"
    return None, "not reported"

HE2016 = "He et al. 2016, arXiv:1603.05027"

# He et al. 2016, Tables 3-4: pre-activation bottleneck nets, parameters as printed (rounded).
# The 10.2M of ResNet-1001 counts the weights of convolutions and the FC layer: with BN's
# affine parameters (0.15M) it is 10.33M. ResNet-164's 1.7M holds either way (1.68M / 1.70M).
PREACT_PARAMETERS = {164: 1.7e6, 1001: 10.2e6}
