# Synthetic datasets: one job per FOV, written in the data-contract layout under results/data/.


rule simulate_fov:
    output:
        rapid="results/data/{dataset}/fovs/{fov}/rapid.tif",
        slow="results/data/{dataset}/fovs/{fov}/slow.tif",
        truth=multiext(
            "results/data/{dataset}/truth/{fov}/",
            "slow_clean.tif",
            "distortion.csv",
            "drift.csv",
            "fov.yaml",
        ),
    log:
        "logs/simulate/{dataset}/{fov}.log",
    benchmark:
        "benchmarks/simulate/{dataset}/{fov}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: frames_mb(wc.dataset, copies=8),
    params:
        code=code("simulate_fov.py"),
        simulator=simulator_dict(config),
        acquisition=acquisition_dict,
        fov_index=fov_index,
        out_dir=lambda wc: f"results/data/{wc.dataset}",
    script:
        "../scripts/simulate_fov.py"


rule simulate_meta:
    output:
        "results/data/{dataset}/dataset.yaml",
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
