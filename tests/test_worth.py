"""Worth in real tiles: inversion of hand-made learning curves, intervals, sentence, figures."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from isicgan.analysis.worth import (
    COLUMNS,
    EXTRAPOLATED,
    OK,
    WorthSpec,
    fit_power_law,
    front_page_line,
    invert_curve,
    isotonic,
    worth_table,
)
from isicgan.analysis.worth_figures import learning_curve_figure, worth_figure

CURVE_N = {"real_25": 50, "real_50": 100, "real_75": 150, "baseline": 200}
SPEC = WorthSpec(metrics=("roc_auc",))


def log_linear(n):
    return 0.3 + 0.1 * np.log(n)


def power_law(n):
    return 0.9 - 0.8 * np.asarray(n, dtype=float) ** -0.5


def inputs(
    curve: dict[str, np.ndarray],
    valued: dict[tuple[int, str], tuple[int, np.ndarray]],
    test_set: str = "test",
    classifier: str = "random_forest",
    metric: str = "roc_auc",
):
    """dist and counts of one test set and classifier: curve arms at phase 0 plus valued arms."""
    dist, rows = {}, []
    for arm, y in curve.items():
        dist[(test_set, classifier, 0, arm)] = {metric: np.atleast_1d(np.asarray(y, float))}
        rows.append((test_set, classifier, 0, arm, CURVE_N[arm], 0))
    for (phase, arm), (had, y) in valued.items():
        dist[(test_set, classifier, phase, arm)] = {metric: np.atleast_1d(np.asarray(y, float))}
        rows.append((test_set, classifier, phase, arm, had, 520 * phase))
    counts = pd.DataFrame(
        rows, columns=["test_set", "classifier", "phase", "arm", "n_real_malignant", "n_added"]
    )
    return dist, counts.assign(algorithm=classifier.replace("_", " ").title())


def exact_curve(f, rows: int = 1) -> dict[str, np.ndarray]:
    """The curve f at the curve arms' counts, the same in every row (estimate + resamples)."""
    return {a: np.full(rows, f(n)) for a, n in CURVE_N.items()}


def one(table: pd.DataFrame, phase: int, arm: str = "cyclegan") -> pd.Series:
    row = table[(table["phase"] == phase) & (table["arm"] == arm)]
    assert len(row) == 1
    return row.iloc[0]


def test_interpolation_is_exact_on_a_curve_linear_in_log_n():
    targets = {1: 70.0, 2: 100.0, 3: 120.0, 4: 199.0}
    dist, counts = inputs(
        exact_curve(log_linear),
        {(k, "cyclegan"): (200, [log_linear(n)]) for k, n in targets.items()},
    )
    table = worth_table(dist, counts, SPEC)
    assert list(table.columns) == COLUMNS
    assert set(table["arm"]) == {"cyclegan"}  # the curve arms are not valued
    for k, n in targets.items():
        row = one(table, k)
        assert row["worth_real_tiles"] == pytest.approx(n, rel=1e-9)
        assert row["worth_minus_had"] == pytest.approx(n - 200, rel=1e-9)
        assert not row["extrapolated"] and row["reason"] == ""


def test_a_curve_that_falls_is_read_off_its_isotonic_fit():
    """real_75 (150 tiles) scored like 90 tiles, below real_50 (100 tiles): the fit pools the
    two at their mean, and worth is the smallest n at which the pooled curve reaches the
    target; a target exactly at the pooled level gets the flat stretch as a range."""
    curve = exact_curve(log_linear, rows=3)
    curve["real_75"] = np.array([log_linear(90.0), log_linear(160.0), log_linear(90.0)])
    flat = (log_linear(100.0) + log_linear(90.0)) / 2  # real_50 and real_75 pooled
    y50, y200 = log_linear(50.0), log_linear(200.0)

    def between(value, n0, y0, n1, y1):  # linear in log n
        t = (value - y0) / (y1 - y0)
        return math.exp(math.log(n0) + t * (math.log(n1) - math.log(n0)))

    targets = {
        1: (log_linear(70.0), between(log_linear(70.0), 50, y50, 100, flat)),
        3: (log_linear(120.0), between(log_linear(120.0), 150, flat, 200, y200)),
    }
    arms = {(k, "cyclegan"): (200, np.full(3, t)) for k, (t, _) in targets.items()}
    arms[2, "cyclegan"] = (200, np.full(3, flat))  # exactly the pooled level
    table = worth_table(*inputs(curve, arms), SPEC)
    # flat at the target from 100 to 150 tiles: any count in between, so a range, no number
    row = one(table, 2)
    assert (
        np.isnan(row["worth_real_tiles"])
        and "from 100 real tiles to 150 real tiles" in row["reason"]
    )
    assert row["n_resamples_flat"] == 1  # resample 1 rises through the target, 2 is pooled
    assert row["worth_ci_low"] <= 100 and row["worth_ci_high"] == 150
    for k, (_, n) in targets.items():
        row = one(table, k)
        assert row["worth_real_tiles"] == pytest.approx(n, rel=1e-12), k
        assert row["curve_pooled"] and row["n_resamples_pooled"] == 1  # row 1 rises
        assert row["reason"] == "" and not row["extrapolated"] and row["n_resamples_failed"] == 0
    assert targets[1][1] == pytest.approx(72.0, abs=0.1)  # not the raw curve's 70
    assert targets[3][1] == pytest.approx(164.2, abs=0.1)  # not the raw curve's 120


def test_a_falling_curve_is_extrapolated_from_the_power_law_of_its_isotonic_fit():
    curve = exact_curve(power_law)
    curve["real_75"] = np.array([power_law(80.0)])
    iso = np.array([[power_law(n) for n in (50.0, 100.0, 80.0, 200.0)]])
    iso[0, 1:3] = (iso[0, 1] + iso[0, 2]) / 2
    b, c = fit_power_law(np.array([50.0, 100.0, 150.0, 200.0]), iso)
    target = power_law(300.0)
    by_hand = (b[0] / (b[0] * 200.0 ** -c[0] - (target - iso[0, -1]))) ** (1 / c[0])
    row = one(worth_table(*inputs(curve, {(1, "cyclegan"): (200, [target])}), SPEC), 1)
    assert row["extrapolated"] and row["curve_pooled"]
    assert row["worth_real_tiles"] == pytest.approx(by_hand, rel=1e-12)
    flat = {a: np.array([0.8]) for a in CURVE_N}  # flat: no ceiling above its last point
    row = one(worth_table(*inputs(flat, {(1, "cyclegan"): (200, [0.81])}), SPEC), 1)
    assert row["reason"].startswith("> cap") and row["curve_pooled"]
    row = one(worth_table(*inputs(flat, {(1, "cyclegan"): (200, [0.8])}), SPEC), 1)
    # scores like every curve point: any count does, so no number (the old rule said 50)
    assert np.isnan(row["worth_real_tiles"]) and row["reason"].startswith(
        "learning curve flat at the arm's 0.800 from 50 real tiles to beyond the full-data point"
    )


def test_pool_adjacent_violators_equals_scikit_learn():
    from sklearn.isotonic import IsotonicRegression

    rng = np.random.default_rng(7)
    for k in (2, 3, 4, 5, 7):
        y = rng.normal(size=(300, k))
        y[::3] = np.round(y[::3] * 2) / 2  # ties
        y[1::5] = np.sort(y[1::5], axis=1)  # already monotone (with ties where rounded)
        y[2::7] = -np.sort(y[2::7], axis=1)  # falling throughout: one block
        fitted, pooled = isotonic(y)
        for row, z in zip(y, fitted):
            assert z == pytest.approx(
                IsotonicRegression().fit_transform(np.arange(k), row), abs=1e-12
            )
        assert (pooled == ~(np.diff(y, axis=1) > 0).all(axis=1)).all()
        rising = (np.diff(y, axis=1) > 0).all(axis=1)
        assert rising.any() and (fitted[rising] == y[rising]).all()  # bit for bit
    nan = isotonic(np.array([[0.1, np.nan, 0.0], [0.2, 0.1, 0.3]]))
    assert np.isnan(nan[0][0]).all() and list(nan[1]) == [False, True]


def _strict_worth(n, y, target, cap):
    """The inversion as it was before the isotonic fit, for strictly increasing rows (its
    other rows had no number): interpolation inside, power law of the rows above."""
    logn = np.log(n)
    worth = np.full(len(y), np.nan)
    below, above = target < y[:, 0], target > y[:, -1]
    inside = ~below & ~above
    yi, ti = y[inside], target[inside]
    j = (yi[:, 1:-1] < ti[:, None]).sum(axis=1)
    rng = np.arange(len(yi))
    y0, y1 = yi[rng, j], yi[rng, j + 1]
    t = (ti - y0) / (y1 - y0)
    worth[inside] = np.exp(logn[j] + t * (logn[j + 1] - logn[j]))
    b, c = fit_power_law(n, y[above])
    gap = b * n[-1] ** (-c) - (target[above] - y[above, -1])
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(gap > 0, (b / gap) ** (1 / c), np.inf)
    worth[above] = np.where(value <= cap, value, np.nan)
    return worth


def test_a_strictly_increasing_curve_gives_the_same_worth_as_before():
    rng = np.random.default_rng(11)
    n = np.array([50.0, 100.0, 150.0, 200.0])
    y = np.sort(rng.uniform(0.5, 0.9, (500, 4)), axis=1)
    target = rng.uniform(0.45, 0.95, 500)
    target[:4] = y[:4, 0]  # at the first point
    worth, status = invert_curve(n, y, target, 2000.0)
    assert (status == EXTRAPOLATED).sum() > 50 and (status == OK).sum() > 200
    np.testing.assert_array_equal(worth, _strict_worth(n, y, target, 2000.0))  # NaN == NaN


def test_above_the_full_data_point_extrapolates_a_known_power_law():
    targets = {1: 300.0, 2: 600.0, 3: 1500.0}
    dist, counts = inputs(
        exact_curve(power_law), {(k, "cyclegan"): (200, [power_law(n)]) for k, n in targets.items()}
    )
    table = worth_table(dist, counts, SPEC)
    for k, n in targets.items():
        row = one(table, k)
        assert row["extrapolated"] and row["reason"] == ""
        assert row["worth_real_tiles"] == pytest.approx(n, rel=0.01)


def test_beyond_the_cap_or_the_fitted_ceiling_is_no_number():
    dist, counts = inputs(
        exact_curve(power_law),
        {
            (1, "cyclegan"): (200, [power_law(2500.0)]),  # > 10 x 200
            (2, "cyclegan"): (200, [0.95]),
        },
    )  # above a = 0.9
    table = worth_table(dist, counts, SPEC)
    for k in (1, 2):
        row = one(table, k)
        assert math.isnan(row["worth_real_tiles"]) and row["extrapolated"]
        assert row["reason"].startswith("> cap: more than 10 x the full-data 200 = 2,000")


def test_below_the_smallest_point_is_no_number_and_the_interval_is_censored_at_zero():
    dist, counts = inputs(
        exact_curve(log_linear, rows=11),
        {(0, "synthetic_only_cyclegan"): (0, np.full(11, log_linear(20.0)))},
    )
    row = one(worth_table(dist, counts, SPEC), 0, "synthetic_only_cyclegan")
    assert math.isnan(row["worth_real_tiles"]) and not row["extrapolated"]
    assert row["reason"].startswith("below the learning curve")
    assert row["worth_ci_low"] == 0 and row["worth_ci_high"] == 50  # < the smallest point


def resampled(f, n_target: float, sd: float, rng: np.random.Generator, boot: int = 300):
    """An observed curve and target (truth + noise) and parametric resamples around them."""
    obs = {a: f(n) + rng.normal(0, sd) for a, n in CURVE_N.items()}
    obs["target"] = f(n_target) + rng.normal(0, sd)
    return {a: np.concatenate([[v], v + rng.normal(0, sd, boot)]) for a, v in obs.items()}


@pytest.mark.parametrize("n_true", [120.0, 260.0])  # inside; extrapolated
def test_intervals_from_the_resamples_cover_the_true_worth(n_true):
    """200 simulated studies (one classifier each): the 95 % intervals hold the truth ~95 %."""
    rng = np.random.default_rng(0)
    dist, frames = {}, []
    for rep in range(200):
        draw = resampled(power_law, n_true, 0.002, rng, boot=200)
        target = draw.pop("target")
        d, c = inputs(draw, {(1, "cyclegan"): (200, target)}, classifier=f"study{rep}")
        dist.update(d)
        frames.append(c)
    table = worth_table(dist, pd.concat(frames, ignore_index=True), SPEC)
    assert len(table) == 200
    covered = (table["worth_ci_low"] <= n_true) & (n_true <= table["worth_ci_high"])
    assert 0.9 <= covered.mean() <= 0.99


def test_intervals_cover_the_true_worth_on_a_noisy_curve():
    """400 simulated studies on a rising curve (linear in log n) with noise sd 0.02 per point:
    about 40 % of the resampled curve rows and 21 % of the estimates fall somewhere and are
    pooled. Measured: the 95 % intervals hold the true 120 tiles in 94.3 % of the studies
    (seeds 0-4: 93.8-97.5 %), two thirds of them bounded on both sides."""
    rng = np.random.default_rng(0)
    dist, frames, pooled = {}, [], []
    for rep in range(400):
        draw = resampled(log_linear, 120.0, 0.02, rng, boot=200)
        target = draw.pop("target")
        y = np.stack([draw[a] for a in CURVE_N], axis=1)
        pooled.append(~(np.diff(y, axis=1) > 0).all(axis=1))
        d, c = inputs(draw, {(1, "cyclegan"): (200, target)}, classifier=f"study{rep}")
        dist.update(d)
        frames.append(c)
    table = worth_table(dist, pd.concat(frames, ignore_index=True), SPEC)
    assert len(table) == 400 and table["n_resamples_failed"].sum() == 0
    assert np.mean(pooled) > 0.3 and table["curve_pooled"].mean() > 0.15  # noisy indeed
    assert (table["n_resamples_pooled"] == [p[1:].sum() for p in pooled]).all()
    bounded = (table["worth_ci_low"] > 0) & np.isfinite(table["worth_ci_high"])
    assert bounded.mean() > 0.5  # not covering by intervals that say nothing
    covered = (table["worth_ci_low"] <= 120.0) & (120.0 <= table["worth_ci_high"])
    assert 0.9 <= covered.mean() <= 0.99


def test_resamples_are_paired_by_index_across_arms():
    """A resample that makes the test set harder for every arm leaves the worth unchanged."""
    shift = np.concatenate([[0.0], np.random.default_rng(1).normal(0, 0.05, 400)])
    curve = {a: log_linear(n) + shift for a, n in CURVE_N.items()}
    dist, counts = inputs(curve, {(1, "cyclegan"): (200, log_linear(120.0) + shift)})
    row = one(worth_table(dist, counts, SPEC), 1)
    assert row["n_resamples"] == 400 and row["n_resamples_failed"] == 0
    assert row["n_resamples_extrapolated"] == 0
    assert row["worth_ci_low"] == pytest.approx(120, rel=1e-9)
    assert row["worth_ci_high"] == pytest.approx(120, rel=1e-9)


def test_failed_resamples_are_counted_and_widen_the_interval_conservatively():
    curve = {a: np.full(101, log_linear(n)) for a, n in CURVE_N.items()}
    target = np.full(101, log_linear(120.0))
    curve["real_75"][1:4] = np.nan  # 3 of 100 resamples: metric undefined
    dist, counts = inputs(curve, {(1, "cyclegan"): (200, target)})
    row = one(worth_table(dist, counts, SPEC), 1)
    assert row["n_resamples_failed"] == 3
    assert row["worth_ci_low"] == 0 and math.isinf(row["worth_ci_high"])  # 3 % > 2.5 %
    assert row["worth_minus_had_ci_low"] == -200
    curve["real_75"][3] = log_linear(150.0)  # 2 of 100: within the 2.5 % tails
    row = one(worth_table(*inputs(curve, {(1, "cyclegan"): (200, target)}), SPEC), 1)
    assert row["n_resamples_failed"] == 2
    assert row["worth_ci_low"] == pytest.approx(120) == row["worth_ci_high"]


def test_a_metric_where_lower_is_better_is_inverted_on_a_falling_curve():
    spec = WorthSpec(metrics=("brier",), lower_is_better=("brier",))
    brier = {a: np.array([1.0 - log_linear(n)]) for a, n in CURVE_N.items()}
    dist, counts = inputs(brier, {(1, "cyclegan"): (200, [1.0 - log_linear(80.0)])}, metric="brier")
    row = one(worth_table(dist, counts, spec), 1)
    assert row["worth_real_tiles"] == pytest.approx(80.0)
    assert row["metric_value"] == pytest.approx(1.0 - log_linear(80.0))


def test_bad_inputs_stop_with_a_message():
    curve = exact_curve(log_linear)
    del curve["real_50"]
    dist, counts = inputs(curve, {(1, "cyclegan"): (200, [0.7])})
    with pytest.raises(ValueError, match=r"learning-curve arms \['real_50'\] missing"):
        worth_table(dist, counts, SPEC)
    dist, counts = inputs(exact_curve(log_linear), {(1, "cyclegan"): (200, [0.7, 0.7])})
    with pytest.raises(ValueError, match="must share the same resamples"):
        worth_table(dist, counts, SPEC)
    dist, counts = inputs(exact_curve(log_linear), {(1, "cyclegan"): (200, [0.7])})
    counts.loc[counts["arm"] == "real_50", "n_real_malignant"] = 50
    with pytest.raises(ValueError, match="same real malignant tiles"):
        worth_table(dist, counts, SPEC)
    counts.loc[counts["arm"] == "cyclegan", "n_real_malignant"] = np.nan
    with pytest.raises(ValueError, match="n_real_malignant missing or negative"):
        worth_table(dist, counts, SPEC)
    with pytest.raises(ValueError, match="unknown settings"):
        WorthSpec.from_dict({"cap": 10})


def test_spec_round_trips_through_a_plain_dict():
    spec = WorthSpec(metrics=("pauc_80", "roc_auc"), cap_multiple=5.0)
    assert WorthSpec.from_dict(dataclasses.asdict(spec)) == spec
    assert WorthSpec.from_dict({"metrics": ["roc_auc"]}).metrics == ("roc_auc",)


def two_test_sets() -> tuple[dict, pd.DataFrame]:
    """Two test sets x two classifiers, arms inside, above and below the curve; one curve
    (external, logistic regression) pooled at the estimate."""
    rng = np.random.default_rng(3)
    dists, frames = {}, []
    for test_set, f in (("external", power_law), ("test", log_linear)):
        for clf in ("random_forest", "logistic_regression"):
            draw = {
                a: np.concatenate([[f(n)], f(n) + rng.normal(0, 0.003, 50)])
                for a, n in CURVE_N.items()
            }
            if (test_set, clf) == ("external", "logistic_regression"):
                draw["real_75"][0] = draw["real_50"][0] - 0.001
            valued = {}
            for k, n in ((1, 160.0), (2, 320.0)):
                valued[k, "cyclegan"] = (
                    200,
                    np.concatenate([[f(n)], f(n) + rng.normal(0, 0.003, 50)]),
                )
                valued[k, "placebo"] = (200, np.full(51, f(45.0)))
            d, c = inputs(draw, valued, test_set=test_set, classifier=clf)
            dists.update(d)
            frames.append(c)
    return dists, pd.concat(frames, ignore_index=True)


def test_table_lists_the_test_set_first_then_external():
    dist, counts = two_test_sets()
    table = worth_table(dist, counts, SPEC)
    assert list(dict.fromkeys(table["test_set"])) == ["test", "external"]
    assert list(dict.fromkeys(table["arm"])) == ["cyclegan", "placebo"]
    assert len(table) == 2 * 2 * 2 * 2


def test_front_page_line_values_every_classifier_or_says_why_not():
    dist, counts = inputs(
        exact_curve(log_linear, rows=5),
        {
            (5, "cyclegan"): (200, np.full(5, log_linear(300.0))),
            (4, "cyclegan"): (200, np.full(5, log_linear(20.0))),
        },
    )
    table = worth_table(dist, counts, SPEC)
    line = front_page_line(
        table,
        arm="cyclegan",
        metric="roc_auc",
        labels={"cyclegan": "CycleGAN", "roc_auc": "ROC-AUC"},
    )
    row = one(table, 5)
    assert line.startswith(
        "Phase 5, CycleGAN, ROC-AUC, test set: with Random Forest, 2,600 "
        "synthetic tiles added to 200 real malignant ones are worth "
    )
    assert f"{row['worth_minus_had']:+,.0f}" in line and "extrapolated" in line
    line = front_page_line(table, arm="cyclegan", metric="roc_auc", phase=4)
    assert "are worth < -150 [< -150, -150] real malignant tiles" in line
    curve = exact_curve(log_linear)
    curve["real_75"] = np.array([0.1])
    table = worth_table(*inputs(curve, {(5, "cyclegan"): (200, [0.8])}), SPEC)
    line = front_page_line(table, arm="cyclegan", metric="roc_auc")
    assert "real ones, on the isotonic fit of a curve that did not always rise)." in line
    table = worth_table(*inputs(curve, {(5, "cyclegan"): (200, [np.nan])}), SPEC)
    line = front_page_line(table, arm="cyclegan", metric="roc_auc")
    assert "cannot be valued: metric undefined (NaN) at the estimate" in line
    flat = {a: np.full(3, 0.5) for a in CURVE_N}  # a classifier that learns nothing
    table = worth_table(*inputs(flat, {(5, "cyclegan"): (200, np.full(3, 0.5))}), SPEC)
    line = front_page_line(table, arm="cyclegan", metric="roc_auc")
    assert "cannot be valued: learning curve flat at the arm's 0.500 from 50 real tiles to " in line
    with pytest.raises(ValueError, match="no rows for arm gan"):
        front_page_line(table, arm="gan", metric="roc_auc")


@pytest.mark.filterwarnings("error")
def test_figures_write_pngs_without_warnings(tmp_path):
    dist, counts = two_test_sets()
    curve_png, worth_png = tmp_path / "curve.png", tmp_path / "worth.png"
    learning_curve_figure(dist, counts, SPEC, curve_png)
    worth_figure(worth_table(dist, counts, SPEC), worth_png)
    empty_png = tmp_path / "empty.png"
    worth_figure(worth_table(dist, counts, SPEC).iloc[:0], empty_png)
    for png in (curve_png, worth_png, empty_png):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert not list(tmp_path.glob(".*tmp"))


def test_worth_csv_round_trips_and_gives_the_same_sentence(tmp_path):
    from isicgan.io import write_csv

    dist, counts = two_test_sets()
    table = worth_table(dist, counts, SPEC)
    assert np.isinf(table["worth_ci_high"]).any() and (table["worth_ci_low"] == 0).any()
    write_csv(tmp_path / "worth.csv", table)
    back = pd.read_csv(tmp_path / "worth.csv")
    assert list(back.columns) == COLUMNS
    pd.testing.assert_frame_equal(
        back.drop(columns="reason"), table.drop(columns="reason"), check_dtype=False
    )
    for arm in ("cyclegan", "placebo"):
        for test_set in ("test", "external"):
            line = front_page_line(table, arm=arm, metric="roc_auc", test_set=test_set)
            assert front_page_line(back, arm=arm, metric="roc_auc", test_set=test_set) == line
