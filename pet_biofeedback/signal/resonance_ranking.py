"""Ranking the paced rates of a resonance assessment on the six criteria (the therapist's table).

hrv-methods.md §7 "Choosing the rate": every rate is ranked on every criterion
(`signal.resonance.rate_criteria`), the rate that wins most criteria is the table's candidate,
and conflicts are resolved favouring phase synchrony and peak-to-trough amplitude. The
recommendation itself comes from the whole curve across rates (`signal.resonance_estimate`);
this table stays for the therapist (§7: show the ranking instead of silently auto-choosing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Final, Literal

import numpy as np

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal._typing import FloatArray, IntArray
from pet_biofeedback.signal.resonance import CRITERIA, RateCriteria

__all__ = [
    "CONFIDENCE_CLEAR",
    "CONFIDENCE_LIKELY",
    "CRITERION_WEIGHTS",
    "Confidence",
    "ResonanceRanking",
    "rank_rates",
]

# Our own weights (no published weights exist, hrv-methods.md §7 "Choosing the rate"):
# practitioners favour phase synchrony and peak-to-trough amplitude when criteria conflict, so
# those count twice. The LF power, LF peak, smoothness and peak count all measure how much of
# one slow rhythm there is, largely the same thing the amplitude measures, so once each.
CRITERION_WEIGHTS: Final = (2.0, 2.0, 1.0, 1.0, 1.0, 1.0)
# Confidence from the margin of weighted wins between the best and the second-best rate, as
# a share of all weight (our choice): ≥ 0.5 one rate won clearly more, ≥ 0.25 likely.
CONFIDENCE_CLEAR: Final = 0.5
CONFIDENCE_LIKELY: Final = 0.25

Confidence = Literal["clear", "likely", "close call"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ResonanceRanking:
    """Every rate ranked on every criterion, and the candidate resonance rate.

    Attributes
    ----------
    breaths_per_min : ndarray of float64, shape (n_rates,)
        The rates, in the order given.
    values : ndarray of float64, shape (n_rates, 6)
        The ranked value of each criterion (columns in `CRITERIA` order): |phase lag| in
        degrees, peak-to-trough bpm, LF power ms², LF peak ms²/Hz, smoothness, LF peak count.
    ranks : ndarray of intp, shape (n_rates, 6)
        1 = best; tied rates share the better rank; NaN values rank last.
    wins : ndarray of float64, shape (n_rates,)
        Weighted count of criteria on which the rate ranks first (`CRITERION_WEIGHTS`).
    score : ndarray of float64, shape (n_rates,)
        Weighted mean rank score in [0, 1]: 1 best on everything, 0 worst on everything.
    candidate_breaths_per_min : float
        The candidate: most weighted wins, ties broken by ``score``, then by peak-to-trough.
    runner_up_breaths_per_min : float
        The next rate by the same order (NaN with one rate).
    confidence : {"clear", "likely", "close call"}
        From ``confidence_value`` (≥ 0.5 clear, ≥ 0.25 likely).
    confidence_value : float
        (wins of the candidate − wins of the runner-up) / total weight, in [0, 1].
    explanation : str
        Why, in plain words.
    criteria : tuple of RateCriteria
        The inputs, in the order given.
    """

    breaths_per_min: FloatArray
    values: FloatArray
    ranks: IntArray
    wins: FloatArray
    score: FloatArray
    candidate_breaths_per_min: float
    runner_up_breaths_per_min: float
    confidence: Confidence
    confidence_value: float
    explanation: str
    criteria: tuple[RateCriteria, ...]

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value.flags.writeable = False


# --- Ranking ---------------------------------------------------------------------------------
def _criterion_values(criteria: tuple[RateCriteria, ...]) -> FloatArray:
    """(n_rates, 6) values oriented so that larger is better; NaN = no value."""
    cols = np.array(
        [
            (
                -abs(c.phase_lag_deg),
                c.peak_to_trough_bpm,
                c.lf_power_ms2,
                c.lf_peak_psd_ms2_per_hz,
                c.smoothness,
                -c.n_lf_peaks if c.n_lf_peaks >= 1 else math.nan,  # no peak at all: no value
            )
            for c in criteria  # one row per rate: a handful
        ],
        dtype=np.float64,
    ).reshape(len(criteria), len(CRITERIA))
    return cols


def _ranks(better: FloatArray) -> IntArray:
    """1 + the number of rates strictly better, per column; NaN ranks after every value."""
    filled = np.where(np.isnan(better), -np.inf, better)
    n_better = np.sum(filled[None, :, :] > filled[:, None, :], axis=1)
    ranks = 1 + n_better
    worst = filled.shape[0]
    return np.asarray(np.where(np.isnan(better), worst, ranks), dtype=np.intp)


_PLAIN: Final = {
    "phase": "the closest match between heart rate and breathing ({:.0f}°)",
    "peak_to_trough": "the largest heart-rate swings ({:.1f} bpm)",
    "lf_power": "the most slow heart-rate variation ({:.0f} ms²)",
    "lf_peak": "the strongest single slow rhythm (peak {:.0f} ms²/Hz)",
    "smoothness": "the smoothest, most wave-like heart rhythm (ratio {:.1f})",
    "lf_peaks": "a single clean rhythm ({:.0f} peak)",
}
_SHORT: Final = {
    "phase": "heart-rate–breathing match ({:.0f}°)",
    "peak_to_trough": "heart-rate swings ({:.1f} bpm)",
    "lf_power": "slow variation ({:.0f} ms²)",
    "lf_peak": "rhythm strength ({:.0f} ms²/Hz)",
    "smoothness": "smoothness ({:.1f})",
    "lf_peaks": "number of rhythms ({:.0f})",
}


def _shown(values: FloatArray, j: int) -> float:
    """The value people read for criterion ``j`` (|lag|, peak count positive)."""
    return abs(float(values[j]))


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _explain(
    rates: FloatArray, values: FloatArray, ranks: IntArray, best: int, second: int | None
) -> str:
    """Plain-words reasons: what the candidate won, and where the runner-up came close."""
    best_rate = f"{rates[best]:.1f} breaths/min"
    won = [
        _PLAIN[name].format(_shown(values[best], j))
        for j, name in enumerate(CRITERIA)
        if ranks[best, j] == 1 and not np.isnan(values[best, j])
    ]
    if won:
        text = f"{best_rate} gave {_join(won)}."
    else:
        text = f"{best_rate} ranked best overall without winning any single criterion."
    if second is None:
        return text
    # Where the runner-up was first or second, alone at that rank (ties say nothing).
    alone = np.sum(ranks == ranks[second], axis=0) == 1
    close = [
        _SHORT[name].format(_shown(values[second], j))
        for j, name in enumerate(CRITERIA)
        if ranks[second, j] <= 2 and alone[j] and not np.isnan(values[second, j])
    ]
    second_rate = f"{rates[second]:.1f}"
    if close:
        text += f" {second_rate} was close behind on {_join(close)}."
    else:
        text += f" {second_rate} came next."
    return text


def rank_rates(criteria: tuple[RateCriteria, ...] | list[RateCriteria]) -> ResonanceRanking:
    """Rank every paced rate on every criterion and pick the candidate resonance rate.

    Parameters
    ----------
    criteria : sequence of RateCriteria
        One per block (one per rate; rates must differ), e.g. from `rate_criteria`.

    Returns
    -------
    ResonanceRanking
        Ranks, weighted wins and scores per rate, the candidate, a confidence and a
        plain-words explanation.

    Raises
    ------
    SignalInputError
        No criteria, or the same rate twice.

    Notes
    -----
    hrv-methods.md §7 "Choosing the rate": each rate is ranked on each criterion (best |phase
    lag|, largest peak-to-trough, LF power, LF peak and smoothness, fewest LF peaks; NaN
    ranks last; ties share the better rank). The candidate is the rate with the most
    weighted wins (rank 1; `CRITERION_WEIGHTS`: phase and peak-to-trough count twice — our
    own choice, no published weights exist). Ties go to the higher weighted mean rank score
    Σ w·(n − rank)/(n − 1) / Σ w, then to the larger peak-to-trough amplitude. Confidence is
    the weighted-win margin over the runner-up as a share of all weight. Show the whole table
    to the therapist (§7) rather than only the candidate.

    Examples
    --------
    >>> def c(r, lag, pt):
    ...     return RateCriteria(breaths_per_min=r, phase_lag_deg=lag, phase_plv=0.9,
    ...         peak_to_trough_bpm=pt, lf_power_ms2=pt * 100, lf_peak_psd_ms2_per_hz=pt * 1e3,
    ...         lf_peak_hz=r / 60, smoothness=pt / 5, n_lf_peaks=1, n_beats=120,
    ...         n_breaths=10, duration_s=100.0, reference="pacer")
    >>> ranking = rank_rates([c(6.0, -30.0, 9.0), c(5.5, 5.0, 14.0), c(5.0, 25.0, 11.0)])
    >>> ranking.candidate_breaths_per_min, ranking.confidence
    (5.5, 'clear')
    """
    crit = tuple(criteria)
    if not crit:
        raise SignalInputError("rank_rates needs the criteria of at least one rate")
    rates = np.array([c.breaths_per_min for c in crit], dtype=np.float64)
    if np.unique(rates).size != rates.size:
        raise SignalInputError("rank_rates got the same breathing rate twice")
    n = rates.size
    values = _criterion_values(crit)
    ranks = _ranks(values)
    w = np.asarray(CRITERION_WEIGHTS, dtype=np.float64)
    wins = np.asarray((ranks == 1) & ~np.isnan(values), dtype=np.float64) @ w
    points = (n - ranks) / (n - 1) if n > 1 else np.ones_like(ranks, dtype=np.float64)
    score = np.asarray(points @ w / w.sum(), dtype=np.float64)
    p2t = np.nan_to_num(values[:, CRITERIA.index("peak_to_trough")], nan=-np.inf)
    order = np.lexsort((-p2t, -score, -wins))  # last key first: wins, then score, then p2t
    best = int(order[0])
    second = int(order[1]) if n > 1 else None
    margin = float((wins[best] - wins[second]) / w.sum()) if second is not None else 1.0
    label: Confidence = (
        "clear"
        if margin >= CONFIDENCE_CLEAR
        else "likely"
        if margin >= CONFIDENCE_LIKELY
        else "close call"
    )
    # Printed values: the |lag| and peak count the way people read them.
    return ResonanceRanking(
        breaths_per_min=rates,
        values=np.abs(values),
        ranks=ranks,
        wins=wins,
        score=score,
        candidate_breaths_per_min=float(rates[best]),
        runner_up_breaths_per_min=float(rates[second]) if second is not None else math.nan,
        confidence=label,
        confidence_value=margin,
        explanation=_explain(rates, values, ranks, best, second),
        criteria=crit,
    )
