"""Model pixels back into a PNG a person can look at (the dashboard's galleries and previews)."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image


def png_data_url(pixels: np.ndarray) -> str:
    """A ``data:image/png;base64,...`` URL of one (H, W) or (H, W, 1) image with values in [0, 1].

    White ink on black, as the model sees it; browsers scale it up with pixelated rendering.
    """
    gray = np.clip(np.asarray(pixels, dtype=np.float32).reshape(pixels.shape[:2]), 0.0, 1.0)
    buf = io.BytesIO()
    Image.fromarray((gray * 255).round().astype(np.uint8), mode="L").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
