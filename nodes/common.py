"""Plumbing shared by the SDPose nodes: dependency checks, ComfyUI folders, model and detector names.

Nothing here loads a model or touches the network at import time; ComfyUI modules are imported lazily so
that this file also imports (for its pure helpers) outside a running ComfyUI.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import unicodedata
from pathlib import Path
from typing import Any

from ..sdpose_core.engine.options import DEFAULT_INPUT_SIZE
from ..sdpose_core.errors import CheckpointError, InputError, SDPoseError
from ..sdpose_core.sizes import parse_size
from ..sdpose_core.weights.source import HEAD_FILE, HUB_MODELS, hub_folder, hub_snapshot

LOG = logging.getLogger("sdpose_nodes")
PACK_DIR = Path(__file__).resolve().parent.parent
CATEGORY = "SDPose"
MODEL_TYPE = "SDPOSE_NODES_MODEL"  # not "SDPOSE_MODEL": another pack uses that name for a different object
FOLDER_KIND = "sdpose"  # ComfyUI model folder: models/sdpose/ (extra_model_paths.yaml key "sdpose")
HUB_TAG, CHECKPOINTS_TAG, OUTPUT_TAG = " [hub]", " [checkpoints]", " [output]"
DETECTOR_FILE = "yolox_l.onnx"
NO_DETECTOR = "None"
INPUT_SIZE_ENV = "SDPOSE_INPUT_SIZE"  # crop size "WxH" (default 768x1024, what SDPose was trained on)

# Python packages each feature needs, as (import name, pip name).
CORE_PACKAGES = (("diffusers", "diffusers"), ("transformers", "transformers"), ("safetensors", "safetensors"),
                 ("huggingface_hub", "huggingface_hub"), ("numpy", "numpy"))
DRAW_PACKAGES = (("cv2", "opencv-python-headless"), ("numpy", "numpy"), ("PIL", "pillow"))
DETECTOR_PACKAGES = (("onnxruntime", "onnxruntime"), ("cv2", "opencv-python-headless"))


class MissingDependencyError(SDPoseError):
    """A Python package the node needs is not installed in ComfyUI's environment."""


def require(*groups: tuple[tuple[str, str], ...]) -> None:
    """Raise MissingDependencyError naming the pip command when any listed package cannot be imported."""
    missing: list[str] = []
    for group in groups:
        for module, pip_name in group:
            if importlib.util.find_spec(module) is None and pip_name not in missing:
                missing.append(pip_name)
    if missing:
        raise MissingDependencyError(
            f"SDPose nodes need the Python package(s) {', '.join(missing)}, which are not installed in the Python "
            f"that runs ComfyUI. Install them with: pip install {' '.join(missing)}  (or: pip install -r "
            f"\"{PACK_DIR / 'requirements.txt'}\"), then restart ComfyUI.")


# ----------------------------------------------------------------------------------------------------------------
# Folders


def register_folders() -> None:
    """Add models/sdpose/ to ComfyUI's model folders (kept if extra_model_paths.yaml already names others)."""
    import folder_paths

    default = os.path.join(folder_paths.models_dir, FOLDER_KIND)
    if default not in folder_paths.folder_names_and_paths.get(FOLDER_KIND, ([], set()))[0]:
        folder_paths.add_model_folder_path(FOLDER_KIND, default, is_default=True)


def sdpose_dirs() -> list[Path]:
    """Every configured models/sdpose/ folder, the default first; created on demand by callers that write."""
    import folder_paths

    register_folders()
    return [Path(p) for p in folder_paths.get_folder_paths(FOLDER_KIND)]


def writable_sdpose_dir() -> Path:
    """Where downloads go: the first configured models/sdpose/ folder (created)."""
    folder = sdpose_dirs()[0]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def is_model_folder(path: Path) -> bool:
    """An official-layout SDPose folder (its files are listed as one model, never one by one)."""
    return (path / HEAD_FILE).is_file() or (path / "unet").is_dir()


_LISTINGS: dict[tuple[str, bool], tuple[dict[str, int], list[tuple[str, str]]]] = {}


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def listing(root: Path, model_folders: bool = False) -> list[tuple[str, str]]:
    """(relative name, kind) of everything under ``root``, sorted per folder: the pack's one walker of ComfyUI's
    folders. Kind is 'file', or 'folder' for an official-layout model folder when ``model_folders`` (listed as one
    entry, never entered). One policy for every folder: hidden names are skipped, links are followed, and an entry
    whose real path leaves ``root`` is left out (the resolvers, :func:`path_in`, refuse it too).

    Cached per process: a listing is reused while none of the folders it walked has changed (their modification
    times, the invalidation ComfyUI's own file lists use), so validating a prompt does not walk the folders again.
    """
    key = (os.path.realpath(root), model_folders)
    cached = _LISTINGS.get(key)
    if cached is not None and all(_mtime(d) == m for d, m in cached[0].items()):
        return cached[1]
    folders: dict[str, int] = {}
    entries: list[tuple[str, str]] = []
    if root.is_dir():
        base = key[0]
        for current, dirs, files in os.walk(base, followlinks=True):
            folders[current] = _mtime(current)
            here, keep = os.path.realpath(current), []
            for d in sorted(dirs):
                full = os.path.join(current, d)
                if d.startswith(".") or not inside(Path(full), Path(base)) or inside(Path(here), Path(full)):
                    continue  # hidden, leaving the root, or a link to a folder above (a loop)
                if model_folders and is_model_folder(Path(full)):
                    entries.append((Path(full).relative_to(base).as_posix(), "folder"))
                else:
                    keep.append(d)
            dirs[:] = keep
            # ``current`` lies inside the root (its folders are checked above): only a link can lead out of it
            entries += [(Path(current, f).relative_to(base).as_posix(), "file") for f in sorted(files)
                        if not f.startswith(".") and (not os.path.islink(os.path.join(current, f))
                                                      or inside(Path(current, f), Path(base)))]
    else:
        folders[key[0]] = _mtime(key[0])
    _LISTINGS[key] = (folders, entries)
    return entries


def list_models() -> list[str]:
    """Model choices: folders and .safetensors files in models/sdpose/, SDPose files in models/checkpoints/
    (tagged ' [checkpoints]'), then the official hub repositories (tagged ' [hub]', downloaded on first use)."""
    import folder_paths

    names: list[str] = []
    hub_copies = set(hub_folder_names())  # listed once, as their ' [hub]' entry (which uses the copy)
    for root in sdpose_dirs():
        for name, kind in listing(root, model_folders=True):
            if (kind == "folder" or name.lower().endswith(".safetensors")) and name not in names \
                    and name not in hub_copies:
                names.append(name)
    try:
        checkpoints = folder_paths.get_filename_list("checkpoints")
    except Exception:  # a broken checkpoints folder must not hide our own models
        checkpoints = []
    names += [c + CHECKPOINTS_TAG for c in checkpoints
              if "sdpose" in Path(c).name.lower() and c.lower().endswith(".safetensors")]
    names += [repo + HUB_TAG for repo in HUB_MODELS.values()]
    return names


def hub_folder_names() -> list[str]:
    """The folder names of the official hub repositories' local copies in models/sdpose/ ('owner--name')."""
    return [hub_folder(repo, Path()).name for repo in HUB_MODELS.values()]


def inside(path: Path, root: Path) -> bool:
    """True when ``path`` (symlinks resolved) lies inside ``root`` (symlinks resolved)."""
    real, base = os.path.realpath(path), os.path.realpath(root)
    try:
        return os.path.commonpath([real, base]) == base
    except ValueError:  # different drives on Windows
        return False


MAX_NAME_CHARS = 240
MAX_PART_BYTES = 200  # file systems allow 255 bytes per name: room for "_00001_.json" and temporary names
_WINDOWS_CHARS = re.compile(r'[<>:"|?*]')
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_INVISIBLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}  # controls, bidi overrides and other format characters, separators


def _invisible(text: str) -> str | None:
    """The first control, format (bidi override, zero width) or line-separator character in ``text``, if any."""
    return next((c for c in text if unicodedata.category(c) in _INVISIBLE), None)


def check_name(name: Any, what: str, *, creating: bool = False, max_depth: int | None = None) -> list[str]:
    """A relative file name from a user or a request -> its parts; an InputError saying what is wrong otherwise.

    The one name check of the pack (the editor's routes, Save / Load Pose Keypoints): a text, relative ('/' or
    '\\' between parts), no '..', '.' or empty parts, no control, bidi-override or other invisible characters,
    each part at most MAX_PART_BYTES bytes of UTF-8, the whole at most MAX_NAME_CHARS characters. ``creating``
    (a name the pack will create) also refuses hidden parts, Windows' reserved characters and device names, and
    parts starting or ending with a space or ending with '.'.
    """
    if not isinstance(name, str):
        raise InputError(f"{what}: expected a text such as 'sdpose/pose.json'.")
    text = name.strip().replace("\\", "/") if creating else name.replace("\\", "/")
    if not text.strip():
        raise InputError(f"{what} is empty; give a name such as 'sdpose/pose.json'.")
    bad = _invisible(text)
    shown = text[:60].encode("unicode_escape").decode("ascii")
    if bad is not None:
        raise InputError(f"{what} '{shown}' contains a character that is not allowed in file names "
                         f"(U+{ord(bad):04X}: control, bidi-override or other invisible characters).")
    if len(text) > MAX_NAME_CHARS:
        raise InputError(f"{what} is longer than {MAX_NAME_CHARS} characters.")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise InputError(f"{what} '{name}' must be relative to its ComfyUI folder (no absolute path).")
    parts = text.split("/")
    if max_depth is not None and len(parts) > max_depth:
        raise InputError(f"{what} '{name}' has more than {max_depth - 1} folder levels.")
    for part in parts:
        if part in ("", ".", ".."):
            raise InputError(f"{what} '{name}' must be a plain relative name (no '..', '.' or empty parts).")
        if len(part.encode("utf-8")) > MAX_PART_BYTES:
            raise InputError(f"{what}: '{part[:20]}...' is longer than file systems allow "
                             f"({len(part.encode('utf-8'))} bytes of UTF-8; at most {MAX_PART_BYTES}).")
        if not creating:
            continue
        if part.startswith("."):
            raise InputError(f"{what} '{name}': hidden names (starting with '.') are not allowed.")
        if _WINDOWS_CHARS.search(part):
            raise InputError(f"{what} '{name}' contains a character that is not allowed in file names "
                             "(< > : \" | ? *).")
        if part.endswith((" ", ".")) or part != part.strip():
            raise InputError(f"{what} '{name}': a name part may not start or end with a space or end with '.'.")
        if _RESERVED.match(part):
            raise InputError(f"{what} '{name}': '{part}' is a reserved device name on Windows.")
    return parts


def path_in(root: Path, name: Any, what: str, where: str, *, creating: bool = False,
            max_depth: int | None = None) -> Path:
    """``root / name`` for a name from a user or a request: every refusal of :func:`check_name`, then refused when
    the path (symlinks followed) leaves ``root``; ``where`` names the folder ("ComfyUI's input folder")."""
    path = Path(root).joinpath(*check_name(name, what, creating=creating, max_depth=max_depth))
    if not inside(path, root):
        raise InputError(f"{what} '{name}' leads outside {where}.")
    return path


def resolve_model(name: str) -> Path | str:
    """A model choice -> local path (folder or file), downloading an official hub repository on first use."""
    import folder_paths

    if name.endswith(HUB_TAG):
        repo = name[: -len(HUB_TAG)]
        if repo not in HUB_MODELS.values():
            raise CheckpointError(f"Unknown hub model '{repo}'; choose one of {', '.join(HUB_MODELS.values())}.")
        return hub_snapshot(repo, sdpose_dirs())  # a copy in any models/sdpose/ folder, else a download into the first
    if name.endswith(CHECKPOINTS_TAG):
        file = name[: -len(CHECKPOINTS_TAG)]
        check_name(file, "Checkpoint")
        path = folder_paths.get_full_path("checkpoints", file)
        if path is None:
            raise CheckpointError(f"'{file}' is not in ComfyUI's models/checkpoints/ folder (any more); "
                                  "put sdpose_wholebody_fp16.safetensors there, or pick another model.")
        return Path(path)
    rel = Path(*check_name(name, "Model"))
    for root in sdpose_dirs():
        candidate = root / rel
        if candidate.exists() and inside(candidate, root):
            return candidate
    raise CheckpointError(f"SDPose model '{name}' not found in {', '.join(map(str, sdpose_dirs()))}. Put an official "
                          "SDPose folder (unet/ vae/ decoder/ ...) or a single .safetensors file there, then refresh.")


# ----------------------------------------------------------------------------------------------------------------
# Person detector


def list_detectors() -> list[str]:
    """Detector choices, what is installed first: the .onnx files in models/sdpose/ (DWPose's yolox_l.onnx first,
    also when comfyui_controlnet_aux has it), then None (whole image), then yolox_l.onnx to download if missing."""
    installed = []
    for root in sdpose_dirs():
        for name, kind in listing(root, model_folders=True):
            if kind == "file" and name.lower().endswith(".onnx") and name not in installed:
                installed.append(name)
    if DETECTOR_FILE in installed or _controlnet_aux_detector() is not None:
        return [DETECTOR_FILE, *[n for n in installed if n != DETECTOR_FILE], NO_DETECTOR]
    return [*installed, NO_DETECTOR, DETECTOR_FILE]


_AUX_PACKS: dict[str, tuple[int | None, list[Path]]] = {}


def default_detector() -> str:
    """What a new node starts with: the first installed detector (DWPose's yolox_l.onnx when present), else None (the
    whole image), so a first run never waits for a download; yolox_l.onnx stays one choice away (downloaded then)."""
    return list_detectors()[0]


def _controlnet_aux_detector() -> Path | None:
    """DWPose's own copy, when comfyui_controlnet_aux already downloaded it (no second download). The custom_nodes
    folders are listed again only when they change (their modification times)."""
    import folder_paths

    for root in folder_paths.get_folder_paths("custom_nodes"):
        stamp = _mtime(root)
        if root not in _AUX_PACKS or _AUX_PACKS[root][0] != stamp:
            base = Path(root)
            packs = [p for p in base.iterdir() if "controlnet_aux" in p.name.lower()] if base.is_dir() else []
            _AUX_PACKS[root] = (stamp, packs)
        for pack in _AUX_PACKS[root][1]:
            candidate = pack / "ckpts" / "yzd-v" / "DWPose" / DETECTOR_FILE
            if candidate.is_file():
                return candidate
    return None


def resolve_detector(name: str) -> Path | None:
    """A detector choice -> an existing .onnx path (yolox_l.onnx downloaded on first use); None for 'None'."""
    if name == NO_DETECTOR:
        return None
    rel = Path(*check_name(name, "Detector"))
    for root in sdpose_dirs():
        candidate = root / rel
        if candidate.is_file() and inside(candidate, root):
            return candidate
    if name != DETECTOR_FILE:
        raise CheckpointError(f"Detector '{name}' not found in {', '.join(map(str, sdpose_dirs()))}.")
    found = _controlnet_aux_detector()
    if found is not None:
        return found
    from ..sdpose_core.engine.detect import resolve_detector_path

    return resolve_detector_path(None, writable_sdpose_dir())


def input_size() -> tuple[int, int]:
    """Crop size (W, H) from $SDPOSE_INPUT_SIZE ('WxH'), default 768x1024. Smaller is faster and less accurate."""
    text = os.environ.get(INPUT_SIZE_ENV, "").strip().lower()
    if not text:
        return DEFAULT_INPUT_SIZE
    try:
        return parse_size(text)
    except InputError:
        raise InputError(f"${INPUT_SIZE_ENV}='{text}' is not WIDTHxHEIGHT, e.g. 768x1024.") from None
