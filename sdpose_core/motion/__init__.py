"""Poses over time: tracking people across frames, One-Euro smoothing (causal and zero-lag) and gap filling."""
