"""The backend of the pack's front-end extension (web/): read and save POSE_KEYPOINT JSON for the keypoint editor,
and tell the extension the library's constants it must draw by.

Four routes, registered the ComfyUI way by nodes/routes.py (on ``PromptServer.instance.routes``, so ComfyUI also
serves them under ``/api``):

``GET /sdpose/keypoints?file=NAME``
    NAME is a name the SDPose Load Pose Keypoints node lists: a .json file in ComfyUI's input folder, or in its output
    folder with the suffix " [output]". 200 ``{"file": NAME, "pose_keypoint": [frame, ...]}`` (checked, canonical
    DWPose form); 400 bad name or bad JSON, 404 no such file, 413 file too large.

``POST /sdpose/keypoints`` (``Content-Type: application/json``)
    ``{"filename": "sdpose/edited.json", "pose_keypoint": [frame, ...] or frame, "overwrite": false}``.
    Saves into ComfyUI's input folder, where Load Pose Keypoints lists it. 200 ``{"file": NAME, "frames": n,
    "people": [...], "overwritten": bool}``; 400 invalid name or POSE_KEYPOINT (the message says what is wrong);
    409 the file exists and ``overwrite`` is not true (``"suggestion"``: a free name); 413 body too large;
    415 not JSON.

``GET /sdpose/keypoints/free?filename=NAME``
    A name the editor offers: 200 ``{"filename": NAME}`` (checked, '.json' appended) when no file in ComfyUI's input
    folder has it, else the next free one next to it (as a refused save suggests), so a second edit saves at the
    first click. 400 invalid name.

``GET /sdpose/constants``
    200 ``{"draw_threshold": t, "limbs", "body_colors", "hand_edges", "hand_colors"}``: DWPose's keypoint threshold
    (``sdpose_core.keypoints.DWPOSE_THRESHOLD``; a point shows when its score is above 0 and at least it, the rule
    of ``sdpose_core.keypoints.visible``) and the OpenPose-18 drawing layout (``sdpose_core.keypoints``: limbs as
    pairs of body points, their colours, hand edges and colours). The extension reads them once at start-up, so the
    front end has no copy of them.

Nothing here reads or writes outside the two folders: names pass the pack's one path check (common.path_in, also
used by Save / Load Pose Keypoints and the video picker: relative, no '..', no control, bidi-override or invisible
characters, parts of at most 200 bytes; names to create also no hidden parts and no reserved characters; the
resolved path, symlinks followed, inside the folder), end in .json; an existing symlink is never written through.
JSON nested absurdly deep and canvases beyond sdpose_core.formats.openpose's bound are refused (400) like any bad input.
This module needs aiohttp only inside ``add_routes``; the checks are plain functions (tests/test_web_api.py).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..sdpose_core.atomic import AlreadyExists, write_text
from ..sdpose_core.keypoints import BODY_COLORS, DWPOSE_THRESHOLD, HAND_COLORS, HAND_EDGES, LIMBS
from . import common, files

ROUTE = "/sdpose/keypoints"
FREE_NAME_ROUTE = "/sdpose/keypoints/free"
CONSTANTS_ROUTE = "/sdpose/constants"
MAX_BODY_BYTES = 64 * 1024 * 1024  # a long video of several whole-body people is a few MB per thousand frames
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_FRAMES = 100_000
MAX_PEOPLE = 1_000
MAX_DEPTH = 4  # sdpose/edits/2024/pose.json


class RouteError(common.InputError):
    """A request the routes refuse; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400, **extra: Any):
        super().__init__(message)
        self.status, self.extra = status, extra


def check_save_name(name: Any) -> str:
    """A file name for the input folder, as Load Pose Keypoints will list it ('sdpose/edited.json').

    '.json' is appended when the name has no suffix; anything that could leave the folder or is not portable is
    refused with a RouteError saying why (the pack's one name check, common.check_name).
    """
    try:
        parts = common.check_name(name, "filename", creating=True, max_depth=MAX_DEPTH)
    except common.InputError as exc:
        raise RouteError(str(exc)) from None
    suffix = os.path.splitext(parts[-1])[1]
    if not suffix:
        parts[-1] += ".json"
    elif suffix.lower() != ".json":
        raise RouteError(f"filename '{name}' must end in .json (pose keypoint files are JSON).")
    return "/".join(parts)


def target_path(root: Path, name: str) -> Path:
    """``root / name`` for a name from check_save_name, refused when it (symlinks followed) leaves ``root``."""
    try:
        path = common.path_in(root, name, "filename", "ComfyUI's input folder", creating=True, max_depth=MAX_DEPTH)
    except common.InputError as exc:
        raise RouteError(str(exc)) from None
    if path.is_symlink():
        raise RouteError(f"'{name}' is a symbolic link; choose another name.")
    if path.exists() and not path.is_file():
        raise RouteError(f"'{name}' exists and is not a file; choose another name.")
    return path


def free_name(root: Path, name: str) -> str:
    """The pack's one numbering (``files.numbered``) next to ``name``: 'pose.json' or 'pose_00001_.json' ->
    the first free 'pose_NNNNN_.json' in its folder."""
    folder, _, file = name.rpartition("/")
    stem = file[: -len(".json")] if file.lower().endswith(".json") else file
    match = files.COUNTER.match(f"{stem}.json")
    base = match["stem"] if match and match["part"] == ".json" else stem
    free = files.free_numbered(root.joinpath(*folder.split("/")) if folder else root, base, ".json")
    return f"{folder}/{free}" if folder else free


def offer_name(root: Path, name: Any) -> dict:
    """The free-name route's answer: ``name`` (checked) when nothing in ``root`` has it, else free_name's. A name
    that leaves ``root`` (through a link on the way) is refused as a save refuses it, saying nothing of what is
    there; a link or a folder of that name counts as taken."""
    name = check_save_name(name)
    root = Path(os.path.realpath(root))
    path = root.joinpath(*name.split("/"))
    if not common.inside(path, root):
        raise RouteError(f"filename '{name}' leads outside ComfyUI's input folder.")
    taken = path.exists() or path.is_symlink()
    return {"filename": free_name(root, name) if taken else name}


def check_pose(pose: Any) -> list[dict]:
    """POSE_KEYPOINT from the editor -> checked canonical frames (sdpose_core.formats.openpose), within the size
    limits."""
    from ..sdpose_core.formats.openpose import load_pose_keypoint

    if isinstance(pose, dict):
        pose = [pose]
    if not isinstance(pose, list):
        raise RouteError("pose_keypoint: expected a frame object or a list of frames.")
    if not pose:
        raise RouteError("pose_keypoint holds no frames.")
    if len(pose) > MAX_FRAMES:
        raise RouteError(f"pose_keypoint has {len(pose)} frames; at most {MAX_FRAMES} per file.", 413)
    for i, frame in enumerate(pose):
        if not isinstance(frame, dict) or "canvas_width" not in frame or "canvas_height" not in frame:
            raise RouteError(f"POSE_KEYPOINT frame {i}: needs 'people', 'canvas_width' and 'canvas_height'.")
        people = frame.get("people")
        if isinstance(people, list) and len(people) > MAX_PEOPLE:
            raise RouteError(f"POSE_KEYPOINT frame {i} has {len(people)} people; at most {MAX_PEOPLE}.", 413)
    try:
        return load_pose_keypoint(pose)
    except common.InputError as exc:
        raise RouteError(str(exc)) from None


def save_pose(root: Path, body: Any) -> dict:
    """The POST route's work: check the request body, write the file, return the answer."""
    if not isinstance(body, dict):
        raise RouteError("expected a JSON object {\"filename\", \"pose_keypoint\", \"overwrite\"}.")
    unknown = set(body) - {"filename", "pose_keypoint", "overwrite"}
    if unknown:
        raise RouteError(f"unknown field(s): {', '.join(sorted(unknown))}.")
    overwrite = body.get("overwrite", False)
    if not isinstance(overwrite, bool):
        raise RouteError("overwrite must be true or false.")
    from ..sdpose_core.formats.openpose import dumps_pose_keypoint

    name = check_save_name(body.get("filename"))
    if "pose_keypoint" not in body:
        raise RouteError("pose_keypoint is missing.")
    frames = check_pose(body["pose_keypoint"])
    root = Path(os.path.realpath(root))
    path = target_path(root, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path = target_path(root, name)  # again: a folder on the way may have been swapped for a link meanwhile
    text = dumps_pose_keypoint(frames)
    existed = path.exists()
    if existed and not overwrite:
        raise RouteError(f"'{name}' already exists in ComfyUI's input folder; tick overwrite or choose another name.",
                         409, exists=True, suggestion=free_name(root, name))
    try:
        write_text(path, text, replace=existed)
    except AlreadyExists:
        raise RouteError(f"'{name}' was created meanwhile; save again.", 409, exists=True,
                         suggestion=free_name(root, name)) from None
    return {"file": name, "frames": len(frames), "people": [len(f["people"]) for f in frames],
            "overwritten": existed}


def resolve_listed(name: Any, input_dir: Path, output_dir: Path) -> Path:
    """A name as Load Pose Keypoints lists it -> its path, inside input/ (or output/ for ' [output]'): the pack's one
    resolver (nodes/files.py), its refusals as 400 and a missing file as 404."""
    try:
        return files.resolve_listed(name, "file", "pose keypoint file", (".json",), (Path(input_dir), Path(output_dir)))
    except files.MissingFile as exc:
        raise RouteError(str(exc), 404) from None
    except common.InputError as exc:
        raise RouteError(str(exc)) from None


def read_pose(name: Any, input_dir: Path, output_dir: Path) -> dict:
    """The GET route's work: the listed file, size-checked and validated, as canonical frames."""
    from ..sdpose_core.formats.openpose import load_pose_keypoint, parse_json

    path = resolve_listed(name, input_dir, output_dir)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise RouteError(f"'{name}' is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.", 413)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RouteError(f"'{name}' is not readable POSE_KEYPOINT JSON ({exc}).") from None
    try:
        frames = load_pose_keypoint(parse_json(text, f"'{name}'"))
    except common.InputError as exc:
        raise RouteError(f"'{name}' is not readable POSE_KEYPOINT JSON: {exc}") from None
    return {"file": name, "pose_keypoint": frames}


def constants() -> dict:
    """The GET constants route's answer: what the front end draws by, from the library's one definition."""
    return {"draw_threshold": DWPOSE_THRESHOLD, "limbs": LIMBS, "body_colors": BODY_COLORS, "hand_edges": HAND_EDGES,
            "hand_colors": HAND_COLORS}


async def read_body(request, limit: int | None = None) -> Any:
    """The request's JSON body, refusing non-JSON content types and bodies over ``limit`` bytes (MAX_BODY_BYTES)."""
    limit = MAX_BODY_BYTES if limit is None else limit
    if request.content_type != "application/json":
        raise RouteError("send the body as JSON (Content-Type: application/json).", 415)
    if request.content_length is not None and request.content_length > limit:
        raise RouteError(f"request body is larger than {limit // (1024 * 1024)} MB.", 413)
    chunks, size = [], 0
    while True:
        chunk = await request.content.read(1 << 20)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise RouteError(f"request body is larger than {limit // (1024 * 1024)} MB.", 413)
        chunks.append(chunk)
    from ..sdpose_core.formats.openpose import parse_json

    try:
        return parse_json(b"".join(chunks), "request body")
    except common.InputError as exc:
        raise RouteError(str(exc)) from None


def add_routes(routes, input_dir: Callable[[], str | Path], output_dir: Callable[[], str | Path]) -> None:
    """Register the routes on an aiohttp RouteTableDef (ComfyUI's ``PromptServer.instance.routes``)."""
    from aiohttp import web

    def answer(exc: RouteError):
        return web.json_response({"error": str(exc), **exc.extra}, status=exc.status)

    @routes.get(ROUTE)
    async def get_pose_keypoints(request):
        try:
            result = await asyncio.to_thread(read_pose, request.rel_url.query.get("file"), Path(input_dir()),
                                             Path(output_dir()))
        except common.InputError as exc:
            return answer(exc if isinstance(exc, RouteError) else RouteError(str(exc)))
        except OSError as exc:
            return answer(RouteError(f"could not read the file ({exc.strerror or exc}).", 500))
        return web.json_response(result)

    @routes.post(ROUTE)
    async def save_pose_keypoints(request):
        try:
            body = await read_body(request)
            result = await asyncio.to_thread(save_pose, Path(input_dir()), body)
        except common.InputError as exc:
            return answer(exc if isinstance(exc, RouteError) else RouteError(str(exc)))
        except OSError as exc:
            return answer(RouteError(f"could not save the file ({exc.strerror or exc}).", 500))
        common.LOG.info("SDPose: saved edited pose keypoints to input/%s", result["file"])
        return web.json_response(result)

    @routes.get(FREE_NAME_ROUTE)
    async def get_free_name(request):
        try:
            result = await asyncio.to_thread(offer_name, Path(input_dir()), request.rel_url.query.get("filename"))
        except common.InputError as exc:
            return answer(exc if isinstance(exc, RouteError) else RouteError(str(exc)))
        return web.json_response(result)

    @routes.get(CONSTANTS_ROUTE)
    async def get_constants(request):
        return web.json_response(constants())
