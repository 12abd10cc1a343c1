"""The audit of the thesis's published precision/recall on its balanced 93 + 93 test set."""

import pandas as pd
import pytest

from isicgan.analysis.thesis_audit import read_thesis_tables, thesis_comparison, thesis_count_audit

THESIS = (
    __import__("pathlib").Path(__file__).resolve().parents[1] / "resources" / "thesis_tables.csv"
)


def published(rows):
    return pd.DataFrame(
        rows,
        columns=[
            "table",
            "phase",
            "algorithm",
            "benign_precision",
            "benign_recall",
            "malignant_precision",
            "malignant_recall",
        ],
    )


def by_metric(audit: pd.DataFrame) -> dict[str, pd.Series]:
    return {r["metric"]: r for _, r in audit.iterrows()}


def test_recalls_fix_the_confusion_matrix_and_so_the_precisions():
    # TN 76, TP 20 of 93 each: FN 73, FP 17; benign precision 76/149, malignant 20/37
    audit = by_metric(thesis_count_audit(published([[9.9, 0, "made up", 0.51, 0.82, 0.54, 0.22]])))
    assert audit["benign_precision"]["implied_93_93"] == pytest.approx(76 / 149)
    assert audit["malignant_precision"]["implied_93_93"] == pytest.approx(20 / 37)
    assert audit["benign_recall"]["counts_93_93"] == "TN 76, FN 73, FP 17, TP 20"
    assert all(r["consistent_93_93"] for r in audit.values())
    assert audit["benign_precision"]["row_consistent_93_93"]


def test_the_published_logistic_regression_baseline_does_not_fit_93_plus_93():
    """Issue 9: thesis table 6.1, Logistic Regression: recalls 0.82 and 0.22 imply precisions
    of about 0.51 and 0.54, not the printed 0.94 and 0.34."""
    thesis = read_thesis_tables(THESIS)
    audit = by_metric(
        thesis_count_audit(
            thesis[(thesis["table"] == 6.1) & (thesis["algorithm"] == "Logistic Regression")]
        )
    )
    assert round(audit["benign_precision"]["implied_93_93"], 2) == 0.51
    assert round(audit["malignant_precision"]["implied_93_93"], 2) == 0.54
    assert not audit["benign_precision"]["consistent_93_93"]
    assert not audit["malignant_precision"]["consistent_93_93"]
    assert (
        audit["benign_recall"]["consistent_93_93"] and audit["malignant_recall"]["consistent_93_93"]
    )
    assert not audit["malignant_recall"]["row_consistent_93_93"]


def test_a_recall_no_count_out_of_93_prints_as_is_flagged():
    # 6/93 = 0.0645 and 7/93 = 0.0753: nothing prints as 0.07 (nor as 0.50: 0.4946, 0.5054)
    audit = by_metric(thesis_count_audit(published([[9.9, 0, "made up", 0.5, 0.49, 0.5, 0.07]])))
    assert not audit["malignant_recall"]["consistent_93_93"]
    assert audit["benign_recall"]["consistent_93_93"]  # 46/93 prints as 0.49
    assert not audit["benign_recall"]["row_consistent_93_93"]


def test_thesis_comparison_carries_the_audit_for_all_36_published_rows():
    thesis = read_thesis_tables(THESIS)
    arms = pd.DataFrame(columns=["algorithm", "phase", "arm"])  # nothing run: ours empty
    comp = thesis_comparison(arms, thesis, "cyclegan")
    assert len(comp) == 36 * 4
    for col in (
        "implied_93_93",
        "implied_93_93_low",
        "implied_93_93_high",
        "consistent_93_93",
        "counts_93_93",
        "row_consistent_93_93",
    ):
        assert comp[col].notna().all(), col
    prec = comp[comp["metric"].str.endswith("precision")]
    assert prec["implied_93_93"].between(0, 1).all()
    assert not comp.groupby(["thesis_table", "algorithm"])["row_consistent_93_93"].first().any()
