"""Config overrides and files read numbers as a user writes them, and a wrong type is one error naming the key."""

from __future__ import annotations

import pytest

from train.config import ConfigError, load_config


def test_numbers_in_exponent_form_are_numbers(tmp_path):
    """YAML 1.1 reads ``3e-5`` (no dot) as text: the optimizer then failed with a TypeError."""
    cfg = load_config(None, ["optim.lr=3e-5", "loss.rgb_weight=1e-1", "optim.betas=[0.9, 1e-3]",
                             "optim.lr_milestones=[1e3, 2000]", "train.max_steps=5", "optim.max_grad_norm=null"])
    assert cfg.optim.lr == 3e-5 and type(cfg.optim.lr) is float
    assert cfg.loss.rgb_weight == 0.1 and cfg.optim.betas == (0.9, 0.001)
    assert cfg.optim.lr_milestones == [1000, 2000] and cfg.train.max_steps == 5 and cfg.optim.max_grad_norm is None
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lr: 3e-5\n  weight_decay: 1e-2\n")
    cfg = load_config(path)
    assert (cfg.optim.lr, cfg.optim.weight_decay) == (3e-5, 0.01)


@pytest.mark.parametrize("override,message", [
    ("optim.lr=fast", "optim.lr: expected a number, got 'fast'"),
    ("train.batch_size=2.5", "train.batch_size: expected an integer, got 2.5"),
    ("train.batch_size=true", "train.batch_size: expected an integer, got True"),
    ("train.tensorboard=1", "train.tensorboard: expected true or false"),
    ("optim.betas=[0.9]", "optim.betas: expected a list of 2 values"),
    ("optim.lr_scheduler=[1]", "optim.lr_scheduler: expected text"),
    ("optim.lr=nan", "optim.lr: expected a finite number, got nan"),
    ("loss.heatmap_weight=.inf", "loss.heatmap_weight: expected a finite number, got inf"),
    ("optim.betas=[0.9, -.inf]", "optim.betas: expected a finite number, got -inf"),
])
def test_a_wrong_type_is_one_error_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(None, [override])
