"""Logistic regression on flattened pixels: the thesis's scikit-learn defaults."""

from isicgan.classify.classifiers.base import SklearnClassifier


class LogisticRegressionClassifier(SklearnClassifier):
    name = "logreg"
    rank = 1  # the thesis order in tables
    display_name = "Logistic Regression"
    config_schema = """
      max_iter: {$ref: "#/$defs/posint", default: 100}
      C: {type: number, exclusiveMinimum: 0, default: 1.0}
    """

    def make(self, seed):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=self.params.get("C", 1.0),
            max_iter=self.params.get("max_iter", 100),
            random_state=seed,
        )
