"""Support vector machine on flattened pixels (thesis: ``SVC(random_state=25)``, RBF, C=1).

The score is the logistic of the decision function, so score > 0.5 is exactly ``SVC.predict``.
"""

from isicgan.classify.classifiers.base import SklearnClassifier


class SVMClassifier(SklearnClassifier):
    name = "svm"
    rank = 2  # the thesis order in tables
    display_name = "Support Vector Machine"
    config_schema = """
      C: {type: number, exclusiveMinimum: 0, default: 1.0}
      kernel: {enum: [rbf, linear, poly, sigmoid], default: rbf}
      gamma: {type: [string, number], default: scale}
    """

    def make(self, seed):
        from sklearn.svm import SVC

        p = self.params
        return SVC(
            C=p.get("C", 1.0),
            kernel=p.get("kernel", "rbf"),
            gamma=p.get("gamma", "scale"),
            random_state=seed,
        )
