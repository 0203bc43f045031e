"""Keypoint schemes: how many keypoints, which U-Net block feeds the head, and how flipping permutes them."""

from __future__ import annotations

from dataclasses import dataclass

from ..keypoints import FACE, FOOT, LEFT_HAND, NUM_BODY, NUM_WHOLEBODY, RIGHT_HAND

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
    + [(FOOT.start + i, FOOT.start + FOOT.size // 2 + i) for i in range(FOOT.size // 2)]  # left <-> right foot
    + [(FACE.start + a, FACE.start + b) for a, b in _FACE_PAIRS]                            # face
    + [(LEFT_HAND.start + i, RIGHT_HAND.start + i) for i in range(LEFT_HAND.size)]          # left <-> right hand
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


BODY = Scheme("body", NUM_BODY, 3, _flip_from_pairs(NUM_BODY, _BODY_PAIRS))
WHOLEBODY = Scheme("wholebody", NUM_WHOLEBODY, 2, _flip_from_pairs(NUM_WHOLEBODY, _WHOLEBODY_PAIRS))
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
