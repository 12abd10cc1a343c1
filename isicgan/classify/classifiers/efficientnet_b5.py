"""EfficientNetB5 (keras.applications), frozen, with the thesis head; inputs 0-255 (its
rescaling and normalisation are layers of the model)."""

import math

import numpy as np

from isicgan.classify.classifiers.base import KerasBackbone

#: the ImageNet standard deviations keras.applications divides EfficientNet inputs by once more
#: when it loads its own ImageNet file (see :meth:`EfficientNetB5.after_load`)
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)


class EfficientNetB5(KerasBackbone):
    name = "efficientnet_b5"
    rank = 6  # the thesis order in tables
    display_name = "EfficientNetB5"
    min_input = 32
    config_schema = '$ref: "#/$defs/keras_backbone"'
    weights = {
        "key": "keras_efficientnet_b5",
        "filename": "efficientnetb5_notop.h5",
        "url": "https://storage.googleapis.com/keras-applications/efficientnetb5_notop.h5",
        "md5": "38879255a25d3c92d5e44e04ae6cec6f",
        "note": "Keras EfficientNetB5 ImageNet weights without the top",
    }

    @classmethod
    def application(cls, **kwargs):
        import keras

        return keras.applications.EfficientNetB5(**kwargs)

    @classmethod
    def preprocess_input(cls, x):
        import keras

        return keras.applications.efficientnet.preprocess_input(x)

    @classmethod
    def after_load(cls, model, weights):
        """keras.applications inserts an extra rescaling by 1/sqrt(ImageNet std) after its
        normalisation layer only when it downloads ``weights="imagenet"`` itself; with a local
        weight file that layer is missing. As the stem convolution has no bias and the padding
        is zeros, scaling the stem kernel's input channels by the same factors gives exactly
        the network keras.applications builds for "imagenet"."""
        if not weights:
            return
        stem = model.get_layer("stem_conv")
        factors = np.array([1.0 / math.sqrt(s) for s in IMAGENET_STDDEV_RGB], np.float32)
        stem.kernel.assign(stem.kernel.numpy() * factors[None, None, :, None])
