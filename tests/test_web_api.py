"""nodes/web_api.py: the keypoint editor's routes check names, confine files to input/ (output/ for reading),
validate POSE_KEYPOINT, never overwrite unless asked, and limit sizes. No ComfyUI needed; the HTTP tests use aiohttp
(installed with ComfyUI) and skip without it."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import pytest

from pack import import_pack

REPO = Path(__file__).resolve().parents[1]




import_pack()
api = importlib.import_module("sdpose_pack.nodes.web_api")
RouteError = api.RouteError
FRAME = {"people": [{"pose_keypoints_2d": [10.0, 20.0, 1.0] * 18, "face_keypoints_2d": None,
                     "hand_left_keypoints_2d": None, "hand_right_keypoints_2d": None}],
         "canvas_width": 64, "canvas_height": 96}


@pytest.fixture
def dirs(tmp_path):
    base = tmp_path / "comfy"
    (base / "input").mkdir(parents=True)
    (base / "output").mkdir()
    return base / "input", base / "output"


def refused(call, *args, status: int = 400, match: str = ""):
    with pytest.raises(RouteError) as info:
        call(*args)
    assert info.value.status == status, str(info.value)
    assert match.lower() in str(info.value).lower(), str(info.value)
    return info.value


# ------------------------------------------------------------------------------------------------ save names


@pytest.mark.parametrize("name, expected", [
    ("edited", "edited.json"),
    ("edited.json", "edited.json"),
    ("  sdpose/edited pose.json  ", "sdpose/edited pose.json"),
    ("sdpose\\win.json", "sdpose/win.json"),
    ("a/b/c/Pose.JSON", "a/b/c/Pose.JSON"),
    ("pose (2).json", "pose (2).json"),
    ("позы/кадр.json", "позы/кадр.json"),
])
def test_save_names_accepted(name, expected):
    assert api.check_save_name(name) == expected


@pytest.mark.parametrize("name, match", [
    ("", "empty"), ("   ", "empty"), (None, "expected a text"), (7, "expected a text"),
    ("../escape.json", "'..'"), ("sdpose/../../escape.json", "'..'"), ("a//b.json", "empty parts"),
    ("./a.json", "'.'"), ("/etc/x.json", "relative"), ("C:/x.json", "relative"), ("c:x.json", "relative"),
    ("\\\\server\\share\\x.json", "relative"), (".hidden.json", "hidden"), ("sdpose/.git/x.json", "hidden"),
    ("pose.png", ".json"), ("pose.json.exe", ".json"), ("x.json [output]", ".json"),
    ("a\x00b.json", "not allowed"), ("a\nb.json", "not allowed"), ("ab:c.json", "not allowed"),
    ("a|b.json", "not allowed"), ("what?.json", "not allowed"), ("a /b.json", "space"), ("a./b.json", "end with"),
    ("con.json", "reserved"), ("sdpose/NUL", "reserved"), ("a/b/c/d/e.json", "folder levels"),
    ("x" * 300 + ".json", "longer than"), ("d/" + "x" * 210 + ".json", "longer than"),
])
def test_save_names_refused(name, match):
    refused(api.check_save_name, name, match=match)


# ------------------------------------------------------------------------------------------------ saving


def test_save_writes_checked_canonical_json_into_input(dirs):
    input_dir, _ = dirs
    legacy = dict(FRAME, people=[{"pose_keypoints_2d": [0.5, 0.5, 1.0] * 18}])  # normalized, keys missing
    result = api.save_pose(input_dir, {"filename": "sdpose/edit", "pose_keypoint": [FRAME, legacy]})
    assert result == {"file": "sdpose/edit.json", "frames": 2, "people": [1, 1], "overwritten": False}
    saved = json.loads((input_dir / "sdpose" / "edit.json").read_text())
    assert saved[0] == FRAME
    assert saved[1]["people"][0]["pose_keypoints_2d"][:3] == [32.0, 48.0, 1.0]  # to pixels, as the loader does
    assert saved[1]["people"][0]["face_keypoints_2d"] is None
    # one frame object is a one-frame list
    api.save_pose(input_dir, {"filename": "one.json", "pose_keypoint": FRAME})
    assert json.loads((input_dir / "one.json").read_text()) == [FRAME]


def test_save_never_overwrites_unless_asked(dirs):
    input_dir, _ = dirs
    api.save_pose(input_dir, {"filename": "pose.json", "pose_keypoint": [FRAME]})
    (input_dir / "pose_00001_.json").write_text("{}")
    error = refused(api.save_pose, input_dir, {"filename": "pose.json", "pose_keypoint": [FRAME, FRAME]},
                    status=409, match="already exists")
    assert error.extra == {"exists": True, "suggestion": "pose_00002_.json"}
    assert len(json.loads((input_dir / "pose.json").read_text())) == 1
    result = api.save_pose(input_dir, {"filename": "pose.json", "pose_keypoint": [FRAME, FRAME], "overwrite": True})
    assert result["overwritten"] is True and len(json.loads((input_dir / "pose.json").read_text())) == 2
    assert sorted(p.name for p in input_dir.iterdir()) == ["pose.json", "pose_00001_.json"]  # no temporary left over


def test_free_name_numbers_next_to_the_file(tmp_path):
    """The pack's one numbering, ComfyUI's: <stem>_<NNNNN>_<part>, one more than the highest counter there."""
    (tmp_path / "sd").mkdir()
    (tmp_path / "sd" / "a_00002_.json").write_text("[]")
    (tmp_path / "sd" / "a_00003_.png").write_text("")  # SaveImage counts every part of the stem
    assert api.free_name(tmp_path, "sd/a.json") == "sd/a_00004_.json"
    assert api.free_name(tmp_path, "sd/a_00002_.json") == "sd/a_00004_.json"
    assert api.free_name(tmp_path, "b.json") == "b_00001_.json"


@pytest.mark.parametrize("body, status, match", [
    ([], 400, "json object"),
    ({"filename": "a.json"}, 400, "missing"),
    ({"filename": "a.json", "pose_keypoint": [FRAME], "extra": 1}, 400, "unknown field"),
    ({"filename": "a.json", "pose_keypoint": [FRAME], "overwrite": "yes"}, 400, "true or false"),
    ({"filename": "../a.json", "pose_keypoint": [FRAME]}, 400, "'..'"),
    ({"filename": "a.json", "pose_keypoint": []}, 400, "no frames"),
    ({"filename": "a.json", "pose_keypoint": "[]"}, 400, "frame object"),
    ({"filename": "a.json", "pose_keypoint": [{"people": []}]}, 400, "canvas_width"),
    ({"filename": "a.json", "pose_keypoint": [dict(FRAME, canvas_width=10 ** 6)]}, 400, "larger than"),
    ({"filename": "a.json", "pose_keypoint": [dict(FRAME, canvas_width=0)]}, 400, "positive whole number"),
    ({"filename": "a.json", "pose_keypoint": [dict(FRAME, people=[{"pose_keypoints_2d": [1, 2, 1] * 17}])]}, 400,
     "has 17 points"),
    ({"filename": "a.json", "pose_keypoint": [dict(FRAME, people=[{"pose_keypoints_2d": [1, "x", 1] * 18}])]}, 400,
     "must be a number"),
    ({"filename": "a.json", "pose_keypoint": [dict(FRAME, people=[{"pose_keypoints_2d": [1e400, 2, 1] * 18}])]},
     400, "infinite"),
    ({"filename": "a.json", "pose_keypoint": [dict(FRAME, people=[{}] * 1001)]}, 413, "at most"),
])
def test_save_refuses_bad_requests(dirs, body, status, match):
    input_dir, _ = dirs
    refused(api.save_pose, input_dir, body, status=status, match=match)
    assert list(input_dir.iterdir()) == []  # nothing written, not even a folder


def test_save_frame_limit(dirs, monkeypatch):
    monkeypatch.setattr(api, "MAX_FRAMES", 3)
    refused(api.save_pose, dirs[0], {"filename": "a.json", "pose_keypoint": [FRAME] * 4}, status=413, match="frames")


def test_save_refuses_symlinks_out_of_input(dirs, tmp_path):
    input_dir, _ = dirs
    outside = tmp_path / "outside"
    outside.mkdir()
    (input_dir / "linked").symlink_to(outside, target_is_directory=True)
    refused(api.save_pose, input_dir, {"filename": "linked/x.json", "pose_keypoint": FRAME}, match="outside")
    (input_dir / "link.json").symlink_to(outside / "target.json")
    for overwrite in (False, True):
        refused(api.save_pose, input_dir, {"filename": "link.json", "pose_keypoint": FRAME, "overwrite": overwrite},
                match="outside")
    inner = input_dir / "inner.json"
    inner.write_text("[]")
    (input_dir / "alias.json").symlink_to(inner)  # a link that stays inside: still never written through
    refused(api.save_pose, input_dir, {"filename": "alias.json", "pose_keypoint": FRAME, "overwrite": True},
            match="symbolic link")
    (input_dir / "folder.json").mkdir()
    refused(api.save_pose, input_dir, {"filename": "folder.json", "pose_keypoint": FRAME, "overwrite": True},
            match="not a file")
    assert list(outside.iterdir()) == [] and inner.read_text() == "[]"


# ------------------------------------------------------------------------------------------------ reading


def test_read_listed_names_from_input_and_output(dirs):
    input_dir, output_dir = dirs
    (input_dir / "sub").mkdir()
    (input_dir / "sub" / "p.json").write_text(json.dumps(FRAME))
    (output_dir / "q.json").write_text(json.dumps([FRAME, FRAME]))
    assert api.read_pose("sub/p.json", input_dir, output_dir) == {"file": "sub/p.json", "pose_keypoint": [FRAME]}
    assert len(api.read_pose("q.json [output]", input_dir, output_dir)["pose_keypoint"]) == 2
    refused(api.read_pose, "q.json", input_dir, output_dir, status=404, match="input folder")


@pytest.mark.parametrize("name, match", [
    (None, "give the name"), ("", "give the name"), ("../comfy/input/x.json", "plain relative name"),
    ("/etc/passwd", "relative"), ("sub/../../x.json", "plain relative name"), ("image.png", "not a pose"),
    (".hidden.json", "not a pose"), ("x" * 400, "longer than"), ("po\x00se.json", "not allowed"),
    ("\u59ff" * 110 + ".json", "bytes"), ("a\u202egnp.json", "U+202E"), ("a\nb.json", "not allowed"),
])
def test_read_refuses_bad_names(dirs, name, match):
    refused(api.read_pose, name, *dirs, match=match)


def test_read_refuses_links_out_large_and_broken_files(dirs, tmp_path, monkeypatch):
    input_dir, output_dir = dirs
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps(FRAME))
    (input_dir / "leak.json").symlink_to(secret)
    refused(api.read_pose, "leak.json", input_dir, output_dir, match="outside")
    (input_dir / "bad.json").write_text("{not json")
    refused(api.read_pose, "bad.json", input_dir, output_dir, match="not readable")
    (input_dir / "wrong.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": [1, 2]}], "canvas_width": 9,
                                                      "canvas_height": 9}))
    refused(api.read_pose, "wrong.json", input_dir, output_dir, match="multiple of 3")
    (input_dir / "big.json").write_text(json.dumps(FRAME))
    monkeypatch.setattr(api, "MAX_FILE_BYTES", 10)
    refused(api.read_pose, "big.json", input_dir, output_dir, status=413, match="larger")


# ------------------------------------------------------------------------------------------------ HTTP


def http(dirs, calls):
    """Run ``calls(client)`` against an aiohttp app holding only these routes."""
    web = pytest.importorskip("aiohttp.web")
    from aiohttp.test_utils import TestClient, TestServer

    async def main():
        app = web.Application()
        routes = web.RouteTableDef()
        api.add_routes(routes, lambda: str(dirs[0]), lambda: str(dirs[1]))
        app.add_routes(routes)
        async with TestClient(TestServer(app)) as client:
            return await calls(client)

    return asyncio.run(main())


def test_http_save_and_read(dirs):
    async def calls(client):
        saved = await client.post("/sdpose/keypoints", json={"filename": "sdpose/e.json", "pose_keypoint": [FRAME]})
        again = await client.post("/sdpose/keypoints", json={"filename": "sdpose/e.json", "pose_keypoint": [FRAME]})
        read = await client.get("/sdpose/keypoints", params={"file": "sdpose/e.json"})
        missing = await client.get("/sdpose/keypoints")
        return [(r.status, await r.json()) for r in (saved, again, read, missing)]

    (s1, b1), (s2, b2), (s3, b3), (s4, b4) = http(dirs, calls)
    assert s1 == 200 and b1["file"] == "sdpose/e.json"
    assert s2 == 409 and b2["suggestion"] == "sdpose/e_00001_.json" and "already exists" in b2["error"]
    assert s3 == 200 and b3["pose_keypoint"] == [FRAME]
    assert s4 == 400 and "error" in b4


def test_http_free_name_offers_the_name_until_it_is_taken(dirs):
    """The editor's first offer: the name itself while no file has it, then the name a refused save would suggest."""
    async def calls(client):
        answers = []
        for step in ("offer", "save", "offer", "bad"):
            if step == "save":
                await client.post("/sdpose/keypoints", json={"filename": "sdpose/e.json", "pose_keypoint": [FRAME]})
                continue
            name = "../e.json" if step == "bad" else "sdpose/e"
            response = await client.get("/sdpose/keypoints/free", params={"filename": name})
            answers.append((response.status, await response.json()))
        return answers

    (s1, b1), (s2, b2), (s3, b3) = http(dirs, calls)
    assert (s1, b1) == (200, {"filename": "sdpose/e.json"})
    assert (s2, b2) == (200, {"filename": "sdpose/e_00001_.json"})
    assert not (dirs[0] / "sdpose" / "e_00001_.json").exists()
    assert s3 == 400 and "'..'" in b3["error"]


def test_free_name_says_nothing_of_what_lies_outside_the_input_folder(dirs, tmp_path):
    """A name through a link out of input/ is refused as a save refuses it, whether a file is there or not."""
    input_dir, _ = dirs
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "e.json").write_text("[]")
    (input_dir / "linked").symlink_to(outside, target_is_directory=True)
    for name in ("linked/e", "linked/free"):
        refused(api.offer_name, input_dir, name, match="outside")
    (input_dir / "alias.json").symlink_to(input_dir / "missing.json")  # a dangling link inside: taken
    assert api.offer_name(input_dir, "alias") == {"filename": "alias_00001_.json"}


def test_http_constants_are_the_library_ones(dirs):
    """The front end draws by the library's threshold and layout: the route serves sdpose_core.keypoints' values."""
    from sdpose_core import keypoints as k

    async def calls(client):
        response = await client.get("/sdpose/constants")
        return response.status, await response.json()

    assert http(dirs, calls) == (200, {"draw_threshold": k.DWPOSE_THRESHOLD, "limbs": json_list(k.LIMBS),
                                       "body_colors": json_list(k.BODY_COLORS), "hand_edges": json_list(k.HAND_EDGES),
                                       "hand_colors": json_list(k.HAND_COLORS)})


def json_list(pairs) -> list:
    """Tuples as JSON gives them back."""
    return [list(p) for p in pairs]


def test_http_refuses_non_json_and_large_bodies(dirs, monkeypatch):
    monkeypatch.setattr(api, "MAX_BODY_BYTES", 1000)
    big = {"filename": "big.json", "pose_keypoint": [FRAME] * 20}

    async def calls(client):
        form = await client.post("/sdpose/keypoints", data="filename=x.json",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        text = await client.post("/sdpose/keypoints", data=json.dumps(big), headers={"Content-Type": "text/plain"})
        large = await client.post("/sdpose/keypoints", json=big)

        async def stream():  # no Content-Length: the limit holds while reading
            for _ in range(5):
                yield b" " * 400

        chunked = await client.post("/sdpose/keypoints", data=stream(), headers={"Content-Type": "application/json"})
        broken = await client.post("/sdpose/keypoints", data=b"{", headers={"Content-Type": "application/json"})
        return [(r.status, (await r.json())["error"]) for r in (form, text, large, chunked, broken)]

    results = http(dirs, calls)
    assert [s for s, _ in results] == [415, 415, 413, 413, 400], results
    assert "not valid JSON" in results[4][1]
    assert list(dirs[0].iterdir()) == []


def test_routes_module_registers_on_comfyui_only():
    """nodes/routes.py needs ComfyUI's server; the pack's __init__ imports it only when a PromptServer runs."""
    text = (REPO / "__init__.py").read_text()
    assert 'sys.modules.get("server")' in text and "from .nodes import routes" in text
    assert "PromptServer.instance.routes" in (REPO / "nodes" / "routes.py").read_text()
    assert os.path.isfile(REPO / "web" / "sdpose.js")


# ------------------------------------------------------------------------------------------------ hostile inputs

common = importlib.import_module("sdpose_pack.nodes.common")


@pytest.fixture(scope="module")
def keypoints_io():
    """Save / Load Pose Keypoints (a V3 node module: it imports ComfyUI's comfy_api, so ComfyUI goes on sys.path)."""
    sys.path.insert(0, str(REPO / "tests" / "integration"))
    from comfy_helpers import comfyui_on_path

    comfyui_on_path("the node modules import its comfy_api.")
    return importlib.import_module("sdpose_pack.nodes.keypoints_io")
DEEP = "[" * 100_000
HOSTILE_NAMES = [("po\x00se.json", "not allowed"), ("a\nb.json", "not allowed"), ("a\u202egnp.json", "U+202E"),
                 ("a\u2066b.json", "U+2066"), ("zero\u200bwidth.json", "U+200B"), ("\u59ff" * 110 + ".json", "bytes"),
                 ("x" * 300, "longer than")]


@pytest.mark.parametrize("name, match", HOSTILE_NAMES)
def test_one_name_check_for_routes_and_save_node(keypoints_io, dirs, tmp_path, name, match):
    """The POST route, the GET route and Save Pose Keypoints refuse the same names with the same reason."""
    input_dir, output_dir = dirs
    refused(api.check_save_name, name, match=match)
    refused(api.read_pose, name, input_dir, output_dir, match=match)
    with pytest.raises(common.InputError, match=match.replace("+", r"\+")):
        keypoints_io.save_target(name, tmp_path)
    with pytest.raises(common.InputError, match=match.replace("+", r"\+")):
        keypoints_io.save_pose_files([FRAME], name, keypoints_io.PER_FRAME, tmp_path)
    assert list(tmp_path.rglob("*.json")) == []


ESCAPES = [("../x.mp4", "'..'"), ("a/../../x.mp4", "'..'"), ("./x.mp4", "'.'"), ("/etc/x.mp4", "relative"),
           ("C:/x.mp4", "relative"), ("c:x.mp4", "relative"), ("\\\\server\\share\\x.mp4", "relative"),
           ("a//x.mp4", "empty parts"), ("", "empty")]


@pytest.mark.parametrize("name, match", HOSTILE_NAMES + ESCAPES)
def test_one_path_check_for_requests_and_pickers(keypoints_io, dirs, monkeypatch, name, match):
    """common.path_in, behind the routes, the save node and the video picker, refuses hostile names and escapes."""
    input_dir, _ = dirs
    video_file = importlib.import_module("sdpose_pack.nodes.video_file")
    monkeypatch.setattr(importlib.import_module("sdpose_pack.nodes.files"), "input_dir", lambda: input_dir)
    for call in (lambda: common.path_in(input_dir, name, "file", "ComfyUI's input folder"),
                 lambda: video_file.resolve_video(name), lambda: common.check_name(name, "Model")):
        with pytest.raises(common.InputError, match=re.escape(match)):
            call()


def test_path_in_stays_inside_the_folder(dirs, tmp_path):
    input_dir, _ = dirs
    assert common.path_in(input_dir, "sub\\x.json", "file", "here") == input_dir / "sub" / "x.json"
    (input_dir / "out").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(common.InputError, match="file 'out/x.json' leads outside ComfyUI's input folder"):
        common.path_in(input_dir, "out/x.json", "file", "ComfyUI's input folder")
    refused(api.target_path, input_dir, "out/x.json", match="leads outside ComfyUI's input folder")
    (input_dir / "out.json").symlink_to(tmp_path / "secret.json")
    refused(api.read_pose, "out.json", input_dir, dirs[1], match="leads outside ComfyUI's input folder")


def test_deeply_nested_json_is_a_clear_400(dirs):
    input_dir, output_dir = dirs
    (input_dir / "deep.json").write_text(DEEP)
    refused(api.read_pose, "deep.json", input_dir, output_dir, match="nested too deeply")

    async def calls(client):
        deep = await client.post("/sdpose/keypoints", data=DEEP, headers={"Content-Type": "application/json"})
        read = await client.get("/sdpose/keypoints", params={"file": "deep.json"})
        nul = await client.get("/sdpose/keypoints?file=po%00se.json")
        return [(r.status, (await r.json())["error"]) for r in (deep, read, nul)]

    results = http(dirs, calls)
    assert [s for s, _ in results] == [400, 400, 400], results
    assert "nested too deeply" in results[0][1] and "nested too deeply" in results[1][1]
    assert "not allowed" in results[2][1]


@pytest.mark.parametrize("side", [10 ** 9, 1e308, 16385])
def test_get_refuses_the_canvases_post_refuses(dirs, side):
    """One canvas bound (sdpose_core.formats.openpose) for reading and saving: GET never hands out what POST refuses."""
    input_dir, output_dir = dirs
    (input_dir / "huge.json").write_text(json.dumps(dict(FRAME, canvas_width=side)))
    read = refused(api.read_pose, "huge.json", input_dir, output_dir, match="larger than 16384")
    save = refused(api.save_pose, input_dir, {"filename": "h.json", "pose_keypoint": [dict(FRAME, canvas_width=side)]})
    assert str(read).split(": ", 1)[1].split("canvas_width")[0] in str(save)
    assert not (input_dir / "h.json").exists()


def test_save_node_validates_before_writing(keypoints_io, tmp_path):
    """Save Pose Keypoints: not POSE_KEYPOINT, NaN or a non-JSON value writes nothing; good input is strict JSON."""
    nan = json.loads(json.dumps(FRAME))
    nan["people"][0]["pose_keypoints_2d"][0] = float("nan")
    odd = dict(FRAME, extra=object())
    for bad, match in ((["not a frame", 5], "frame 0: expected an object"), ("text", "got str"), (7, "got int"),
                       ([nan], "NaN"), ([odd], "cannot be written as JSON"), ([FRAME, DEEP], "frame 1")):
        for layout in (keypoints_io.PER_FRAME, keypoints_io.ONE_FILE):
            with pytest.raises(common.InputError, match=match):
                keypoints_io.save_pose_files(bad, "sdpose/pose", layout, tmp_path)
    assert list(tmp_path.rglob("*")) == []
    saved = keypoints_io.save_pose_files([FRAME, FRAME], "sdpose/pose", keypoints_io.PER_FRAME, tmp_path)
    assert [s["filename"] for s in saved] == ["pose_00001_.json", "pose_00002_.json"]
    assert json.loads((tmp_path / "sdpose" / "pose_00002_.json").read_text()) == FRAME


@pytest.mark.parametrize("where", ["canvas_width", "pose_keypoints_2d"])
def test_integers_no_float_holds_are_a_clear_400(dirs, where):
    """'1' and 400 zeros (a float 1e400 was handled; the integer gave OverflowError, HTTP 500): one line, 400, from
    GET and POST, and the Load Pose Keypoints node's reader."""
    input_dir, output_dir = dirs
    frame = json.loads(json.dumps(FRAME))
    if where == "canvas_width":
        frame["canvas_width"] = "BIG"
    else:
        frame["people"][0]["pose_keypoints_2d"][3] = "BIG"
    text = json.dumps(frame).replace('"BIG"', "1" + "0" * 400)
    (input_dir / "big.json").write_text(text)
    refused(api.read_pose, "big.json", input_dir, output_dir, match="too large")

    async def calls(client):
        body = '{"filename": "b.json", "pose_keypoint": ' + text + "}"
        save = await client.post("/sdpose/keypoints", data=body, headers={"Content-Type": "application/json"})
        read = await client.get("/sdpose/keypoints", params={"file": "big.json"})
        return [(r.status, (await r.json())["error"]) for r in (save, read)]

    results = http(dirs, calls)
    assert [s for s, _ in results] == [400, 400], results
    assert all("too large" in e and "\n" not in e for _, e in results), results
    assert not (input_dir / "b.json").exists()
    openpose = importlib.import_module("sdpose_pack.sdpose_core.formats.openpose")
    with pytest.raises(common.InputError, match="too large"):
        openpose.load_pose_keypoint(input_dir / "big.json")  # what Load Pose Keypoints reads a file with
