"""Working with OpenPose-format poses: drawing skeletons, choosing people, retargeting, face boxes and crops."""
