"""EstimatorOptions: one home for the estimator's defaults and checks, read by the command line and evaluation."""

from __future__ import annotations

import dataclasses

import pytest

from sdpose_core.cli.main import build_parser
from sdpose_core.cli.options import ESTIMATOR_FLAGS, estimator_options
from sdpose_core.cli.work import WorkSettings
from sdpose_core.engine.options import EstimatorOptions
from sdpose_core.errors import InputError
from train.evaluate import build_parser as eval_parser


def test_estimate_flags_default_to_the_options():
    args = build_parser().parse_args(["estimate", "x.png", "--model", "m", "--out", "o"])
    assert estimator_options(args) == EstimatorOptions()


def test_flags_reach_the_options_and_are_checked_by_their_names():
    args = build_parser().parse_args(["estimate", "x.png", "--model", "m", "--out", "o", "--input-size", "192x256",
                                      "--no-flip", "--batch-size", "3", "--dtype", "bf16", "--threshold", "0.5"])
    assert estimator_options(args) == EstimatorOptions(input_size=(192, 256), flip=False, batch_size=3,
                                                       dtype="bf16", threshold=0.5)
    for flag, value, message in [("--batch-size", "0", "--batch-size must be at least 1"),
                                 ("--threshold", "1.5", "--threshold must be a number in 0..1"),
                                 ("--threshold", "nan", "--threshold must be a number in 0..1"),
                                 ("--input-size", "100x128", "not a multiple of 64"),
                                 ("--seed", "-1", "--seed must be 0 .. 2\\*\\*63-1")]:
        args = build_parser().parse_args(["estimate", "x.png", "--model", "m", "--out", "o", flag, value])
        with pytest.raises(InputError, match=message):
            estimator_options(args)


def test_evaluation_keeps_its_own_defaults_from_the_same_definition():
    args = eval_parser().parse_args(["--ann", "a.json", "--scheme", "body", "--model", "m"])
    options = estimator_options(args)
    assert options == EstimatorOptions(flip=False, batch_size=16, seed=0)
    assert estimator_options(eval_parser().parse_args(["--ann", "a", "--scheme", "body", "--model", "m",
                                                       "--flip"])).flip is True


def test_the_resume_record_keeps_the_keys_of_0_3():
    """Jobs started before the options were grouped resume without redoing anything: same settings record."""
    keys = {"model", "scheme", "dtype", "input_size", "flip", "crop_mode", "sample_latent", "seed", "detector",
            "pose_options", "draw_options", "overlay", "clip", "frames", "crf", "face_crops", "people"}
    assert set(WorkSettings(model="m").shaping()) == keys
    assert set(ESTIMATOR_FLAGS) == {f.name for f in dataclasses.fields(EstimatorOptions)}
