"""The resonance-frequency assessment: the stepped protocol's plan and its result.

hrv-methods.md §7 (Lehrer's stepped protocol; Shaffer & Meehan 2020). The person breathes
with the pacer at each rate in turn (default 6.5, 6.0, 5.5, 5.0, 4.5 breaths/min) for a
block of about 2 minutes, with a short rest of free breathing between blocks. Afterwards
`assess` computes the six criteria per block (`signal.resonance.rate_criteria`), ranks the
rates on them for the therapist (`signal.resonance_ranking.rank_rates`) and recommends the
rate from the whole curve across rates: where heart rate and breathing come into phase and
where the heart-rate swings peak (`signal.resonance_estimate.estimate_resonance`).

Timing choices (ours; the protocol fixes none of them precisely, §7 "(uncertain)"):

* A block is a whole number of breaths, the nearest to the block length: 2 min is exactly 13,
  12, 11, 10 and 9 breaths at 6.5 … 4.5 breaths/min. Blocks start and end at inhalation
  onsets, so every breath in a block is complete.
* The first `SETTLE_S` (20 s) of each block are discarded: heart rhythm needs a few breaths
  to settle into a new pace after the rest (the baroreflex resonance responds to the rate
  kept over about two of its time constants, ≈ 20–25 s at Q ≈ 3; the simulator models
  exactly that). Every block is scored over the *same* length, its last
  min(block length) − `SETTLE_S` seconds (100 s by default): LF power is comparable only
  over equal windows, and the LF peak (ms²/Hz) of a steady rhythm and the share of it inside
  the ±0.015-Hz peak window grow with the window length, so unequal windows would favour the
  longer ones. Phase and peak-to-trough use the complete breaths inside that window.
* Rests (`REST_S`, 30 s) are free breathing: the pacer is switched to the next block's rate
  when the rest *begins*, so a view may show the coming pace as a preview, and the next
  block begins at the first inhalation onset at least `REST_S` later.

The pacer schedule is one `Pacer` with one change per block (`AssessmentPlan.pacer`); the
engine drives it live and calls `assess` with what it collected.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import ConfigError, SignalInputError
from pet_biofeedback.session.pacer import Pacer, PacerSettings, rate_on_grid
from pet_biofeedback.signal.resonance import CRITERIA, RateCriteria, rate_criteria
from pet_biofeedback.signal.resonance_estimate import ResonanceEstimate, estimate_resonance
from pet_biofeedback.signal.resonance_ranking import ResonanceRanking

__all__ = [
    "BLOCK_S",
    "BLOCK_S_RANGE",
    "RATES_BREATHS_PER_MIN",
    "REST_S",
    "SETTLE_S",
    "AssessmentBlock",
    "AssessmentPlan",
    "AssessmentResult",
    "AssessmentSettings",
    "assess",
    "make_plan",
]

RATES_BREATHS_PER_MIN: Final = (6.5, 6.0, 5.5, 5.0, 4.5)  # hrv-methods.md §7 (Lehrer)
BLOCK_S: Final = 120.0  # §7: about 2 min per rate
BLOCK_S_RANGE: Final = (60.0, 300.0)  # configurable 1–5 min
REST_S: Final = 30.0  # our choice: short free-breathing rest between rates (§7: no standard)
SETTLE_S: Final = 20.0  # our choice: discarded at the start of each block (module docstring)
_MAX_REST_S: Final = 600.0
_S_PER_MIN: Final = 60.0
_ONSET_TOLERANCE_S: Final = 1e-6  # plan times and pacer onsets agree to rounding


@dataclass(frozen=True, slots=True, kw_only=True)
class AssessmentSettings:
    """How the assessment is run.

    Parameters
    ----------
    rates_breaths_per_min : tuple of float, default (6.5, 6.0, 5.5, 5.0, 4.5)
        The paced rates in the order breathed; 3–10 breaths/min in steps of 0.1, all different.
    block_s : float, default 120
        Length of each paced block, 60–300 s (rounded to whole breaths).
    rest_s : float, default 30
        Free breathing between blocks, 0–600 s (rounded up to the next breath of the coming
        pace).
    settle_s : float, default 20
        Discarded at the start of each block, s; must leave at least half the block.
    inhale_parts, exhale_parts : float, default 4 and 6
        The pacer's inhale:exhale ratio (`PacerSettings`).

    Raises
    ------
    ConfigError
        Anything outside those ranges.
    """

    rates_breaths_per_min: tuple[float, ...] = RATES_BREATHS_PER_MIN
    block_s: float = BLOCK_S
    rest_s: float = REST_S
    settle_s: float = SETTLE_S
    inhale_parts: float = 4.0
    exhale_parts: float = 6.0

    def __post_init__(self) -> None:
        rates = self.rates_breaths_per_min
        if not isinstance(rates, tuple) or not rates:
            raise ConfigError("the assessment needs a tuple of at least one breathing rate")
        on_grid = tuple(rate_on_grid(r) for r in rates)
        if len(set(on_grid)) != len(on_grid):
            raise ConfigError(f"each assessment rate may appear once, got {rates!r}")
        lo, hi = BLOCK_S_RANGE
        if not (math.isfinite(self.block_s) and lo <= self.block_s <= hi):
            raise ConfigError(
                f"assessment blocks last {lo / 60:g}–{hi / 60:g} min, got {self.block_s!r} s"
            )
        if not (math.isfinite(self.rest_s) and 0.0 <= self.rest_s <= _MAX_REST_S):
            raise ConfigError(f"rest must be 0–{_MAX_REST_S:g} s, got {self.rest_s!r}")
        if not (math.isfinite(self.settle_s) and 0.0 <= self.settle_s <= self.block_s / 2):
            raise ConfigError(
                f"settling time must be 0 s to half a block ({self.block_s / 2:g} s), "
                f"got {self.settle_s!r}"
            )
        self.pacer_settings(on_grid[0])  # ratio check, with its message

    def pacer_settings(self, breaths_per_min: float) -> PacerSettings:
        """The pacer's settings for one block."""
        return PacerSettings(
            breaths_per_min=breaths_per_min,
            inhale_parts=self.inhale_parts,
            exhale_parts=self.exhale_parts,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AssessmentBlock:
    """One paced block of the plan; times in s on the session clock.

    Attributes
    ----------
    breaths_per_min : float
        The paced rate.
    rest_start_s : float
        When the rest before this block begins (the pacer switches to this rate here); equal
        to ``start_s`` for the first block.
    start_s : float
        First inhalation onset of the block.
    analysis_start_s : float
        Scoring starts here: at least ``settle_s`` after ``start_s``, and the same time before
        ``end_s`` in every block of the plan.
    end_s : float
        End of the block's last breath.
    n_breaths : int
        Breaths in the block.
    """

    breaths_per_min: float
    rest_start_s: float
    start_s: float
    analysis_start_s: float
    end_s: float
    n_breaths: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AssessmentPlan:
    """The schedule of an assessment: blocks in order and the pacer that paces them."""

    settings: AssessmentSettings
    blocks: tuple[AssessmentBlock, ...]
    t_start_s: float

    @property
    def end_s(self) -> float:
        """End of the last block, s."""
        return self.blocks[-1].end_s

    def inhale_fraction(self) -> float:
        """Share of each breath spent inhaling (the same at every rate)."""
        s = self.settings
        return s.inhale_parts / (s.inhale_parts + s.exhale_parts)

    def pacer(self) -> Pacer:
        """A new `Pacer` for this plan: the first block's rate, then one change per block.

        Each change happens at a rest's start, which is an inhalation onset, so the breath
        count stays whole and every block begins exactly at an onset.
        """
        first = self.blocks[0]
        pacer = Pacer(self.settings.pacer_settings(first.breaths_per_min), t_start_s=first.start_s)
        for block in self.blocks[1:]:  # one change per block: a handful
            pacer.change(block.rest_start_s, self.settings.pacer_settings(block.breaths_per_min))
        return pacer

    def block_at(self, t_s: float) -> AssessmentBlock | None:
        """The block in progress at ``t_s`` (None during rests and outside the plan)."""
        for block in self.blocks:  # a handful
            if block.start_s <= t_s < block.end_s:
                return block
        return None


def make_plan(
    settings: AssessmentSettings | None = None, *, t_start_s: float = 0.0
) -> AssessmentPlan:
    """Lay out the blocks and rests of an assessment starting at ``t_start_s``.

    Parameters
    ----------
    settings : AssessmentSettings, optional
        Default `AssessmentSettings()`: 6.5 … 4.5 breaths/min, 2 min each, 30-s rests.
    t_start_s : float, default 0
        Session time of the first block's first inhalation onset, s.

    Returns
    -------
    AssessmentPlan
        With the defaults: five 120-s blocks, each preceded by a rest of 30 s rounded up to
        whole breaths of the coming rate (the first has none), each scored over its last
        100 s; about 12 minutes.

    Raises
    ------
    ConfigError
        ``t_start_s`` not finite.

    Examples
    --------
    >>> plan = make_plan()
    >>> [(b.breaths_per_min, b.n_breaths, round(b.end_s - b.start_s, 6)) for b in plan.blocks][:2]
    [(6.5, 13, 120.0), (6.0, 12, 120.0)]
    """
    s = settings if settings is not None else AssessmentSettings()
    if not math.isfinite(t_start_s):
        raise ConfigError(f"assessment start must be a finite time, got {t_start_s!r}")
    blocks: list[AssessmentBlock] = []
    t = float(t_start_s)
    for k, raw_rate in enumerate(s.rates_breaths_per_min):  # one per rate: a handful
        rate = rate_on_grid(raw_rate)
        period = _S_PER_MIN / rate
        rest_start = t
        if k > 0:
            t = rest_start + math.ceil(s.rest_s / period - 1e-9) * period
        n_breaths = max(round(s.block_s / period), 1)
        blocks.append(
            AssessmentBlock(
                breaths_per_min=rate,
                rest_start_s=rest_start,
                start_s=t,
                analysis_start_s=t + s.settle_s,  # made equal-length below
                end_s=t + n_breaths * period,
                n_breaths=n_breaths,
            )
        )
        t = blocks[-1].end_s
    scored_s = min(b.end_s - b.analysis_start_s for b in blocks)
    equal = tuple(dataclasses.replace(b, analysis_start_s=b.end_s - scored_s) for b in blocks)
    return AssessmentPlan(settings=s, blocks=equal, t_start_s=float(t_start_s))


def _nan_to_none(x: float) -> float | None:
    return None if math.isnan(x) else x


@dataclass(frozen=True, slots=True, kw_only=True)
class AssessmentResult:
    """A finished assessment: the criteria of every block, the estimate and the recommendation.

    Attributes
    ----------
    plan : AssessmentPlan
        The schedule that was run.
    criteria : tuple of RateCriteria
        One per block, in the order breathed.
    estimate : ResonanceEstimate
        The resonance estimated from the curve across rates, the recommended tested rate,
        confidence and explanation, and the six-criteria table (``estimate.ranking``).
    """

    plan: AssessmentPlan
    criteria: tuple[RateCriteria, ...]
    estimate: ResonanceEstimate

    @property
    def recommended_breaths_per_min(self) -> float:
        """The recommended tested rate (nearest the estimate)."""
        return self.estimate.recommended_breaths_per_min

    @property
    def ranking(self) -> ResonanceRanking:
        """The six-criteria table."""
        return self.estimate.ranking

    def to_dict(self) -> dict[str, object]:
        """The result as plain data (see `to_json`)."""
        e = self.estimate
        r = e.ranking
        rates: list[dict[str, object]] = []
        for i, c in enumerate(self.criteria):  # one per rate
            row: dict[str, object] = {
                "bpm": c.breaths_per_min,
                "phase_lag_deg": _nan_to_none(c.phase_lag_deg),
                "phase_plv": _nan_to_none(c.phase_plv),
                "peak_to_trough_bpm": _nan_to_none(c.peak_to_trough_bpm),
                "lf_power_ms2": _nan_to_none(c.lf_power_ms2),
                "lf_peak_psd_ms2_per_hz": _nan_to_none(c.lf_peak_psd_ms2_per_hz),
                "lf_peak_hz": _nan_to_none(c.lf_peak_hz),
                "smoothness": _nan_to_none(c.smoothness),
                "n_lf_peaks": c.n_lf_peaks,
                "n_beats": c.n_beats,
                "n_breaths": c.n_breaths,
                "duration_s": c.duration_s,
                "reference": c.reference,
                "breathing_lag_s": _nan_to_none(c.breathing_lag_s),
                "ranks": dict(zip(CRITERIA, (int(x) for x in r.ranks[i]), strict=True)),
                "wins": float(r.wins[i]),
                "score": float(r.score[i]),
            }
            rates.append(row)
        return {
            "recommended_bpm": e.recommended_breaths_per_min,
            "estimated_bpm": e.estimated_breaths_per_min,
            "phase_crossing_bpm": _nan_to_none(e.phase_crossing_breaths_per_min),
            "amplitude_peak_bpm": _nan_to_none(e.amplitude_peak_breaths_per_min),
            "method": e.method,
            "reference": e.reference,
            "confidence": e.confidence,
            "confidence_value": e.confidence_value,
            "confidence_parts": {
                "agreement": _nan_to_none(e.agreement),
                "sharpness": _nan_to_none(e.sharpness),
                "margin": _nan_to_none(e.margin),
            },
            "explanation": e.explanation,
            "table_candidate_bpm": r.candidate_breaths_per_min,
            "table_confidence": r.confidence,
            "rates": rates,
        }

    def to_json(self) -> str:
        """JSON text: ``{"recommended_bpm", "estimated_bpm", "phase_crossing_bpm",
        "amplitude_peak_bpm", "method", "reference", "confidence", "confidence_value",
        "confidence_parts", "explanation", "table_candidate_bpm", "table_confidence",
        "rates": [{"bpm", every criterion, "breathing_lag_s", "ranks", "wins", "score"}, …]}``.

        ``recommended_bpm`` is a tested rate, ``estimated_bpm`` the continuous estimate it is
        nearest to; ``table_candidate_bpm`` is the six-criteria table's most-wins rate,
        shown for the therapist (hrv-methods.md §7).

        Here ``bpm`` is the *breathing* rate in breaths/min, as in the recording's
        ``pacer.bpm``; heart-rate values carry ``_bpm`` in their names (peak-to-trough).
        Criteria without a value are ``null``.
        """
        return json.dumps(self.to_dict(), ensure_ascii=False)


def assess(
    plan: AssessmentPlan,
    beat_t_s: npt.ArrayLike,
    nn_ms: npt.ArrayLike,
    *,
    measured_breath_start_s: npt.ArrayLike | None = None,
    breathing_t_s: npt.ArrayLike | None = None,
    breathing: npt.ArrayLike | None = None,
) -> AssessmentResult:
    """Score a finished assessment.

    Parameters
    ----------
    plan : AssessmentPlan
        The schedule that was run (`make_plan`).
    beat_t_s : array_like, shape (n_beats,)
        Session times of the beats ending each NN interval, s, strictly increasing (the whole
        session or any stretch covering the blocks).
    nn_ms : array_like, shape (n_beats,)
        Artifact-corrected NN intervals, ms (`signal.artifacts`).
    measured_breath_start_s : array_like, optional
        Measured inhalation onsets (s, session clock), e.g. from the chest accelerometer;
        used instead of the pacer's for phase and peak-to-trough where a block has them.
    breathing_t_s, breathing : array_like, shape (n,), optional
        A measured breathing waveform on the session clock (`signal.respiration`'s
        ``BreathingEstimate.signal_t_s`` and ``signal`` from the chest accelerometer). Per
        block, the person's lag behind the pacer is measured from it and the pacer's onsets,
        shifted by that lag, become the breathing reference (`signal.resonance.breathing_lag_s`).

    Returns
    -------
    AssessmentResult

    Raises
    ------
    SignalInputError
        Bad beat arrays (different lengths, non-finite, times not increasing).
    """
    t = np.asarray(beat_t_s, dtype=np.float64)
    nn = np.asarray(nn_ms, dtype=np.float64)
    if t.ndim != 1 or t.shape != nn.shape:
        raise SignalInputError("beat_t_s and nn_ms must be 1-D arrays of equal length")
    if not (np.all(np.isfinite(t)) and np.all(np.diff(t) > 0)):
        raise SignalInputError("beat_t_s must be finite and strictly increasing")
    pacer = plan.pacer()
    fraction = plan.inhale_fraction()
    measured = (
        None
        if measured_breath_start_s is None
        else np.asarray(measured_breath_start_s, dtype=np.float64)
    )
    criteria: list[RateCriteria] = []
    for block in plan.blocks:  # one per rate: a handful
        lo, hi = np.searchsorted(t, [block.analysis_start_s, block.end_s], side="left")
        # The pacer onsets inside the window, the block end (an onset) included.
        onsets = pacer.breath_starts(
            block.analysis_start_s - _ONSET_TOLERANCE_S, block.end_s + _ONSET_TOLERANCE_S
        )
        criteria.append(
            rate_criteria(
                t[lo:hi],
                nn[lo:hi],
                onsets,
                breaths_per_min=block.breaths_per_min,
                inhale_fraction=fraction,
                measured_breath_start_s=measured,
                breathing_t_s=breathing_t_s,
                breathing=breathing,
            )
        )
    crit = tuple(criteria)
    return AssessmentResult(plan=plan, criteria=crit, estimate=estimate_resonance(crit))
