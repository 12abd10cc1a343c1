"""The statistics of the report: calibrated intervals, the primary family, verdicts, placebo.

The calibration tests simulate whole studies and run them through the package's own
functions (isicgan.analysis.simulate calls resampling and contrasts as the stage does).
"""

import numpy as np
import pandas as pd
import pytest

from isicgan.analysis.contrasts import (
    ONE_CLASS,
    ContrastDesign,
    PrimarySpec,
    contrasts_table,
    pair_verdicts,
    placebo_false_positive_rates,
    step_down_max_t,
    verdict,
)
from isicgan.analysis.headline import headline
from isicgan.analysis.resampling import configuration_distributions, resample_configurations
from isicgan.analysis.simulate import THESIS, coverage, family_error


@pytest.mark.parametrize("replicate_sd", [0.018, 0.036])
def test_intervals_cover_a_null_method_effect_at_the_thesis_shape(replicate_sd):
    """3 replicates x 3 seeds, 93 + 93 test tiles on 120 patients, generator replicates that
    differ in ROC-AUC with this SD and a true method effect of 0: the stage's 95 % intervals
    hold 0 in 93-97 % of 300 studies; the patient-only percentile interval does not."""
    result = coverage(THESIS, replicate_sd, studies=300, n_boot=200, seed=0)
    assert 0.93 <= result["method"] <= 0.97, result
    assert result["landed"] < 0.90, result


def test_the_primary_family_keeps_its_family_wise_error_under_a_global_null():
    """2 generators x 3 control arms x 2 metrics, every true difference 0: the step-down
    max-T calls any contrast better or worse in at most ~5 % of 200 studies."""
    fwer = family_error(THESIS, 0.036, generators=2, studies=200, n_boot=200, seed=1)
    assert fwer <= 0.07, fwer


def test_step_down_max_t_follows_the_dependence_between_contrasts():
    rng = np.random.default_rng(0)
    p = np.array([0.001, 0.01, 0.2, 0.5])
    same = np.tile(rng.normal(size=4000), (4, 1))  # one contrast four times
    adjusted, _ = step_down_max_t(p, same)
    assert adjusted == pytest.approx(p, abs=2e-3)  # no price for copies
    independent = rng.normal(size=(4, 4000))
    adjusted, q = step_down_max_t(p, independent)
    sidak = 1 - (1 - p[0]) ** 4
    assert adjusted[0] == pytest.approx(sidak, abs=2e-3)
    assert (np.diff(adjusted) >= 0).all() and (adjusted >= p).all()
    assert q == pytest.approx(1 - 0.95**0.25, rel=0.15)  # Sidak's per-contrast level


def test_verdicts_need_the_whole_adjusted_interval_inside_the_margin_for_equivalence():
    assert verdict(0.03, 0.01, 0.05, 0.01, 0.02) == "better"
    assert verdict(-0.03, -0.05, -0.01, 0.01, 0.02) == "worse"
    assert verdict(0.001, -0.015, 0.017, 0.9, 0.02) == "equivalent"
    assert verdict(0.001, -0.025, 0.027, 0.9, 0.02) == "inconclusive"
    assert verdict(0.001, np.nan, np.nan, np.nan, 0.02) == "inconclusive"


def _frames(configs, y, ids, backbone="n/a"):
    """preds and runs.csv rows from {(phase, arm): [(replicate, seed, scores), ...]}."""
    preds, runs = [], []
    for (phase, arm), per_run in configs.items():
        for rep, seed, s in per_run:
            preds.append(
                pd.DataFrame(
                    {
                        "classifier": "svm",
                        "phase": phase,
                        "arm": arm,
                        "seed": seed,
                        "replicate": rep,
                        "isic_id": ids,
                        "target": y,
                        "score": s,
                    }
                )
            )
            runs.append(
                {
                    "classifier": "svm",
                    "algorithm": "Support Vector Machine",
                    "phase": phase,
                    "arm": arm,
                    "seed": seed,
                    "replicate": rep,
                    "split": "test",
                    "val_threshold": 0.5,
                    "backbone_weights": backbone,
                }
            )
    return pd.concat(preds, ignore_index=True), pd.DataFrame(runs)


def _study(replicates=3, flip_head=False, placebo_shift=0.0, seed=0):
    """phase 0 baseline, phase 1: oversample, augment (seeds), cyclegan and placebo (replicates)."""
    rng = np.random.default_rng(seed)
    n = 80
    y = np.array([0, 1] * (n // 2))
    ids = [f"ISIC_{i:07d}" for i in range(n)]
    patients = np.array([f"P{i // 2}" for i in range(n)])
    difficulty = rng.normal(size=n)

    def scores(sep):
        return 1 / (1 + np.exp(-(sep * (y - 0.5) + 0.8 * difficulty + 0.6 * rng.normal(size=n))))

    configs = {(0, "baseline"): [(0, s, scores(1.5)) for s in range(3)]}
    for arm in ("oversample", "augment"):
        configs[(1, arm)] = [(0, s, scores(1.5)) for s in range(3)]
    configs[(1, "cyclegan")] = [
        (r, s, scores(1.5 + rng.normal(0, 0.1))) for r in range(1, replicates + 1) for s in range(3)
    ]
    configs[(1, "placebo")] = [
        (r, s, scores(1.5 + placebo_shift)) for r in range(1, 4) for s in range(3)
    ]
    if flip_head:  # every test tile called malignant at 0.5
        configs[(1, "augment")] = [(0, s, 0.6 + 0.3 * scores(1.5)) for s in range(3)]
    return _frames(configs, y, ids), patients


def _contrasts(study, patients, backbone="n/a", n_boot=200):
    (preds, runs) = study
    runs = runs.assign(backbone_weights=backbone)
    res = resample_configurations(
        preds, runs, {"test": patients}, n_boot=n_boot, seed=3, threshold=0.5, pauc_min_tpr=0.8
    )
    design = ContrastDesign(
        gans=("cyclegan", "placebo"),
        controls=("oversample", "augment"),
        placebos=("placebo",),
        primary=PrimarySpec(references=("oversample", "augment")),
        last_phase=1,
        threshold=0.5,
    )
    labels = {"svm": ("Support Vector Machine", backbone)}
    return contrasts_table(res, configuration_distributions(res), labels, design), res


def test_a_one_class_configuration_is_flagged_and_left_out_of_thresholded_contrasts():
    study, patients = _study(flip_head=True)
    con, res = _contrasts(study, patients)
    assert res.units[("test", "svm", 1, "augment")].one_class[""]
    assert not res.units[("test", "svm", 1, "oversample")].one_class[""]
    rows = con[(con.reference == "augment") & (con.level == "method")]
    thresholded = rows[rows.threshold == "0.5"]
    assert len(thresholded) and thresholded["one_class"].all()
    assert (thresholded["verdict"] == ONE_CLASS).all() and thresholded["p_value"].isna().all()
    # threshold-free contrasts and the val threshold's stay
    assert rows.loc[rows.threshold == "none", "p_value"].notna().all()
    assert not con.loc[con.reference == "oversample", "one_class"].any()
    # malignant recall never without benign recall beside it
    metrics = list(rows.loc[rows.gan == "cyclegan", "metric"])
    i = metrics.index("malignant_recall")
    assert metrics[i + 1] == "benign_recall"


def test_too_few_generator_replicates_give_no_verdict():
    study, patients = _study(replicates=1)
    con, _ = _contrasts(study, patients)
    primary = con[(con.family == "primary") & (con.gan == "cyclegan") & (con.level == "method")]
    assert len(primary) == 4 and (primary["verdict"] == "too few replicates").all()
    assert primary["ci_low"].isna().all() and primary["p_adjusted"].isna().all()
    assert pair_verdicts(con).set_index("gan").loc["cyclegan", "verdict"] == "too few replicates"


def test_backbones_without_pretrained_weights_are_not_in_the_primary_family():
    study, patients = _study()
    con, _ = _contrasts(study, patients, backbone="random init (no ImageNet weights)")
    assert (con["family"] == "exploratory").all()
    assert "every contrast is exploratory" in headline(con)


def test_the_primary_family_and_the_placebo_false_positive_rate():
    study, patients = _study()
    con, _ = _contrasts(study, patients)
    method = con[con.level == "method"]
    primary = method[method.family == "primary"]
    # 2 generators x 2 references x 2 metrics, at the last phase, threshold-free
    assert len(primary) == 8 and set(primary["threshold"]) == {"none"}
    assert primary["p_adjusted"].notna().all()
    assert (primary["p_adjusted"] >= primary["p_value"] - 1e-12).all()
    assert (primary["ci_low_adjusted"] <= primary["ci_low"]).all()  # wider than marginal
    explore = method[method.family == "exploratory"]
    assert set(explore["verdict"]) <= {"exploratory", ONE_CLASS}
    assert explore["adjustment"].str.startswith("Benjamini-Hochberg").all()
    # per-replicate rows: 3 threshold-free metrics x 3 replicates per generator x reference
    reps = con[(con.level == "replicate") & (con.gan == "cyclegan")]
    assert len(reps) == 3 * 3 * 3 and set(reps["replicate"]) == {1, 2, 3}
    # the placebo (augment's twin) is a known null; its rate is counted, not claimed
    rates = placebo_false_positive_rates(con)
    assert rates["primary"][1] == 2  # placebo - augment, 2 metrics
    placebo_null = method[method.placebo & (method.reference == "augment")]
    assert rates["all"][1] == int((placebo_null["unadjusted_call"] != "no interval").sum())
    text = headline(con)
    assert "1 generators, placebo apart" in text and "of 1 classifier x generator pairs" in text
    assert f"false positives in {rates['primary'][0]} of 2" in text


def test_the_headline_claims_no_gain_only_where_equivalence_is_shown():
    rows = []
    for gan, low, high, p in (("cyclegan", -0.004, 0.006, 0.6), ("dcgan", -0.03, 0.04, 0.7)):
        for ref in ("oversample", "augment"):
            rows.append(
                {
                    "test_set": "test",
                    "level": "method",
                    "family": "primary",
                    "classifier": "svm",
                    "algorithm": "SVM",
                    "phase": 5,
                    "gan": gan,
                    "placebo": False,
                    "reference": ref,
                    "metric": "roc_auc",
                    "threshold": "none",
                    "difference": 0.001,
                    "margin": 0.02,
                    "ci_low_adjusted": low,
                    "ci_high_adjusted": high,
                    "p_adjusted": p,
                    "verdict": verdict(0.001, low, high, p, 0.02),
                    "unadjusted_call": "includes 0",
                }
            )
    text = headline(pd.DataFrame(rows))
    assert "0 better, 1 equivalent, 1 inconclusive" in text
    assert "No gain beyond the margin (equivalence shown): cyclegan with SVM." in text
    assert "dcgan with SVM" not in text.split("Inconclusive")[0].split("equivalence shown")[1]
    assert "No placebo generator was run" in text


def test_resampled_distributions_for_worth():
    """Per configuration and metric (1 + B,): the estimate, then two-stage resamples whose
    spread includes the generator replicates (wider than the patient draws alone)."""
    study, patients = _study()
    (preds, runs) = study
    res = resample_configurations(
        preds, runs, {"test": patients}, n_boot=300, seed=3, threshold=0.5, pauc_min_tpr=0.8
    )
    dists = configuration_distributions(res, ["roc_auc"])
    key = ("test", "svm", 1, "cyclegan")
    d = dists[key]["roc_auc"]
    assert d.shape == (301,)
    units = res.units[key].values["roc_auc"]
    assert d[0] == pytest.approx(units[:, 0].mean())
    assert d[1:].std() > units.mean(axis=0)[1:].std()  # the replicate stage adds spread
    again = configuration_distributions(res, ["roc_auc"])
    assert np.array_equal(again[key]["roc_auc"], d)  # reproducible


def test_new_arms_and_an_external_test_set_get_their_own_rows():
    """Learning-curve and train-on-synthetic arms at phase 0; a second test set with its own
    patients: arms rows and contrasts per test set, test first; synthetic-only contrasts are
    exploratory."""
    from isicgan.analysis.tables import arms_table
    from isicgan.classify.metrics import ALL_METRICS

    (preds, runs), patients = _study()
    rng = np.random.default_rng(5)
    extra = []
    for arm, reps in (("real_50", [0]), ("synthetic_only_cyclegan", [1, 2, 3])):
        base = preds[(preds.phase == 0) & (preds.arm == "baseline")]
        for rep in reps:
            part = base.assign(
                arm=arm,
                replicate=rep,
                score=np.clip(base["score"] + rng.normal(0, 0.05, len(base)), 0, 1),
            )
            extra.append(part)
            runs = pd.concat(
                [
                    runs,
                    runs[(runs.phase == 0) & (runs.arm == "baseline")].assign(
                        arm=arm, replicate=rep
                    ),
                ],
                ignore_index=True,
            )
    preds = pd.concat([preds, *extra], ignore_index=True)
    external = preds.assign(
        test_set="external", isic_id=preds["isic_id"].str.replace("ISIC_", "EXT_")
    )
    preds = pd.concat([preds.assign(test_set="test"), external], ignore_index=True)
    runs = pd.concat([runs, runs.assign(split="external")], ignore_index=True)
    for m in ALL_METRICS:  # runs.csv's own metrics (the arms table's means)
        runs[m] = 0.5
    runs = runs.assign(algorithm="Support Vector Machine", n_added=0, n_train=100)
    res = resample_configurations(
        preds,
        runs,
        {"test": patients, "external": patients[::-1]},
        n_boot=100,
        seed=3,
        threshold=0.5,
        pauc_min_tpr=0.8,
    )
    arms = arms_table(runs, res, 0.5, {})
    assert list(dict.fromkeys(arms["test_set"])) == ["test", "external"]
    assert {"real_50", "synthetic_only_cyclegan"} <= set(arms.loc[arms.phase == 0, "arm"])
    design = ContrastDesign(
        gans=("cyclegan", "placebo"),
        controls=("oversample", "augment"),
        placebos=("placebo",),
        primary=PrimarySpec(),
        last_phase=1,
        threshold=0.5,
    )
    con = contrasts_table(
        res, configuration_distributions(res), {"svm": ("Support Vector Machine", "n/a")}, design
    )
    assert list(dict.fromkeys(con["test_set"])) == ["test", "external"]
    only = con[(con.gan == "synthetic_only_cyclegan") & (con.level == "method")]
    assert len(only) == 2 * 9 and set(only["reference"]) == {"baseline"}
    assert (only["family"] == "exploratory").all() and set(only["phase"]) == {0}
    assert (con.loc[con.test_set == "external", "family"] == "exploratory").all()
