# Per-FOV preprocessing: validation, min-max normalisation, DCFI.


rule validate_dataset:
    input:
        meta=lambda wc: f"{dataset_dir(wc.dataset)}/dataset.yaml",
        frames=lambda wc: per_fov(raw(wc.dataset, "{fov}", "rapid.tif"), wc.dataset),
        slow=lambda wc: per_fov(raw(wc.dataset, "{fov}", "slow.tif"), wc.dataset),
    output:
        "results/validated/{dataset}.json",
    log:
        "logs/validate/{dataset}.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code("validate_dataset.py"),
        path=lambda wc: dataset_dir(wc.dataset),
        min_fovs=lambda wc: min_fovs(wc.dataset),
    script:
        "../scripts/validate_dataset.py"


rule normalise_fov:
    input:
        validated="results/validated/{dataset}.json",
        rapid=lambda wc: raw(wc.dataset, wc.fov, "rapid.tif"),
        slow=lambda wc: raw(wc.dataset, wc.fov, "slow.tif"),
    output:
        rapid="results/normalised/{dataset}/{fov}/rapid.tif",
        slow="results/normalised/{dataset}/{fov}/slow.tif",
        transforms="results/normalised/{dataset}/{fov}/normalisation.json",
    log:
        "logs/normalise/{dataset}/{fov}.log",
    benchmark:
        "benchmarks/normalise/{dataset}/{fov}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: frames_mb(wc.dataset, copies=2),
    params:
        code=code("normalise_fov.py"),
        normalise=canonical(config["normalise"]),
        chunk_frames=config["dcfi"]["chunk_frames"],
    script:
        "../scripts/normalise_fov.py"


rule dcfi_fov:
    input:
        validated="results/validated/{dataset}.json",
        rapid=lambda wc: raw(wc.dataset, wc.fov, "rapid.tif"),
        supplied=supplied_dcfi,
    output:
        dcfi="results/dcfi/{dataset}/{fov}/dcfi.tif",
        shifts="results/dcfi/{dataset}/{fov}/shifts.csv",
        transform="results/dcfi/{dataset}/{fov}/normalisation.json",
    log:
        "logs/dcfi/{dataset}/{fov}.log",
    benchmark:
        "benchmarks/dcfi/{dataset}/{fov}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: frames_mb(wc.dataset, copies=4),
    params:
        code=code("dcfi_fov.py"),
        dcfi=canonical(config["dcfi"]),
        normalise=canonical(config["normalise"]),
    script:
        "../scripts/dcfi_fov.py"
