"""Scoring filters against the slow scan and the noise-free truth.

PSNR, SSIM and the spectral cutoff of each test frame, the tidy metrics and summary tables of a
run, and the paper's claims checked against them.
"""
