"""The memory estimates the rules give the scheduler (stemdlf.workflow.plan), against hand-computed answers."""

import pytest

from stemdlf.errors import ConfigError
from stemdlf.workflow import plan

TRAINING = {"validation_patches": 256, "batch_size": 16, "patch_size": 64, "epochs": 10, "steps_per_epoch": 30}


def test_a_stack_job_holds_its_copies_of_one_chunk():
    # paper scale: 50 frames of 512x512, read whole (chunk 64 >= 50), 3 float32 copies: 500 + 3*50*262144*4/1e6
    assert plan.frames_mb(50, 512 * 512, 64, copies=3) == 500 + 157
    # a 2,500-frame single FOV is read in chunks of 64: the chunk, not the stack, is what is held
    assert plan.frames_mb(2500, 512 * 512, 64, copies=3) == plan.frames_mb(64, 512 * 512, 64, copies=3) == 500 + 201


def test_image_and_stack_jobs():
    assert plan.image_mb(512 * 512, copies=40) == 500 + 83  # 40 float64 images of 2 MB
    assert plan.stacks_mb(50, 512 * 512, n_fovs=2) == 500 + 209  # 2 FOVs x 2 copies x 52 MB


def test_training_holds_targets_and_patches_on_top_of_the_framework():
    # 52 FOV targets of 512x512 float32 (54.5 MB) + 2 x (256 + 160) patches of 64x64 float32 (13.6 MB)
    assert plan.training_mb(512 * 512, 52, TRAINING) == 2000 + 68
    assert plan.training_mb(512 * 512, 104, TRAINING) > plan.training_mb(512 * 512, 52, TRAINING)


def test_care_holds_its_patch_pool_up_to_the_limit():
    # 10 x 30 x 16 = 4,800 patch pairs + 256 validation: 2 x 2 x 5,056 x 64 x 64 x 4 bytes = 331 MB
    assert plan.care_mb(TRAINING, max_patches=20000) == 2000 + 331
    # a longer training is capped by the pool size
    long = {**TRAINING, "epochs": 100}
    assert plan.care_mb(long, max_patches=20000) == 2000 + int(4 * (20000 + 256) * 64 * 64 * 4 / 1e6)
    assert plan.care_mb(long, max_patches=20000) == pytest.approx(3327, abs=1)


def test_variant_names_of_reference_methods_and_baselines_are_refused():
    from stemdlf.workflow.plan import check_variant_names

    check_variant_names(["DLF-Slow", "DLF-5F"])
    for name in ("rapid", "DCFI", "slow", "CARE", "BM3D", "NLM"):
        with pytest.raises(ConfigError, match=f"variant names \\['{name}'\\] are reserved"):
            check_variant_names(["DLF-Slow", name])


def test_care_trains_on_a_corrected_variant_of_the_run_and_takes_only_its_pairs_and_budget():
    from stemdlf.workflow.plan import CARE_BUDGET_KEYS, care_settings, care_variant

    config = {"evaluate": {"care": {"like": "DLF-5F"}}, "training": {"corrected": True},
              "variants": {"DLF-5F": {}, "DLF-raw": {"corrected": False}}}
    assert care_variant(config, ["DLF-5F", "DLF-raw"]) == "DLF-5F"
    with pytest.raises(ConfigError, match="'DLF-5F', which is not a variant; variants: DLF-raw"):
        care_variant(config, ["DLF-raw"])
    config["evaluate"]["care"]["like"] = "DLF-raw"
    with pytest.raises(ConfigError, match="trains on uncorrected frames"):
        care_variant(config, ["DLF-5F", "DLF-raw"])
    training = {k: 1 for k in CARE_BUDGET_KEYS} | {"lr": 0.1, "model": {"base_filters": 8}, "loss": "mae"}
    params = {"fovs": ["fov000"], "frames": None, "target": "slow", "validation_fraction": 0.2,
              "training": training, "dataset": "multi"}
    settings = care_settings("DLF-5F", params, "seconds")
    assert set(settings["training"]) == set(CARE_BUDGET_KEYS)  # not its lr, model or loss
    assert settings["variant"] == "DLF-5F" and settings["budget"] == "seconds" and "dataset" not in settings


def test_figure_panels_follow_the_roles_and_leave_out_what_the_run_lacks():
    from stemdlf.workflow.plan import figure_panels, figures

    roles = {"paper": "DLF-Slow", "paper_dcfi": "DLF-DCFI", "recommended": "DLF-5F"}
    methods = ["rapid", "DCFI", "DLF-Slow", "DLF-5F", "BM3D"]  # no CARE, no DLF-DCFI
    assert figure_panels("fig2", methods, roles, []) == ["rapid", "DCFI", "slow", "DLF-Slow", "DLF-5F"]
    assert figure_panels("fig3", methods, roles, []) == ["rapid", "DCFI", "BM3D", "DLF-Slow", "DLF-5F", "slow"]
    renamed = dict(roles, paper="My-Paper-Filter")  # a renamed variant keeps its place through its role
    assert "My-Paper-Filter" in figure_panels("crops", methods + ["My-Paper-Filter"], renamed, [])
    assert figure_panels("fig4", methods, roles, ["DLF-100", "DLF-500"]) == ["DLF-100", "DLF-500", "slow"]
    assert figures([]) == ["fig1", "fig2", "fig3", "fig5", "crops", "stats"]
    assert "fig4" in figures(["DLF-100"])
    with pytest.raises(ValueError, match="unknown figure 'fig9'"):
        figure_panels("fig9", methods, roles, [])


def test_config_checks_against_the_data_name_the_key_and_the_remedy():
    from stemdlf.workflow.plan import check_fov_count, check_reference, check_variant_frames

    check_fov_count("multi", 21, 20)
    with pytest.raises(ConfigError, match=r"datasets.multi.simulate.n_fovs is 3 but the split needs 20 FOVs"):
        check_fov_count("multi", 3, 20)
    check_reference("auto", ["fov000"])
    check_reference("global", ["fov000"])
    check_reference("fov000", ["fov000"])
    with pytest.raises(ConfigError, match=r"distortion.reference 'fov9' is not a FOV .*fov000, fov001"):
        check_reference("fov9", ["fov000", "fov001"])
    check_variant_frames("DLF-100", None, "single", 50)
    check_variant_frames("DLF-100", 50, "single", 50)
    with pytest.raises(ConfigError, match=r"variants.DLF-100.frames is 100 but datasets.single has 50 .*run_variants"):
        check_variant_frames("DLF-100", 100, "single", 50)


def test_fine_tuned_variants_start_from_a_trained_variant_of_the_same_model():
    from stemdlf.workflow.plan import check_init_from

    model = {"depth": 2, "base_filters": 8}
    config = {"training": {"model": model}, "variants": {
        "DLF-Slow": {"dataset": "multi"}, "DLF-100-FT": {"dataset": "single", "init_from": "DLF-Slow"},
        "DLF-5F": {"dataset": "multi", "model": {"depth": 2, "base_filters": 8, "input_frames": 5}}}}
    assert check_init_from(config, ["DLF-Slow", "DLF-100-FT", "DLF-5F"]) == {"DLF-100-FT": "DLF-Slow"}
    config["variants"]["DLF-100-FT"]["model"] = {"depth": 2}  # the same U-Net, written differently
    assert check_init_from(config, ["DLF-Slow", "DLF-100-FT"]) == {"DLF-100-FT": "DLF-Slow"}
    del config["variants"]["DLF-100-FT"]["model"]
    with pytest.raises(ConfigError, match="init_from is 'DLF-Slow', which this run does not train"):
        check_init_from(config, ["DLF-100-FT"])
    config["variants"]["DLF-100-FT"]["init_from"] = "DLF-5F"
    with pytest.raises(ConfigError, match="whose model settings differ"):
        check_init_from(config, ["DLF-Slow", "DLF-100-FT", "DLF-5F"])
    config["variants"]["DLF-100-FT"]["init_from"] = "DLF-100-FT"
    with pytest.raises(ConfigError, match="cannot start from itself"):
        check_init_from(config, ["DLF-100-FT"])
    config["variants"]["DLF-100-FT"]["init_from"] = "DLF-Slow"
    config["variants"]["DLF-Slow"]["init_from"] = "DLF-100-FT"
    with pytest.raises(ConfigError, match="leads back to 'DLF-Slow' \\(DLF-Slow -> DLF-100-FT -> DLF-Slow\\)"):
        check_init_from(config, ["DLF-Slow", "DLF-100-FT"])
