"""The workflow through a real SLURM: a single-node cluster on this machine runs the tiny config
through profiles/slurm, and its outputs equal those of the local run.

Needs Debian's ``slurmctld slurmd slurm-client munge`` and root (CI installs and runs as root:
.ci/run). The cluster is a throwaway: munged, slurmctld and slurmd run from a temporary folder,
with no accounting storage and four fake GPUs (empty files as their ``File=``) so ``gpu: 1``
jobs schedule side by side.
Only ``/etc/slurm/slurm.conf`` and ``gres.conf`` are written outside it, because the nested
``srun`` of Snakemake's job-step plugin drops ``SLURM_CONF`` and reads the default path; the
test refuses to touch a slurm.conf it did not write, and removes its own afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
import yaml
from workflow_helpers import REPO, WORKFLOW_FILES, copy_workflow, planned, snakemake, trim_workflow

pytestmark = [pytest.mark.workflow, pytest.mark.slurm]

BINARIES = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "srun"]
MARKER = "# stemdlf test cluster"
ETC = Path("/etc/slurm")


def _cluster_config(root: Path, host: str, cpus: int, mem_mb: int) -> str:
    return f"""{MARKER}: written by tests/test_slurm.py, removed when the test ends
ClusterName=stemdlftest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge.sock
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# No sacct here: Snakemake asks squeue, which must still list finished jobs, and the test
# checks every job of its run at the end of the suite, however long the suite took on this
# machine: this throw-away cluster keeps finished jobs for a day (0, "never", is refused by
# slurmctld, which wants at least 2 s).
MinJobAge=86400
ReturnToService=2
# the node offers more CPUs than the machine has: most jobs are short and I/O bound
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName={host} CPUs={cpus} RealMemory={mem_mb} Gres=gpu:4 State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def _wait(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise TimeoutError(f"test cluster: {what} after {seconds} s")


def _node_idle() -> bool:
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return out.returncode == 0 and out.stdout.strip() == "idle"


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """Start munged, slurmctld and slurmd; stop them by their PIDs afterwards."""
    missing = [b for b in BINARIES if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]
    if missing:
        pytest.skip(f"SLURM is not installed here (no {', '.join(missing)}); .ci/run installs it: "
                    "apt-get install slurmctld slurmd slurm-client munge")
    if os.geteuid() != 0:
        pytest.skip("starting slurmd needs root (CI runs .ci/run as root)")
    conf = ETC / "slurm.conf"
    if conf.exists() and MARKER not in conf.read_text():
        pytest.skip(f"{conf} belongs to a real SLURM installation; the test cluster will not replace it")
    root = tmp_path_factory.mktemp("slurm")
    (root / "state").mkdir()
    (root / "spool").mkdir()
    (root / "munge.key").write_bytes(os.urandom(1024))
    (root / "munge.key").chmod(0o600)
    host = socket.gethostname()
    mem_mb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.8)
    ETC.mkdir(parents=True, exist_ok=True)
    conf.write_text(_cluster_config(root, host, max(8, os.cpu_count()), mem_mb))
    for k in range(4):  # a gres line without File= drains the node; empty files will do
        (root / f"fakegpu{k}").touch()
    (ETC / "gres.conf").write_text(f"{MARKER}\nNodeName={host} Name=gpu File={root}/fakegpu[0-3]\n")
    sbin = lambda name: shutil.which(name) or f"/usr/sbin/{name}"  # noqa: E731
    subprocess.run([sbin("munged"), "--force", f"--socket={root}/munge.sock", f"--key-file={root}/munge.key",
                    f"--log-file={root}/munged.log", f"--pid-file={root}/munged.pid",
                    f"--seed-file={root}/munged.seed"], check=True)
    subprocess.run([sbin("slurmctld"), "-c"], check=True)
    subprocess.run([sbin("slurmd")], check=True)
    try:
        _wait(_node_idle, 60, "the node is not idle")
        # the checks at the end of the suite need every finished job still listed
        config = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, check=True).stdout
        assert re.search(r"^MinJobAge\s*=\s*86400 sec", config, re.M), config
        yield root
    finally:
        for name in ("slurmd", "slurmctld", "munged"):
            pid_file = root / f"{name}.pid"
            if pid_file.exists():
                try:
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
                except (ProcessLookupError, ValueError):
                    pass
        for path in (conf, ETC / "gres.conf"):
            if path.exists() and MARKER in path.read_text():
                path.unlink()


def test_profile_for_users_has_placeholders_and_heavy_rules_ask_for_a_gpu():
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["default-resources"]["slurm_partition"] == "PARTITION"  # the one place users edit
    for rule in ("train_variant", "train_care", "denoise_variant", "denoise_care"):
        assert profile["set-resources"][rule]["gpu"] == 1


def _test_profile(workdir: Path) -> Path:
    """profiles/slurm with the test cluster's values in its placeholders."""
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    profile["default-resources"] = {**profile["default-resources"], "slurm_partition": "test"}
    profile["default-resources"].pop("slurm_account")
    profile.update({"slurm-no-account": True, "slurm-status-command": "squeue",
                    "slurm-init-seconds-before-status-checks": 2, "max-threads": os.cpu_count()})
    # the local run's thread counts (one per training and denoising job), so that float32 trainings match it
    profile["set-threads"] = {rule: 1 for rule in profile["set-threads"]}
    out = workdir / "test-profile"
    out.mkdir()
    (out / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return out


def _slurm_jobs() -> pd.DataFrame:
    out = subprocess.run(["squeue", "--states=all", "-h", "-o", "%i|%k|%T|%b"], capture_output=True, text=True,
                         check=True).stdout
    rows = [line.split("|") for line in out.splitlines() if line.strip()]
    return pd.DataFrame(rows, columns=["id", "comment", "state", "tres"]).astype({"id": int})


def _same_arrays(a: Path, b: Path) -> bool:
    return np.array_equal(tifffile.imread(a), tifffile.imread(b))


#: Variants and baselines the SLURM run keeps (every other stage runs in full): one multi-FOV and
#: one single-FOV training, a tuned baseline and CARE. Keeps CI well under its time budget.
KEEP_VARIANTS = ["DLF-Slow", "DLF-100"]
KEEP_BASELINES = ["BM3D", "CARE"]


@dataclass
class SlurmRun:
    workdir: Path
    process: subprocess.Popen
    rule_jobs: int
    first_job_id: int

    def wait(self, seconds: float = 1500) -> tuple[int, str]:
        code = self.process.wait(timeout=seconds)
        return code, (self.workdir / "snakemake.out").read_text()


@pytest.fixture(scope="session")
def slurm_run(slurm_cluster, tmp_path_factory):
    """The trimmed tiny workflow through profiles/slurm, started in the background.

    It waits mostly on the scheduler (job start-up and status polling), so conftest.py runs
    the test that starts it first and the test that checks it last, and the rest of the suite
    runs meanwhile.
    """
    workdir = copy_workflow(tmp_path_factory.mktemp("slurm-wf"))
    trim_workflow(workdir, KEEP_VARIANTS, KEEP_BASELINES)
    profile = _test_profile(workdir)
    rule_jobs = sum(planned(snakemake(workdir, "-n")).values()) - 1  # all but the local target rule `all`
    jobs = _slurm_jobs()
    first = int(jobs["id"].max()) + 1 if len(jobs) else 0
    with open(workdir / "snakemake.out", "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "snakemake", "--configfile", "tiny.yaml", "--profile",
                                    str(profile)], cwd=workdir, stdout=out, stderr=subprocess.STDOUT)
    run = SlurmRun(workdir, process, rule_jobs, first)
    yield run
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=60)


def test_slurm_run_starts(slurm_run):
    """Runs first (conftest.py): starts the SLURM run so it overlaps the rest of the suite."""
    time.sleep(5)
    assert slurm_run.process.poll() in (None, 0), (slurm_run.workdir / "snakemake.out").read_text()[-3000:]


def test_tiny_workflow_through_slurm_equals_the_local_run(slurm_run, tiny_run):
    """Runs last (conftest.py)."""
    code, log = slurm_run.wait()
    assert code == 0, log[-5000:]
    workdir = slurm_run.workdir

    # the jobs went through SLURM, grouped, and training asked for a GPU
    jobs = _slurm_jobs()
    jobs = jobs[jobs["id"] >= slurm_run.first_job_id]
    assert (jobs["state"] == "COMPLETED").all(), jobs
    assert jobs["comment"].str.contains("train_variant").sum() == len(KEEP_VARIANTS)
    assert jobs["comment"].str.contains("train_care").sum() == 1
    assert jobs["comment"].str.contains("simulate_fov").sum() == 1  # 6 FOVs in one group job
    assert len(jobs) < slurm_run.rule_jobs - 10  # per-FOV jobs were grouped into fewer SLURM jobs
    train = jobs[jobs["comment"].str.contains("train_variant")]
    assert train["id"].map(lambda i: "gpu" in subprocess.run(["scontrol", "show", "job", str(i)], capture_output=True,
                                                              text=True).stdout).all()

    # nothing written outside results/, logs/, benchmarks/ (and Snakemake's .snakemake/)
    assert {p.name for p in workdir.iterdir()} <= set(WORKFLOW_FILES) | {
        "tiny.yaml", "test-profile", "snakemake.out", "results", "logs", "benchmarks", ".snakemake"}

    # the same outputs as the local run: data and preprocessing bit for bit ...
    for rel in ["results/data/multi/fovs/fov000/rapid.tif", "results/normalised/multi/fov001/rapid.tif",
                "results/dcfi/single/fov000/dcfi.tif", "results/corrected/multi/fov002/rapid.tif"]:
        assert _same_arrays(workdir / rel, tiny_run / rel), rel
    for rel in ["results/distortion/profile.csv", "results/split.yaml"]:
        assert (workdir / rel).read_text() == (tiny_run / rel).read_text(), rel
    # ... and every metric of every method both ran (float32 training on the same thread count)
    ours = pd.read_csv(workdir / "results/tables/metrics.csv")
    theirs = pd.read_csv(tiny_run / "results/tables/metrics.csv")
    assert set(ours["method"]) == set(KEEP_VARIANTS + KEEP_BASELINES + ["rapid", "DCFI", "slow", "pretrained-DLF-5F"])
    merged = ours.merge(theirs, on=["fov", "frame", "method", "metric"], suffixes=("_slurm", "_local"),
                        validate="one_to_one")
    assert len(merged) == len(ours)
    # CARE trains for its variant's measured seconds (evaluate.care.budget: seconds), which depend on
    # the machine's load: its numbers may differ between two runs; it must have run, with finite numbers
    care = merged["method"] == "CARE"
    assert care.any() and np.isfinite(merged.loc[care & (merged["metric"] == "psnr"), "value_slurm"]).all()
    same = merged[~care]
    np.testing.assert_allclose(same["value_slurm"], same["value_local"], rtol=1e-3, atol=1e-3, equal_nan=True)
