# Train/test split and scan-distortion correction (paper Methods, "Distortion Correction").


# an estimator is a method on a scope, e.g. dp-global ({method} is an evaluated method, evaluate.smk)
wildcard_constraints:
    estimator=f"({'|'.join(ESTIMATOR_METHODS)})-({'|'.join(ESTIMATOR_SCOPES)})",


rule split:
    input:
        "results/validated/multi.json",
    output:
        "results/split.yaml",
    log:
        "logs/split.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code("write_split.py"),
        split=canonical(SPLIT),
        settings=canonical(config["split"]),
    script:
        "../scripts/write_split.py"


rule choose_reference:
    input:
        slow=train_files("results/normalised/{dataset}/{fov}/slow.tif"),
    output:
        "results/distortion/reference.json",
    log:
        "logs/distortion/choose_reference.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code("choose_reference.py"),
        fovs=SPLIT["train"],
        fixed=fixed_reference(),
        highpass_px=config["distortion"]["highpass_px"],
    script:
        "../scripts/choose_reference.py"


rule estimate_distortion:
    input:
        reference="results/distortion/reference.json",
        dcfi=train_files("results/dcfi/{dataset}/{fov}/dcfi.tif"),
        slow=train_files("results/normalised/{dataset}/{fov}/slow.tif"),
    output:
        profile="results/distortion/estimates/{estimator}/profile.csv",
        view="results/distortion/estimates/{estimator}/view.json",
    log:
        "logs/distortion/estimate_{estimator}.log",
    benchmark:
        "benchmarks/distortion/estimate_{estimator}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        # band-passed and resampled images, and the W x W similarity and DP matrices (dp)
        mem_mb=lambda wc: image_mb("multi", copies=40),
    params:
        code=code("estimate_distortion.py"),
        fovs=SPLIT["train"],
        settings=distortion_settings(),
    script:
        "../scripts/estimate_distortion.py"


rule register_fovs:
    input:
        unpack(registration_truth),
        profile=f"results/distortion/estimates/{selected_estimator()}/profile.csv",
        view=f"results/distortion/estimates/{selected_estimator()}/view.json",
        dcfi=all_fov_files("results/dcfi/{dataset}/{fov}/dcfi.tif"),
        slow=all_fov_files("results/normalised/{dataset}/{fov}/slow.tif"),
    output:
        profile="results/distortion/profile.csv",
        view="results/distortion/view.json",
        fovs=report(
            "results/distortion/fovs.csv",
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
        mem_mb=lambda wc: image_mb("multi", copies=20),
    params:
        code=code("register_fovs.py"),
        fov_keys=all_fov_keys(),
        truth_keys=synthetic_fov_keys(),
        register=config["distortion"]["register_fovs"],
        max_residual_px=config["distortion"]["max_residual_px"],
        on_poor_registration=config["distortion"]["on_poor_registration"],
        min_zncc=config["distortion"]["min_zncc"],
        registration=canonical(registration_settings()),
    script:
        "../scripts/register_fovs.py"


rule compare_distortion:
    input:
        unpack(truth_files),
        estimates=expand(
            "results/distortion/estimates/{estimator}/profile.csv",
            estimator=estimators(),
        ),
    output:
        report(
            "results/distortion/comparison.csv",
            caption="../report/comparison.rst",
            category="Distortion",
        ),
    log:
        "logs/distortion/compare.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code("compare_distortion.py"),
        estimators=estimators(),
    script:
        "../scripts/compare_distortion.py"


rule distortion_figure:
    input:
        unpack(train_truth_profiles),
        profile="results/distortion/profile.csv",
        view="results/distortion/view.json",
        fovs="results/distortion/fovs.csv",
        reference="results/distortion/reference.json",
        dcfi=train_files("results/dcfi/{dataset}/{fov}/dcfi.tif"),
        slow=train_files("results/normalised/{dataset}/{fov}/slow.tif"),
    output:
        png=report(
            "results/distortion/diagnostic.png",
            caption="../report/distortion.rst",
            category="Distortion",
        ),
        pdf="results/distortion/diagnostic.pdf",
    log:
        "logs/distortion/figure.log",
    conda:
        "../envs/analysis.yaml"
    params:
        code=code("distortion_figure.py"),
        fovs=SPLIT["train"],
    script:
        "../scripts/distortion_figure.py"


rule correct_fov:
    input:
        profile="results/distortion/profile.csv",
        view="results/distortion/view.json",
        fovs="results/distortion/fovs.csv",
        validated="results/validated/{dataset}.json",
        rapid="results/normalised/{dataset}/{fov}/rapid.tif",
        slow="results/normalised/{dataset}/{fov}/slow.tif",
        dcfi="results/dcfi/{dataset}/{fov}/dcfi.tif",
        shifts="results/dcfi/{dataset}/{fov}/shifts.csv",
    output:
        rapid="results/corrected/{dataset}/{fov}/rapid.tif",
        dcfi="results/corrected/{dataset}/{fov}/dcfi.tif",
        slow="results/corrected/{dataset}/{fov}/slow.tif",
    log:
        "logs/correct/{dataset}/{fov}.log",
    benchmark:
        "benchmarks/correct/{dataset}/{fov}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: frames_mb(wc.dataset, copies=3),
    params:
        code=code("correct_fov.py"),
        align_frames=config["distortion"]["align_frames"],
        chunk_frames=config["dcfi"]["chunk_frames"],
    script:
        "../scripts/correct_fov.py"
