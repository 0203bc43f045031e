"""Tiny random-weight SDPose checkpoints written in the released layouts, shared by the tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from sdpose_core.weights.export import save_folder
from tiny_models import TEXT_CONFIGS, random_parts

TINY_INPUT = (192, 256)  # crop W x H used by tests: latent 24x32, heatmaps 48x64

# In CI every test must run: a skip there means a missing dependency or oracle, so it fails the run instead. A skip
# that is right even in CI goes here, node id -> why; nothing does today.
EXPECTED_SKIPS: dict[str, str] = {
    "tests/integration/test_comfy_box_sources.py::test_segs_from_the_impact_pack_itself": (
        "the Impact Pack is not on PyPI, so CI's ComfyUI has none; SEGS built with its own SEG namedtuple are "
        "tested without it (test_segs_from_a_detector_node_give_the_estimator_its_boxes)"),
}


def require_every_test() -> bool:
    """CI (``CI=true``, as CI services set it) or ``SDPOSE_REQUIRE_INTEGRATION=1`` (.ci/run)."""
    return os.environ.get("CI", "").lower() in ("true", "1") or bool(os.environ.get("SDPOSE_REQUIRE_INTEGRATION"))


def _fail_unexpected_skip(report, nodeid: str) -> None:
    """Turn a skip report (not an xfail, not allowed) into a failure that keeps the skip's reason."""
    if not report.skipped or hasattr(report, "wasxfail") or nodeid in EXPECTED_SKIPS or not require_every_test():
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (f"skipped in CI, which runs every test (CI / SDPOSE_REQUIRE_INTEGRATION is set): {reason}; "
                       "install what it needs, or list it with its reason in tests/conftest.py EXPECTED_SKIPS")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    _fail_unexpected_skip(report, item.nodeid)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield  # a whole module or folder skipped at import (pytest.importorskip at module level)
    _fail_unexpected_skip(report, collector.nodeid)
    return report


def pytest_sessionfinish(session, exitstatus):
    """The backstop: a skip no hook above could turn (a folder's conftest skipping at import) still fails CI."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not require_every_test() or reporter is None:
        return
    left = [r.nodeid or str(r.fspath) for r in reporter.stats.get("skipped", [])
            if not hasattr(r, "wasxfail") and r.nodeid not in EXPECTED_SKIPS]
    if left:
        reporter.write_line(f"{len(left)} unexpected skip(s) in CI: {', '.join(left)}", red=True)
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def tiny_tokenizer(folder: Path):
    """A real CLIPTokenizer over a minimal byte-level vocabulary (ids of the CLIP specials kept)."""
    from transformers import CLIPTokenizer

    printable = [*range(ord("!"), ord("~") + 1), *range(ord("\u00a1"), ord("\u00ac") + 1), *range(ord("\u00ae"), 256)]
    chars = [chr(b) for b in printable] + [chr(256 + i) for i in range(256 - len(printable))]
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": i + len(chars) for i, c in enumerate(chars)})
    vocab.update({"<|startoftext|>": 49406, "<|endoftext|>": 49407})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer.from_pretrained(str(folder))


def write_tiny_folder(path: Path, scheme: str, seed: int = 0) -> Path:
    """An official-layout SDPose folder with tiny random weights."""
    from transformers import CLIPTextConfig, CLIPTextModel

    unet, vae, head = random_parts("tiny", scheme, seed)
    torch.manual_seed(seed + 1)
    text_encoder = CLIPTextModel(CLIPTextConfig(**TEXT_CONFIGS["tiny"])).eval()
    tokenizer = tiny_tokenizer(path.parent / f".tok-{path.name}")
    return save_folder(path, unet, vae, head, text_encoder, tokenizer)


@pytest.fixture(scope="session")
def tiny_body(tmp_path_factory) -> Path:
    return write_tiny_folder(tmp_path_factory.mktemp("ckpt") / "SDPose-Body-tiny", "body")


@pytest.fixture(scope="session")
def tiny_wholebody(tmp_path_factory) -> Path:
    return write_tiny_folder(tmp_path_factory.mktemp("ckpt") / "SDPose-Wholebody-tiny", "wholebody", seed=1)


@pytest.fixture(scope="session")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tokenizer")
    tiny_tokenizer(folder)
    return folder
