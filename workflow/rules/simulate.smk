# Synthetic datasets: one job per FOV, written in the data-contract layout under results/data/.


rule simulate_fov:
    output:
        rapid=L.fov_file(L.simulated(), "rapid.tif"),
        slow=L.fov_file(L.simulated(), "slow.tif"),
        truth=multiext(
            L.truth(""), "slow_clean.tif", "distortion.csv", "drift.csv", "fov.yaml"
        ),
    log:
        "logs/simulate/{dataset}/{fov}.log",
    benchmark:
        "benchmarks/simulate/{dataset}/{fov}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: PLAN.frames_mb(wc.dataset, copies=8),
    params:
        code=code("simulate_fov.py"),
        simulator=simulator_dict(config),
        acquisition=acquisition_dict,
        fov_index=per(PLAN.fov_index, "dataset", "fov"),
        out_dir=per(L.simulated, "dataset"),
    script:
        "../scripts/simulate_fov.py"


rule simulate_meta:
    output:
        L.dataset_meta(L.simulated()),
    log:
        "logs/simulate/{dataset}/dataset.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code("simulate_meta.py"),
        simulator=simulator_dict(config),
        acquisition=acquisition_dict,
    script:
        "../scripts/simulate_meta.py"
