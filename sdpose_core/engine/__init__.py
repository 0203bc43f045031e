"""The SDPose engine: model (VAE -> fixed-t U-Net -> heatmap head), keypoint schemes, top-down crops, heatmap codec,
person detector and the estimation pipeline that ties them together. Compute only: no files; results leave it as
POSE_KEYPOINT frames (``formats``)."""
