# U-Net training variants and denoising of the test FOVs (paper Methods "Deep Learning").
import re


wildcard_constraints:
    variant="|".join(re.escape(v) for v in VARIANTS),


rule train_variant:
    input:
        unpack(training_inputs),
    output:
        model="results/models/{variant}/model.keras",
        card="results/models/{variant}/model.json",
        history="results/models/{variant}/history.csv",
        summary="results/models/{variant}/training.json",
    log:
        "logs/train/{variant}.log",
    benchmark:
        "benchmarks/train/{variant}.tsv"
    conda:
        "../envs/training.yaml"
    # One thread: the default U-Net gains little from a second one, so on a small machine two
    # such jobs side by side beat one on every core (stemdlf.runtime.threads). More: --set-threads.
    threads: 1
    resources:
        mem_mb=training_mb,
    params:
        code=code("train_variant.py"),
        settings=training_params,
        normalise=config["normalise"],
        # Per-epoch checkpoints live outside the declared outputs, so a killed job resumes.
        checkpoint="results/checkpoints/{variant}",
    script:
        "../scripts/train_variant.py"


rule learning_curve:
    input:
        unpack(learning_curve_inputs),
    output:
        png=report(
            "results/models/{variant}/learning_curve.png",
            caption="../report/learning_curve.rst",
            category="Training",
            subcategory="{variant}",
        ),
        pdf="results/models/{variant}/learning_curve.pdf",
    log:
        "logs/train/{variant}_learning_curve.log",
    wildcard_constraints:
        variant="|".join(re.escape(v) for v in VARIANTS + care_models()),
    conda:
        "../envs/analysis.yaml"
    params:
        code=code("learning_curve.py"),
    script:
        "../scripts/learning_curve.py"


rule denoise_variant:
    input:
        unpack(denoise_inputs),
    output:
        expand("results/denoised/{{variant}}/{fov}.tif", fov=SPLIT["test"]),
    log:
        "logs/denoise/{variant}.log",
    benchmark:
        "benchmarks/denoise/{variant}.tsv"
    conda:
        "../envs/training.yaml"
    # One thread: the default U-Net gains little from a second one, so on a small machine two
    # such jobs side by side beat one on every core (stemdlf.runtime.threads). More: --set-threads.
    threads: 1
    resources:
        mem_mb=lambda wc: frames_mb("multi", copies=4),
    params:
        code=code("denoise_variant.py"),
        fovs=SPLIT["test"],
        corrected=lambda wc: variant(wc.variant)["corrected"],
        batch_size=config["denoise"]["batch_size"],
        chunk_frames=config["dcfi"]["chunk_frames"],
    script:
        "../scripts/denoise_variant.py"


# The package's pretrained filter (stemdlf.nn.pretrained): a variant trained with
# config/pretrain.yaml, written with its card as src/stemdlf/nn/pretrained/ ships it.
rule pretrained:
    input:
        model="results/models/{variant}/model.keras",
        card="results/models/{variant}/model.json",
        summary="results/models/{variant}/training.json",
    output:
        model="results/pretrained/{variant}.keras",
        card="results/pretrained/{variant}.json",
    log:
        "logs/pretrained/{variant}.log",
    conda:
        "../envs/training.yaml"
    params:
        code=code("pretrained.py"),
        config=config,
        config_files=config_file_names,
    script:
        "../scripts/pretrained.py"
