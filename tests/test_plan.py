"""The plan (stemdlf.workflow.plan) without Snakemake: its checks, decisions, inputs and paths, and the
memory each job asks for (stemdlf.workflow.resources), against hand-computed answers."""

import pytest
from workflow_helpers import REPO

from stemdlf.errors import ConfigError
from stemdlf.workflow import resources as plan

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


def test_a_peer_holds_three_copies_of_its_stacks_beside_pytorch():
    # 12 FOVs of 8 frames of 256x256 float32 (2.1 MB a stack) x 3 copies = 75 MB, beside PyTorch
    # (1,700 MB) and Lightning's training (1,300 MB): above the 2.9 GB peak measured on that data
    assert plan.peer_mb(8, 256 * 256, 12) == 1700 + 1300 + 75


def test_variant_names_of_reference_methods_and_baselines_are_refused():
    from stemdlf.workflow.checks import check_variant_names

    check_variant_names(["DLF-Slow", "DLF-5F"])
    for name in ("rapid", "DCFI", "slow", "CARE", "BM3D", "NLM"):
        with pytest.raises(ConfigError, match=f"variant names \\['{name}'\\] are reserved"):
            check_variant_names(["DLF-Slow", name])


@pytest.mark.parametrize("section", ["care", "peers"])
def test_care_and_the_peers_train_like_a_corrected_variant_of_the_run(section):
    from stemdlf.workflow.checks import like_variant

    config = {"evaluate": {section: {"like": "DLF-5F"}}, "training": {"corrected": True},
              "variants": {"DLF-5F": {}, "DLF-raw": {"corrected": False}}}
    assert like_variant(config, ["DLF-5F", "DLF-raw"], section) == "DLF-5F"
    with pytest.raises(ConfigError, match=f"evaluate.{section}.like is 'DLF-5F', which is not a variant; "
                                          "variants: DLF-raw"):
        like_variant(config, ["DLF-raw"], section)
    config["evaluate"][section]["like"] = "DLF-raw"
    with pytest.raises(ConfigError, match="trains on uncorrected frames"):
        like_variant(config, ["DLF-5F", "DLF-raw"], section)


def test_care_takes_only_its_variants_pairs_and_budget():
    from stemdlf.workflow.checks import CARE_BUDGET_KEYS, care_settings

    training = {k: 1 for k in CARE_BUDGET_KEYS} | {"lr": 0.1, "model": {"base_filters": 8}, "loss": "mae"}
    params = {"fovs": ["fov000"], "frames": None, "target": "slow", "validation_fraction": 0.2,
              "training": training, "dataset": "multi"}
    settings = care_settings("DLF-5F", params, "seconds")
    assert set(settings["training"]) == set(CARE_BUDGET_KEYS)  # not its lr, model or loss
    assert settings["variant"] == "DLF-5F" and settings["budget"] == "seconds" and "dataset" not in settings


def test_figure_panels_follow_the_roles_and_leave_out_what_the_run_lacks():
    from stemdlf.workflow.checks import figure_panels, figures

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
    from stemdlf.workflow.checks import check_fov_count, check_reference, check_variant_frames

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
    from stemdlf.workflow.checks import check_init_from

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


def _plan(*extra):
    """The plan of config/config.yaml (and extra config files), validated as the Snakefile does."""
    from snakemake.utils import validate

    from stemdlf.config.load import load_config
    from stemdlf.workflow.plan import Plan

    config = load_config(REPO / "config/config.yaml", *extra)
    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))
    return Plan.from_config(config)


def test_the_layout_gives_each_path_once_as_a_pattern_or_a_file():
    from stemdlf.workflow.layout import Layout

    layout = Layout()
    assert layout.normalised("rapid.tif") == "results/normalised/{dataset}/{fov}/rapid.tif"
    assert layout.normalised("rapid.tif", "multi", "fov003") == "results/normalised/multi/fov003/rapid.tif"
    assert layout.corrected("slow.tif", "multi") == "results/corrected/multi/{fov}/slow.tif"
    assert layout.model("model.keras", "DLF-5F") == "results/models/DLF-5F/model.keras"
    assert layout.denoised("fov007", "DLF-5F") == "results/denoised/DLF-5F/fov007.tif"
    data = layout.simulated("single")
    assert layout.fov_file(data, "slow.tif", "fov000") == "results/data/single/fovs/fov000/slow.tif"
    assert Layout("elsewhere").distortion("view.json") == "elsewhere/distortion/view.json"


def test_the_plan_of_the_default_config():
    p = _plan()
    assert p.datasets == ["multi", "single"] and p.variants[-2:] == ["DLF-5F", "DLF-Self"] and p.notes == []
    assert len(p.split["train"]) == 15 and len(p.split["test"]) == 5
    assert not set(p.split["train"]) & set(p.split["test"])
    fov = p.split["test"][0]
    # DLF-5F trains on corrected rapid frames of the training FOVs, against their corrected slow scans
    inputs = p.training_inputs("DLF-5F")
    assert inputs["rapid"][0] == f"results/corrected/multi/{p.split['train'][0]}/rapid.tif"
    assert inputs["target"][0] == f"results/corrected/multi/{p.split['train'][0]}/slow.tif"
    assert "initial" not in inputs
    # DLF-Slow-uncorrected reads normalised frames; DLF-DCFI's target is the DCFI; DLF-100 the single FOV
    assert p.training_inputs("DLF-Slow-uncorrected")["rapid"][0].startswith("results/normalised/multi/")
    assert p.training_inputs("DLF-DCFI")["target"][0].endswith("/dcfi.tif")
    assert p.training_inputs("DLF-100")["rapid"] == ["results/corrected/single/fov000/rapid.tif"]
    assert p.single_fov_variants() == ["DLF-100", "DLF-500", "DLF-1000", "DLF-2500"]
    assert p.method_files("DCFI")[0] == f"results/corrected/multi/{fov}/dcfi.tif"
    assert p.method_files("BM3D")[0] == f"results/baselines/BM3D/{fov}.tif"
    assert p.evaluated_methods()[-1] == "slow" and p.care_variant() == "DLF-5F"
    assert p.care_inputs()["like_summary"] == "results/models/DLF-5F/training.json"
    assert p.figure_inputs("fig3")["summary"] == "results/tables/summary.csv"
    assert p.figure_inputs("crops")["truth"] == f"results/data/multi/truth/{fov}/slow_clean.tif"
    assert len(p.estimators()) == 6 and p.selected_estimator() == "dp-global"
    targets = p.targets()
    assert "results/claims.md" in targets and "results/figures/fig4.png" in targets
    assert len(targets) == len(set(targets))
    # 16 frames of 256x256 read whole, 2 float32 copies: 500 + 2*16*65536*4/1e6
    assert p.frames_mb("multi", copies=2) == 500 + 8


def test_dlf_self_reads_no_slow_scan_and_is_compared_with_what_reads_none():
    p = _plan()
    train = p.split["train"]
    inputs = p.training_inputs("DLF-Self")
    assert set(inputs) == {"rapid", "response"}  # no target file: its own frames
    assert inputs["rapid"][0] == f"results/corrected/multi/{train[0]}/rapid.tif"
    assert inputs["response"] == "results/response/response.json"
    # the shipped filter it starts from is named with its fingerprint, not as a checkout's file
    assert p.training_params("DLF-Self")["shipped_initial"].startswith("pretrained:DLF-5F@")
    assert p.training_params("DLF-5F")["shipped_initial"] == ""
    response = p.response_inputs()
    # the response is measured on the frames as acquired (resampling would filter the noise)
    assert response["rapid"] == [f"results/normalised/multi/{f}/rapid.tif" for f in train]
    assert response["truth"][0] == f"results/data/multi/truth/{train[0]}/fov.yaml"
    every = [x for v in [*inputs.values(), *response.values()] for x in ([v] if isinstance(v, str) else v)]
    assert not [x for x in every if "slow" in x.rsplit("/", 1)[-1] or "dcfi" in x]
    assert p.self_supervised() == "DLF-Self"
    assert p.slow_free_methods() == ["pretrained-DLF-5F", "DCFI", "DLF-DCFI", "Gaussian", "NLM", "BM3D", "BM3D-PSD",
                                     "BM3D-deblur"]
    assert p.slow_trained_methods()[0] == "DLF-Slow" and p.slow_trained_methods()[-2:] == ["DLF-5F", "CARE"]
    assert "DLF-Self" in p.figure_labels("crops")


def test_the_self_supervised_preset_trains_the_careamics_peers_on_dlf_selfs_frames_and_no_slow_scan():
    p = _plan(REPO / "config/self_supervised.yaml")
    assert p.peers == ["N2V2", "N2N"] and p.peers_variant() == "DLF-Self"
    assert "N2V2" not in p.tuned_baselines and {"N2V2", "N2N"} <= set(p.methods)
    inputs = p.peer_inputs()
    assert inputs["rapid"] == [f"results/corrected/multi/{f}/rapid.tif" for f in p.split["train"]]
    assert inputs["like_summary"] == "results/models/DLF-Self/training.json"
    assert not [x for x in inputs["rapid"] if "slow" in x.rsplit("/", 1)[-1] or "dcfi" in x]
    assert p.peer_params()["seed"] == p.variant("DLF-Self")["training"]["seed"]
    assert p.peer_params()["patch_size"] == 64 and "like" not in p.peer_params()
    # the peers read no slow scan: DLF-Self's claims compare it with them
    assert p.slow_free_methods()[-2:] == ["N2V2", "N2N"] and "N2N" not in p.slow_trained_methods()
    assert p.method_files("N2N")[0] == f"results/baselines/N2N/{p.split['test'][0]}.tif"
    # the default run has no peers: they need the [peers] extra
    assert _plan().peers == []


def test_the_peers_refuse_a_variant_that_is_not_in_the_run(tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text("evaluate: {baselines: [N2N], peers: {like: DLF-Nope}}\n")
    with pytest.raises(ConfigError, match="evaluate.peers.like is 'DLF-Nope', which is not a variant"):
        _plan(extra)


def test_a_plan_without_the_single_fov_dataset_leaves_its_variants_and_fig4_out(tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text("datasets: {single: null}\n")
    p = _plan(extra)
    assert p.datasets == ["multi"] and "DLF-100" not in p.variants and len(p.notes) == 4
    assert "fig4" not in p.figures() and p.single_fov_variants() == []
    assert not any("/single/" in t for t in p.targets())


def test_a_fine_tuned_variant_reads_the_weights_it_starts_from(tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text("variants: {FT-100: {dataset: single, target: slow, frames: 100, lr: 1.0e-4, epochs: 2,"
                     " init_from: DLF-Slow}}\n")
    p = _plan(extra)
    assert p.training_inputs("FT-100")["initial"] == "results/models/DLF-Slow/model.keras"
    assert "FT-100" not in p.single_fov_variants()  # Fig. 4 compares variants trained from scratch


def test_the_shipped_filter_applied_as_it_is_is_a_method_of_the_default_evaluation():
    """Issue 33, item 5: pretrained:DLF-5F filters the test FOVs with no training on this data."""
    from stemdlf.nn import pretrained

    p = _plan()
    assert p.zero_shot == ["pretrained-DLF-5F"] and "pretrained-DLF-5F" in p.methods
    assert "pretrained-DLF-5F" not in p.variants  # nothing trains
    inputs = p.denoise_inputs("pretrained-DLF-5F")
    # the package's file is named in the params (its path differs between checkouts), with its hash
    assert "model" not in inputs and p.denoise_corrected("pretrained-DLF-5F")
    assert p.shipped_filter("pretrained-DLF-5F").startswith("pretrained:DLF-5F@") and p.shipped_filter("DLF-5F") == ""
    assert pretrained.weights_path(p.shipped_filter("pretrained-DLF-5F").split("@")[0]).is_file()
    assert inputs["rapid"][0].startswith("results/corrected/multi/")
    fov = p.split["test"][0]
    assert p.method_files("pretrained-DLF-5F")[0] == f"results/denoised/pretrained-DLF-5F/{fov}.tif"
    assert "pretrained-DLF-5F" in p.figure_labels("crops")
    assert f"results/denoised/pretrained-DLF-5F/{fov}.tif" in p.targets()
