"""The thesis CNN on RGB tiles scaled to [0, 1].

3 x (Conv 3x3 relu + MaxPool), Dropout .25 after the 2nd and 3rd, Dense(relu), Dropout .5,
sigmoid; Adam, binary cross-entropy (thesis: filters 64, 128, 224, Dense 512, 10 epochs,
batch 32).
"""

import numpy as np

from isicgan.classify.classifiers.base import KerasClassifier


def build_cnn(input_shape: tuple[int, int, int], filters=(64, 128, 224), dense: int = 512):
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(filters[0], 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(filters[1], 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Dropout(0.25),
            layers.Conv2D(filters[2], 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(dense, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(1, activation="sigmoid"),
        ],
        name="thesis_cnn",
    )


class CNN(KerasClassifier):
    name = "cnn"
    rank = 4  # the thesis order in tables
    display_name = "Convolutional Neural Network"
    config_schema = """
      epochs: {$ref: "#/$defs/posint", default: 10}
      batch_size: {$ref: "#/$defs/posint", default: 32}
      learning_rate: {$ref: "#/$defs/lr", default: 0.001}
      filters:
        type: array
        items: {$ref: "#/$defs/posint"}
        minItems: 3
        maxItems: 3
        default: [64, 128, 224]
        description: "filters of the three Conv 3x3 layers (thesis: 64, 128, 224)"
      dense: {$ref: "#/$defs/posint", default: 512, description: "hidden Dense units (thesis: 512)"}
    """

    def prepare(self, x):
        return x.astype(np.float32) / 255.0

    def build(self, input_shape):
        return build_cnn(
            input_shape,
            tuple(self.params.get("filters", (64, 128, 224))),
            self.params.get("dense", 512),
        )
