"""InceptionV3 (keras.applications), frozen, with the thesis head; inputs scaled to [-1, 1]."""

from isicgan.classify.classifiers.base import KerasBackbone


class InceptionV3(KerasBackbone):
    name = "inception_v3"
    rank = 5  # the thesis order in tables
    display_name = "Inception V3"
    min_input = 75
    config_schema = '$ref: "#/$defs/keras_backbone"'
    weights = {
        "key": "keras_inception_v3",
        "filename": "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "url": "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
        "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "md5": "bcbd6486424b2319ff4ef7d526e38f63",
        "note": "Keras InceptionV3 ImageNet weights without the top",
    }

    @classmethod
    def application(cls, **kwargs):
        import keras

        return keras.applications.InceptionV3(**kwargs)

    @classmethod
    def preprocess_input(cls, x):
        import keras

        return keras.applications.inception_v3.preprocess_input(x)
