"""Inference: request parsing and MNIST-style preprocessing, model loading, the model cache.

Import the submodules directly; this package imports nothing so that the API process never
loads TensorFlow by accident (only ``predictor`` does, and only when a model is loaded).
"""
