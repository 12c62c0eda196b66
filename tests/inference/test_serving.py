"""Which requests may be answered on the event loop: only those whose work is bounded and
small. Anything that could decode into a big image must go to a worker thread, or one
request would stall every other client of the process."""

from __future__ import annotations

import base64
import json

import numpy as np
from PIL import Image

from app.inference.serving import answerable_inline
from tests.fixtures.images import encode, png_with_size


def test_small_pixel_lists_are_answered_inline() -> None:
    body = json.dumps({"instances": [np.zeros((28, 28)).tolist()]}).encode()
    assert answerable_inline(body, None)
    assert not answerable_inline(json.dumps({"instances": [[0] * 784] * 40}).encode(), None)


def test_images_inside_json_go_to_a_thread() -> None:
    # 47 KB of base64 holding a 5000x5000 PNG: 100 ms to decode.
    bomb = encode(Image.new("L", (5000, 5000), 255), optimize=True)
    body = json.dumps({"instances": [{"b64": base64.b64encode(bomb).decode()}]}).encode()
    assert len(body) < 64 * 1024 and not answerable_inline(body, None)
    escaped = b'{"instances": [{"\\u0062\\u0036\\u0034": "iVBORw0KGgo="}]}'
    assert json.loads(escaped)["instances"][0] == {"b64": "iVBORw0KGgo="}
    assert not answerable_inline(escaped, None)


def test_only_small_pngs_are_decoded_inline() -> None:
    digit = encode(Image.new("L", (28, 28)))
    assert answerable_inline(b"", [digit, digit])
    assert not answerable_inline(b"", [png_with_size(5000, 5000)])  # the header tells
    assert not answerable_inline(b"", [encode(Image.new("L", (28, 28)), "JPEG")])
    assert not answerable_inline(b"", [digit] * 30)  # 30 x 784 pixels in all
    assert not answerable_inline(b"", [b"\x89PNG"])
