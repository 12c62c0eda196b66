"""Baseline (c): the least a server can do per request. Not part of the product.

Bare Starlette, no validation or preprocessing: body -> ``json.loads`` -> ``np.asarray`` ->
a concrete function traced once for (None, 28, 28, 1) (as app/inference/predictor.py does),
called inline on the event loop -> softmax -> JSON. PNG uploads are decoded with Pillow and
resized only. TensorFlow threads: library defaults, as in trainserve's API process.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from bench._bare_routes import bare_app

_model = keras.saving.load_model(os.environ["BENCH_MODEL_PATH"], compile=False)
_forward = tf.function(
    lambda x: _model(x, training=False),
    input_signature=[tf.TensorSpec((None, 28, 28, 1), tf.float32)],
).get_concrete_function()


app = bare_app(lambda x: _forward(tf.constant(x)).numpy())
