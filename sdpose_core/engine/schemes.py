"""Keypoint schemes: how many keypoints, which U-Net block feeds the head, and how flipping permutes them."""

from __future__ import annotations

from dataclasses import dataclass

COCO_BODY_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
FOOT_NAMES: tuple[str, ...] = (
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)

# Left/right pairs of the 68-point face (300-W order), in face-local indices.
_FACE_PAIRS: tuple[tuple[int, int], ...] = (
    *((i, 16 - i) for i in range(8)),            # jaw line
    *((17 + i, 26 - i) for i in range(5)),       # eyebrows
    (31, 35), (32, 34),                          # nostrils
    (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),  # eyes
    (48, 54), (49, 53), (50, 52),                # outer lips, top
    (55, 59), (56, 58),                          # outer lips, bottom
    (60, 64), (61, 63), (65, 67),                # inner lips
)


def _flip_from_pairs(n: int, pairs: list[tuple[int, int]]) -> tuple[int, ...]:
    """Permutation that maps each keypoint to its mirror partner (itself when unpaired)."""
    flip = list(range(n))
    for a, b in pairs:
        flip[a], flip[b] = b, a
    return tuple(flip)


_BODY_PAIRS = [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)]
_WHOLEBODY_PAIRS = (
    _BODY_PAIRS
    + [(17, 20), (18, 21), (19, 22)]                       # feet
    + [(23 + a, 23 + b) for a, b in _FACE_PAIRS]           # face
    + [(91 + i, 112 + i) for i in range(21)]               # left hand <-> right hand
)


@dataclass(frozen=True)
class Scheme:
    """A keypoint layout and where SDPose taps the U-Net decoder for it."""

    name: str
    num_keypoints: int
    tap_block: int  # index into unet.up_blocks whose output feeds the head
    flip_indices: tuple[int, ...]

    def feature_channels(self, block_out_channels: tuple[int, ...] | list[int]) -> int:
        """Channels of the tapped up-block output for a U-Net with these ``block_out_channels``."""
        return tuple(reversed(block_out_channels))[self.tap_block]


BODY = Scheme("body", 17, 3, _flip_from_pairs(17, _BODY_PAIRS))
WHOLEBODY = Scheme("wholebody", 133, 2, _flip_from_pairs(133, _WHOLEBODY_PAIRS))
SCHEMES: dict[str, Scheme] = {s.name: s for s in (BODY, WHOLEBODY)}


def get_scheme(name: str | Scheme) -> Scheme:
    """Look a scheme up by name, with an error that lists the valid ones."""
    if isinstance(name, Scheme):
        return name
    try:
        return SCHEMES[str(name).lower()]
    except KeyError:
        from ..errors import InputError

        raise InputError(f"Unknown keypoint scheme '{name}'; use one of: {', '.join(SCHEMES)}.") from None


def scheme_for_num_keypoints(num_keypoints: int) -> Scheme | None:
    """The scheme whose keypoint count is ``num_keypoints``, or None."""
    return next((s for s in SCHEMES.values() if s.num_keypoints == num_keypoints), None)
