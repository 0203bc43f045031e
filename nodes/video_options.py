"""SDPose Video Options: connect it to SDPose Estimator to pose an IMAGE batch as one video clip.

With it, people keep their order and OpenPose ``person_id`` from frame to frame (tracking), keypoints can be
smoothed over time (One-Euro, off by default so every frame stays exactly the model's), and the person detector
can run on every Nth frame only, with boxes carried between. Without it, frames are posed independently, as
DWPose does.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from comfy_api.latest import io

from . import v3

VIDEO_OPTIONS_TYPE = "SDPOSE_NODES_VIDEO_OPTIONS"
VideoOptionsIO = io.Custom(VIDEO_OPTIONS_TYPE)


CLIP_FIELDS = {"tracking": "track", "smoothing": "smooth", "smooth_min_cutoff": "min_cutoff", "smooth_beta": "beta",
               "detect_every": "detect_every"}  # node input -> ClipOptions field


@dataclass(frozen=True)
class VideoOptions:
    """What the estimator needs to treat its IMAGE batch as a clip."""

    fps: Fraction
    options: object  # sdpose_core.video.options.ClipOptions (imported lazily)

    def annotate(self, estimator, image, boxes=None):
        """The estimator's results for the IMAGE batch posed as one clip with these options (tracked, ...)."""
        from ..sdpose_core.video.clip import annotate_frames

        return annotate_frames(estimator, image, fps=self.fps, options=self.options, boxes=boxes)


def clip_inputs() -> list:
    """Tracking, smoothing and detect-every-N inputs: shared by SDPose Video Options and the video file node. Their
    defaults are ``ClipOptions``' (the library's, also the CLI's)."""
    from ..sdpose_core.video.options import ClipOptions

    default = ClipOptions()
    return [
        io.Boolean.Input("tracking", default=default.track, tooltip=(
            "Keep each person's order and id (OpenPose person_id) stable across frames, through crossings and short "
            "occlusions.")),
        io.Boolean.Input("smoothing", default=default.smooth, tooltip=(
            "Smooth keypoints over time (One-Euro filter): steadier skeletons, less flicker. Implies tracking. Off: "
            "every frame is exactly the model's.")),
        io.Float.Input("smooth_min_cutoff", default=default.min_cutoff, min=0.01, max=100.0, step=0.01, tooltip=(
            "The filter's cut-off at rest, in Hz. Lower: steadier when people hold still, with more lag on slow "
            "moves.")),
        io.Float.Input("smooth_beta", default=default.beta, min=0.0, max=1000.0, step=0.1,
                       tooltip="How fast the cut-off rises with speed (One-Euro beta, no unit). Higher: less lag in "
                               "fast motion, a little more jitter."),
        io.Int.Input("detect_every", default=default.detect_every, min=1, max=1000, tooltip=(
            "Run the person detector on every Nth frame only and carry each person's box between (faster). Ignored "
            "when the estimator gets bounding_box or has no detector.")),
    ]


def clip_options(**values):
    """The values of :func:`clip_inputs` (by input name; one left out takes its default) as a checked
    ``sdpose_core.video.options.ClipOptions``; a bad value is an InputError naming the input."""
    from ..sdpose_core.video.options import ClipOptions

    options = ClipOptions(**{CLIP_FIELDS[name]: value for name, value in values.items()})
    options.check({field: name for name, field in CLIP_FIELDS.items()})
    return options


class SDPoseVideoOptions(io.ComfyNode):
    """Makes the Estimator's IMAGE batch a clip: frame rate plus the clip options."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return v3.schema(
            node_id="SDPoseNodes.VideoOptions",
            display_name="SDPose Video Options",
            description=("Treat SDPose Estimator's IMAGE batch as a video clip: stable person order and ids across "
                         "frames, optional temporal smoothing of keypoints, optional detection every N frames."),
            inputs=[
                io.Float.Input("frame_rate", default=30.0, min=0.01, max=1000.0, step=0.01, tooltip=(
                    "Frames per second of the IMAGE batch (connect Get Video Components' fps). Times the smoothing "
                    "and how long a lost person keeps their id (one second).")),
                *clip_inputs(),
            ],
            outputs=[VideoOptionsIO.Output(display_name="video_options",
                                           tooltip="Connect to SDPose Estimator's video_options input.")],
        )

    @classmethod
    def validate_inputs(cls, frame_rate=None, smooth_min_cutoff=None, smooth_beta=None) -> bool | str:
        return v3.number_problem(cls, frame_rate=frame_rate, smooth_min_cutoff=smooth_min_cutoff,
                                 smooth_beta=smooth_beta)

    @classmethod
    def execute(cls, frame_rate, **clip) -> io.NodeOutput:
        from ..sdpose_core.errors import InputError

        if not frame_rate > 0:
            raise InputError(f"SDPose Video Options: frame_rate must be positive, got {frame_rate}.")
        options = clip_options(**clip)
        return io.NodeOutput(VideoOptions(Fraction(frame_rate).limit_denominator(1001), options))


NODES = [SDPoseVideoOptions]
