# Train/test split and scan-distortion correction (paper Methods, "Distortion Correction").
from functools import partial


# an estimator is a method on a scope, e.g. dp-global ({method} is an evaluated method, evaluate.smk)
wildcard_constraints:
    estimator=f"({'|'.join(ESTIMATOR_METHODS)})-({'|'.join(ESTIMATOR_SCOPES)})",


rule split:
    input:
        L.validated(MULTI),
    output:
        L.split(),
    log:
        "logs/split.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code("write_split.py"),
        split=canonical(PLAN.split),
        settings=canonical(config["split"]),
    script:
        "../scripts/write_split.py"


rule choose_reference:
    input:
        slow=PLAN.train_files(partial(L.normalised, "slow.tif")),
    output:
        L.distortion("reference.json"),
    log:
        "logs/distortion/choose_reference.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code("choose_reference.py"),
        fovs=PLAN.split["train"],
        fixed=PLAN.fixed_reference(),
        highpass_px=config["distortion"]["highpass_px"],
    script:
        "../scripts/choose_reference.py"


rule estimate_distortion:
    input:
        reference=L.distortion("reference.json"),
        dcfi=PLAN.train_files(partial(L.dcfi, "dcfi.tif")),
        slow=PLAN.train_files(partial(L.normalised, "slow.tif")),
    output:
        profile=L.estimate("profile.csv"),
        view=L.estimate("view.json"),
    log:
        "logs/distortion/estimate_{estimator}.log",
    benchmark:
        "benchmarks/distortion/estimate_{estimator}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        # band-passed and resampled images, and the W x W similarity and DP matrices (dp)
        mem_mb=lambda wc: PLAN.image_mb(MULTI, copies=40),
    params:
        code=code("estimate_distortion.py"),
        fovs=PLAN.split["train"],
        settings=PLAN.distortion_settings(),
    script:
        "../scripts/estimate_distortion.py"


rule register_fovs:
    input:
        **PLAN.register_inputs(),
    output:
        profile=L.distortion("profile.csv"),
        view=L.distortion("view.json"),
        fovs=report(
            L.distortion("fovs.csv"),
            caption="../report/fovs.rst",
            category="Distortion",
        ),
    log:
        "logs/distortion/register_fovs.log",
    benchmark:
        "benchmarks/distortion/register_fovs.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        mem_mb=lambda wc: PLAN.image_mb(MULTI, copies=20),
    params:
        code=code("register_fovs.py"),
        fov_keys=PLAN.fov_keys(),
        truth_keys=PLAN.fov_keys(synthetic_only=True),
        register=config["distortion"]["register_fovs"],
        max_residual_px=config["distortion"]["max_residual_px"],
        on_poor_registration=config["distortion"]["on_poor_registration"],
        min_zncc=config["distortion"]["min_zncc"],
        registration=PLAN.registration_settings(),
    script:
        "../scripts/register_fovs.py"


rule compare_distortion:
    input:
        **PLAN.truth_profile(),
        estimates=[L.estimate("profile.csv", e) for e in PLAN.estimators()],
    output:
        report(
            L.distortion("comparison.csv"),
            caption="../report/comparison.rst",
            category="Distortion",
        ),
    log:
        "logs/distortion/compare.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code("compare_distortion.py"),
        estimators=PLAN.estimators(),
    script:
        "../scripts/compare_distortion.py"


rule distortion_figure:
    input:
        **PLAN.train_truth_profiles(),
        profile=L.distortion("profile.csv"),
        view=L.distortion("view.json"),
        fovs=L.distortion("fovs.csv"),
        reference=L.distortion("reference.json"),
        dcfi=PLAN.train_files(partial(L.dcfi, "dcfi.tif")),
        slow=PLAN.train_files(partial(L.normalised, "slow.tif")),
    output:
        png=report(
            L.distortion("diagnostic.png"),
            caption="../report/distortion.rst",
            category="Distortion",
        ),
        pdf=L.distortion("diagnostic.pdf"),
    log:
        "logs/distortion/figure.log",
    conda:
        "../envs/analysis.yaml"
    params:
        code=code("distortion_figure.py"),
        fovs=PLAN.split["train"],
    script:
        "../scripts/distortion_figure.py"


rule correct_fov:
    input:
        profile=L.distortion("profile.csv"),
        view=L.distortion("view.json"),
        fovs=L.distortion("fovs.csv"),
        validated=L.validated(),
        rapid=L.normalised("rapid.tif"),
        slow=L.normalised("slow.tif"),
        dcfi=L.dcfi("dcfi.tif"),
        shifts=L.dcfi("shifts.csv"),
    output:
        rapid=L.corrected("rapid.tif"),
        dcfi=L.corrected("dcfi.tif"),
        slow=L.corrected("slow.tif"),
    log:
        "logs/correct/{dataset}/{fov}.log",
    benchmark:
        "benchmarks/correct/{dataset}/{fov}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: PLAN.frames_mb(wc.dataset, copies=3),
    params:
        code=code("correct_fov.py"),
        align_frames=config["distortion"]["align_frames"],
        chunk_frames=config["dcfi"]["chunk_frames"],
    script:
        "../scripts/correct_fov.py"
