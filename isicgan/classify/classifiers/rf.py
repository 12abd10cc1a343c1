"""Random forest on flattened pixels (thesis: ``RandomForestClassifier(random_state=25)``)."""

from isicgan.classify.classifiers.base import SklearnClassifier


class RandomForest(SklearnClassifier):
    name = "rf"
    rank = 3  # the thesis order in tables
    display_name = "Random Forest"
    config_schema = """
      n_estimators: {$ref: "#/$defs/posint", default: 100}
    """

    def make(self, seed):
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=self.params.get("n_estimators", 100),
            random_state=seed,
            n_jobs=self.threads,
        )
