"""The denoising U-Net (Ronneberger et al. 2015), in backend-agnostic Keras 3.

Only ``keras.layers`` are used, so the same model builds, trains and loads under
TensorFlow, JAX or PyTorch, and loads with ``safe_mode=True`` (no custom code).

Intensities inside the model are on the normalised 0..1 scale (the workflow's
0..65535 scale divided by 65535): inputs, outputs and the MSE loss. With
``residual=True`` the network predicts a correction that is added to its input,
and the last convolution starts at zero, so an untrained model is the identity.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["UNetSettings", "build_unet", "unet_depth", "size_multiple"]


@dataclass(frozen=True)
class UNetSettings:
    """Architecture of the U-Net.

    Attributes
    ----------
    depth : int
        Number of 2x down-sampling steps (the paper's tool: a U-Net; depth 2..4 is usual).
    base_filters : int
        Filters of the first level; doubled at each level down.
    kernel_size : int
        Convolution kernel size (px).
    batch_norm : bool
        Batch normalisation after every convolution.
    residual : bool
        Output = input + learned correction.
    """

    depth: int = 2
    base_filters: int = 16
    kernel_size: int = 3
    batch_norm: bool = True
    residual: bool = True

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> UNetSettings:
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _conv_block(x, filters: int, settings: UNetSettings, name: str):
    import keras

    for i in (1, 2):
        x = keras.layers.Conv2D(filters, settings.kernel_size, padding="same",
                                use_bias=not settings.batch_norm, name=f"{name}_conv{i}")(x)
        if settings.batch_norm:
            # momentum 0.9: the running statistics used at inference settle within tens of
            # steps; with Keras's 0.99 they lag for hundreds, which short trainings never reach.
            x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn{i}")(x)
        x = keras.layers.Activation("relu", name=f"{name}_relu{i}")(x)
    return x


def build_unet(settings: UNetSettings | None = None, name: str = "dlf_unet"):
    """Build the U-Net for single-channel images of any size divisible by ``2**depth``.

    Parameters
    ----------
    settings : UNetSettings, optional
        Architecture; defaults to ``UNetSettings()``.
    name : str
        Model name.

    Returns
    -------
    keras.Model
        Input and output shape ``(batch, height, width, 1)``, float32, 0..1 scale.
    """
    import keras

    settings = settings or UNetSettings()
    if settings.depth < 1 or settings.base_filters < 1:
        raise ValueError(f"depth and base_filters must be >= 1, got {settings}")
    inputs = keras.Input(shape=(None, None, 1), name="rapid")
    x = inputs
    skips = []
    for level in range(settings.depth):
        x = _conv_block(x, settings.base_filters * 2**level, settings, f"down{level}")
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{level}")(x)
    x = _conv_block(x, settings.base_filters * 2**settings.depth, settings, "bottom")
    for level in reversed(range(settings.depth)):
        x = keras.layers.UpSampling2D(2, name=f"up{level}")(x)
        x = keras.layers.Concatenate(name=f"skip{level}")([x, skips[level]])
        x = _conv_block(x, settings.base_filters * 2**level, settings, f"dec{level}")
    # Zero-initialised last layer: a residual model starts as the identity.
    init = "zeros" if settings.residual else "glorot_uniform"
    x = keras.layers.Conv2D(1, 1, kernel_initializer=init, dtype="float32", name="correction")(x)
    if settings.residual:
        x = keras.layers.Add(name="residual", dtype="float32")([inputs, x])
    return keras.Model(inputs, x, name=name)


def unet_depth(model) -> int:
    """Down-sampling steps of a model built by :func:`build_unet` (its pooling layers)."""
    import keras

    return sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers)


def size_multiple(model) -> int:
    """Image height and width must be multiples of this (``2**depth``)."""
    return 2 ** unet_depth(model)
