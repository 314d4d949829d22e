"""resnet_lib: a small library behind the notebooks of this ResNet reproduction study.

data      CIFAR-10 from the python pickles, on-device augmentation
models    registry and CIFAR ResNets / plain nets
profiles  named budgets (smoke, cpu, paper) and their deviations from the papers
config    RunConfig: what a run is, and its hash
train     the training loop, with exact resume
store     the run store under results/
"""

__version__ = "0.1.0"
