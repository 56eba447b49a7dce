# U-Net training variants and denoising of the test FOVs (paper Methods "Deep Learning").
import re


wildcard_constraints:
    variant="|".join(re.escape(v) for v in VARIANTS),


# The detector's response along x, from the noise of the training FOVs' rapid frames alone
# (stemdlf.preprocess.response): DLF-Self undoes it in its targets.
rule detector_response:
    input:
        **PLAN.response_inputs(),
    output:
        L.response(),
    log:
        "logs/train/detector_response.log",
    benchmark:
        "benchmarks/train/detector_response.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: PLAN.frames_mb(MULTI, copies=3),
    params:
        code=code("detector_response.py"),
        fovs=SPLIT["train"],
    script:
        "../scripts/detector_response.py"


rule train_variant:
    input:
        unpack(per(PLAN.training_inputs, "variant")),
    output:
        model=L.model("model.keras"),
        card=L.model("model.json"),
        history=L.model("history.csv"),
        summary=L.model("training.json"),
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
        mem_mb=per(PLAN.training_mb, "variant"),
    params:
        code=code("train_variant.py"),
        settings=per(PLAN.training_params, "variant"),
        normalise=config["normalise"],
        # Per-epoch checkpoints live outside the declared outputs, so a killed job resumes.
        checkpoint=L.checkpoints(),
    script:
        "../scripts/train_variant.py"


rule learning_curve:
    input:
        unpack(per(PLAN.learning_curve_inputs, "variant")),
    output:
        png=report(
            L.model("learning_curve.png"),
            caption="../report/learning_curve.rst",
            category="Training",
            subcategory="{variant}",
        ),
        pdf=L.model("learning_curve.pdf"),
    log:
        "logs/train/{variant}_learning_curve.log",
    wildcard_constraints:
        variant="|".join(re.escape(v) for v in VARIANTS + PLAN.care_models()),
    conda:
        "../envs/analysis.yaml"
    params:
        code=code("learning_curve.py"),
    script:
        "../scripts/learning_curve.py"


rule denoise_variant:
    input:
        unpack(per(PLAN.denoise_inputs, "variant")),
    output:
        [L.denoised(fov) for fov in SPLIT["test"]],
    log:
        "logs/denoise/{variant}.log",
    benchmark:
        "benchmarks/denoise/{variant}.tsv"
    wildcard_constraints:
        variant="|".join(re.escape(v) for v in PLAN.filters),
    conda:
        "../envs/training.yaml"
    # One thread: the default U-Net gains little from a second one, so on a small machine two
    # such jobs side by side beat one on every core (stemdlf.runtime.threads). More: --set-threads.
    threads: 1
    resources:
        mem_mb=lambda wc: PLAN.frames_mb(MULTI, copies=4),
    params:
        code=code("denoise_variant.py"),
        fovs=SPLIT["test"],
        corrected=per(PLAN.denoise_corrected, "variant"),
        shipped=per(PLAN.shipped_filter, "variant"),
        batch_size=config["denoise"]["batch_size"],
        chunk_frames=config["dcfi"]["chunk_frames"],
    script:
        "../scripts/denoise_variant.py"


# The package's pretrained filter (stemdlf.nn.pretrained): a variant trained with
# config/pretrain.yaml, written with its card as src/stemdlf/nn/pretrained/ ships it.
rule pretrained:
    input:
        model=L.model("model.keras"),
        card=L.model("model.json"),
        summary=L.model("training.json"),
    output:
        model=L.pretrained(".keras"),
        card=L.pretrained(".json"),
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
