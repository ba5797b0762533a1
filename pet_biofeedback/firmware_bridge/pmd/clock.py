"""PMD sensor-clock anchoring: device timestamps → host monotonic seconds (ble-protocol.md §4.8).

`PmdClock` places every sample of a stream on the host clock from the frame's device timestamp
and its arrival time (lower envelope, bounded slew, drift fit, re-anchoring on jumps). Pure:
the host arrival times are passed in; invalid arguments raise `ConfigError`.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Final

import numpy as np

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.firmware_bridge.pmd.protocol import (
    FloatArray,
    _is_positive_real,
)

_NS_PER_S: Final = 1_000_000_000

# --- Host-anchored timing (§4.8) ----------------------------------------------------------------

#: Largest deviation of a frame's device-time span from n/fs_nominal that still counts as the
#: actual rate: H10 ECG is 130 Hz ± 5 % over temperature (H10_ECG_Explained.docx, §4.8), doubled.
RATE_TOLERANCE: Final = 0.10
#: Largest rate at which the host offset may be slewed, as a fraction of elapsed device time:
#: twice the ±5 % worst case of the sensor, small enough to keep sample spacing sane.
MAX_SLEW: Final = 0.10
#: A host/device disagreement larger than this is a discontinuity (clock reset or jump, host
#: stall, buffered burst): re-anchor instead of slewing. Cf. the 2 s RR bound of §2.4.
MAX_STEP_S: Final = 1.0
#: Window of the lower envelope of (arrival − device time): long enough to contain promptly
#: delivered frames (an H10 sends ~2 ECG frames/s, §4.9), short enough to follow the host.
ENVELOPE_WINDOW_S: Final = 10.0
#: Host time over which the drift between sensor and host clocks is fitted before it is used
#: to project the envelope forward (≈ 0.2 % drift on a public H10 recording, §4.8).
DRIFT_FIT_MIN_S: Final = 30.0


class PmdClock:
    """Map one PMD stream's device timestamps to host monotonic seconds, per sample (§4.8).

    Parameters
    ----------
    fs_hz : float
        Nominal sample rate from the START settings (e.g. 130 for H10 ECG). Used only for the
        first frame, after a discontinuity, and to recognise lost frames.
    rate_tolerance : float, optional
        See `RATE_TOLERANCE` (default 0.10).
    max_slew : float, optional
        See `MAX_SLEW` (default 0.10).
    max_step_s : float, optional
        See `MAX_STEP_S` (default 1.0 s).
    envelope_window_s : float, optional
        See `ENVELOPE_WINDOW_S` (default 10 s).

    Raises
    ------
    ConfigError
        If a parameter is not finite and positive, or `max_slew` / `rate_tolerance` is not
        below 1.

    Notes
    -----
    What it assumes and does:

    * **Device time only for spacing.** Absolute device time is untrusted (local time set by
      whoever connected last; the H10 resets to 2019-01-01; §4.8), so only differences of
      timestamps of *one* stream are used. Call `reset` after STOP/START or a reconnect; a
      timestamp that does not increase is treated as a restart anyway.
    * **Per-sample device times** as ``PmdTimeStampUtils.getTimeStamps``: the frame timestamp
      is the last sample's; samples are spaced ``Δ = (ts − prev_ts)/n`` (the actual rate). For
      the first frame (no previous timestamp), Δ = 1/fs_hz back from ``ts``. When the span is
      more than `rate_tolerance` longer than ``n/fs_hz``, frames were lost: the samples are
      back-dated from ``ts`` at the nominal rate so the gap stays a gap (the SDK would stretch
      them over it). A span more than `rate_tolerance` *shorter* is a clock discontinuity.
    * **Anchoring to the host.** Host time = device time + offset. The offset follows the
      lower envelope of ``e = arrival − device time of the frame's last sample`` over the last
      `envelope_window_s`: a sample cannot arrive before it was taken, and the fastest frame
      in the window is taken to have negligible latency (one BLE connection interval,
      7.5–50 ms). This undoes the first frame's caveat (its arrival may be late: ECG start
      latency, buffering). The drift between sensor and host clocks (≈ 0.2 % on a public H10
      recording, §4.8; seconds per hour against the RR beat times) is fitted as the slope of
      ``e`` over host time (least squares since the anchor, used after `DRIFT_FIT_MIN_S`); when
      the sensor clock is slow (``e`` rising), older envelope points are projected forward with
      it so that the window minimum does not lag behind. Given latency ≥ 0 and drift below
      `max_slew`, host times are then never earlier than the samples were taken.
    * **Smoothness.** Offset changes are slewed at most `max_slew` × elapsed device time and
      spread linearly over the frame, so host times are strictly increasing and the sample
      spacing stays within ±`max_slew` of the device's. A disagreement above `max_step_s`
      re-anchors at once (counted in `n_reanchors`), but never back before a time already
      returned: being late is then corrected by slewing.
    * Not for PPI: its frame timestamp may be 0 (§4.11); time PP intervals like RR (§2.4).
    """

    def __init__(
        self,
        fs_hz: float,
        *,
        rate_tolerance: float = RATE_TOLERANCE,
        max_slew: float = MAX_SLEW,
        max_step_s: float = MAX_STEP_S,
        envelope_window_s: float = ENVELOPE_WINDOW_S,
    ) -> None:
        for name, value in (
            ("fs_hz", fs_hz),
            ("rate_tolerance", rate_tolerance),
            ("max_slew", max_slew),
            ("max_step_s", max_step_s),
            ("envelope_window_s", envelope_window_s),
        ):
            if not _is_positive_real(value):
                raise ConfigError(f"PmdClock: {name} must be finite and > 0, got {value!r}")
        if max_slew >= 1 or rate_tolerance >= 1:
            raise ConfigError("PmdClock: max_slew and rate_tolerance must be below 1")
        self._fs_hz = float(fs_hz)
        self._nominal_ns = _NS_PER_S / self._fs_hz
        self._rate_tolerance = float(rate_tolerance)
        self._max_slew = float(max_slew)
        self._max_step_s = float(max_step_s)
        self._window_s = float(envelope_window_s)
        self._n_reanchors = 0
        self._n_gaps = 0
        self._origin_ns = 0
        self._prev_ns: int | None = None
        self._offset_s = 0.0
        self._last_t_s: float | None = None
        self._envelope: deque[tuple[float, float]] = deque()
        # Running least-squares sums of e over host time since the anchor: n, Σx, Σy, Σxx, Σxy.
        self._fit_x0 = 0.0
        self._fit_y0 = 0.0
        self._fit_last_x = 0.0
        self._fit = [0.0, 0.0, 0.0, 0.0, 0.0]

    @property
    def fs_hz(self) -> float:
        """Nominal sample rate in Hz."""
        return self._fs_hz

    @property
    def n_reanchors(self) -> int:
        """Discontinuities handled by re-anchoring (clock went back or jumped, host stall)."""
        return self._n_reanchors

    @property
    def n_gaps(self) -> int:
        """Frames that followed lost frames (device-time span too long)."""
        return self._n_gaps

    @property
    def offset_s(self) -> float | None:
        """Current host − device offset in s (device time relative to the anchor frame)."""
        return None if self._prev_ns is None else self._offset_s

    @property
    def drift(self) -> float:
        """Fitted drift of the offset, s per host s (> 0: sensor clock slow); 0 until fitted."""
        n, sx, sy, sxx, sxy = self._fit
        denominator = n * sxx - sx * sx
        if n < 3 or denominator <= 0 or self._fit_span_s() < DRIFT_FIT_MIN_S:
            return 0.0
        slope = (n * sxy - sx * sy) / denominator
        return min(max(slope, -self._max_slew), self._max_slew)

    def reset(self) -> None:
        """Forget the anchor: call after STOP/START or a reconnect (§4.8)."""
        self._prev_ns = None
        self._last_t_s = None
        self._envelope.clear()
        self._fit = [0.0, 0.0, 0.0, 0.0, 0.0]

    def sample_times_s(
        self, sensor_timestamp_ns: int, n_samples: int, host_arrival_s: float
    ) -> FloatArray:
        """Host times of the samples of the next frame of the stream.

        Parameters
        ----------
        sensor_timestamp_ns : int
            The frame's device timestamp (its last sample), e.g. ``frame.sensor_timestamp_ns``.
        n_samples : int
            Samples in the frame (``frame.n_samples``). 0 returns an empty array.
        host_arrival_s : float
            Host monotonic time (s) at which the notification arrived.

        Returns
        -------
        ndarray of float64, shape (n_samples,)
            Host monotonic seconds of each sample, oldest first, strictly increasing across
            all frames since the last `reset`.

        Raises
        ------
        ConfigError
            If `host_arrival_s` is not finite.
        """
        n = int(n_samples)
        if n <= 0:
            return np.empty(0, dtype=np.float64)
        if not math.isfinite(host_arrival_s):
            raise ConfigError(f"PmdClock: host_arrival_s must be finite, got {host_arrival_s!r}")
        arrival = float(host_arrival_s)
        ts = int(sensor_timestamp_ns)
        idx = np.arange(n, dtype=np.float64)
        prev = self._prev_ns
        if prev is None:
            return self._anchor(ts, idx, arrival)
        span_ns = ts - prev
        ratio = span_ns / (n * self._nominal_ns)
        if span_ns <= 0 or ratio < 1 - self._rate_tolerance:
            self._n_reanchors += 1  # device clock went back or jumped: a new timeline
            return self._anchor(ts, idx, arrival)
        if ratio <= 1 + self._rate_tolerance:
            dev_ns = (prev - self._origin_ns) + (span_ns / n) * (idx + 1)
        else:
            self._n_gaps += 1  # lost frames: keep the gap, nominal spacing back from ts
            dev_ns = (ts - self._origin_ns) - self._nominal_ns * (n - 1 - idx)
        dev_s: FloatArray = dev_ns / _NS_PER_S
        prev_s = (prev - self._origin_ns) / _NS_PER_S
        last_s = (ts - self._origin_ns) / _NS_PER_S
        e = arrival - last_s
        self._prev_ns = ts

        self._envelope.append((arrival, e))
        while self._envelope[0][0] < arrival - self._window_s:
            self._envelope.popleft()
        self._fit_add(arrival, e)
        # Project only a slow sensor clock (e rising): with a fast one the newest point is the
        # minimum anyway, and projecting a slope estimate downwards could date samples before
        # they were taken.
        drift = max(self.drift, 0.0)
        target = min(e_j + drift * (arrival - a_j) for a_j, e_j in self._envelope)
        diff = target - self._offset_s
        if abs(diff) > self._max_step_s:
            # Discontinuity (host stall, burst, clock jump within tolerance): this frame's own
            # offset, but never back before a time already returned.
            last_t = -math.inf if self._last_t_s is None else self._last_t_s
            floor = last_t + self._nominal_ns / _NS_PER_S - float(dev_s[0])
            offset = max(e, floor)
            if abs(offset - self._offset_s) > self._max_step_s:
                self._n_reanchors += 1
                self._offset_s = offset
                self._envelope.clear()
                self._envelope.append((arrival, e))
                self._fit_restart(arrival, e)
                times: FloatArray = dev_s + offset
                self._last_t_s = float(times[-1])
                return times
        span_s = last_s - prev_s
        step = min(max(diff, -self._max_slew * span_s), self._max_slew * span_s)
        times = dev_s + self._offset_s + step * ((dev_s - prev_s) / span_s)
        self._offset_s += step
        self._last_t_s = float(times[-1])
        return times

    def _anchor(self, ts: int, idx: FloatArray, arrival: float) -> FloatArray:
        """Start a timeline here: nominal spacing back from `ts`, last sample at `arrival`."""
        n = int(idx.shape[0])
        self._origin_ns = ts
        self._prev_ns = ts
        dev_s: FloatArray = -self._nominal_ns * (n - 1 - idx) / _NS_PER_S
        offset = arrival
        if self._last_t_s is not None:
            # Never go back in time across a discontinuity; the envelope slews back later.
            offset = max(offset, self._last_t_s + self._nominal_ns / _NS_PER_S - float(dev_s[0]))
        self._offset_s = offset
        self._envelope.clear()
        self._envelope.append((arrival, arrival))
        self._fit_restart(arrival, arrival)
        times: FloatArray = dev_s + offset
        self._last_t_s = float(times[-1])
        return times

    def _fit_restart(self, arrival: float, e: float) -> None:
        """Restart the drift fit at this frame."""
        self._fit_x0 = arrival
        self._fit_y0 = e
        self._fit = [0.0, 0.0, 0.0, 0.0, 0.0]
        self._fit_add(arrival, e)

    def _fit_add(self, arrival: float, e: float) -> None:
        """Add one (host time, e) point to the drift fit (both relative to the fit start)."""
        x = arrival - self._fit_x0
        e -= self._fit_y0
        self._fit[0] += 1.0
        self._fit[1] += x
        self._fit[2] += e
        self._fit[3] += x * x
        self._fit[4] += x * e
        self._fit_last_x = x

    def _fit_span_s(self) -> float:
        """Host time covered by the drift fit."""
        return self._fit_last_x if self._fit[0] else 0.0
