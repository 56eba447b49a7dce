"""The deep-learning filter: model, training, filtering, export.

The U-Net (backend-agnostic Keras 3), training patches and the training loop,
:class:`~stemdlf.nn.denoise.Denoiser` for whole stacks, live filtering of a growing folder,
export to ONNX and the BioImage Model Zoo, and the filter pretrained on the simulator that
ships with the package.
"""
