"""Image -> SDPose pose image -> Stable Diffusion + OpenPose ControlNet (diffusers) -> a new image in that pose.

    pip install -r requirements.txt torch
    python examples/controlnet_openpose.py person.jpg --prompt "a knight in armour, oil painting" --out knight.png

The models download on first use (SDPose ``teemosliang/SDPose-Wholebody`` and DWPose's YOLOX person detector,
``lllyasviel/sd-controlnet-openpose``, ``stable-diffusion-v1-5/stable-diffusion-v1-5``); ``--pose-out`` also saves
the pose image. Run it from the repository root (or with the pack installed: ``pip install .``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

SDPOSE = "teemosliang/SDPose-Wholebody"
CONTROLNET = "lllyasviel/sd-controlnet-openpose"
BASE = "stable-diffusion-v1-5/stable-diffusion-v1-5"


def generate(detector: Any, pipe: Any, image: Any, prompt: str, resolution: int = 512, steps: int = 20,
             seed: int = 0) -> tuple[Any, Any]:
    """(pose image, generated image): ``image`` posed by ``detector`` (an ``SDPoseDetector``) and drawn with its
    short side at ``resolution``, then ``pipe`` (a ``StableDiffusionControlNetPipeline``) guided by that pose."""
    import torch

    pose = detector(image, image_resolution=resolution)
    width, height = (v // 8 * 8 for v in pose.size)  # the pipeline needs multiples of 8
    pose = pose.resize((width, height))
    out = pipe(prompt, image=pose, width=width, height=height, num_inference_steps=steps,
               generator=torch.Generator().manual_seed(seed))
    return pose, out.images[0]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("image", type=Path)
    p.add_argument("--prompt", required=True)
    p.add_argument("--out", type=Path, required=True, help="the generated PNG")
    p.add_argument("--pose-out", type=Path, help="also save the pose image here")
    p.add_argument("--sdpose", default=SDPOSE, help=f"SDPose checkpoint (default {SDPOSE})")
    p.add_argument("--controlnet", default=CONTROLNET)
    p.add_argument("--base", default=BASE, help="Stable Diffusion 1.5 base model")
    p.add_argument("--resolution", type=int, default=512)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    from PIL import Image, UnidentifiedImageError

    from sdpose_core import InputError
    from sdpose_core.pose.render import output_size

    try:  # checked before any model loads (minutes): a bad input costs nothing
        source = Image.open(args.image).convert("RGB")
        output_size(*source.size, args.resolution)
    except (OSError, UnidentifiedImageError, InputError) as exc:
        p.error(f"{args.image}: {exc}")

    import torch
    from diffusers import ControlNetModel, StableDiffusionControlNetPipeline, UniPCMultistepScheduler

    from sdpose_core import SDPoseDetector

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.float16 if device == "cuda" else torch.float32
    detector = SDPoseDetector.from_pretrained(args.sdpose, device=device, dtype="fp16" if device == "cuda" else None)
    controlnet = ControlNetModel.from_pretrained(args.controlnet, torch_dtype=dtype)
    pipe = StableDiffusionControlNetPipeline.from_pretrained(args.base, controlnet=controlnet, torch_dtype=dtype,
                                                             safety_checker=None).to(device)
    pipe.scheduler = UniPCMultistepScheduler.from_config(pipe.scheduler.config)
    pose, image = generate(detector, pipe, source, args.prompt, args.resolution, args.steps, args.seed)
    if args.pose_out:
        pose.save(args.pose_out)
    image.save(args.out)
    print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
