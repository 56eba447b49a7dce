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

import numpy as np

from stemdlf.config.settings import SchemaChecked, setting

__all__ = ["UNetSettings", "build_unet", "fold_batch_norm", "unet_depth", "size_multiple", "input_window",
           "receptive_radius"]


@dataclass(frozen=True)
class UNetSettings(SchemaChecked):
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
    input_frames : int
        Aligned rapid frames the model takes as channels (1: the paper's single frame). The
        frame being filtered is the centre of the window, or its last frame with ``causal``.
    causal : bool
        The window holds the filtered frame and the ``input_frames - 1`` frames before it only
        (live use: no frame from the future is needed).
    """

    depth: int = setting(2, minimum=1, maximum=6)
    base_filters: int = setting(16, minimum=1)
    kernel_size: int = setting(3, minimum=1)
    batch_norm: bool = True
    residual: bool = True
    input_frames: int = setting(1, minimum=1, maximum=15)
    causal: bool = False

    @property
    def current_channel(self) -> int:
        """Channel of the input window holding the frame being filtered."""
        return self.input_frames - 1 if self.causal else (self.input_frames - 1) // 2

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> UNetSettings:
        """Settings from a config mapping."""
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain mapping."""
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
    if settings.depth < 1 or settings.base_filters < 1 or settings.input_frames < 1:
        raise ValueError(f"depth, base_filters and input_frames must be >= 1, got {settings}")
    inputs = keras.Input(shape=(None, None, settings.input_frames), name="rapid")
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
        current = inputs
        if settings.input_frames > 1:
            # the frame being filtered, picked from the window by a fixed one-hot 1x1 convolution
            # (a plain layer, so the model still loads with safe_mode=True)
            pick = keras.layers.Conv2D(1, 1, use_bias=False, trainable=False, dtype="float32", name="current_frame")
            current = pick(inputs)
            onehot = np.zeros((1, 1, settings.input_frames, 1), np.float32)
            onehot[0, 0, settings.current_channel, 0] = 1.0
            pick.set_weights([onehot])
        x = keras.layers.Add(name="residual", dtype="float32")([current, x])
    return keras.Model(inputs, x, name=name)


def fold_batch_norm(model):
    """An inference copy of a U-Net with each batch normalisation folded into the convolution before it.

    At inference a batch normalisation is a fixed per-channel affine map, ``gamma (y - mean) /
    sqrt(var + eps) + beta``; applied to ``y = conv(x)`` it equals one convolution with scaled
    kernels and a bias. The copy computes the same function (to float rounding) without the
    normalisation passes over every full-resolution feature map, which cost about a third of the
    paper's DLF-Slow inference time on a CPU.

    Parameters
    ----------
    model : keras.Model
        A model built by :func:`build_unet` (each ``<block>_bn<i>`` follows ``<block>_conv<i>``).

    Returns
    -------
    keras.Model
        The model itself when it has no batch normalisation, else the folded copy.
    """
    import keras

    norms = {layer.name: layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)}
    if not norms:
        return model
    folded_convs = {name.replace("_bn", "_conv"): bn for name, bn in norms.items()}

    class Folded(keras.layers.Layer):
        """Where a folded normalisation was: passes its input on (takes the normalisation's call arguments)."""

        def call(self, inputs, training=None, mask=None):
            return inputs

    def clone(layer):
        if layer.name in norms:
            return Folded(name=layer.name)
        config = layer.get_config()
        if layer.name in folded_convs:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        target = copy.get_layer(layer.name)
        if layer.name in norms or not layer.weights:
            continue
        weights = [np.asarray(w) for w in layer.get_weights()]
        bn = folded_convs.get(layer.name)
        if bn is not None:
            mean = np.asarray(bn.moving_mean, np.float64)
            var = np.asarray(bn.moving_variance, np.float64)
            gamma = np.asarray(bn.gamma, np.float64) if bn.scale else 1.0
            beta = np.asarray(bn.beta, np.float64) if bn.center else 0.0
            scale = gamma / np.sqrt(var + bn.epsilon)
            kernel = weights[0] * scale.astype(weights[0].dtype)
            bias = np.asarray(weights[1], np.float64) if len(weights) > 1 else np.zeros_like(mean)
            weights = [kernel, ((bias - mean) * scale + beta).astype(weights[0].dtype)]
        target.set_weights(weights)
    return copy


def unet_depth(model) -> int:
    """Down-sampling steps of a model built by :func:`build_unet` (its pooling layers)."""
    import keras

    return sum(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers)


def input_window(model) -> tuple[int, int]:
    """(frames, current channel) of a model built by :func:`build_unet`.

    How many aligned frames it takes and which of them it filters (read from its
    ``current_frame`` layer).
    """
    frames = int(model.input_shape[-1])
    if frames == 1:
        return 1, 0
    for layer in model.layers:
        if layer.name == "current_frame":
            return frames, int(np.argmax(np.asarray(layer.get_weights()[0]).ravel()))
    return frames, (frames - 1) // 2


def receptive_radius(model) -> int:
    """How far (px) an output pixel of a :func:`build_unet` model sees.

    The margin a tile needs so that tiled prediction equals whole-frame prediction (each 3x3
    convolution at scale ``2**l`` adds ``(k // 2) * 2**l``, each pooling ``2**l - 1``).
    """
    import keras

    radius, scale = 0, 1
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            radius += (layer.kernel_size[0] // 2) * scale
        elif isinstance(layer, keras.layers.MaxPooling2D):
            radius += scale
            scale *= 2
        elif isinstance(layer, keras.layers.UpSampling2D):
            scale //= 2
    return radius


def size_multiple(model) -> int:
    """Image height and width must be multiples of this (``2**depth``)."""
    return 2 ** unet_depth(model)
