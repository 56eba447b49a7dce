# Evaluation: baselines, metrics of every method on the test FOVs, tables, the paper's
# figures and claims (paper Results).
import re


wildcard_constraints:
    method="|".join(re.escape(m) for m in PLAN.methods + ["slow"]),
    baseline="|".join(re.escape(b) for b in PLAN.tuned_baselines) or "none",
    fig="fig[1-5]|crops|stats",
    peer="|".join(re.escape(b) for b in PLAN.peers) or "none",


rule noise_model:
    input:
        **PLAN.noise_model_inputs(),
    output:
        L.noise_model(),
    log:
        "logs/baselines/noise_model.log",
    benchmark:
        "benchmarks/baselines/noise_model.tsv"
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: PLAN.stacks_mb(MULTI, len(PLAN.noise_fovs())),
    params:
        code=code("noise_model.py"),
        fovs=PLAN.noise_fovs(),
    script:
        "../scripts/noise_model.py"


rule baseline_fov:
    input:
        rapid=L.corrected("rapid.tif", MULTI),
        slow=L.corrected("slow.tif", MULTI),
        noise=L.noise_model(),
    output:
        image=L.baseline(".tif"),
        tuning=L.baseline(".json"),
    log:
        "logs/baselines/{baseline}/{fov}.log",
    benchmark:
        "benchmarks/baselines/{baseline}/{fov}.tsv"
    conda:
        "../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: PLAN.frames_mb(MULTI, copies=3),
    params:
        code=code("baseline_fov.py"),
        frames=PLAN.eval_frames(),
        search_crop_px=config["evaluate"]["search_crop_px"],
        tone_match=config["evaluate"]["tone_match"],
        bm3d_profile=per(PLAN.bm3d_profile, "baseline"),
    script:
        "../scripts/baseline_fov.py"


rule train_care:
    input:
        unpack(lambda wc: PLAN.care_inputs()),
    output:
        config=L.model("config.json", "CARE"),
        weights=L.model("weights_best.h5", "CARE"),
        summary=L.model("training.json", "CARE"),
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
        mem_mb=lambda wc: PLAN.care_mb(),
    params:
        code=code("train_care.py"),
        settings=lambda wc: PLAN.care_params(),
        max_patches=config["evaluate"]["care"]["max_patches"],
        # CSBDeep's scratch folder (its logs and per-epoch weights), outside the outputs.
        work=L.checkpoints("CARE"),
    script:
        "../scripts/train_care.py"


rule denoise_care:
    input:
        model=rules.train_care.output.config,
        weights=rules.train_care.output.weights,
        summary=rules.train_care.output.summary,
        rapid=PLAN.method_files("rapid"),
    output:
        PLAN.method_files("CARE"),
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
        mem_mb=lambda wc: PLAN.frames_mb(MULTI, copies=4),
    params:
        code=code("denoise_care.py"),
        fovs=SPLIT["test"],
        frames=PLAN.eval_frames(),
    script:
        "../scripts/denoise_care.py"


rule train_peer:
    input:
        unpack(lambda wc: PLAN.peer_inputs()),
    output:
        model=L.model("model.ckpt", "{peer}"),
        summary=L.model("training.json", "{peer}"),
    log:
        "logs/train/{peer}.log",
    benchmark:
        "benchmarks/train/{peer}.tsv"
    conda:
        "../envs/peers.yaml"
    # One thread, as the variant whose training time it gets trained (stemdlf.runtime.threads).
    threads: 1
    resources:
        mem_mb=lambda wc: PLAN.peer_mb(),
    params:
        code=code("train_peer.py"),
        settings=lambda wc: PLAN.peer_params(),
        # CAREamics' scratch folder (its logs and checkpoints), outside the outputs.
        work=L.checkpoints("{peer}"),
    script:
        "../scripts/train_peer.py"


rule denoise_peer:
    input:
        model=rules.train_peer.output.model,
        rapid=PLAN.method_files("rapid"),
        noise=L.noise_model(),
    output:
        PLAN.method_files("{peer}"),
    log:
        "logs/baselines/{peer}.log",
    benchmark:
        "benchmarks/baselines/{peer}.tsv"
    conda:
        "../envs/peers.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: PLAN.peer_denoise_mb(),
    params:
        code=code("denoise_peer.py"),
        fovs=SPLIT["test"],
        frames=PLAN.eval_frames(),
        tone_match=config["evaluate"]["tone_match"],
    script:
        "../scripts/denoise_peer.py"


rule metrics_method:
    input:
        unpack(per(PLAN.metrics_inputs, "method")),
    output:
        L.metrics(),
    log:
        "logs/metrics/{method}.log",
    benchmark:
        "benchmarks/metrics/{method}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: PLAN.frames_mb(MULTI, copies=6),
    params:
        code=code("metrics_method.py"),
        fovs=SPLIT["test"],
        frames=PLAN.eval_frames(),
    script:
        "../scripts/metrics_method.py"


rule tables:
    input:
        [L.metrics(m) for m in PLAN.evaluated_methods()],
    output:
        metrics=report(
            L.table("metrics.csv"),
            caption="../report/metrics.rst",
            category="Tables",
        ),
        summary=report(
            L.table("summary.csv"),
            caption="../report/summary.rst",
            category="Tables",
        ),
        markdown=L.table("summary.md"),
    log:
        "logs/tables.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code("tables.py"),
        methods=PLAN.evaluated_methods(),
    script:
        "../scripts/tables.py"


rule claims:
    input:
        summary=L.table("summary.csv"),
        metrics=L.table("metrics.csv"),
        single_training=[
            L.model("training.json", v) for v in PLAN.single_fov_variants()
        ],
        single_history=[L.model("history.csv", v) for v in PLAN.single_fov_variants()],
    output:
        report(L.claims(), caption="../report/claims.rst", category="Claims"),
    log:
        "logs/claims.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code("claims.py"),
        dlf_slow=PLAN.role("paper"),
        dlf_dcfi=PLAN.role("paper_dcfi"),
        recommended=PLAN.role("recommended"),
        single_fov=PLAN.single_fov_variants(),
        zero_shot=PLAN.zero_shot,
        self_supervised=PLAN.self_supervised(),
        slow_free=PLAN.slow_free_methods(),
        slow_trained=PLAN.slow_trained_methods(),
    script:
        "../scripts/claims.py"


rule readme_results:
    input:
        summary=L.table("summary.csv"),
        claims=L.claims(),
        fovs=L.distortion("fovs.csv"),
        training=[L.model("training.json", v) for v in VARIANTS + PLAN.care_models()],
    output:
        L.readme_results(),
    log:
        "logs/readme_results.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code("readme_results.py"),
        methods=VARIANTS + PLAN.care_models(),
    script:
        "../scripts/readme_results.py"


rule model_metrics:
    input:
        L.table("summary.csv"),
    output:
        [L.model("model.metrics.json", v) for v in VARIANTS],
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
        summary=L.table("summary.csv"),
        metrics=L.table("metrics.csv"),
        training=[L.model("training.json", row["variant"]) for row in PLAN.ablation],
    output:
        csv=report(
            L.table("ablation.csv"),
            caption="../report/ablation.rst",
            category="Tables",
        ),
        markdown=L.table("ablation.md"),
        png=report(
            L.figure(".png", "ablation"),
            caption="../report/ablation_figure.rst",
            category="Figures",
        ),
        pdf=L.figure(".pdf", "ablation"),
    log:
        "logs/ablation.log",
    conda:
        "../envs/analysis.yaml"
    params:
        code=code("ablation.py"),
        rows=PLAN.ablation,
        recommended=PLAN.role("recommended"),
        variants=sorted(VARIANTS),  # membership only: a reordered config redraws nothing
    script:
        "../scripts/ablation.py"


rule figure:
    input:
        unpack(per(PLAN.figure_inputs, "fig")),
    output:
        png=report(
            L.figure(".png"),
            caption="../report/figure.rst",
            category="Figures",
        ),
        pdf=L.figure(".pdf"),
    log:
        "logs/figures/{fig}.log",
    conda:
        "../envs/analysis.yaml"
    params:
        code=code("figure.py"),
        fov=SPLIT["test"][0],
        labels=per(PLAN.figure_labels, "fig"),
        recommended=PLAN.role("recommended"),
        variants=sorted(VARIANTS),  # membership only: a reordered config redraws nothing
    script:
        "../scripts/figure.py"
