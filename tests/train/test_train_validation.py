"""Validation during training (train.eval_every), best-checkpoint selection across a resume, and the LR schedules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_train_finetune import metrics_lines, overrides

import train.validate as validate
from train.config import ConfigError, OptimConfig, load_config
from train.finetune import train
from train.schedule import build_scheduler

# AP planted per evaluated step: the kept two must be steps 4 and 8, whatever the real (tiny) figures are.
PLANTED = {2: 0.30, 4: 0.70, 6: 0.50, 8: 0.60}


@pytest.fixture
def planted(monkeypatch) -> dict[int, dict]:
    """Run the real validation (train.evaluate on the live model, pycocotools) and hand the trainer the planted AP
    instead of the real one; returns the real reports by step, with the COCO results each evaluation scored
    (``"results"``, captured from train.evaluate as it runs; the last offline evaluation's under step 0)."""
    import train.evaluate as ev

    captured: dict[int, dict] = {}
    real_validation, real_rescore = validate.run_validation, ev.rescore_and_nms
    last_results: list = []

    def rescore(*args, **kwargs):
        last_results[:] = real_rescore(*args, **kwargs)
        return last_results[:]

    def run(accelerator, model, args, step):
        report = real_validation(accelerator, model, args, step)
        captured[step] = {**report, "results": list(last_results)}
        return {**report, "AP": PLANTED[step]}

    monkeypatch.setattr(ev, "rescore_and_nms", rescore)
    monkeypatch.setattr(validate, "run_validation", run)
    captured[0] = {"results": last_results}
    return captured


def _config(init, data, out, **extra):
    settings = {"train.max_steps": 8, "train.save_every": 4, "train.keep_checkpoints": 1, "train.eval_every": 2,
                "train.keep_best": 2, "train.save_release": "false", "val.ann": data["val_ann"],
                "val.images": data["val_images"], "val.flip": "false", "val.batch_size": 8, "optim.lr": 1e-3,
                "optim.lr_scheduler": "step", "optim.lr_milestones": "[3, 6]", "optim.lr_gamma": 0.5,
                "train.batch_size": 2, "loss.rgb_weight": 0.0, **extra}
    return load_config(None, overrides(init, data, out, **settings))


def _best(out) -> list[tuple[int, float]]:
    return [(e["step"], e["AP"]) for e in json.loads((out / "best.json").read_text())["best"]]


def _val_lines(out) -> list[dict]:
    return [r for r in metrics_lines(out) if "val_AP" in r]


def test_eval_every_keeps_the_best_by_ap_and_resume_keeps_them(micro_body, synthetic_body, tmp_path, cache, planted):
    torch.set_num_threads(1)
    a, b = tmp_path / "a", tmp_path / "b"
    train(_config(micro_body, synthetic_body, a), resume="none")
    assert _best(a) == [(4, 0.70), (8, 0.60)]
    assert sorted(p.name for p in a.glob("best-*")) == ["best-00000004", "best-00000008"]
    assert [p.name for p in a.glob("checkpoint-*")] == ["checkpoint-00000008"]  # best folders outlive pruning
    assert [(r["step"], r["val_AP"]) for r in _val_lines(a)] == [(s, PLANTED[s]) for s in (2, 4, 6, 8)]
    lr = {r["step"]: r["lr"] for r in metrics_lines(a) if "lr" in r}
    assert lr == pytest.approx({1: 1e-3, 2: 1e-3, 3: 1e-3, 4: 5e-4, 5: 5e-4, 6: 5e-4, 7: 2.5e-4, 8: 2.5e-4})

    # The evaluation is train.evaluate's: the kept release folder, evaluated offline, gives the same predictions.
    real8 = planted[8]
    assert real8["num_results"] == len(real8["results"]) > 0 and not real8["flip"]
    offline = evaluate_noflip(a / "best-00000008" / "sdpose", synthetic_body, cache)
    assert offline["parts"]["body"] == pytest.approx(real8["parts"]["body"], abs=1e-9)
    # Same weights and code; only the U-Net's float rounding differs (~1e-6 in the features: the training
    # weights require grad, which picks other CPU kernels). DARK's Newton step on an untrained model's flat
    # heatmaps can magnify that without bound, so positions are compared where they are sane (in the image).
    compared = 0
    for got, ref in zip(planted[0]["results"], real8["results"], strict=True):
        assert got["image_id"] == ref["image_id"] and got["score"] == pytest.approx(ref["score"], rel=1e-5)
        for (x, y, c), (rx, ry, rc) in zip(*(torch.tensor(r["keypoints"]).view(-1, 3).tolist() for r in (got, ref))):
            assert c == pytest.approx(rc, abs=2e-3)
            if 0 <= rx <= 96 and 0 <= ry <= 96:
                assert (x, y) == pytest.approx((rx, ry), abs=0.02)
                compared += 1
    assert compared > 8 * len(real8["results"])
    assert planted[6]["results"] != real8["results"]  # the model moved between evaluations
    saved = json.loads((a / "best-00000008" / "EVAL.json").read_text())
    assert saved["step"] == 8 and saved["AP"] == 0.60

    # Interrupted after step 6 (last checkpoint at 4, whose record is {4: 0.7, 2: 0.3}); step 6's evaluation
    # had already replaced best-2 by best-6 on disk. The resumed run drops the vanished entry and the folder
    # written after its checkpoint, re-evaluates 6 and 8, and ends where the uninterrupted run did.
    cfg = _config(micro_body, synthetic_body, b)
    train(cfg, resume="auto", stop_after=6)
    assert _best(b) == [(4, 0.70), (6, 0.50)] and not (b / "best-00000002").exists()
    train(cfg, resume="auto")
    assert _best(b) == _best(a)
    assert sorted(p.name for p in b.glob("best-*")) == ["best-00000004", "best-00000008"]
    assert [(r["step"], r["val_AP"]) for r in _val_lines(b)] == [(r["step"], r["val_AP"]) for r in _val_lines(a)]
    wa = load_file(a / "best-00000008" / "sdpose" / "unet" / "diffusion_pytorch_model.safetensors")
    wb = load_file(b / "best-00000008" / "sdpose" / "unet" / "diffusion_pytorch_model.safetensors")
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-6


def evaluate_noflip(model, data, cache) -> dict:
    from train import evaluate as ev

    args = ev.build_parser().parse_args(["--ann", str(data["val_ann"]), "--scheme", "body", "--model", str(model),
                                         "--images", str(data["val_images"]), "--input-size", "64x64",
                                         "--batch-size", "8", "--cache-dir", str(cache)])
    return ev.evaluate(args)


def test_validation_settings_are_checked_before_training(micro_body, synthetic_body, tmp_path):
    with pytest.raises(ConfigError, match="val.ann"):
        load_config(None, ["train.eval_every=100"])
    with pytest.raises(ConfigError, match="lr_milestones"):
        load_config(None, ["optim.lr_scheduler=step"])
    with pytest.raises(ConfigError, match="not one of"):
        load_config(None, ["optim.lr_scheduler=exponential"])
    cfg = _config(micro_body, synthetic_body, tmp_path / "x", **{"val.images": str(tmp_path)})
    with pytest.raises(ConfigError, match="val.images must be the folder"):
        train(cfg, resume="none")
    cfg = _config(micro_body, synthetic_body, tmp_path / "y", **{"val.boxes": str(tmp_path / "missing.json")})
    with pytest.raises(ConfigError, match="Validation set"):
        train(cfg, resume="none")
    gt = json.loads(Path(synthetic_body["val_ann"]).read_text())  # what train.evaluate would refuse at the first
    del gt["annotations"][-1]["bbox"]  # evaluation is refused before the first step
    bad = tmp_path / "val_no_bbox.json"
    bad.write_text(json.dumps(gt))
    cfg = _config(micro_body, synthetic_body, tmp_path / "z", **{"val.ann": str(bad)})
    with pytest.raises(ConfigError, match="Validation set.*has bbox None"):
        train(cfg, resume="none")
    assert not (tmp_path / "z").exists() or not any((tmp_path / "z").glob("checkpoint-*"))


def _rates(name: str, steps: int = 10, **kw) -> list[float]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = build_scheduler(opt, OptimConfig(lr_scheduler=name, **kw), steps)
    out = []
    for _ in range(steps):
        out.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return out


def test_lr_schedules():
    assert _rates("constant") == [1.0] * 10  # the paper's
    cosine = _rates("cosine", warmup_steps=2)
    assert cosine[:3] == pytest.approx([0.0, 0.5, 1.0]) and cosine[6] == pytest.approx(0.5)  # half-way
    assert all(x > y for x, y in zip(cosine[2:], cosine[3:])) and cosine[-1] < 0.05
    assert _rates("step", lr_milestones=[4, 7], lr_gamma=0.1) == pytest.approx([1] * 4 + [0.1] * 3 + [0.01] * 3)
    warm_then_step = [0, 0.5, 1, 1, 1, 0.1, 0.1, 0.1, 0.1, 0.1]
    assert _rates("step", warmup_steps=2, lr_milestones=[5]) == pytest.approx(warm_then_step)
