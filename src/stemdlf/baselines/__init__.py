"""The methods the deep-learning filter is compared with.

Classical filters (Gaussian, non-local means, BM3D and its PSD and deblurring forms), each
tuned on the data (:mod:`~stemdlf.baselines.classical`), CARE (CSBDeep) trained on the same pairs
(:mod:`~stemdlf.baselines.care`), and CAREamics' N2V2 and N2N, which train on the rapid frames alone
(:mod:`~stemdlf.baselines.peers`).
"""

#: The CAREamics peers, by the names the evaluation gives them (defined here, free of imports, for the config).
PEERS = ("N2V2", "N2N")
