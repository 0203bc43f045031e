"""Write SDPose checkpoints in the official release layout, atomically, never over an existing folder."""

from __future__ import annotations

from pathlib import Path

from ..atomic import write_atomic
from ..errors import CheckpointError

SCHEDULER_CONFIG = {
    "_class_name": "DDPMScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "clip_sample": False, "prediction_type": "sample",
    "set_alpha_to_one": False, "steps_offset": 1, "timestep_spacing": "trailing",
}


def save_folder(folder: str | Path, unet, vae, head, text_encoder=None, tokenizer=None, *,
                overwrite: bool = False) -> Path:
    """Save ``unet/ vae/ decoder/decoder.safetensors scheduler/ [tokenizer/ text_encoder/]`` into ``folder``.

    Everything is written to a sibling temporary folder first and renamed into place, so a crash never
    leaves a half-written checkpoint. An existing ``folder`` is only replaced when ``overwrite`` is set.
    """
    import json

    from safetensors.torch import save_file

    folder = Path(folder)
    if folder.exists() and not overwrite:
        raise CheckpointError(f"'{folder}' already exists; choose a new folder or pass overwrite=True.")

    def write(tmp: Path) -> None:
        unet.save_pretrained(tmp / "unet", safe_serialization=True)
        vae.save_pretrained(tmp / "vae", safe_serialization=True)
        (tmp / "decoder").mkdir(parents=True)
        state = {k: v.detach().contiguous().cpu() for k, v in head.state_dict().items()}
        save_file(state, str(tmp / "decoder" / "decoder.safetensors"))
        (tmp / "scheduler").mkdir()
        (tmp / "scheduler" / "scheduler_config.json").write_text(json.dumps(SCHEDULER_CONFIG, indent=2))
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp / "tokenizer")
        if text_encoder is not None:
            text_encoder.save_pretrained(tmp / "text_encoder", safe_serialization=True)

    return write_atomic(folder, write, replace=overwrite)
