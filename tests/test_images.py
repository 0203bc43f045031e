"""Every input kind becomes the 8-bit RGB image the official loader would crop from."""

from __future__ import annotations

import cv2
import numpy as np
import torch
from PIL import Image

from sdpose_core.images import load_image, to_rgb_uint8


def _photo(h: int = 37, w: int = 53) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_comfy_float_images_give_back_the_exact_bytes():
    rgb = _photo()
    for dtype in (torch.float32, torch.float16, torch.float64):
        assert np.array_equal(to_rgb_uint8(torch.from_numpy(rgb).to(dtype) / 255), rgb)
    assert np.array_equal(to_rgb_uint8(torch.from_numpy(rgb).permute(2, 0, 1)), rgb)  # CHW
    assert np.array_equal(to_rgb_uint8(Image.fromarray(rgb)), rgb)


def test_grey_and_opaque_alpha_keep_their_bytes():
    rgb = _photo()
    assert np.array_equal(to_rgb_uint8(rgb[..., 0]), np.repeat(rgb[..., :1], 3, axis=2))
    assert np.array_equal(to_rgb_uint8(np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])), rgb)
    half = to_rgb_uint8(np.dstack([rgb, np.full(rgb.shape[:2], 0, np.uint8)]))
    assert (half == 255).all()  # transparent: white, as DWPose composites


def test_files_read_as_the_official_loader_reads_them(tmp_path):
    """8-bit PNG and JPEG, 16-bit colour and greyscale PNG: the bytes of cv2.imread(IMREAD_COLOR) (mmpose)."""
    rgb = _photo()
    deep = np.random.default_rng(4).integers(0, 65536, rgb.shape, dtype=np.uint16)
    files = {"a.png": rgb[..., ::-1], "b.jpg": rgb[..., ::-1], "c16.png": deep, "g16.png": deep[..., 0]}
    for name, data in files.items():
        path = tmp_path / name
        assert cv2.imwrite(str(path), data)
        official = cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1]
        assert np.array_equal(to_rgb_uint8(load_image(path)), official), name
    assert np.array_equal(to_rgb_uint8(deep), (deep >> 8).astype(np.uint8))  # 16-bit arrays alike


def test_a_144_megapixel_file_is_refused_from_its_header_before_decoding(tmp_path, monkeypatch):
    """The 67-megapixel bound (sizes.MAX_IMAGE_PIXELS, the pose canvas bound) is checked on the header's size; the
    pixels are never decoded (decoding one took ~43 s before the canvas check refused it)."""
    import struct
    import zlib

    from PIL import ImageFile

    from sdpose_core.errors import InputError

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path = tmp_path / "huge.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 12000, 12000, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))

    def decode(self):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", decode)
    try:
        load_image(path)
    except InputError as exc:
        assert "12000x12000 = 144 megapixels; at most 67 megapixels" in str(exc), exc
    else:
        raise AssertionError("not refused")
