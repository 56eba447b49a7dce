# Evaluation: baselines, metrics of every method on the test FOVs, tables, the paper's
# figures and claims (paper Results).
import re


wildcard_constraints:
    method="|".join(re.escape(m) for m in METHODS + ["slow"]),
    baseline="|".join(re.escape(b) for b in TUNED_BASELINES) or "none",
    fig="fig[1-5]|crops|stats",


rule noise_model:
    input:
        rapid=expand("results/corrected/multi/{fov}/rapid.tif", fov=noise_fovs()),
        dcfi=expand("results/corrected/multi/{fov}/dcfi.tif", fov=noise_fovs()),
        slow=expand("results/corrected/multi/{fov}/slow.tif", fov=noise_fovs()),
    output:
        "results/baselines/noise_model.npz",
    log:
        "logs/baselines/noise_model.log",
    benchmark:
        "benchmarks/baselines/noise_model.tsv"
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: stacks_mb("multi", len(noise_fovs())),
    params:
        code=code("noise_model.py"),
        fovs=noise_fovs(),
    script:
        "../scripts/noise_model.py"


rule baseline_fov:
    input:
        rapid="results/corrected/multi/{fov}/rapid.tif",
        slow="results/corrected/multi/{fov}/slow.tif",
        noise="results/baselines/noise_model.npz",
    output:
        image="results/baselines/{baseline}/{fov}.tif",
        tuning="results/baselines/{baseline}/{fov}.json",
    log:
        "logs/baselines/{baseline}/{fov}.log",
    benchmark:
        "benchmarks/baselines/{baseline}/{fov}.tsv"
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: frames_mb("multi", copies=3),
    params:
        code=code("baseline_fov.py"),
        frames=eval_frames(),
        search_crop_px=config["evaluate"]["search_crop_px"],
        tone_match=config["evaluate"]["tone_match"],
        bm3d_profile=bm3d_profile,
    script:
        "../scripts/baseline_fov.py"


rule train_care:
    input:
        unpack(care_inputs),
    output:
        config="results/models/CARE/config.json",
        weights="results/models/CARE/weights_best.h5",
        summary="results/models/CARE/training.json",
    log:
        "logs/train/CARE.log",
    benchmark:
        "benchmarks/train/CARE.tsv"
    conda:
        "../envs/training.yaml"
    # One thread: the default U-Net gains little from a second one, so on a small machine two
    # such jobs side by side beat one on every core (stemdlf.runtime.threads). More: --set-threads.
    threads: 1
    resources:
        mem_mb=lambda wc: care_mb(),
    params:
        code=code("train_care.py"),
        settings=care_params,
        max_patches=config["evaluate"]["care"]["max_patches"],
        # CSBDeep's scratch folder (its logs and per-epoch weights), outside the outputs.
        work="results/checkpoints/CARE",
    script:
        "../scripts/train_care.py"


rule denoise_care:
    input:
        model=rules.train_care.output.config,
        weights=rules.train_care.output.weights,
        summary=rules.train_care.output.summary,
        rapid=expand("results/corrected/multi/{fov}/rapid.tif", fov=SPLIT["test"]),
    output:
        expand("results/baselines/CARE/{fov}.tif", fov=SPLIT["test"]),
    log:
        "logs/baselines/CARE.log",
    benchmark:
        "benchmarks/baselines/CARE.tsv"
    conda:
        "../envs/training.yaml"
    # One thread: the default U-Net gains little from a second one, so on a small machine two
    # such jobs side by side beat one on every core (stemdlf.runtime.threads). More: --set-threads.
    threads: 1
    resources:
        mem_mb=lambda wc: frames_mb("multi", copies=4),
    params:
        code=code("denoise_care.py"),
        fovs=SPLIT["test"],
        frames=eval_frames(),
    script:
        "../scripts/denoise_care.py"


rule metrics_method:
    input:
        unpack(metrics_inputs),
    output:
        "results/metrics/{method}.csv",
    log:
        "logs/metrics/{method}.log",
    benchmark:
        "benchmarks/metrics/{method}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: frames_mb("multi", copies=6),
    params:
        code=code("metrics_method.py"),
        fovs=SPLIT["test"],
        frames=eval_frames(),
    script:
        "../scripts/metrics_method.py"


rule tables:
    input:
        expand("results/metrics/{method}.csv", method=evaluated_methods()),
    output:
        metrics=report(
            "results/tables/metrics.csv",
            caption="../report/metrics.rst",
            category="Tables",
        ),
        summary=report(
            "results/tables/summary.csv",
            caption="../report/summary.rst",
            category="Tables",
        ),
        markdown="results/tables/summary.md",
    log:
        "logs/tables.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code("tables.py"),
        methods=evaluated_methods(),
    script:
        "../scripts/tables.py"


rule claims:
    input:
        summary="results/tables/summary.csv",
        metrics="results/tables/metrics.csv",
        single_training=expand(
            "results/models/{variant}/training.json", variant=single_fov_variants()
        ),
        single_history=expand(
            "results/models/{variant}/history.csv", variant=single_fov_variants()
        ),
    output:
        report("results/claims.md", caption="../report/claims.rst", category="Claims"),
    log:
        "logs/claims.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code("claims.py"),
        dlf_slow=role("paper"),
        dlf_dcfi=role("paper_dcfi"),
        recommended=role("recommended"),
        single_fov=single_fov_variants(),
    script:
        "../scripts/claims.py"


rule readme_results:
    input:
        summary="results/tables/summary.csv",
        claims="results/claims.md",
        fovs="results/distortion/fovs.csv",
        training=expand(
            "results/models/{variant}/training.json", variant=VARIANTS + care_models()
        ),
    output:
        "results/readme_results.md",
    log:
        "logs/readme_results.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code("readme_results.py"),
        methods=VARIANTS + care_models(),
    script:
        "../scripts/readme_results.py"


rule model_metrics:
    input:
        "results/tables/summary.csv",
    output:
        expand("results/models/{variant}/model.metrics.json", variant=VARIANTS),
    log:
        "logs/model_metrics.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code("model_metrics.py"),
        variants=VARIANTS,
        fovs=SPLIT["test"],
    script:
        "../scripts/model_metrics.py"


rule ablation:
    input:
        summary="results/tables/summary.csv",
        metrics="results/tables/metrics.csv",
        training=expand(
            "results/models/{variant}/training.json",
            variant=[row["variant"] for row in ABLATION],
        ),
    output:
        csv=report(
            "results/tables/ablation.csv",
            caption="../report/ablation.rst",
            category="Tables",
        ),
        markdown="results/tables/ablation.md",
        png=report(
            "results/figures/ablation.png",
            caption="../report/ablation_figure.rst",
            category="Figures",
        ),
        pdf="results/figures/ablation.pdf",
    log:
        "logs/ablation.log",
    conda:
        "../envs/analysis.yaml"
    params:
        code=code("ablation.py"),
        rows=ABLATION,
        recommended=role("recommended"),
        variants=sorted(VARIANTS),  # membership only: a reordered config redraws nothing
    script:
        "../scripts/ablation.py"


rule figure:
    input:
        unpack(figure_inputs),
    output:
        png=report(
            "results/figures/{fig}.png",
            caption="../report/figure.rst",
            category="Figures",
        ),
        pdf="results/figures/{fig}.pdf",
    log:
        "logs/figures/{fig}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        code=code("figure.py"),
        fov=SPLIT["test"][0],
        labels=figure_labels,
        recommended=role("recommended"),
        variants=sorted(VARIANTS),  # membership only: a reordered config redraws nothing
    script:
        "../scripts/figure.py"
