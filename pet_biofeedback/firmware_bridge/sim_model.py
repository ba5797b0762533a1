"""The stateful model of the simulated strap: `StrapModel`, its output `SimChunk`, `simulate`.

A simulated person breathes after a pacer (a fixed rate or a callable), with a lag and some
sloppiness. Their heart rate is a baseline plus a slow drift, a Mayer wave (≈ 0.1 Hz),
high-frequency noise and respiratory sinus arrhythmia (`sim_physiology.rsa_response`). Beats
come from integrating the heart rate; a few are premature ectopic beats with a compensatory
pause; contact drops out now and then. A 130 Hz ECG puts a PQRST waveform at every R peak, its
amplitude modulated by breathing; a 200 Hz chest accelerometer sees gravity (≈ 1000 mG) on a
tilted axis that each breath rotates slightly.

`StrapModel.advance(t_end_s)` returns everything the strap measured in the next stretch of
time as arrays (`SimChunk`); the result depends only on the configuration, the seed and the end
time, not on how the time is cut into chunks. `simulate` runs it in one go. The async source
that turns chunks into events is `simulated.SimulatedStrap`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.firmware_bridge.sim_config import SimConfig
from pet_biofeedback.firmware_bridge.sim_physiology import (
    ACC_BREATH_TILT_RAD,
    ACC_FS_HZ,
    DRIFT_BAND_HZ,
    DROPOUT_MIN_GAP_S,
    ECG_BASELINE_WANDER_UV,
    ECG_BREATH_MODULATION,
    ECG_DROPOUT_NOISE_FACTOR,
    ECG_FS_HZ,
    ECG_SPAN_S,
    ECTOPIC_PREMATURITY,
    HF_BAND_HZ,
    HR_AVERAGE_WINDOW_S,
    HR_GRID_HZ,
    HR_LIMITS_BPM,
    LOOKAHEAD_S,
    MAYER_BAND_HZ,
    N_DRIFT,
    N_HF,
    N_MAYER,
    N_SLOPPINESS,
    NOTIFY_INTERVAL_S,
    PACER_GRID_S,
    RATE_HALF_WINDOW_S,
    RATE_LIMITS_BREATHS_PER_MIN,
    RESONANCE_MIN_WINDOW_S,
    RR_RESOLUTION_S,
    SLOPPINESS_BAND,
    PacerFn,
    _Sinusoids,
    breathing_waveform,
    chest_acc_mg,
    ecg_beat_uv,
    ipfm_beat_times_s,
    rsa_response,
)

__all__ = [
    "SimChunk",
    "StrapModel",
    "simulate",
]

logger = logging.getLogger(__name__)

_FloatArray: TypeAlias = npt.NDArray[np.float64]
_BoolArray: TypeAlias = npt.NDArray[np.bool_]


# --- The stateful model ----------------------------------------------------------------------


def _readonly(array: npt.NDArray[np.generic]) -> None:
    array.flags.writeable = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SimChunk:
    """What the simulated strap measured during ``(t_start_s, t_end_s]``; arrays are read-only.

    Attributes
    ----------
    t_start_s, t_end_s : float
        The stretch of model time, s.
    beat_t_s : ndarray, shape (n_beats,)
        R-peak times, s, on the strap's 1/1024 s grid.
    rr_ms : ndarray, shape (n_beats,)
        The RR interval ending at each beat as the strap reports it, ms; NaN where the strap
        reports none (the first beat, and around and during contact dropouts).
    ectopic_mask : ndarray of bool, shape (n_beats,)
        The beat is a premature ectopic beat.
    contact_mask : ndarray of bool, shape (n_beats,)
        The beat fell outside a contact dropout.
    notify_t_s : ndarray, shape (n_notify,)
        Times of the Heart Rate notifications (every `NOTIFY_INTERVAL_S`). A beat's RR is
        reported in the first notification at or after the beat.
    notify_hr_bpm : ndarray, shape (n_notify,)
        Heart rate in those notifications, whole beats/min (0 without contact).
    notify_contact_mask : ndarray of bool, shape (n_notify,)
        Skin contact in those notifications.
    ecg_t_s, ecg_uv : ndarray, shape (n_ecg,)
        ECG sample times (multiples of 1/`ECG_FS_HZ`) and values in whole µV; empty when
        ECG is disabled.
    acc_t_s : ndarray, shape (n_acc,)
        Accelerometer sample times (multiples of 1/`ACC_FS_HZ`); empty when disabled.
    acc_mg : ndarray, shape (n_acc, 3)
        Accelerometer x, y, z in whole mG.
    """

    t_start_s: float
    t_end_s: float
    beat_t_s: _FloatArray
    rr_ms: _FloatArray
    ectopic_mask: _BoolArray
    contact_mask: _BoolArray
    notify_t_s: _FloatArray
    notify_hr_bpm: _FloatArray
    notify_contact_mask: _BoolArray
    ecg_t_s: _FloatArray
    ecg_uv: _FloatArray
    acc_t_s: _FloatArray
    acc_mg: _FloatArray

    def __post_init__(self) -> None:
        for name in (
            "beat_t_s",
            "rr_ms",
            "ectopic_mask",
            "contact_mask",
            "notify_t_s",
            "notify_hr_bpm",
            "notify_contact_mask",
            "ecg_t_s",
            "ecg_uv",
            "acc_t_s",
            "acc_mg",
        ):
            _readonly(getattr(self, name))


class StrapModel:
    """The simulated person and strap, advanced through time in chunks.

    Deterministic: the output up to a time depends only on the configuration, the seed and
    the pacer, not on how that time was split into `advance` calls (each random stream is
    consumed in beat or sample order).

    Parameters
    ----------
    config : SimConfig
        The settings.
    pacer : PacerFn, optional
        What the person follows; default a pacer at ``config.breaths_per_min``.
    """

    def __init__(self, config: SimConfig, *, pacer: PacerFn | None = None) -> None:
        self.config = config
        self._pacer = pacer
        self._pacer_start: tuple[float, float] | None = None  # positions at 0 and PACER_GRID_S
        streams = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(6)]
        params, beats, self._rng_ectopic, self._rng_dropout, self._rng_ecg, self._rng_acc = streams
        # Every parameter is drawn, in a fixed order, whatever the configuration, so that
        # changing one setting does not reshuffle the others.
        self._drift = _Sinusoids.draw(params, DRIFT_BAND_HZ, N_DRIFT, config.drift_bpm)
        self._mayer = _Sinusoids.draw(params, MAYER_BAND_HZ, N_MAYER, config.lf_noise_bpm)
        self._hf = _Sinusoids.draw(params, HF_BAND_HZ, N_HF, config.hf_noise_bpm)
        nominal_hz = config.breaths_per_min / 60.0
        slop = _Sinusoids.draw(
            params,
            (SLOPPINESS_BAND[0] * nominal_hz, SLOPPINESS_BAND[1] * nominal_hz),
            N_SLOPPINESS,
            1.0,
        )
        # Scale the breath-position error δ so that its change over one nominal breath T (the
        # breath-duration error, in breaths) has standard deviation `sloppiness`: for random
        # phases Var[δ(t + T) − δ(t)] = a² Σ 2 sin²(π f_i T).
        duration_std_per_unit = math.sqrt(
            2.0 * float(np.sum(np.sin(np.pi * slop.freqs_hz / nominal_hz) ** 2))
        )
        slop_amplitude = config.sloppiness / duration_std_per_unit
        self._slop = _Sinusoids(slop.freqs_hz, slop.phases_rad, slop_amplitude)
        self._acc_theta0_rad = float(params.uniform(0.4, 1.0))
        self._acc_phi0_rad = float(params.uniform(0.0, 2.0 * np.pi))
        self._ecg_scale = float(params.uniform(0.8, 1.3))

        self._t_s = 0.0  # reported up to here
        # Beat integrator state (grid index, beat count N and HR at the last grid point).
        self._grid_idx = 0
        self._beat_count = float(beats.uniform(0.0, 1.0))
        self._grid_hr_bpm = float(self.heart_rate_bpm(np.zeros(1))[0])
        self._last_normal_beat_t_s = math.nan
        # Generated, not yet reported beats; recent reported beats (for the ECG and HR average).
        self._pending_t_s = np.empty(0)
        self._pending_ectopic = np.empty(0, dtype=bool)
        self._recent_t_s = np.empty(0)
        self._recent_ectopic = np.empty(0, dtype=bool)
        self._recent_rr_t_s = np.empty(0)
        self._recent_rr_ms = np.empty(0)
        self._prev_beat_t_s = math.nan
        self._prev_beat_visible = False
        # Dropout schedule: [start, end) intervals, generated ahead.
        self._dropout_rate_per_s = config.dropouts_per_min / 60.0
        self._dropout_starts = np.empty(0)
        self._dropout_ends = np.empty(0)
        self._next_dropout_s = (
            float(self._rng_dropout.exponential(1.0 / self._dropout_rate_per_s))
            if self._dropout_rate_per_s > 0
            else math.inf
        )
        self._ecg_idx = 0  # last sample index emitted (sample 0 at t = 0 is never emitted)
        self._acc_idx = 0

    @property
    def t_s(self) -> float:
        """Model time reported so far, s."""
        return self._t_s

    # -- continuous signals (pure functions of t) --

    def _pacer_at(self, tau_s: float) -> float:
        assert self._pacer is not None
        if tau_s >= 0.0:
            return float(self._pacer(tau_s))
        if self._pacer_start is None:  # before the pacer starts: extrapolate its first rate
            self._pacer_start = (float(self._pacer(0.0)), float(self._pacer(PACER_GRID_S)))
        p0, p1 = self._pacer_start
        return p0 + tau_s * (p1 - p0) / PACER_GRID_S

    def _pacer_position(self, tau_s: _FloatArray) -> _FloatArray:
        if self._pacer is None:
            return tau_s * (self.config.breaths_per_min / 60.0)
        if tau_s.size == 0:
            return np.empty(0)
        lo = math.floor(float(tau_s.min()) / PACER_GRID_S)
        hi = math.floor(float(tau_s.max()) / PACER_GRID_S) + 1
        grid_s = np.arange(lo, hi + 1) * PACER_GRID_S
        # The pacer is an arbitrary Python callable: one call per 0.1 s grid point.
        positions = np.array([self._pacer_at(float(g)) for g in grid_s])
        result: _FloatArray = np.interp(tau_s, grid_s, positions)
        return result

    def breath_position(self, t_s: npt.ArrayLike) -> _FloatArray:
        """The person's breath position at ``t_s`` (breaths since start, see `PacerFn`).

        The pacer's position at ``t − pacer_lag_s`` plus a smooth, bounded random error that
        makes breath durations vary with relative standard deviation ``sloppiness``.
        """
        t = np.asarray(t_s, dtype=np.float64)
        return self._pacer_position(t - self.config.pacer_lag_s) + self._slop(t)

    def breathing_rate_breaths_per_min(self, t_s: npt.ArrayLike) -> _FloatArray:
        """The person's instantaneous breathing rate, breaths/min (central difference ±0.5 s)."""
        t = np.asarray(t_s, dtype=np.float64)
        h = RATE_HALF_WINDOW_S
        rate = (self.breath_position(t + h) - self.breath_position(t - h)) * (60.0 / (2.0 * h))
        return np.clip(rate, *RATE_LIMITS_BREATHS_PER_MIN)

    def heart_rate_bpm(self, t_s: npt.ArrayLike) -> _FloatArray:
        """The model's instantaneous heart rate, beats/min.

        ``hr_bpm`` + drift + Mayer wave + HF noise + RSA, where RSA is the breathing waveform
        scaled by ``rsa_peak_to_trough_bpm / 2`` × gain and shifted by the phase of
        `rsa_response`; clipped to `HR_LIMITS_BPM`.

        Gain and phase are taken at the breathing rate averaged over the last two time
        constants of the resonator, 2 Q / (π f_r) (≈ 21 s at Q = 3, 5.5 breaths/min): a
        resonance cannot follow breath-to-breath jitter, only the rate the person keeps up.
        """
        config = self.config
        t = np.asarray(t_s, dtype=np.float64)
        window_s = max(
            2.0 * config.resonance_q / (np.pi * config.resonance_breaths_per_min / 60.0),
            RESONANCE_MIN_WINDOW_S,
        )
        position = self.breath_position(t)
        kept_rate = (position - self.breath_position(t - window_s)) * (60.0 / window_s)
        gain, phase_rad = rsa_response(
            np.clip(kept_rate, *RATE_LIMITS_BREATHS_PER_MIN),
            resonance_breaths_per_min=config.resonance_breaths_per_min,
            q=config.resonance_q,
        )
        rsa = (
            0.5
            * config.rsa_peak_to_trough_bpm
            * gain
            * breathing_waveform(position + phase_rad / (2.0 * np.pi), config.inhale_fraction)
        )
        hr = config.hr_bpm + self._drift(t) + self._mayer(t) + self._hf(t) + rsa
        return np.clip(hr, *HR_LIMITS_BPM)

    def in_dropout(self, t_s: npt.ArrayLike) -> _BoolArray:
        """True where ``t_s`` lies in a contact dropout (scheduled up to now + `LOOKAHEAD_S`)."""
        t = np.asarray(t_s, dtype=np.float64)
        idx = np.searchsorted(self._dropout_starts, t, side="right") - 1
        inside = idx >= 0
        inside[inside] = t[inside] < self._dropout_ends[idx[inside]]
        return inside

    # -- generation ahead of the reported time --

    def _schedule_dropouts(self, until_s: float) -> None:
        starts, ends = [], []
        # One draw per dropout, in time order (a handful per minute at most).
        while self._next_dropout_s < until_s:
            start = self._next_dropout_s
            starts.append(start)
            ends.append(start + self.config.dropout_s)
            gap_s = DROPOUT_MIN_GAP_S + float(
                self._rng_dropout.exponential(1.0 / self._dropout_rate_per_s)
            )
            self._next_dropout_s = start + self.config.dropout_s + gap_s
        if starts:
            self._dropout_starts = np.concatenate((self._dropout_starts, starts))
            self._dropout_ends = np.concatenate((self._dropout_ends, ends))

    def _generate_beats(self, until_s: float) -> None:
        grid_end = math.floor(until_s * HR_GRID_HZ)
        if grid_end <= self._grid_idx:
            return
        grid_t = np.arange(self._grid_idx, grid_end + 1) / HR_GRID_HZ
        hr = self.heart_rate_bpm(grid_t[1:])
        normal_t, self._beat_count = ipfm_beat_times_s(
            grid_t, np.concatenate(([self._grid_hr_bpm], hr)), self._beat_count
        )
        self._grid_idx, self._grid_hr_bpm = grid_end, float(hr[-1])
        if normal_t.size == 0:
            return
        # Two draws per beat, in beat order: is it ectopic, and how premature.
        draws = self._rng_ectopic.random((normal_t.size, 2))
        previous = np.concatenate(([self._last_normal_beat_t_s], normal_t[:-1]))
        self._last_normal_beat_t_s = float(normal_t[-1])
        ectopic = (draws[:, 0] < self.config.ectopic_fraction) & np.isfinite(previous)
        prematurity = ECTOPIC_PREMATURITY[0] + draws[:, 1] * (
            ECTOPIC_PREMATURITY[1] - ECTOPIC_PREMATURITY[0]
        )
        shift_s = np.where(ectopic, prematurity * (normal_t - np.nan_to_num(previous)), 0.0)
        beat_t = np.round((normal_t - shift_s) / RR_RESOLUTION_S) * RR_RESOLUTION_S
        self._pending_t_s = np.concatenate((self._pending_t_s, beat_t))
        self._pending_ectopic = np.concatenate((self._pending_ectopic, ectopic))

    # -- reporting --

    def advance(self, t_end_s: float) -> SimChunk:
        """Simulate up to ``t_end_s`` and return what the strap measured since the last call.

        Parameters
        ----------
        t_end_s : float
            End of the stretch, s; later than `t_s`.

        Returns
        -------
        SimChunk
            Beats, notifications and samples in ``(t_s, t_end_s]``.

        Raises
        ------
        ConfigError
            ``t_end_s`` is not after `t_s`.
        """
        t_start = self._t_s
        if not (math.isfinite(t_end_s) and t_end_s > t_start):
            raise ConfigError(f"t_end_s must be after {t_start} s, got {t_end_s!r}")
        self._schedule_dropouts(t_end_s + LOOKAHEAD_S)
        self._generate_beats(t_end_s + LOOKAHEAD_S)

        take = self._pending_t_s <= t_end_s
        beat_t, ectopic = self._pending_t_s[take], self._pending_ectopic[take]
        self._pending_t_s, self._pending_ectopic = (
            self._pending_t_s[~take],
            self._pending_ectopic[~take],
        )
        visible = ~self.in_dropout(beat_t)
        previous_t = np.concatenate(([self._prev_beat_t_s], beat_t[:-1]))
        previous_visible = np.concatenate(([self._prev_beat_visible], visible[:-1]))
        beat_notify_t = self._notify_time(beat_t)
        reported = (
            visible & previous_visible & np.isfinite(previous_t) & ~self.in_dropout(beat_notify_t)
        )
        rr_ms = np.where(reported, (beat_t - np.nan_to_num(previous_t)) * 1000.0, np.nan)
        if beat_t.size:
            self._prev_beat_t_s, self._prev_beat_visible = float(beat_t[-1]), bool(visible[-1])

        notify_t, notify_hr, notify_contact = self._notifications(
            t_start, t_end_s, beat_notify_t[reported], rr_ms[reported]
        )
        ecg_t, ecg_uv = self._ecg(t_end_s, beat_t, ectopic, visible)
        acc_t, acc_mg = self._acc(t_end_s)

        self._recent_t_s = np.concatenate((self._recent_t_s, beat_t[visible]))
        self._recent_ectopic = np.concatenate((self._recent_ectopic, ectopic[visible]))
        keep = self._recent_t_s > t_end_s - (ECG_SPAN_S[1] - ECG_SPAN_S[0])
        self._recent_t_s, self._recent_ectopic = self._recent_t_s[keep], self._recent_ectopic[keep]
        self._t_s = t_end_s
        return SimChunk(
            t_start_s=t_start,
            t_end_s=t_end_s,
            beat_t_s=beat_t,
            rr_ms=rr_ms,
            ectopic_mask=ectopic,
            contact_mask=visible,
            notify_t_s=notify_t,
            notify_hr_bpm=notify_hr,
            notify_contact_mask=notify_contact,
            ecg_t_s=ecg_t,
            ecg_uv=ecg_uv,
            acc_t_s=acc_t,
            acc_mg=acc_mg,
        )

    @staticmethod
    def _notify_time(t_s: _FloatArray) -> _FloatArray:
        """The notification that reports a beat at ``t_s``: the first at or after it."""
        return np.maximum(np.ceil(t_s / NOTIFY_INTERVAL_S), 1.0) * NOTIFY_INTERVAL_S

    def _notifications(
        self, t_start: float, t_end: float, rr_notify_t: _FloatArray, rr_ms: _FloatArray
    ) -> tuple[_FloatArray, _FloatArray, _BoolArray]:
        first = math.floor(t_start / NOTIFY_INTERVAL_S) + 1
        last = math.floor(t_end / NOTIFY_INTERVAL_S)
        notify_t = (np.arange(first, last + 1) * NOTIFY_INTERVAL_S).astype(np.float64)
        contact = ~self.in_dropout(notify_t)
        # The strap's HR: the mean of the RR reported in the last HR_AVERAGE_WINDOW_S, or the
        # model's heart rate when there are none (start, after a dropout).
        hist_t = np.concatenate((self._recent_rr_t_s, rr_notify_t))
        hist_rr = np.concatenate((self._recent_rr_ms, rr_ms))
        cumulative = np.concatenate(([0.0], np.cumsum(hist_rr)))
        lo = np.searchsorted(hist_t, notify_t - HR_AVERAGE_WINDOW_S, side="right")
        hi = np.searchsorted(hist_t, notify_t, side="right")
        n = hi - lo
        mean_rr = (cumulative[hi] - cumulative[lo]) / np.maximum(n, 1)
        model_hr = self.heart_rate_bpm(notify_t) if notify_t.size else np.empty(0)
        hr = np.where(n > 0, 60000.0 / np.where(n > 0, mean_rr, 1.0), model_hr)
        hr = np.where(contact, np.round(hr), 0.0).astype(np.float64)
        keep = hist_t > t_end - HR_AVERAGE_WINDOW_S
        self._recent_rr_t_s, self._recent_rr_ms = hist_t[keep], hist_rr[keep]
        return notify_t, hr, contact

    def _ecg(
        self, t_end: float, beat_t: _FloatArray, ectopic: _BoolArray, visible: _BoolArray
    ) -> tuple[_FloatArray, _FloatArray]:
        if not self.config.ecg_enabled:
            return np.empty(0), np.empty(0)
        first, last = self._ecg_idx + 1, math.floor(t_end * ECG_FS_HZ + 1e-9)
        self._ecg_idx = max(last, self._ecg_idx)
        if last < first:
            return np.empty(0), np.empty(0)
        sample_t = np.arange(first, last + 1) / ECG_FS_HZ
        pending_visible = ~self.in_dropout(self._pending_t_s)
        beats_t = np.concatenate(
            (self._recent_t_s, beat_t[visible], self._pending_t_s[pending_visible])
        )
        beats_ectopic = np.concatenate(
            (self._recent_ectopic, ectopic[visible], self._pending_ectopic[pending_visible])
        )
        near = (beats_t > sample_t[0] - ECG_SPAN_S[1]) & (beats_t < sample_t[-1] - ECG_SPAN_S[0])
        beats_t, beats_ectopic = beats_t[near], beats_ectopic[near]
        # Each beat's waveform over a fixed window of samples: (n_beats × span) at once.
        span = math.ceil((ECG_SPAN_S[1] - ECG_SPAN_S[0]) * ECG_FS_HZ) + 1
        start_idx = np.ceil((beats_t + ECG_SPAN_S[0]) * ECG_FS_HZ).astype(np.int64)
        idx = start_idx[:, None] + np.arange(span)
        amplitude = self._ecg_scale * (
            1.0
            + ECG_BREATH_MODULATION
            * breathing_waveform(self.breath_position(beats_t), self.config.inhale_fraction)
        )
        values = amplitude[:, None] * ecg_beat_uv(
            idx / ECG_FS_HZ - beats_t[:, None], ectopic=beats_ectopic[:, None]
        )
        inside = (idx >= first) & (idx <= last)
        ecg: _FloatArray = np.bincount(
            idx[inside] - first, weights=values[inside], minlength=sample_t.size
        ).astype(np.float64)
        ecg += ECG_BASELINE_WANDER_UV * breathing_waveform(
            self.breath_position(sample_t), self.config.inhale_fraction
        )
        noise_scale = np.where(self.in_dropout(sample_t), ECG_DROPOUT_NOISE_FACTOR, 1.0)
        ecg += self.config.ecg_noise_uv * noise_scale * self._rng_ecg.standard_normal(sample_t.size)
        return sample_t, np.round(ecg)

    def _acc(self, t_end: float) -> tuple[_FloatArray, _FloatArray]:
        if not self.config.acc_enabled:
            return np.empty(0), np.empty((0, 3))
        first, last = self._acc_idx + 1, math.floor(t_end * ACC_FS_HZ + 1e-9)
        self._acc_idx = max(last, self._acc_idx)
        if last < first:
            return np.empty(0), np.empty((0, 3))
        sample_t = np.arange(first, last + 1) / ACC_FS_HZ
        acc = chest_acc_mg(
            breathing_waveform(self.breath_position(sample_t), self.config.inhale_fraction),
            theta0_rad=self._acc_theta0_rad,
            phi0_rad=self._acc_phi0_rad,
            tilt_rad=ACC_BREATH_TILT_RAD,
        )
        acc += self.config.acc_noise_mg * self._rng_acc.standard_normal((sample_t.size, 3))
        return sample_t, np.round(acc)


def simulate(config: SimConfig, duration_s: float, *, pacer: PacerFn | None = None) -> SimChunk:
    """Run the model from 0 to ``duration_s`` in one go.

    Parameters
    ----------
    config : SimConfig
        The settings (``duration_s`` in it is ignored).
    duration_s : float
        Length, s (> 0).
    pacer : PacerFn, optional
        What the person follows; default a pacer at ``config.breaths_per_min``.

    Returns
    -------
    SimChunk
        Everything measured in ``(0, duration_s]``; identical to concatenating the chunks of
        any sequence of `StrapModel.advance` calls ending at ``duration_s``.
    """
    return StrapModel(config, pacer=pacer).advance(duration_s)
