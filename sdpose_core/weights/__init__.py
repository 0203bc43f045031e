"""Weights in and out: where a model comes from (folder, file, hub id), checkpoint layouts (official diffusers
folders, single-file safetensors, ComfyUI's key names), strict key checks and export."""
