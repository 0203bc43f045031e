"""Pose file formats: OpenPose / DWPose POSE_KEYPOINT frames and COCO keypoint results."""
