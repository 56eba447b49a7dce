"""The methods the deep-learning filter is compared with.

Classical filters (Gaussian, non-local means, BM3D and its PSD and deblurring forms), each
tuned on the data, and CARE (CSBDeep) trained on the same pairs.
"""
