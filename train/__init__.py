"""SDPose fine-tuning (``python -m train.finetune``) and COCO-style evaluation (``python -m train.evaluate``).

Built on ``sdpose_core``: the crop geometry, heatmap codec, U-Net pass, head and checkpoint layout are the
inference engine's own, so a trained model behaves at inference exactly as it did in training.
"""
