"""Tables and claims from metrics with known values."""

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO
from scipy import ndimage

from stemdlf.evaluate.claims import check_claims, claims_markdown
from stemdlf.evaluate.tables import method_metrics, slow_scan_metrics, summarise, summary_markdown, truth_image


def tidy(rows):
    return pd.DataFrame(rows, columns=["fov", "frame", "method", "metric", "value"])


def test_summary_means_sds_and_change_against_rapid_are_exact():
    metrics = tidy([("a", 0, "rapid", "psnr", 20.0), ("a", 1, "rapid", "psnr", 22.0),
                    ("a", 0, "DLF-Slow", "psnr", 23.0), ("a", 1, "DLF-Slow", "psnr", 23.2),
                    ("a", 0, "DLF-Slow", "spectral_cutoff_px", np.inf),
                    ("a", 1, "DLF-Slow", "spectral_cutoff_px", 3.0)])
    s = summarise(metrics, ["rapid", "DLF-Slow"]).set_index(["method", "metric"])
    assert s.loc[("rapid", "psnr"), "mean"] == 21.0 and s.loc[("rapid", "psnr"), "sd"] == pytest.approx(np.sqrt(2))
    assert s.loc[("DLF-Slow", "psnr"), "change_vs_rapid_pct"] == pytest.approx(100 * (23.1 / 21.0 - 1))
    cutoff = s.loc[("DLF-Slow", "spectral_cutoff_px")]
    assert cutoff["n"] == 1 and cutoff["n_inf"] == 1
    assert np.isnan(s.loc[("DLF-Slow", "spectral_cutoff_px"), "change_vs_rapid_pct"])
    assert "| DLF-Slow | 23.100 ± 0.141 |" in summary_markdown(summarise(metrics))


def test_method_metrics_checks_the_geometry():
    slow = np.random.default_rng(0).uniform(20000, 40000, (16, 16))
    with pytest.raises(ValueError, match="frames are \\(16, 9\\)"):
        method_metrics("x", "fov001", np.zeros((2, 16, 9)), slow)
    table = method_metrics("DCFI", "fov001", slow + 10, slow)
    assert set(table["frame"]) == {0} and (table["method"] == "DCFI").all()


def test_truth_gets_the_slow_scans_transform_and_crop():
    clean = np.array([[1000.0, 2000.0, 3000.0], [4000.0, 5000.0, 6000.0]])
    out = truth_image(clean, {"low": 1000.0, "high": 6000.0}, [0, 2, 1, 3])
    np.testing.assert_allclose(out, (clean[:, 1:] - 1000) / 5000 * 65535)


def test_the_slow_scan_is_scored_against_the_truth_with_its_cutoff():
    rng = np.random.default_rng(0)
    truth = ndimage.gaussian_filter(rng.random((96, 96)), 3) * 65535
    exact = slow_scan_metrics("a", truth, truth).set_index("metric")["value"]
    assert exact["ssim_truth"] == pytest.approx(1.0)
    assert exact["spectral_cutoff_truth_px"] == pytest.approx(2.0, abs=0.05)
    noisy = slow_scan_metrics("a", truth + rng.normal(0, 2000, truth.shape), truth).set_index("metric")["value"]
    assert 2.5 < noisy["spectral_cutoff_truth_px"] < 96 and noisy["psnr_truth"] == pytest.approx(30.3, abs=0.2)
    assert set(slow_scan_metrics("a", truth, truth)["method"]) == {"slow"}


def test_claims_state_holds_fails_and_untested():
    rows = []
    for method, p, cut in [("rapid", 20, 9), ("DCFI", 21, 6), ("BM3D", 21.5, 5), ("DLF-DCFI", 22, 5),
                           ("DLF-Slow", 23, 3), ("BM3D-PSD", 24, 4), ("DLF-100", 21, 4), ("DLF-500", 22, 4)]:
        rows += [(method, "psnr", p), (method, "spectral_cutoff_px", cut)]
    rows += [("DLF-Slow", "psnr_truth", 30), ("slow", "psnr_truth", 28)]
    summary = summarise(tidy([("a", 0, m, k, v) for m, k, v in rows]))
    claims = {c.text: c for c in check_claims(summary, single_fov=["DLF-100", "DLF-500"])}
    assert claims["DLF-Slow beats DCFI on psnr"].holds is True
    assert claims["DLF-Slow beats BM3D-PSD on psnr"].holds is False
    assert claims["DLF-Slow beats CARE on psnr"].holds is None
    assert claims["DLF-Slow keeps finer scan-direction detail than DLF-DCFI (spectral cutoff)"].holds is True
    assert claims["single-FOV variants improve with the number of training frames"].holds is True
    assert claims["single-FOV variants stay below DLF-Slow"].holds is True
    assert claims["DLF-Slow is closer to the noise-free truth than the slow scan itself"].holds is True
    text = claims_markdown(list(claims.values()))
    assert "| DLF-Slow beats BM3D-PSD on psnr | **fails** | 23.000 vs 24.000 dB |" in text


def test_the_shipped_filter_applied_as_it_is_is_compared_with_dcfi_and_the_trained_filter():
    rows = [(m, "psnr_truth", v) for m, v in [("rapid", 20.0), ("DCFI", 24.5), ("DLF-5F", 29.0),
                                              ("pretrained-DLF-5F", 27.25), ("DLF-Slow", 26.0)]]
    summary = summarise(tidy([("a", 0, m, k, v) for m, k, v in rows]))
    claims = {c.text: c for c in check_claims(summary, recommended="DLF-5F", zero_shot=["pretrained-DLF-5F"])}
    name = "pretrained-DLF-5F, applied as it is (no slow scan of this data), beats"
    assert claims[f"{name} DCFI on psnr_truth"].holds is True
    assert claims[f"{name} DCFI on psnr_truth"].evidence.startswith("27.250 vs 24.500 dB")
    assert claims[f"{name} DLF-5F trained on this data on psnr_truth"].holds is False


def test_the_self_supervised_filter_is_held_to_what_reads_no_slow_scan_and_to_the_best_that_does():
    rows = [("DLF-Self", "psnr_truth", 28.0), ("DLF-Self", "ssim_truth", 0.85),
            ("pretrained-DLF-5F", "psnr_truth", 28.5), ("pretrained-DLF-5F", "ssim_truth", 0.80),
            ("DCFI", "psnr_truth", 24.0), ("DCFI", "ssim_truth", 0.40),
            ("DLF-5F", "psnr_truth", 28.4), ("CARE", "psnr_truth", 23.0)]
    summary = summarise(tidy([("a", 0, m, k, v) for m, k, v in rows]))
    claims = {c.text: c for c in check_claims(summary, self_supervised="DLF-Self",
                                              slow_free=["pretrained-DLF-5F", "DCFI", "N2V2"],
                                              slow_trained=["DLF-5F", "CARE"])}
    assert claims["DLF-Self (no slow scan) beats pretrained-DLF-5F on psnr_truth"].holds is False
    assert claims["DLF-Self (no slow scan) beats pretrained-DLF-5F on ssim_truth"].holds is True
    assert claims["DLF-Self (no slow scan) beats DCFI on psnr_truth"].holds is True
    assert not [t for t in claims if "N2V2" in t]  # a method the run lacks is left out
    within = claims["DLF-Self (no slow scan) comes within 0.5 dB of the best filter trained on this data's slow "
                    "scans on psnr_truth"]
    assert within.holds is True and within.evidence == "28.00 vs DLF-5F 28.40 dB (-0.40 dB)"
    summary.loc[(summary["method"] == "DLF-5F") & (summary["metric"] == "psnr_truth"), "mean"] = 28.6
    claims = check_claims(summary, self_supervised="DLF-Self", slow_trained=["DLF-5F", "CARE"])
    assert [c.holds for c in claims if "within 0.5 dB" in c.text] == [False]


def test_claims_say_how_a_comparison_goes_fov_by_fov():
    # DLF-Slow wins the mean on two FOVs and loses badly on a third
    per_frame = [("f1", 0, "DLF-Slow", "psnr", 25.0), ("f1", 1, "DLF-Slow", "psnr", 23.0),
                 ("f1", 0, "DCFI", "psnr", 21.0),
                 ("f2", 0, "DLF-Slow", "psnr", 22.0), ("f2", 0, "DCFI", "psnr", 20.0),
                 ("f3", 0, "DLF-Slow", "psnr", 10.0), ("f3", 0, "DCFI", "psnr", 20.0)]
    metrics = tidy(per_frame)
    claims = {c.text: c for c in check_claims(summarise(metrics), metrics=metrics)}
    evidence = claims["DLF-Slow beats DCFI on psnr"].evidence
    # per FOV: f1 24 vs 21, f2 22 vs 20, f3 10 vs 20
    assert "better on 2 of 3 test FOVs (medians 22.00 vs 20.00 dB; least favourable f3: 10.00 vs 20.00)" in evidence


def test_readme_block_comes_from_the_tables_and_replaces_only_its_markers():
    from stemdlf.workflow.readme import BEGIN, END, replace_block, results_block

    summary = pd.DataFrame({"method": ["rapid", "rapid", "DLF-5F", "DLF-5F"],
                            "metric": ["psnr_truth", "psnr", "psnr_truth", "psnr"],
                            "mean": [12.3456, 11.0, 28.4, 21.2]})
    fovs = pd.DataFrame({"offset_y_px": [1.0, -3.0], "offset_x_px": [0.0, 4.0], "residual_px": [0.0, 0.1],
                         "truth_x_mean_px": [0.1, -0.2], "truth_y_px": [0.0, 0.1], "truth_x_rms_px": [0.2, 0.3]})
    claims = "| claim | on this data | numbers |\n|---|---|---|\n| DLF-5F wins | **holds** | 28.4 vs 25 |\n"
    block = results_block(summary, claims, fovs, {"DLF-5F": 81.6})
    assert "| rapid | 12.35 |" in block and "| DLF-5F | 28.40 |" in block and "| 82 |" in block
    assert "| DLF-5F wins | **holds** |" in block
    assert "up to 5.0 px" in block and "0.22 px at worst" in block
    readme = f"intro\n{BEGIN}\nold numbers\n{END}\nrest\n"
    new = replace_block(readme, block)
    assert new.startswith("intro\n") and new.endswith(f"{END}\nrest\n") and "old numbers" not in new
    with pytest.raises(ValueError, match="no"):
        replace_block("no markers", block)


def test_crops_show_the_region_with_the_most_fine_detail():
    from stemdlf.workflow.paper_figures import crops, detail_region

    rng = np.random.default_rng(0)
    truth = np.full((128, 128), 30000.0)
    truth[80:84, 20:60] = 10000.0  # a thin line in the lower left
    assert detail_region(truth, 32) in [(r, c) for r in range(56, 84) for c in range(4, 40)]
    images = {"rapid": truth + rng.normal(0, 5000, truth.shape), "truth": truth}
    fig = crops(images, "truth", 2.0, "fov001", size=32)
    assert len([ax for ax in fig.axes if ax.images]) == 2
    assert fig.axes[0].images[0].get_array().shape == (32, 32)


def test_the_docs_results_block_has_the_shape_the_workflow_writes():
    """The Results page includes the default run's results/readme_results.md as it was written: the
    table header the workflow writes, one row per method of the default config."""
    from stemdlf.workflow.readme import results_block

    block = (REPO / "docs" / "generated" / "results-default.md").read_text()
    metrics = ["psnr_truth", "ssim_truth", "spectral_cutoff_truth_px", "psnr"]
    summary = pd.DataFrame({"method": ["rapid"] * 4, "metric": metrics, "mean": [1.0] * 4})
    header = results_block(summary, "", None, {"x": 1.0}).splitlines()[2]
    assert header in block.splitlines()
    from stemdlf.config.schema import with_defaults

    config = with_defaults(yaml.safe_load((REPO / "config/config.yaml").read_text()))
    for method in ["rapid", "DCFI", *config["variants"], *config["evaluate"]["baselines"], "slow"]:
        assert f"\n| {method} |" in block, method


def test_statistics_figure_shows_every_method_in_order_coloured_by_family():
    from matplotlib.colors import to_hex

    from stemdlf.workflow.stats_figure import FAMILY_COLOURS, method_family, stats_figure

    rows = []
    for k, method in enumerate(["rapid", "DLF-Slow", "BM3D", "CARE", "DLF-5F", "slow"]):
        for frame in range(3):
            rows += [("f1", frame, method, "psnr_truth", 10.0 + k + frame),
                     ("f1", frame, method, "ssim_truth", 0.1 * k)]
    metrics = tidy(rows)
    fig = stats_figure(metrics, ["rapid", "DLF-Slow", "BM3D", "CARE", "DLF-5F", "slow", "NLM"], recommended="DLF-5F")
    a, b = fig.axes[:2]
    assert [t.get_text() for t in a.get_yticklabels()] == ["rapid", "DLF-Slow", "BM3D", "CARE", "DLF-5F", "slow"]
    assert "truth" in a.get_xlabel() and "SSIM" in b.get_xlabel()
    assert method_family("DLF-5F", "DLF-5F") == "DLF (recommended)" and method_family("BM3D-PSD") == "classical filter"
    colours = {to_hex(c.get_facecolor()[0]) for c in a.collections if len(c.get_offsets())}
    assert FAMILY_COLOURS["DLF (recommended)"] in colours and FAMILY_COLOURS["CARE"] in colours


def test_a_failed_single_fov_claim_says_how_each_variant_was_trained():
    from stemdlf.evaluate.claims import single_fov_budget

    summary = pd.DataFrame({"method": ["DLF-Slow", "DLF-100", "DLF-500"], "metric": ["psnr"] * 3,
                            "mean": [20.0, 18.5, 18.4], "sd": [0.1] * 3, "change_vs_rapid_pct": [0.0] * 3})
    settings = {"epochs": 10, "steps_per_epoch": 30, "batch_size": 16, "patch_size": 64}
    trainings = {"DLF-100": {"frames": 100, "training": settings}, "DLF-500": {"frames": 500, "training": settings}}
    histories = {"DLF-100": pd.DataFrame({"val_loss": [0.01, 0.0060]}),
                 "DLF-500": pd.DataFrame({"val_loss": [0.01, 0.0063]})}
    budget = single_fov_budget(trainings, histories)
    claims = {c.text: c for c in check_claims(summary, single_fov=["DLF-100", "DLF-500"],
                                              single_fov_training=budget)}
    claim = claims["single-FOV variants improve with the number of training frames"]
    assert claim.holds is False
    assert "DLF-100 48 patches per frame, final val_loss 0.006" in claim.evidence
    assert "DLF-500 9.6 patches per frame, final val_loss 0.0063" in claim.evidence
    assert "within 5% of each other" in claim.evidence and "the same 4,800 training patches" in claim.evidence
    summary.loc[summary["method"] == "DLF-500", "mean"] = 19.0  # monotone: no explanation needed
    claims = {c.text: c for c in check_claims(summary, single_fov=["DLF-100", "DLF-500"],
                                              single_fov_training=budget)}
    assert claims["single-FOV variants improve with the number of training frames"].evidence.endswith("19.00 dB")


def test_the_spectra_of_fig2_and_fig4_share_one_colour_scale_with_a_colour_bar():
    from stemdlf.workflow import paper_figures

    rng = np.random.default_rng(0)
    clean = ndimage.gaussian_filter(rng.random((64, 64)), 2) * 65535
    images = {"rapid": clean + rng.normal(0, 8000, clean.shape), "slow": clean + rng.normal(0, 2000, clean.shape),
              "DLF": clean}
    for fig in (paper_figures.fig2(images, "fov000", 2.0), paper_figures.fig4(images, 2.0, "fov000")):
        spectra = [ax.images[0] for ax in fig.axes if ax.images and ax.images[0].get_cmap().name == "magma"]
        assert len(spectra) == 3 and len({im.get_clim() for im in spectra}) == 1
        assert any("ln |F|² (Hann window)" in ax.get_ylabel() for ax in fig.axes if not ax.images and ax.collections)
        paper_figures.plt.close(fig)


def test_a_filters_test_scores_are_its_summary_means_and_join_its_card(tmp_path):
    import json

    from stemdlf.evaluate.tables import test_metrics
    from stemdlf.nn.denoise import read_model_card
    from stemdlf.nn.train import MODEL_CARD_FORMAT

    summary = summarise(tidy([("a", 0, "DLF", "psnr", 20.0), ("a", 1, "DLF", "psnr", 22.0),
                              ("a", 0, "DLF", "psnr_truth", 25.0), ("a", 0, "other", "psnr", 1.0)]))
    scores = test_metrics(summary, "DLF", ["a"])
    assert scores["means"] == {"psnr": 21.0, "psnr_truth": 25.0} and scores["frames"] == 2
    model = tmp_path / "model.keras"
    (tmp_path / "model.json").write_text(json.dumps({"format": MODEL_CARD_FORMAT, "input_frames": 1}))
    assert "test_metrics" not in read_model_card(model)
    (tmp_path / "model.metrics.json").write_text(json.dumps(scores))
    assert read_model_card(model)["test_metrics"] == scores


def test_fig3_fits_a_double_column_and_its_legend_hides_no_bar():
    from stemdlf.workflow import paper_figures

    rng = np.random.default_rng(1)
    clean = ndimage.gaussian_filter(rng.random((64, 64)), 2) * 65535
    images = {"rapid": clean + rng.normal(0, 8000, clean.shape), "DLF-5F": clean, "slow": clean + 100}
    rows = [(m, "psnr", 0, p, s) for m, p, s in [("rapid", 12.5, 1.5), ("DCFI", 24.0, 0.3), ("DLF-Slow", 19.7, 2.4),
                                                 ("DLF-5F", 23.4, 0.4), ("BM3D", 19.2, 2.1), ("CARE", 21.4, 1.0)]]
    summary = pd.DataFrame(rows, columns=["method", "metric", "fov", "mean", "sd"])
    fig = paper_figures.fig3(summary, images, 2.0, "fov000", "DLF-5F")
    assert fig.get_size_inches()[0] == pytest.approx(7.0)
    fig.canvas.draw()
    bars_axis = next(ax for ax in fig.axes if ax.patches)
    legend = bars_axis.get_legend().get_window_extent()
    for bar, (_, _, _, mean, sd) in zip(bars_axis.patches, rows):
        top = bars_axis.transData.transform((bar.get_x() + bar.get_width() / 2, mean + sd))[1]
        box = bar.get_window_extent()
        overlaps_x = box.x1 > legend.x0 and box.x0 < legend.x1
        assert not (overlaps_x and top > legend.y0), "the legend covers a bar"
    paper_figures.plt.close(fig)


def _figure_images(n: int = 6, size: int = 64) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2)
    clean = ndimage.gaussian_filter(rng.random((size, size)), 2) * 65535
    names = ["rapid", "DCFI", "slow", "DLF-DCFI", "DLF-Slow", "DLF-5F"][:n]
    return {name: clean + rng.normal(0, 1000 * (k + 1), clean.shape) for k, name in enumerate(names)}


def _texts(fig):
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible()]


def test_every_paper_figure_is_one_or_two_columns_wide_with_print_sized_text():
    """A journal prints at 3.5 or 7 in: each figure is drawn at one of them, its text 6-9 pt.

    Fails on the previous figures (fig2 was 2.6 in per panel, 15.6 in wide; fig1 12 in; fig5 5.5 in).
    """
    from stemdlf.workflow import paper_figures
    from stemdlf.workflow.figure_style import DOUBLE_COLUMN_IN, SINGLE_COLUMN_IN
    from stemdlf.workflow.stats_figure import stats_figure

    images = _figure_images()
    slow = images["slow"]
    corrected = {"rapid": images["rapid"], "DCFI": images["DCFI"], "BM3D": slow, "slow": slow}
    figures = {
        "fig1": paper_figures.fig1(images["DCFI"], slow, 0, [0, 64, 0, 64], corrected, "fov000", pixel_size_nm=2.0),
        "fig2": paper_figures.fig2(images, "fov000", 2.0),
        "fig4": paper_figures.fig4(dict(list(images.items())[:5]), 2.0, "fov000"),
        "fig5": paper_figures.fig5(np.arange(64.0), np.arange(64.0) * 1.1, None, "dp global"),
        "crops": paper_figures.crops(images, "slow", 2.0, "fov000", size=32),
        "stats": stats_figure(tidy([("f1", 0, m, k, 1.0) for m in ("rapid", "slow") for k in ("psnr", "ssim")]),
                              ["rapid", "slow"]),
    }
    for name, fig in figures.items():
        width = fig.get_size_inches()[0]
        assert width in (SINGLE_COLUMN_IN, DOUBLE_COLUMN_IN), (name, width)
        sizes = {t.get_fontsize() for t in _texts(fig)}
        assert sizes and min(sizes) >= 6 and max(sizes) <= 9, (name, sizes)
        paper_figures.plt.close(fig)
    assert paper_figures.fig5(np.arange(8.0), np.arange(8.0), None, "x").get_size_inches()[0] == 3.5


def test_line_plots_keep_red_for_the_slow_scan_and_give_every_method_its_own_colour():
    from stemdlf.workflow.figure_style import method_colours

    names = ["rapid", "slow"] + [f"DLF-{k}" for k in range(12)]
    colours = method_colours(names)
    assert colours["slow"] == "C3" and list(colours) == names
    assert "C3" not in [c for n, c in colours.items() if n != "slow"]
    assert len(set(colours[n] for n in names[:10])) == 10  # distinct while the cycle lasts


def test_fig2_wraps_at_three_images_per_row_so_each_stays_large_enough_to_read():
    from stemdlf.workflow import paper_figures

    fig = paper_figures.fig2(_figure_images(6), "fov000", 2.0)
    shown = [ax for ax in fig.axes if ax.images and ax.images[0].get_cmap().name == "gray"]
    assert len(shown) == 6
    fig.canvas.draw()
    widths = [ax.get_window_extent().width / fig.dpi for ax in shown]
    assert min(widths) > 1.6, widths  # inches of image; six in a row of 7 in would be about 1.1
    paper_figures.plt.close(fig)


def test_fig3_line_profiles_are_offset_so_no_trace_hides_another():
    from stemdlf.workflow import paper_figures

    images = _figure_images(4)
    summary = pd.DataFrame([("rapid", "psnr", 12.0, 1.0), ("DLF-5F", "psnr", 23.0, 0.5)],
                           columns=["method", "metric", "mean", "sd"])
    fig = paper_figures.fig3(summary, images, 2.0, "fov000", "DLF-5F")
    profiles = next(ax for ax in fig.axes if ax.get_title(loc="left").startswith("(b)"))
    medians = [float(np.median(line.get_ydata())) for line in profiles.get_lines()]
    assert len(medians) == 4 and all(a > b for a, b in zip(medians, medians[1:])), medians  # first on top
    assert {t.get_text() for t in profiles.texts} == set(images)  # each trace named beside it
    paper_figures.plt.close(fig)


def test_the_ablation_figure_keeps_the_rows_order_and_colours_the_recipes():
    from matplotlib.colors import to_hex

    from stemdlf.workflow.stats_figure import FAMILY_COLOURS, ablation_figure, method_family

    rows = [{"variant": "DLF-Slow", "change": "paper recipe"}, {"variant": "ABL-steps", "change": "+ steps"},
            {"variant": "DLF-5F", "change": "+ 5 frames"}]
    records = [("f1", frame, m, metric, 20.0 + k + frame)
               for k, m in enumerate(["DLF-Slow", "ABL-steps", "DLF-5F", "BM3D"])
               for frame in range(3) for metric in ("psnr_truth", "ssim_truth")]
    fig = ablation_figure(tidy(records), rows, "DLF-5F", ["DLF-Slow", "ABL-steps", "DLF-5F"])
    a = fig.axes[0]
    assert [t.get_text() for t in a.get_yticklabels()] == ["paper recipe [DLF-Slow]", "+ steps [ABL-steps]",
                                                         "+ 5 frames [DLF-5F]"]
    colours = {to_hex(c.get_facecolor()[0]) for c in a.collections if len(c.get_offsets())}
    assert colours == {FAMILY_COLOURS[f] for f in ("DLF (paper recipe)", "DLF (other recipe)", "DLF (recommended)")}
    assert method_family("ABL-steps", "DLF-5F", ["ABL-steps"]) == "DLF (other recipe)"
    assert method_family("ABL-steps") == "classical filter"  # without the variants, an unknown name is a filter


def test_long_ablation_changes_wrap_and_leave_the_panels_half_the_figure():
    from stemdlf.workflow.stats_figure import ablation_figure

    long = "DLF-5F's recipe on DLF-100's pairs, from the shipped pretrained weights"
    rows = [{"variant": "DLF-Slow", "change": "paper recipe"}, {"variant": "ABL-5F-100-pretrained", "change": long}]
    records = [("f1", frame, m, metric, 20.0 + k + frame) for k, m in enumerate(["DLF-Slow", "ABL-5F-100-pretrained"])
               for frame in range(3) for metric in ("psnr_truth", "ssim_truth")]
    fig = ablation_figure(tidy(records), rows, None, ["DLF-Slow", "ABL-5F-100-pretrained"])
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[0] == "paper recipe [DLF-Slow]" and labels[1].replace("\n", " ") == f"{long} [ABL-5F-100-pretrained]"
    assert max(len(line) for label in labels for line in label.split("\n")) <= 44
    panels = sum(ax.get_position().width for ax in fig.axes[:2])
    assert panels > 0.5  # of the figure's width
    # the two x-axis labels do not overlap
    r = fig.canvas.get_renderer()
    a, b = (ax.xaxis.label.get_window_extent(r) for ax in fig.axes[:2])
    assert a.x1 < b.x0


def test_every_readme_block_the_docs_tool_pastes_is_in_readme_once_and_filled():
    from stemdlf.workflow.docs import README_BLOCKS

    readme = (REPO / "README.md").read_text()
    for name, (begin, end) in README_BLOCKS.items():
        assert readme.count(begin) == 1 and readme.count(end) == 1, name
        block = readme[readme.index(begin) + len(begin):readme.index(end)].strip()
        assert block, f"README's {name} block is empty"
    summary = readme[readme.index(README_BLOCKS["summary"][0]):readme.index(README_BLOCKS["summary"][1])]
    assert summary.count("\n| ") >= 5 and "| DLF-5F |" in summary
