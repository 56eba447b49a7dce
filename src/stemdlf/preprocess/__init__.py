"""From raw rapid and slow scans to the pairs a filter learns from.

Min-max normalisation (the paper's), drift-corrected frame integration (DCFI), estimation and
correction of the scan-coil distortion profile, per-FOV registration, and separable resampling.
"""
