"""The precision a filter computes in: float32 as trained, or the opt-in bfloat16 fast path.

Imports neither numpy nor Keras at module level, so the command line can offer the choices
before ``stemdlf.runtime.threads.single_threaded_blas`` has sized numpy's BLAS pool.
"""

from __future__ import annotations

__all__ = ["PRECISIONS", "with_precision"]

#: Precisions a filter can run in: float32 (the default, as trained) and bfloat16 (opt-in, faster where the
#: CPU has AVX512-BF16 or AMX units, or on a GPU; accepted by quality, benchmarks/precision.py).
PRECISIONS = ("float32", "bfloat16")

#: Layers that stay float32 under any precision: the last 1x1 convolution, the frame pick and the residual sum
#: (the output is a small correction added to the input, which bfloat16's 8-bit mantissa would round away).
_FLOAT32_LAYERS = ("correction", "current_frame", "residual")


def with_precision(model, precision: str = "float32"):
    """An inference copy of a U-Net whose convolutions compute in ``precision``, with the same weights.

    ``"bfloat16"`` gives every layer but the last convolution, the frame pick and the residual sum
    Keras's ``mixed_bfloat16`` policy: variables stay float32, inputs and activations are rounded to
    bfloat16 (8-bit mantissa) and the convolutions accumulate as the backend does (float32 on oneDNN
    and cuDNN). Input and output stay float32. Backend-agnostic: only the layers' dtype policies change.

    Parameters
    ----------
    model : keras.Model
        A model built by :func:`build_unet` (or its :func:`fold_batch_norm` copy).
    precision : str
        One of :data:`PRECISIONS`.

    Returns
    -------
    keras.Model
        The model itself for ``"float32"``, else the copy.
    """
    import keras

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "float32":
        return model
    policy = {"bfloat16": "mixed_bfloat16"}[precision]

    def clone(layer):
        config = layer.get_config()
        if layer.name not in _FLOAT32_LAYERS and "dtype" in config:
            config["dtype"] = policy
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if layer.weights:
            copy.get_layer(layer.name).set_weights(layer.get_weights())
    return copy
