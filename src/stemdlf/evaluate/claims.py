"""The paper's claims, checked against a run's summary table and stated with their numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Claim", "check_claims", "per_fov", "single_fov_budget", "recommended_claims", "zero_shot_claims",
           "self_supervised_claims",
           "claims_markdown"]


@dataclass
class Claim:
    """One claim: its text, whether it holds on this data (None: not testable here), the evidence."""

    text: str
    holds: bool | None
    evidence: str


def _mean(summary: pd.DataFrame, method: str, metric: str) -> float:
    row = summary[(summary["method"].astype(str) == method) & (summary["metric"] == metric)]
    return float(row["mean"].iloc[0]) if len(row) else float("nan")


def per_fov(metrics: pd.DataFrame, a: str, b: str, metric: str, unit: str, higher_is_better: bool = True) -> str:
    """How a comparison goes FOV by FOV: on how many test FOVs ``a`` wins, the medians, the worst FOV.

    A mean over FOVs can hide that one FOV decides it (a FOV whose intensity range the training
    FOVs did not cover, for example): this says so.
    """
    rows = metrics[(metrics["metric"] == metric) & metrics["method"].astype(str).isin([a, b])]
    table = rows.groupby(["fov", "method"])["value"].mean().unstack()
    if a not in table or b not in table:
        return ""
    table = table[[a, b]].dropna()
    if table.empty:
        return ""
    diff = (table[a] - table[b]) * (1 if higher_is_better else -1)
    worst = diff.idxmin()
    return (f"; better on {int((diff > 0).sum())} of {len(diff)} test FOVs (medians {table[a].median():.2f} vs "
            f"{table[b].median():.2f} {unit}; least favourable {worst}: {table.at[worst, a]:.2f} vs "
            f"{table.at[worst, b]:.2f})")


def single_fov_budget(trainings: dict[str, dict], histories: dict[str, pd.DataFrame]) -> str:
    """What the single-FOV variants were given and where their training ended, for the claim on frames.

    The paper expected more frames of one FOV to give a better filter. Whether they can depends on
    whether the training draws more patches than a few frames hold: this states how many patches
    each variant drew (steps x batch), from how many frames, and each one's final validation loss
    (on its own held-out band of the FOV), so that a reader sees whether frames were what limited it.

    Parameters
    ----------
    trainings : dict
        Variant name -> its ``training.json`` (``frames`` and ``training`` with ``epochs``,
        ``steps_per_epoch``, ``batch_size``, ``patch_size``).
    histories : dict
        Variant name -> its ``history.csv`` (``val_loss`` per epoch).
    """
    parts, losses, drawn = [], [], []
    for name, record in trainings.items():
        t = record["training"]
        patches = int(t["epochs"]) * int(t["steps_per_epoch"]) * int(t["batch_size"])
        loss = float(histories[name]["val_loss"].iloc[-1])
        losses.append(loss)
        drawn.append(patches)
        parts.append(f"{name} {patches / int(record['frames']):.3g} patches per frame, final val_loss {loss:.3g}")
    if not parts:
        return ""
    spread = (max(losses) - min(losses)) / min(losses) * 100
    why = (f"every variant drew the same {drawn[0]:,} training patches (steps x batch), so more frames of one FOV "
           "spread the same training over more noise realisations of the same structure; a longer training "
           "(config/paper.yaml) is where frames can matter" if len(set(drawn)) == 1 else
           "the variants drew different numbers of patches")
    return f"; {'; '.join(parts)} (losses within {spread:.0f}% of each other): {why}"


def _compare(summary, a, b, metric, unit, higher_is_better=True, metrics: pd.DataFrame | None = None) -> Claim | None:
    va, vb = _mean(summary, a, metric), _mean(summary, b, metric)
    if np.isnan(va) or np.isnan(vb):
        return Claim(f"{a} beats {b} on {metric}", None, f"{b if np.isnan(vb) else a} was not evaluated")
    holds = va > vb if higher_is_better else va < vb
    detail = per_fov(metrics, a, b, metric, unit, higher_is_better) if metrics is not None else ""
    return Claim(f"{a} beats {b} on {metric}", bool(holds), f"{va:.3f} vs {vb:.3f} {unit}{detail}")


def check_claims(summary: pd.DataFrame, dlf_slow: str = "DLF-Slow", dlf_dcfi: str = "DLF-DCFI",
                 single_fov: list[str] | None = None, recommended: str | None = None,
                 metrics: pd.DataFrame | None = None, single_fov_training: str = "",
                 zero_shot: list[str] | None = None, self_supervised: str | None = None,
                 slow_free: list[str] | None = None, slow_trained: list[str] | None = None) -> list[Claim]:
    """Each claim of the paper (and the comparisons it did not make) on this run.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``summary.csv`` (method, metric, mean, ...).
    dlf_slow, dlf_dcfi : str
        Names of the DLF-Slow and DLF-DCFI variants.
    single_fov : list of str
        Single-FOV variants in increasing order of training frames (DLF-100 ... DLF-2500).
    recommended : str, optional
        The project's recommended filter: checked against every other method on the noise-free
        truth (PSNR, SSIM, spectral cutoff) where there is one.
    metrics : pandas.DataFrame, optional
        ``metrics.csv`` (fov, frame, method, metric, value): the PSNR claims then also say how
        they go test FOV by test FOV (:func:`per_fov`).
    single_fov_training : str
        :func:`single_fov_budget` of the single-FOV variants: added to the claim on frames when it
        fails, as the evidence of why.
    zero_shot : list of str, optional
        Shipped filters applied as they are (``pretrained-<name>``): :func:`zero_shot_claims`.
    self_supervised, slow_free, slow_trained : optional
        The filter trained on the rapid frames alone, and what it is compared with
        (:func:`self_supervised_claims`).
    """
    claims = []
    for other in ("rapid", "DCFI", "BM3D", dlf_dcfi):  # the paper's Fig. 3a
        claims.append(_compare(summary, dlf_slow, other, "psnr", "dB", metrics=metrics))
    for other in ("BM3D-PSD", "BM3D-deblur", "CARE", "NLM", "Gaussian"):  # beyond the paper
        claims.append(_compare(summary, dlf_slow, other, "psnr", "dB", metrics=metrics))
    change = summary[(summary["method"].astype(str) == dlf_slow) & (summary["metric"].isin(["psnr", "psnr_band"]))]
    if len(change):
        pct = dict(zip(change["metric"], change["change_vs_rapid_pct"]))
        claims.append(Claim(f"{dlf_slow} raises PSNR over rapid (paper: +7%, +13% within 20,000-40,000)",
                            bool(pct.get("psnr", np.nan) > 0),
                            f"{pct.get('psnr', np.nan):+.1f}% overall, "
                            f"{pct.get('psnr_band', np.nan):+.1f}% in the band"))
    # Fig. 2-3: the scan-direction blur; against the noise-free truth where there is one (the slow
    # scan's own noise would otherwise count as detail)
    truth = not np.isnan(_mean(summary, dlf_slow, "spectral_cutoff_truth_px"))
    cutoff = "spectral_cutoff_truth_px" if truth else "spectral_cutoff_px"
    against = "the noise-free truth" if truth else "the slow scan above its noise floor"
    for other in (dlf_dcfi, "BM3D", "DCFI"):
        claim = _compare(summary, dlf_slow, other, cutoff, f"px (shortest period matching {against})",
                         higher_is_better=False)
        claim.text = f"{dlf_slow} keeps finer scan-direction detail than {other} (spectral cutoff)"
        claims.append(claim)
    if single_fov:
        values = [_mean(summary, v, "psnr") for v in single_fov]
        evidence = ", ".join(f"{v} {x:.2f} dB" for v, x in zip(single_fov, values))
        if any(np.isnan(values)):
            claims.append(Claim("single-FOV variants improve with frames", None, evidence))
        else:
            monotone = bool(np.all(np.diff(values) > 0))
            claims.append(Claim("single-FOV variants improve with the number of training frames", monotone,
                                evidence + ("" if monotone else single_fov_training)))
            best = _mean(summary, dlf_slow, "psnr")
            claims.append(Claim(f"single-FOV variants stay below {dlf_slow}", bool(max(values) < best),
                                f"best single-FOV {max(values):.2f} dB vs {dlf_slow} {best:.2f} dB"))
    truth_dlf, truth_slow = _mean(summary, dlf_slow, "psnr_truth"), _mean(summary, "slow", "psnr_truth")
    if np.isnan(truth_dlf) or np.isnan(truth_slow):
        claims.append(Claim(f"{dlf_slow} is closer to the noise-free truth than the slow scan", None,
                            "no ground truth (real data)"))
    else:
        claims.append(Claim(f"{dlf_slow} is closer to the noise-free truth than the slow scan itself",
                            bool(truth_dlf > truth_slow), f"PSNR vs truth {truth_dlf:.2f} dB vs {truth_slow:.2f} dB"))
    if recommended:
        claims += recommended_claims(summary, recommended)
    for shipped in zero_shot or []:
        claims += zero_shot_claims(summary, shipped, recommended, metrics)
    if self_supervised:
        claims += self_supervised_claims(summary, self_supervised, slow_free or [], slow_trained or [], metrics)
    return claims


def zero_shot_claims(summary: pd.DataFrame, shipped: str, recommended: str | None,
                     metrics: pd.DataFrame | None = None) -> list[Claim]:
    """What a user without slow scans gets: a shipped filter applied as it is, against DCFI and the trained filter.

    Against the noise-free truth where there is one, else against the slow scan.
    """
    metric = "psnr_truth" if not np.isnan(_mean(summary, shipped, "psnr_truth")) else "psnr"
    out = []
    for other in ("DCFI", "rapid", *([recommended] if recommended else [])):
        claim = _compare(summary, shipped, other, metric, "dB", metrics=metrics)
        trained = " trained on this data" if other == recommended else ""
        claim.text = (f"{shipped}, applied as it is (no slow scan of this data), beats {other}{trained} "
                      f"on {metric}")
        out.append(claim)
    return out


def self_supervised_claims(summary: pd.DataFrame, name: str, slow_free: list[str], slow_trained: list[str],
                           metrics: pd.DataFrame | None = None) -> list[Claim]:
    """The filter trained on the rapid frames alone against what a user without slow scans has, and with them.

    Parameters
    ----------
    summary, metrics : pandas.DataFrame
        As for :func:`check_claims`.
    name : str
        The filter (DLF-Self).
    slow_free : list of str
        Methods that read no slow scan of this data (the shipped filters applied as they are, DCFI,
        DLF-DCFI, the classical baselines); those the run lacks are left out.
    slow_trained : list of str
        Filters trained on this data's slow scans: it should come within 0.5 dB of the best of them.
    """
    metric = "psnr_truth" if not np.isnan(_mean(summary, name, "psnr_truth")) else "psnr"
    if np.isnan(_mean(summary, name, metric)):
        return [Claim(f"{name} beats every method that reads no slow scan", None, "the variant was not evaluated")]
    present = set(summary["method"].astype(str))
    out = []
    for other in [m for m in slow_free if m in present]:
        for measure, unit in ((metric, "dB"), (metric.replace("psnr", "ssim"), "")):
            claim = _compare(summary, name, other, measure, unit, metrics=metrics if unit else None)
            claim.text = f"{name} (no slow scan) beats {other} on {measure}"
            out.append(claim)
    trained = {m: _mean(summary, m, metric) for m in slow_trained if m in present}
    trained = {m: v for m, v in trained.items() if not np.isnan(v)}
    if trained:
        best = max(trained, key=trained.get)
        ours = _mean(summary, name, metric)
        out.append(Claim(f"{name} (no slow scan) comes within 0.5 dB of the best filter trained on this data's slow "
                         f"scans on {metric}", bool(ours >= trained[best] - 0.5),
                         f"{ours:.2f} vs {best} {trained[best]:.2f} dB ({ours - trained[best]:+.2f} dB)"))
    return out


def recommended_claims(summary: pd.DataFrame, recommended: str) -> list[Claim]:
    """The project's targets for its recommended filter, against the noise-free truth."""
    if np.isnan(_mean(summary, recommended, "psnr_truth")):
        return [Claim(f"{recommended} is the best method against the noise-free truth", None,
                      "no ground truth (real data), or the variant was not evaluated")]
    others = [m for m in dict.fromkeys(summary["method"].astype(str)) if m != recommended]
    out = []
    for metric, unit, higher in (("psnr_truth", "dB", True), ("ssim_truth", "", True)):
        values = {m: _mean(summary, m, metric) for m in others}
        values = {m: v for m, v in values.items() if not np.isnan(v)}
        if not values or np.isnan(_mean(summary, recommended, metric)):
            continue  # not measured
        best = max(values, key=values.get) if higher else min(values, key=values.get)
        ours = _mean(summary, recommended, metric)
        out.append(Claim(f"{recommended} has the best {metric} of every method (incl. the slow scan itself)",
                         bool(ours > values[best]),
                         f"{ours:.3f} vs next best {best} {values[best]:.3f} {unit}".strip()))
    care = _mean(summary, "CARE", "psnr_truth")
    if not np.isnan(care):
        ours = _mean(summary, recommended, "psnr_truth")
        out.append(Claim(f"{recommended} is at least 1 dB above CARE against the truth "
                         "(same pairs, same training time)",
                         bool(ours - care >= 1.0), f"{ours:.2f} vs {care:.2f} dB ({ours - care:+.2f} dB)"))
    cutoff = _mean(summary, recommended, "spectral_cutoff_truth_px")
    slow_cutoff = _mean(summary, "slow", "spectral_cutoff_truth_px")
    context = f" (the slow scan itself: {slow_cutoff:.2f} px)" if np.isfinite(slow_cutoff) else ""
    out.append(Claim(f"{recommended} keeps scan-direction detail down to 3 px against the truth (paper: ~4 px)",
                     bool(cutoff <= 3.0), f"spectral cutoff {cutoff:.2f} px{context}"))
    return out


def claims_markdown(claims: list[Claim]) -> str:
    """``results/claims.md``: one line per claim, holds / fails / not testable, with its numbers."""
    mark = {True: "holds", False: "fails", None: "not tested"}
    lines = ["# The paper's claims on this run", "",
             "Generated from `results/tables/summary.csv` (means over the evaluated test frames) and, FOV by "
             "FOV, `results/tables/metrics.csv`.", "",
             "| claim | on this data | numbers |", "|---|---|---|"]
    lines += [f"| {c.text} | **{mark[c.holds]}** | {c.evidence} |" for c in claims]
    return "\n".join(lines) + "\n"
