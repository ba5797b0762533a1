"""The resonance rate estimated from the curve across the tested rates; the recommendation.

hrv-methods.md §6.4–6.5, §7. Voting per block (`signal.resonance_ranking`) throws away what the
rates say together. The physiology (the baroreflex loop is a resonator, §6.5) says two things
about the curve across breathing rates f:

* **Phase.** At resonance heart rate and breathing are in phase (0°); below it heart rate
  leads (positive lag), above it lags (negative), and the phase falls monotonically through
  resonance. The estimate is where the phase crosses 0° between two neighbouring tested
  rates, linearly interpolated in ln f (for a resonator the phase is −atan(Q (f/f_r − f_r/f)) =
  −atan(2Q sinh(ln f − ln f_r)), close to linear in ln f within ± one step of f_r). The lags
  are unwrapped across rates first (a noisy block may read 179° where its neighbour reads
  −178°). With several downward crossings (noise), the steepest; with none, the straight line
  through the two end rates on the side where the crossing must lie, extrapolated at most half
  a step beyond the tested range.
* **Amplitude.** The heart-rate oscillation peaks at resonance. For a resonator
  ln(gain) = −½ ln(1 + x²) ≈ −½ x² with x ≈ 2Q (ln f − ln f_r): a parabola in ln f. The
  estimate is the vertex of the parabola through ln(peak-to-trough) at the largest rate and
  its two neighbours (the three end rates when the largest is at an end), kept within half a
  step of the tested range; a parabola that opens upwards (no peak) gives the largest rate.
  Peak-to-trough (criterion 2) is used: on simulated people it scattered least of the
  amplitude criteria (sd 0.23 breaths/min against 0.24–0.25 for LF power and LF peak).

The two are combined as a weighted mean with `PHASE_WEIGHT` (our choice, from their measured
reliability: on simulated people (firmware_bridge.simulated, seeds 10–59 at 4.5 … 6.5
breaths/min, lag removed with the chest accelerometer) the phase crossing scattered with sd
0.12 breaths/min and the amplitude vertex with sd 0.23, nearly uncorrelated (r ≈ 0.1);
inverse-variance weights are 0.78 : 0.22, rounded to 0.8 : 0.2). The recommended rate is the
tested rate nearest the combined estimate; both are reported ("about 5.4 breaths/min; of the
rates tested, 5.5").

The phase needs the breathing the person actually did as its reference (§6.4): against the
pacer, a person lagging it by τ reads −360°·f·τ at every rate, which moves the crossing to a
slower rate (0.3 s ≈ −0.2 breaths/min). `signal.resonance.rate_criteria` removes the lag when
a measured breathing waveform (chest accelerometer) is given; without one the phase estimate
keeps that bias, and the explanation says the pacer was the reference.

Confidence (our choice) is the weakest of three numbers in [0, 1]:

* agreement — 1 − |phase estimate − amplitude estimate| / `AGREEMENT_SPAN_BPM` (0.5
  breaths/min, one tested step): do the two views of the physiology point to the same rate?
* sharpness — the amplitude parabola's fall one step (0.5 breaths/min) from its vertex, as a
  share of `SHARP_FALL` (10 %, our choice: a resonator with Q = 3, the simulator's default,
  falls ≈ 11 % from 5.5 to 6.0 breaths/min; no published figure): a flat curve cannot single
  out a rate.
* margin — how far the estimate is from the midpoint between two tested rates: 1 on a tested
  rate, 0 exactly halfway (then the two neighbours are equally good).

≥ `CONFIDENCE_CLEAR` (0.5) is "clear", ≥ `CONFIDENCE_LIKELY` (0.2) "likely", else "close call".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from pet_biofeedback.signal._typing import FloatArray
from pet_biofeedback.signal.resonance import RateCriteria
from pet_biofeedback.signal.resonance_ranking import Confidence, ResonanceRanking, rank_rates

__all__ = [
    "AGREEMENT_SPAN_BPM",
    "CONFIDENCE_CLEAR",
    "CONFIDENCE_LIKELY",
    "PHASE_WEIGHT",
    "SHARP_FALL",
    "ResonanceEstimate",
    "amplitude_peak_breaths_per_min",
    "estimate_resonance",
    "phase_crossing_breaths_per_min",
]

PHASE_WEIGHT: Final = 0.8  # module docstring: inverse-variance weight of the phase crossing
AGREEMENT_SPAN_BPM: Final = 0.5  # phase and amplitude estimates this far apart: agreement 0
SHARP_FALL: Final = 0.10  # amplitude fall one step from the vertex that counts as fully sharp
SHARPNESS_STEP_BPM: Final = 0.5  # the step over which the fall is measured (Lehrer's step)
CONFIDENCE_CLEAR: Final = 0.5
CONFIDENCE_LIKELY: Final = 0.2


@dataclass(frozen=True, slots=True, kw_only=True)
class ResonanceEstimate:
    """The resonance rate estimated from the curve across rates, and the recommendation.

    Attributes
    ----------
    recommended_breaths_per_min : float
        The tested rate nearest ``estimated_breaths_per_min``.
    estimated_breaths_per_min : float
        The continuous estimate, breaths/min: the weighted mean of the phase crossing and the
        amplitude peak (one alone when the other has no value; the table's candidate when
        neither has).
    phase_crossing_breaths_per_min : float
        Where the HR–breathing phase crosses 0°, breaths/min; NaN with fewer than 2 rates
        with a phase.
    amplitude_peak_breaths_per_min : float
        Vertex of the peak-to-trough curve, breaths/min; NaN with fewer than 3 rates with a
        peak-to-trough value.
    method : str
        How the estimate was made, in words.
    agreement, sharpness, margin : float
        The parts of the confidence, each in [0, 1] (module docstring); NaN when not
        measurable (agreement with only one estimate, sharpness without a parabola).
    confidence : {"clear", "likely", "close call"}
        From ``confidence_value``.
    confidence_value : float
        min(agreement, sharpness, margin) over those measurable, in [0, 1].
    reference : {"pacer", "measured", "mixed"}
        The breathing reference of the phases used.
    explanation : str
        Why, in plain words, followed by the table's explanation.
    ranking : ResonanceRanking
        The six-criteria table (`rank_rates`), for the therapist.
    """

    recommended_breaths_per_min: float
    estimated_breaths_per_min: float
    phase_crossing_breaths_per_min: float
    amplitude_peak_breaths_per_min: float
    method: str
    agreement: float
    sharpness: float
    margin: float
    confidence: Confidence
    confidence_value: float
    reference: str
    explanation: str
    ranking: ResonanceRanking


def _sorted_finite(rates: FloatArray, values: FloatArray) -> tuple[FloatArray, FloatArray]:
    keep = np.isfinite(values)
    order = np.argsort(rates[keep])
    return rates[keep][order], values[keep][order]


def _clip_to_range(u: float, u_rates: FloatArray) -> float:
    """Keep ln-rate ``u`` within half an end step of the tested range."""
    lo = u_rates[0] - 0.5 * (u_rates[1] - u_rates[0])
    hi = u_rates[-1] + 0.5 * (u_rates[-1] - u_rates[-2])
    return float(np.clip(u, lo, hi))


def phase_crossing_breaths_per_min(rates_bpm: FloatArray, phase_lag_deg: FloatArray) -> float:
    """Where the HR–breathing phase crosses 0° going from slow to fast rates.

    Parameters
    ----------
    rates_bpm : ndarray of float64, shape (n,)
        The tested breathing rates, all different, any order.
    phase_lag_deg : ndarray of float64, shape (n,)
        Criterion 1 per rate (positive: heart rate leads); NaN = no value (left out).

    Returns
    -------
    float
        Breaths/min, within half an end step of the tested range (module docstring); NaN with
        fewer than 2 finite phases. Phases that never fall through 0° (rising only) give the
        rate whose phase is closest to 0°.

    Examples
    --------
    >>> rates = np.array([4.5, 5.0, 5.5, 6.0, 6.5])
    >>> round(phase_crossing_breaths_per_min(rates, np.array([50, 30, 10, -10, -30.0])), 2)
    5.74
    """
    r, lag = _sorted_finite(rates_bpm, phase_lag_deg)
    if r.size < 2:
        return math.nan
    u = np.log(r)
    p = np.unwrap(np.radians(lag))
    nearest = int(np.argmin(np.abs(p)))
    p = p - 2.0 * math.pi * round(float(p[nearest]) / (2.0 * math.pi))  # the 0° branch
    falls = np.flatnonzero((p[:-1] >= 0.0) & (p[1:] < 0.0))
    if falls.size:
        i = int(falls[np.argmax(p[falls] - p[falls + 1])])  # the steepest fall
    elif np.all(p >= 0.0):
        i = r.size - 2  # still leading at the fastest rate: resonance is faster
    elif np.all(p < 0.0):
        i = 0  # already lagging at the slowest rate: resonance is slower
    else:
        return float(r[nearest])  # phase rises through 0°: not a resonance's shape
    slope = (p[i + 1] - p[i]) / (u[i + 1] - u[i])
    if slope >= 0.0:
        return float(r[nearest])
    return float(np.exp(_clip_to_range(float(u[i] - p[i] / slope), u)))


def _amplitude_parabola(rates_bpm: FloatArray, amplitude: FloatArray) -> tuple[float, float] | None:
    """(vertex rate, curvature of ln amplitude in ln rate) or None without 3 positive values."""
    r, a = _sorted_finite(rates_bpm, np.where(amplitude > 0, amplitude, np.nan))
    if r.size < 3:
        return None
    u, y = np.log(r), np.log(a)
    k = int(np.argmax(y))
    j = min(max(k, 1), r.size - 2)
    idx = np.array([j - 1, j, j + 1])
    c2, c1, _ = np.polyfit(u[idx], y[idx], 2)
    if c2 >= 0.0:
        return float(r[k]), float(c2)
    return float(np.exp(_clip_to_range(-c1 / (2.0 * c2), u))), float(c2)


def amplitude_peak_breaths_per_min(rates_bpm: FloatArray, amplitude: FloatArray) -> float:
    """Vertex of the parabola through ln(amplitude) in ln(rate) around the largest amplitude.

    Parameters
    ----------
    rates_bpm : ndarray of float64, shape (n,)
        The tested breathing rates, all different, any order.
    amplitude : ndarray of float64, shape (n,)
        An amplitude per rate (peak-to-trough bpm); NaN or ≤ 0 = no value (left out).

    Returns
    -------
    float
        Breaths/min within half an end step of the tested range; the rate of the largest
        amplitude when the parabola opens upwards; NaN with fewer than 3 values.

    Examples
    --------
    >>> rates = np.array([4.5, 5.0, 5.5, 6.0, 6.5])
    >>> round(amplitude_peak_breaths_per_min(rates, np.array([8, 11, 12, 11, 8.0])), 2)
    5.48
    """
    fit = _amplitude_parabola(rates_bpm, amplitude)
    return math.nan if fit is None else fit[0]


def _margin(est: float, recommended: float, rates: FloatArray) -> float:
    """1 on a tested rate, 0 halfway to the neighbouring tested rate on the estimate's side."""
    s = np.sort(rates)
    if s.size < 2:
        return 1.0
    k = int(np.searchsorted(s, recommended))
    if est >= recommended:
        gap = s[k + 1] - s[k] if k + 1 < s.size else s[k] - s[k - 1]
    else:
        gap = s[k] - s[k - 1] if k > 0 else s[1] - s[0]
    return float(np.clip(1.0 - 2.0 * abs(est - recommended) / gap, 0.0, 1.0))


def _label(value: float) -> Confidence:
    if value >= CONFIDENCE_CLEAR:
        return "clear"
    return "likely" if value >= CONFIDENCE_LIKELY else "close call"


def _explain(
    est: float,
    recommended: float,
    phase: float,
    amp: float,
    parts: dict[str, float],
    label: Confidence,
    reference: str,
    peak_to_trough_at_recommended: float,
) -> str:
    """Plain words: the estimate, what each view of the physiology said, and why this confidence."""
    text = f"About {est:.1f} breaths/min; of the rates tested, {recommended:.1f}."
    views = []
    if math.isfinite(phase):
        against = "your breathing" if reference == "measured" else "the pacer"
        views.append(
            f"heart rate and breathing came into step (0°, measured against {against}) at "
            f"about {phase:.1f}"
        )
    if math.isfinite(amp):
        swing = (
            f" ({peak_to_trough_at_recommended:.1f} bpm at {recommended:.1f})"
            if math.isfinite(peak_to_trough_at_recommended)
            else ""
        )
        views.append(f"the heart-rate swings were largest at about {amp:.1f}{swing}")
    if views:
        joined = " and ".join(views)
        text += " " + joined[0].upper() + joined[1:] + "."
    reasons = {
        "agreement": f"the two agree ({abs(phase - amp):.1f} breaths/min apart)"
        if parts["agreement"] >= CONFIDENCE_CLEAR
        else f"the two disagree by {abs(phase - amp):.1f} breaths/min",
        "sharpness": "the swings clearly fall off at the neighbouring rates"
        if parts["sharpness"] >= CONFIDENCE_CLEAR
        else "the swings hardly change between neighbouring rates",
        "margin": "the estimate is close to a tested rate"
        if parts["margin"] >= CONFIDENCE_CLEAR
        else "the estimate lies between two tested rates",
    }
    measured = {k: v for k, v in parts.items() if math.isfinite(v)}
    if measured:
        if label == "clear":
            why = [reasons[k] for k in measured]
        else:
            weakest = min(measured, key=measured.__getitem__)
            why = [reasons[weakest]]
        text += f" Confidence: {label} — " + "; ".join(why) + "."
    if reference == "pacer":
        text += (
            " Breathing was not measured (the strap sent no chest movement and no ECG), so "
            "the phase is against the pacer; a person who follows it late makes it read a "
            "slightly slower rate, at most one step. A strap that records ECG or chest "
            "movement (such as the Polar H10) measures the breathing and removes this."
        )
    return text


def estimate_resonance(
    criteria: tuple[RateCriteria, ...] | list[RateCriteria],
) -> ResonanceEstimate:
    """Estimate the resonance rate from the curve across rates and recommend a tested rate.

    Parameters
    ----------
    criteria : sequence of RateCriteria
        One per tested rate (rates all different), e.g. from `rate_criteria`.

    Returns
    -------
    ResonanceEstimate
        The continuous estimate, the nearest tested rate, the two estimates it combines,
        confidence and explanation, and the six-criteria table.

    Raises
    ------
    SignalInputError
        No criteria, or the same rate twice (`rank_rates`).

    Notes
    -----
    The module docstring: 0° phase crossing (weight `PHASE_WEIGHT`) and the peak of the
    peak-to-trough curve, both in ln(rate). With only one of them, that one; with neither,
    the table's candidate (method says so).

    Examples
    --------
    >>> from pet_biofeedback.signal.resonance import RateCriteria
    >>> def c(r, lag, pt):
    ...     return RateCriteria(breaths_per_min=r, phase_lag_deg=lag, phase_plv=0.9,
    ...         peak_to_trough_bpm=pt, lf_power_ms2=pt * 100, lf_peak_psd_ms2_per_hz=pt * 1e3,
    ...         lf_peak_hz=r / 60, smoothness=pt / 5, n_lf_peaks=1, n_beats=120,
    ...         n_breaths=10, duration_s=100.0, reference="measured")
    >>> e = estimate_resonance([c(6.5, -40, 9), c(6.0, -20, 12), c(5.5, 1, 14), c(5.0, 25, 12),
    ...                         c(4.5, 45, 9)])
    >>> e.recommended_breaths_per_min, round(e.estimated_breaths_per_min, 1), e.confidence
    (5.5, 5.5, 'clear')
    """
    ranking = rank_rates(criteria)
    crit = ranking.criteria
    rates = ranking.breaths_per_min
    lag = np.array([c.phase_lag_deg for c in crit], dtype=np.float64)
    p2t = np.array([c.peak_to_trough_bpm for c in crit], dtype=np.float64)
    phase = phase_crossing_breaths_per_min(rates, lag)
    fit = _amplitude_parabola(rates, p2t)
    amp = math.nan if fit is None else fit[0]
    if math.isfinite(phase) and math.isfinite(amp):
        est = PHASE_WEIGHT * phase + (1.0 - PHASE_WEIGHT) * amp
        method = (
            f"0° phase crossing (weight {PHASE_WEIGHT:g}) and peak of the heart-rate swings "
            f"(weight {1.0 - PHASE_WEIGHT:g}) across the rates"
        )
    elif math.isfinite(phase):
        est, method = phase, "0° phase crossing across the rates (too few swing values)"
    elif math.isfinite(amp):
        est, method = amp, "peak of the heart-rate swings across the rates (too few phases)"
    else:
        est = ranking.candidate_breaths_per_min
        method = "six-criteria ranking (too few phase and swing values for the curve)"
    recommended = float(rates[np.argmin(np.abs(rates - est))])

    agreement = (
        max(0.0, 1.0 - abs(phase - amp) / AGREEMENT_SPAN_BPM)
        if math.isfinite(phase) and math.isfinite(amp)
        else math.nan
    )
    sharpness = math.nan
    if fit is not None:
        vertex, c2 = fit
        step = math.log((vertex + SHARPNESS_STEP_BPM) / vertex)
        fall = 1.0 - math.exp(min(c2, 0.0) * step * step)
        sharpness = min(1.0, fall / SHARP_FALL)
    margin = _margin(est, recommended, rates)
    parts = {"agreement": agreement, "sharpness": sharpness, "margin": margin}
    value = min(v for v in parts.values() if math.isfinite(v))
    label = _label(value)
    refs = {c.reference for c, x in zip(crit, lag, strict=True) if math.isfinite(x)}
    reference = refs.pop() if len(refs) == 1 else ("mixed" if refs else "pacer")
    at_rec = float(p2t[np.flatnonzero(rates == recommended)[0]])
    explanation = _explain(est, recommended, phase, amp, parts, label, reference, at_rec)
    return ResonanceEstimate(
        recommended_breaths_per_min=recommended,
        estimated_breaths_per_min=float(est),
        phase_crossing_breaths_per_min=phase,
        amplitude_peak_breaths_per_min=amp,
        method=method,
        agreement=agreement,
        sharpness=sharpness,
        margin=margin,
        confidence=label,
        confidence_value=float(value),
        reference=reference,
        explanation=explanation + " Six criteria: " + ranking.explanation,
        ranking=ranking,
    )
