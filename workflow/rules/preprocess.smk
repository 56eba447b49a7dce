# Per-FOV preprocessing: validation, min-max normalisation, DCFI.


rule validate_dataset:
    input:
        unpack(per(PLAN.validate_inputs, "dataset")),
    output:
        L.validated(),
    log:
        "logs/validate/{dataset}.log",
    conda:
        "../envs/data.yaml"
    params:
        code=code("validate_dataset.py"),
        path=per(PLAN.dataset_dir, "dataset"),
        min_fovs=per(PLAN.min_fovs, "dataset"),
    script:
        "../scripts/validate_dataset.py"


rule normalise_fov:
    input:
        validated=L.validated(),
        rapid=lambda wc: PLAN.raw(wc.dataset, wc.fov, "rapid.tif"),
        slow=lambda wc: PLAN.raw(wc.dataset, wc.fov, "slow.tif"),
    output:
        rapid=L.normalised("rapid.tif"),
        slow=L.normalised("slow.tif"),
        transforms=L.normalised("normalisation.json"),
    log:
        "logs/normalise/{dataset}/{fov}.log",
    benchmark:
        "benchmarks/normalise/{dataset}/{fov}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: PLAN.frames_mb(wc.dataset, copies=2),
    params:
        code=code("normalise_fov.py"),
        normalise=canonical(config["normalise"]),
        chunk_frames=config["dcfi"]["chunk_frames"],
    script:
        "../scripts/normalise_fov.py"


rule dcfi_fov:
    input:
        validated=L.validated(),
        rapid=lambda wc: PLAN.raw(wc.dataset, wc.fov, "rapid.tif"),
        supplied=per(PLAN.supplied_dcfi, "dataset", "fov"),
    output:
        dcfi=L.dcfi("dcfi.tif"),
        shifts=L.dcfi("shifts.csv"),
        transform=L.dcfi("normalisation.json"),
    log:
        "logs/dcfi/{dataset}/{fov}.log",
    benchmark:
        "benchmarks/dcfi/{dataset}/{fov}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc: PLAN.frames_mb(wc.dataset, copies=4),
    params:
        code=code("dcfi_fov.py"),
        dcfi=canonical(config["dcfi"]),
        normalise=canonical(config["normalise"]),
    script:
        "../scripts/dcfi_fov.py"
