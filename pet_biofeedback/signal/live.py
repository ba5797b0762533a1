"""Live analysis: one RR interval in, every live measure out.

`LiveAnalyzer` chains the causal artifact corrector (each beat final at most two beats
late) to per-beat incremental updates and to slower measures refreshed on a schedule:

======================  ==================================  ============================
measure                 how                                  when
======================  ==================================  ============================
time domain, SD1/SD2    `RunningTimeDomain` (running sums)   every beat, O(1)
LF/HF, LF peak          `IncrementalLomb` on a fixed grid     every beat, O(n_freqs)
coherence ratio         `coherence_ratio` on the last 64 s    every 5 s of beat time
DFA α1, sample entropy  on the beat window                    every ``nonlinear_every_beats``
RSA peak-to-trough      `rsa_peak_to_trough_bpm`              when a breath completes
phase synchrony         `phase_synchrony` vs breath phase     every 5 s, last 60 s (†)
======================  ==================================  ============================

(†) Half-way between two coherence refreshes, and one beat later when that beat refreshes
the nonlinear measures: no beat pays for the two 5-s refreshes together (issue 9).

Each value equals the batch function applied to the same NN values (tests check it), so
live and post-session numbers never disagree except through the window they describe.

The time axis is the RR clock: beat k ends at ``t_first_s + Σ nn[:k+1] / 1000``. Breath
onsets pushed with `push_breath_start` must be on the same axis; `note_gap` moves the axis
forward across a data gap (a strap dropout), so beats after it line up with the host clock.

Gaps (issue 6): after `note_gap` the next beat starts a new stretch. Its difference to the
beat before the gap is not a successive difference: it is left out of RMSSD, SDSD, pNN50 and
SD1/SD2, DFA boxes and sample-entropy templates do not span it (as the batch functions with
``segment_start_idx``), the Lomb window and the coherence window restart with the new
stretch, and the artifact corrector does not judge the jump. A dropout therefore never shows
as a burst of HRV.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from pet_biofeedback.errors import ConfigError, SignalInputError
from pet_biofeedback.signal import artifacts, coherence, nonlinear, rsa, spectral
from pet_biofeedback.signal._typing import FloatArray
from pet_biofeedback.signal.timedomain import RunningTimeDomain, TimeDomainMetrics

__all__ = ["LiveAnalyzer", "LiveSettings", "LiveUpdate"]

logger = logging.getLogger(__name__)

_HISTORY_BEATS: Final = 512  # beats kept for coherence/RSA/phase (≥ 90 s even at 200 bpm)
_MAX_BREATHS: Final = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveSettings:
    """Settings of `LiveAnalyzer`, validated on construction.

    Attributes
    ----------
    window_beats : int
        Beats described by the time-domain, Lomb and nonlinear measures (default 300).
    coherence_window_s, coherence_every_s : float
        Coherence ratio window and update period (64 s, 5 s: hrv-methods.md §6.1).
    phase_window_s : float
        Span of the phase-synchrony estimate (60 s, §6.4).
    nonlinear_every_beats : int
        Refresh period of DFA α1 and sample entropy (O(window) and O(window²) work).
    correction : bool
        Run the causal artifact corrector (True) or take RR values as NN.
    spectrum, nonlinear, phase_synchrony : bool
        Compute the per-beat Lomb measures (LF, HF, LF/HF, LF peak), the DFA α1 and sample
        entropy refresh, and the phase-synchrony refresh (all True by default). A caller that
        shows none of them (the session engine's feedback: HR, RMSSD, RSA, coherence) turns
        them off and their fields stay NaN; every other value is unchanged, refresh beats
        included.
    """

    window_beats: int = 300
    coherence_window_s: float = spectral.COHERENCE_WINDOW_S
    coherence_every_s: float = 5.0
    phase_window_s: float = 60.0
    nonlinear_every_beats: int = 30
    correction: bool = True
    spectrum: bool = True
    nonlinear: bool = True
    phase_synchrony: bool = True

    def __post_init__(self) -> None:
        if self.window_beats < 4:
            raise ConfigError("window_beats must be at least 4")
        if self.nonlinear_every_beats < 1:
            raise ConfigError("nonlinear_every_beats must be at least 1")
        for name in ("coherence_window_s", "coherence_every_s", "phase_window_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a positive number of seconds, got {value}")


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveUpdate:
    """Every live measure after one NN interval became final. NaN: not enough data yet.

    Attributes
    ----------
    t_s : float
        Time of the beat that ends ``nn_ms`` (s, RR clock of the analyzer).
    nn_ms : float
        The NN interval just finalized.
    corrected : bool
        True when ``nn_ms`` is not the raw RR (interpolated, split or merged).
    n_total_beats : int
        NN intervals finalized so far.
    time : TimeDomainMetrics
        Time domain over the last ``window_beats`` NN intervals.
    sd1_ms, sd2_ms : float
        Poincaré descriptors of the same window.
    lf_ms2, hf_ms2, lf_hf : float
        Lomb–Scargle band powers (ms²) and ratio over the window (mean removed, no
        detrending).
    lf_peak_hz, lf_peak_psd_ms2_per_hz : float
        Frequency and height of the Lomb PSD maximum in 0.04–0.15 Hz.
    coherence_ratio, coherence_peak_hz : float
        Latest coherence ratio (64 s) and its peak frequency.
    coherence_t_s : float
        Beat time the coherence values belong to.
    dfa_alpha1, sampen : float
        Latest refresh over the window.
    rsa_last_breath_bpm : float
        Peak-to-trough HR of the last completed breath.
    rsa_mean_bpm : float
        Mean of the per-breath values of the completed breaths within the last
        ``phase_window_s`` seconds.
    phase_lag_deg, phase_plv : float
        Latest HR-vs-breathing phase lag (0° = HR peaks at the end of inhalation) and
        phase-locking value.
    n_ectopic, n_long_short, n_missed, n_extra, n_gated : int
        Corrections made so far, by class.
    corrected_pct : float
        Share of corrected NN values in the window, %.
    """

    t_s: float
    nn_ms: float
    corrected: bool
    n_total_beats: int
    time: TimeDomainMetrics
    sd1_ms: float
    sd2_ms: float
    lf_ms2: float
    hf_ms2: float
    lf_hf: float
    lf_peak_hz: float
    lf_peak_psd_ms2_per_hz: float
    coherence_ratio: float
    coherence_peak_hz: float
    coherence_t_s: float
    dfa_alpha1: float
    sampen: float
    rsa_last_breath_bpm: float
    rsa_mean_bpm: float
    phase_lag_deg: float
    phase_plv: float
    n_ectopic: int
    n_long_short: int
    n_missed: int
    n_extra: int
    n_gated: int
    corrected_pct: float


class _Ring:
    """Fixed-capacity float64 ring buffer; `view` returns the oldest-first contents."""

    __slots__ = ("_buf", "_n")

    def __init__(self, capacity: int) -> None:
        # Twice the capacity so the newest `capacity` values are always one contiguous slice.
        self._buf = np.zeros(2 * capacity)
        self._n = 0

    @property
    def capacity(self) -> int:
        return self._buf.size // 2

    def push(self, value: float) -> None:
        cap = self.capacity
        if self._n == 2 * cap:
            self._buf[:cap] = self._buf[cap:]
            self._n = cap
        self._buf[self._n] = value
        self._n += 1

    def view(self) -> FloatArray:
        cap = self.capacity
        return self._buf[max(0, self._n - cap) : self._n]

    def __len__(self) -> int:
        return min(self._n, self.capacity)


@dataclass(frozen=True, slots=True)
class _PhaseReference:
    """Breathing reference of a phase-synchrony refresh (the pacer's phase, unwrapped)."""

    t_start_s: float
    t_end_s: float
    t_s: FloatArray
    phase_rad: FloatArray
    pacer_hz: float


class LiveAnalyzer:
    """Per-beat analysis of a stream of RR intervals.

    Parameters
    ----------
    settings : LiveSettings, optional
    t_first_s : float
        Time of the beat that starts the first interval (s); 0 by default.

    Examples
    --------
    >>> live = LiveAnalyzer()
    >>> updates = []
    >>> for k in range(120):
    ...     updates.extend(live.push(900.0 + 50.0 * np.sin(2 * np.pi * 0.1 * 0.9 * k)))
    >>> u = updates[-1]
    >>> round(u.lf_peak_hz, 2), u.time.n_beats
    (0.1, 118)
    """

    def __init__(self, settings: LiveSettings | None = None, *, t_first_s: float = 0.0) -> None:
        self.settings = settings or LiveSettings()
        w = self.settings.window_beats
        self._corrector = artifacts.CausalArtifactCorrector() if self.settings.correction else None
        self._td = RunningTimeDomain(window_beats=w)
        self._freqs_hz = spectral.default_lomb_freqs_hz()
        self._lf_mask = (self._freqs_hz >= spectral.LF_BAND_HZ[0]) & (
            self._freqs_hz < spectral.LF_BAND_HZ[1]
        )
        # Band integrals on the fixed grid are dot products with precomputed trapezoid
        # weights (the integral of each unit PSD bin): two dot products per beat.
        unit = np.eye(self._freqs_hz.size)
        self._lf_weights = spectral.band_power_ms2(self._freqs_hz, unit, spectral.LF_BAND_HZ)
        self._hf_weights = spectral.band_power_ms2(self._freqs_hz, unit, spectral.HF_BAND_HZ)
        self._lf_freqs_hz = self._freqs_hz[self._lf_mask]
        # Built once: constructing the settings validates them, which cost as much per beat
        # as the check itself.
        self._spectral = spectral.SpectralSettings()
        self._lomb = spectral.IncrementalLomb(self._freqs_hz, window_beats=w)
        self._t_s = t_first_s
        self._n_total = 0
        self._stretch_first = 0  # n_total before the first beat of the current stretch
        self._gap_pending = False  # the next beat starts a new stretch
        hist = max(_HISTORY_BEATS, w)
        self._hist_t = _Ring(hist)
        self._hist_nn = _Ring(hist)
        self._corrected = _Ring(w)
        self._n_corrected = 0  # corrected values in `_corrected` (exact: they are 0 or 1)
        self._breaths = _Ring(_MAX_BREATHS)
        self._inhale = _Ring(_MAX_BREATHS)
        self._rsa = _Ring(_MAX_BREATHS)
        self._rsa_end_t = _Ring(_MAX_BREATHS)
        self._pending_breaths: list[tuple[float, float]] = []  # (start, end) awaiting beats
        nan = math.nan
        self._coh = (nan, nan, nan)
        self._next_coh_t = -math.inf
        self._next_phase_t = -math.inf
        self._phase = (nan, nan)
        self._nonlinear = (nan, nan)
        # (mean, end of its oldest breath, RSA values seen when computed)
        self._rsa_mean_cache = (nan, math.inf, 0)
        self._n_rsa = 0
        self._n_breaths = 0  # onsets accepted so far: identifies the breath ring's contents
        self._phase_ref_key = -1
        self._phase_ref: _PhaseReference | None = None

    # ------------------------------------------------------------------ inputs
    def push(self, rr_ms: float) -> tuple[LiveUpdate, ...]:
        """Add one RR interval (ms); return an update for every NN value that became final.

        Never raises or warns per beat: bad values are handled by the corrector's gate.
        """
        if self._corrector is None:
            rr = float(rr_ms)
            # Without correction only the physiological gate protects the beat clock (a
            # 1e300-ms "interval" would stop time advancing); values outside it are dropped.
            if not (artifacts.RR_MIN_MS <= rr <= artifacts.RR_MAX_MS):
                return ()
            finals: tuple[artifacts.FinalNN, ...] = (artifacts.FinalNN(rr, False),)
        else:
            finals = self._corrector.push(float(rr_ms))
        return tuple(self._accept(f) for f in finals if math.isfinite(f.nn_ms))

    def flush(self) -> tuple[LiveUpdate, ...]:
        """Finalize what the corrector still holds (end of a stream)."""
        if self._corrector is None:
            return ()
        return tuple(self._accept(f) for f in self._corrector.flush() if math.isfinite(f.nn_ms))

    def note_gap(self, seconds: float) -> tuple[LiveUpdate, ...]:
        """A data gap (e.g. a dropout) of ``seconds``: the next beat starts a new stretch.

        The beats the corrector still holds are finalized first (they lie before the gap and
        are returned as updates); then the beat clock moves forward by ``seconds`` (when
        finite and positive) and the next beat's difference to the last one before the gap
        is left out of every measure (module docstring).
        """
        finals = self._corrector.note_gap() if self._corrector is not None else ()
        out = tuple(self._accept(f) for f in finals if math.isfinite(f.nn_ms))
        if math.isfinite(seconds) and seconds > 0:
            self._t_s += seconds
        if self._n_total:
            self._gap_pending = True
        return out

    def push_breath_start(self, t_s: float, *, inhale_s: float | None = None) -> None:
        """Record a breath onset (s, beat clock) and the inhalation length if known.

        Completing a breath (the next onset) queues its peak-to-trough heart rate, which is
        computed as soon as the beats of the whole breath are final (the corrector decides
        up to two beats late), so it equals `rsa.rsa_peak_to_trough_bpm` on the same beats.
        Non-finite or out-of-order onsets are ignored.
        """
        t_s = float(t_s)
        if not math.isfinite(t_s) or (len(self._breaths) and t_s <= self._breaths.view()[-1]):
            return
        inhale = math.nan if inhale_s is None else float(inhale_s)
        self._breaths.push(t_s)
        self._n_breaths += 1
        self._inhale.push(inhale if math.isfinite(inhale) and inhale > 0 else math.nan)
        starts = self._breaths.view()
        if starts.size >= 2:
            self._pending_breaths.append((float(starts[-2]), t_s))
            self._settle_breaths()

    def _settle_breaths(self) -> None:
        """Evaluate the queued breaths whose every beat is final."""
        while self._pending_breaths and self._t_s >= self._pending_breaths[0][1]:
            start, end = self._pending_breaths.pop(0)
            # Only the breath's own beats matter: a slice around them, not the whole history.
            beat_t = self._hist_t.view()
            lo = int(np.searchsorted(beat_t, start, side="left"))
            hi = int(np.searchsorted(beat_t, end, side="left"))
            pt = rsa.rsa_peak_to_trough_bpm(
                beat_t[lo:hi], self._hist_nn.view()[lo:hi], np.array([start, end])
            )
            self._rsa.push(float(pt[0]) if pt.size else math.nan)
            self._rsa_end_t.push(end)
            self._n_rsa += 1

    # ------------------------------------------------------------------ internals
    def _accept(self, final: artifacts.FinalNN) -> LiveUpdate:
        nn = float(final.nn_ms)
        self._t_s += nn / 1000.0
        t = self._t_s
        new_stretch = self._gap_pending
        if new_stretch:
            self._gap_pending = False
            self._stretch_first = self._n_total
            # The Lomb window restarts: beats on both sides of a gap are not one series.
            self._lomb = spectral.IncrementalLomb(
                self._freqs_hz, window_beats=self.settings.window_beats
            )
        self._n_total += 1
        td = self._td.push(nn, new_stretch=new_stretch)
        settings = self.settings
        if settings.spectrum:
            self._lomb.push(t, nn)
        self._hist_t.push(t)
        self._hist_nn.push(nn)
        corr = self._corrected
        if len(corr) == corr.capacity:
            self._n_corrected -= int(corr.view()[0])
        corr.push(1.0 if final.corrected else 0.0)
        self._n_corrected += bool(final.corrected)
        if self._pending_breaths:
            self._settle_breaths()
        # At most one of the two 5-s refreshes per beat (issue 9): phase synchrony runs half
        # a period after each coherence refresh, and waits for the next beat when its beat
        # also refreshes coherence or the nonlinear measures. Everything is counted in beats
        # and beat time, never wall time, so a replay at any speed gives the same values.
        nonlinear_due = settings.nonlinear and self._n_total % settings.nonlinear_every_beats == 0
        every_s = settings.coherence_every_s
        if t >= self._next_coh_t:
            self._refresh_coherence()
            self._next_coh_t = t + every_s
            if self._next_phase_t == math.inf:  # not still waiting from the last period
                self._next_phase_t = t + 0.5 * every_s
        elif t >= self._next_phase_t and not nonlinear_due:
            if settings.phase_synchrony:
                self._refresh_phase()
            self._next_phase_t = math.inf  # until the next coherence refresh schedules it
        if nonlinear_due:
            self._refresh_nonlinear()
        if settings.spectrum:
            lf, hf, lf_hf, lf_peak_hz, lf_peak_psd = self._lomb_bands(td)
        else:
            lf = hf = lf_hf = lf_peak_hz = lf_peak_psd = math.nan
        var_d = td.sdsd_ms**2
        sd1 = math.sqrt(0.5 * var_d) if math.isfinite(var_d) else math.nan
        sd2_sq = 2.0 * td.sdnn_ms**2 - 0.5 * var_d
        sd2 = math.sqrt(max(sd2_sq, 0.0)) if math.isfinite(sd2_sq) else math.nan
        c = self._corrector
        return LiveUpdate(
            t_s=t,
            nn_ms=nn,
            corrected=bool(final.corrected),
            n_total_beats=self._n_total,
            time=td,
            sd1_ms=sd1,
            sd2_ms=sd2,
            lf_ms2=lf,
            hf_ms2=hf,
            lf_hf=lf_hf,
            lf_peak_hz=lf_peak_hz,
            lf_peak_psd_ms2_per_hz=lf_peak_psd,
            coherence_ratio=self._coh[0],
            coherence_peak_hz=self._coh[1],
            coherence_t_s=self._coh[2],
            dfa_alpha1=self._nonlinear[0],
            sampen=self._nonlinear[1],
            rsa_last_breath_bpm=float(self._rsa.view()[-1]) if len(self._rsa) else math.nan,
            rsa_mean_bpm=self._rsa_mean(t),
            phase_lag_deg=self._phase[0],
            phase_plv=self._phase[1],
            n_ectopic=c.n_ectopic if c else 0,
            n_long_short=c.n_long_short if c else 0,
            n_missed=c.n_missed if c else 0,
            n_extra=c.n_extra if c else 0,
            n_gated=c.n_gated if c else 0,
            corrected_pct=100.0 * (self._n_corrected / len(corr)),
        )

    def _refresh_nonlinear(self) -> None:
        window = self._td.values_ms()
        breaks = self._td.segment_start_idx()
        if breaks.size:
            whole = ([0], [window.size])
            self._nonlinear = (
                float(nonlinear.dfa_alpha1_windows(window, *whole, segment_start_idx=breaks)[0]),
                float(
                    nonlinear.sample_entropy_windows(window, *whole, segment_start_idx=breaks)[0]
                ),
            )
        else:
            self._nonlinear = (nonlinear.dfa_alpha1(window), nonlinear.sample_entropy(window))

    def _long_enough(self, n: int, duration_s: float) -> bool:
        """`SpectralSettings.long_enough` of one record, in scalar float64 arithmetic."""
        st = self._spectral
        if n < max(st.min_beats, 3):
            return False
        covered = duration_s + st.min_duration_tolerance_rr * duration_s / (n - 1)
        return covered >= st.min_duration_s

    def _lomb_bands(self, td: TimeDomainMetrics) -> tuple[float, float, float, float, float]:
        nan = math.nan
        # The batch path's minimum (`spectral.frequency_metrics`): the span from the first to
        # the last beat time of the window, which excludes the first interval.
        n = self._lomb.n_beats
        if n == td.n_beats:
            first_ms = float(self._hist_nn.view()[-n]) if n else math.nan
            duration_s = (td.mean_rr_ms * n - first_ms) / 1000.0
        else:  # the Lomb window restarted at a gap: it holds the current stretch only
            duration_s = float(np.sum(self._lomb.values_ms()[1:])) / 1000.0
        if not self._long_enough(n, duration_s):
            return nan, nan, nan, nan, nan
        psd = self._lomb.psd_ms2_per_hz()
        lf = float(self._lf_weights @ psd)
        hf = float(self._hf_weights @ psd)
        lf_psd = psd[self._lf_mask]
        k = int(np.argmax(lf_psd))
        return lf, hf, (lf / hf if hf > 0 else nan), float(self._lf_freqs_hz[k]), float(lf_psd[k])

    def _refresh_coherence(self) -> None:
        # Only the current stretch: a window across a gap is no heart rhythm (issue 6).
        nn = self._hist_nn.view()
        nn = nn[max(nn.size - (self._n_total - self._stretch_first), 0) :]
        span_s = float(np.sum(nn)) / 1000.0
        if span_s < self.settings.coherence_window_s:
            return
        # The ring holds validated NN values (finite, positive).
        res = coherence.coherence_ratio_unchecked(nn, window_s=self.settings.coherence_window_s)
        self._coh = (res.ratio, res.peak_hz, self._t_s)

    def _breath_phase(self, t: FloatArray) -> tuple[FloatArray, float]:
        """Piecewise-linear breathing phase at times t (NaN outside complete breaths)."""
        starts = self._breaths.view()
        inhale = self._inhale.view()
        period = np.diff(starts)
        k = np.searchsorted(starts, t, side="right") - 1
        ok = (k >= 0) & (k < period.size)
        kk = np.clip(k, 0, max(period.size - 1, 0))
        into = t - starts[np.minimum(kk, starts.size - 1)]
        per = period[kk] if period.size else np.full(t.shape, np.nan)
        insp = np.where(np.isfinite(inhale[kk]), inhale[kk], per / 2.0) if period.size else per
        insp = np.clip(insp, 1e-3, per - 1e-3) if period.size else insp
        phase = np.where(
            into < insp, np.pi * into / insp, np.pi + np.pi * (into - insp) / (per - insp)
        )
        pacer_hz = 1.0 / float(np.median(period)) if period.size else math.nan
        return np.where(ok, phase, np.nan), pacer_hz

    def _phase_reference(self) -> _PhaseReference | None:
        """Breathing phase of the last ``phase_window_s`` of breaths; None if too short.

        It depends on the breath onsets only, so it is kept until the next onset (the 5-s
        refresh runs about twice per breath).
        """
        if self._phase_ref_key == self._n_breaths:
            return self._phase_ref
        self._phase_ref_key = self._n_breaths
        self._phase_ref = None
        starts = self._breaths.view()
        if starts.size < 3:
            return None
        t_end = float(starts[-1])
        t_start = max(t_end - self.settings.phase_window_s, float(starts[0]))
        ref_t = np.arange(t_start, t_end, 0.1)
        ref_phase, pacer_hz = self._breath_phase(ref_t)
        ok = np.isfinite(ref_phase)
        if np.count_nonzero(ok) < 4 or not (math.isfinite(pacer_hz) and pacer_hz > 0):
            return None
        # Unwrapped once here; `phase_synchrony` would unwrap it again, a no-op.
        self._phase_ref = _PhaseReference(
            t_start, t_end, ref_t[ok], np.unwrap(ref_phase[ok]), pacer_hz
        )
        return self._phase_ref

    def _refresh_phase(self) -> None:
        ref = self._phase_reference()
        if ref is None:
            return
        beat_t = self._hist_t.view()
        nn = self._hist_nn.view()
        # Beat times increase: the beats within 5 s of the reference are one slice.
        lo = int(np.searchsorted(beat_t, ref.t_start_s - 5.0, side="left"))
        hi = int(np.searchsorted(beat_t, ref.t_end_s + 5.0, side="right"))
        if hi - lo < 4:
            return
        try:
            # The ring holds validated beats (finite, positive, strictly increasing times).
            res = rsa.phase_synchrony_unchecked(
                beat_t[lo:hi], nn[lo:hi], ref.t_s, ref.phase_rad, ref.pacer_hz
            )
        except SignalInputError:  # e.g. a breathing rate the HR band-pass cannot resolve
            logger.debug("phase synchrony skipped", exc_info=True)
            return
        self._phase = (res.lag_deg, res.plv)

    def _rsa_mean(self, t: float) -> float:
        # The mean changes only when a breath's value arrives or the oldest one in the window
        # leaves it (t only grows): kept until then instead of recomputed every beat.
        value, oldest_end_t, n_seen = self._rsa_mean_cache
        window_s = self.settings.phase_window_s
        if n_seen == self._n_rsa and oldest_end_t >= t - window_s:
            return value
        end_t = self._rsa_end_t.view()
        recent = end_t >= t - window_s
        values = self._rsa.view()[recent]
        values = values[np.isfinite(values)]
        value = float(np.mean(values)) if values.size else math.nan
        kept = end_t[recent]
        self._rsa_mean_cache = (value, float(kept[0]) if kept.size else math.inf, self._n_rsa)
        return value
