"""The ablation table (stemdlf.workflow.ablation) from a summary with known values."""

import numpy as np
import pandas as pd
import pytest

from stemdlf.errors import ConfigError
from stemdlf.workflow.ablation import ablation_markdown, ablation_table, check_ablation


def summary(rows):
    return pd.DataFrame([(m, k, v) for m, k, v in rows], columns=["method", "metric", "mean"])


def test_rows_name_configured_variants_once_each_and_rows_left_out_of_the_run_are_said():
    rows = [{"variant": "A", "change": "paper"}, {"variant": "B", "change": "+ x"}]
    assert check_ablation(rows, ["A", "B", "C"], ["A", "B", "C"]) == (rows, [])
    # run_variants leaves B out: its row is left out, with a note
    assert check_ablation(rows, ["A", "C"], ["A", "B", "C"]) == (rows[:1], ["ablation row 'B' left out: "
                                                                            "run_variants does not run it"])
    with pytest.raises(ConfigError, match="ablation names B, which is not in variants"):
        check_ablation(rows, ["A"], ["A", "C"])
    with pytest.raises(ConfigError, match="ablation names A more than once"):
        check_ablation(rows + [{"variant": "A", "change": "again"}], ["A", "B"], ["A", "B"])
    assert check_ablation([], ["A"], ["A"]) == ([], [])


def test_the_table_takes_each_rows_means_and_training_time_in_row_order():
    s = summary([("A", "psnr_truth", 21.5), ("A", "ssim_truth", 0.6), ("A", "spectral_cutoff_truth_px", 13.9),
                 ("A", "psnr", 19.7), ("B", "psnr_truth", 28.7), ("B", "psnr", 23.4), ("C", "psnr", 1.0)])
    rows = [{"variant": "B", "change": "+ five frames"}, {"variant": "A", "change": "paper"}]
    table = ablation_table(s, rows, {"A": 34.0, "B": 93.4})
    assert list(table["variant"]) == ["B", "A"] and list(table["change"]) == ["+ five frames", "paper"]
    assert table["psnr_truth"].tolist() == [28.7, 21.5] and table["psnr_slow"].tolist() == [23.4, 19.7]
    assert np.isnan(table.loc[0, "ssim_truth"]) and table.loc[1, "cutoff_truth_px"] == 13.9
    assert table["training_s"].tolist() == [93.4, 34.0]
    md = ablation_markdown(table)
    assert md.splitlines()[0] == ("| change | variant | PSNR vs truth (dB) | SSIM vs truth | cutoff vs truth (px) | "
                                  "PSNR vs slow scan (dB) | training (s) |")
    assert "| + five frames | B | 28.70 |  |  | 23.40 | 93 |" in md
    assert "| paper | A | 21.50 | 0.600 | 13.9 | 19.70 | 34 |" in md


def test_real_data_without_truth_gives_only_the_slow_scan_columns():
    table = ablation_table(summary([("A", "psnr", 20.0)]), [{"variant": "A", "change": "paper"}], {})
    assert [c for c in table.columns] == ["change", "variant", "psnr_slow", "training_s"]
    assert "| paper | A | 20.00 |  |" in ablation_markdown(table)
