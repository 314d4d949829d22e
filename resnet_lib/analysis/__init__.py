"""Analyses of trained models: layer responses, lesions and reorderings, path-length gradients.
Each takes a trained `CifarResNet` and never changes it."""
