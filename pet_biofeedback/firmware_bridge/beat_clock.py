"""Beat times from RR intervals, and lost beats found from time itself (ble-protocol.md §2.4).

A heart-rate packet carries RR intervals but no time stamps. `RrBeatClock` puts the last beat of
each packet on the host's time line: the first packet's last beat at its arrival, every later one
at the previous last beat plus the sum of the packet's intervals, so the spacing is exact.

The same chain tells when beats went missing (issue 6). Between two packets the strap's RR
intervals must add up to the time that passed between their last beats. The host cannot see the
beats, only the packets' arrivals, and a beat waits up to one notification interval
(`RR_NOTIFY_LATENCY_MAX_S`) for the packet that carries it, plus the link's jitter
(`RR_LINK_JITTER_S`). So when the arrival lies later than the chain's last beat by more than

    tolerance = RR_NOTIFY_LATENCY_MAX_S + RR_LINK_JITTER_S + RR_CLOCK_FRACTION × elapsed

the intervals cannot account for the time: beats were lost (a stall shorter than the BLE
watchdog, a dropped notification). `place` then returns a `Gap` covering the missing span
("beats lost: RR intervals cover 1.0 s of 3.4 s") and re-anchors the chain to the arrival.
Normal jitter never reaches the tolerance (an emulated strap at 20× real time, 10 minutes: the
largest lag was 1.00 s); a 2.5-s stall lags by 2.9 s or more.

A strap whose crystal runs slower than the host's clock makes the chain fall behind slowly
(50 ppm: 0.18 s an hour); every `RR_DRIFT_WINDOW_PACKETS` packets the chain is moved forward
by the smallest lag of that window, so drift never adds up to a false gap.

Everything here is a deterministic function of the arrival times and RR values, with no
Bluetooth import: the live strap (`ble.BleStrap`) and the replay of raw notifications or of
recorded ``rr`` events (`replay.ReplaySource`) apply the very same rule, so replaying an old
recording that lacks these gaps finds them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from pet_biofeedback.errors import ConfigError
from pet_biofeedback.events import Gap

__all__ = [
    "RR_CLOCK_FRACTION",
    "RR_DRIFT_WINDOW_PACKETS",
    "RR_LINK_JITTER_S",
    "RR_NOTIFY_LATENCY_MAX_S",
    "BeatPlacement",
    "RrBeatClock",
    "lost_beats_gap",
]

#: A strap notifies once a second (ble-protocol.md §2.3): a beat waits at most this long for the
#: packet that carries it.
RR_NOTIFY_LATENCY_MAX_S: Final = 1.0
#: BLE connection events, retransmissions and host scheduling (a few hundred ms; an emulated strap
#: at 20× real time scales the event loop's own delays by 20 as well).
RR_LINK_JITTER_S: Final = 0.35
#: Strap and host clocks tick at slightly different rates, and RR values are rounded to 1/1024 s:
#: a fraction of the time compared.
RR_CLOCK_FRACTION: Final = 0.05
#: Packets between drift corrections of the chain (about a minute at one packet a second).
RR_DRIFT_WINDOW_PACKETS: Final = 60
_MS_PER_S: Final = 1000.0


@dataclass(frozen=True, slots=True)
class BeatPlacement:
    """Where `RrBeatClock.place` put a packet's beats.

    Attributes
    ----------
    t : float
        Time of the packet's last beat, s (the `RRIntervals.t` to emit).
    gap : Gap or None
        Beats lost before this packet's first interval, or None.
    """

    t: float
    gap: Gap | None


def lost_beats_gap(
    previous_beat_t: float,
    arrival_t: float,
    rr_ms: tuple[float, ...],
    *,
    latency_s: float = RR_NOTIFY_LATENCY_MAX_S,
    jitter_s: float = RR_LINK_JITTER_S,
    fraction: float = RR_CLOCK_FRACTION,
) -> Gap | None:
    """The gap of lost beats between a packet and the last beat before it, or None.

    Parameters
    ----------
    previous_beat_t : float
        Time of the last beat of the previous packet (the chain), s.
    arrival_t : float
        When the packet arrived (or, for a recorded ``rr`` event, its last beat's time), s.
    rr_ms : tuple of float
        The packet's RR intervals, ms, oldest first.
    latency_s, jitter_s, fraction
        The tolerance (module docstring).

    Returns
    -------
    Gap or None
        ``Gap(t=arrival_t − Σrr, seconds=arrival_t − Σrr − previous_beat_t)`` when the lag of
        the arrival behind the chain exceeds the tolerance; None otherwise.
    """
    covered_s = math.fsum(rr_ms) / _MS_PER_S
    elapsed_s = arrival_t - previous_beat_t
    lag_s = elapsed_s - covered_s
    if not lag_s > latency_s + jitter_s + fraction * max(elapsed_s, 0.0):
        return None
    return Gap(
        arrival_t - covered_s,
        lag_s,
        f"beats lost: RR intervals cover {covered_s:.1f} s of {elapsed_s:.1f} s",
    )


class RrBeatClock:
    """Reconstruct the time of each packet's last beat and find lost beats (module docstring).

    The sum is re-anchored to the arrival time when it would lie after the arrival (a beat cannot
    be reported before it happened), when beats were lost (`lost_beats_gap`), and after `reset`
    (reconnect, dropped notifications, lost contact).

    Parameters
    ----------
    latency_s : float, default `RR_NOTIFY_LATENCY_MAX_S`
    jitter_s : float, default `RR_LINK_JITTER_S`
    fraction : float, default `RR_CLOCK_FRACTION`
        The lost-beat tolerance (module docstring).

    Raises
    ------
    ConfigError
        A tolerance that is negative or not finite, or ``latency_s + jitter_s`` not positive.

    Notes
    -----
    Deterministic in its inputs (arrival times and RR values), so a replay of the raw
    notifications through the same class reproduces every re-anchoring and every gap.
    """

    def __init__(
        self,
        *,
        latency_s: float = RR_NOTIFY_LATENCY_MAX_S,
        jitter_s: float = RR_LINK_JITTER_S,
        fraction: float = RR_CLOCK_FRACTION,
    ) -> None:
        for name, value in (
            ("latency_s", latency_s),
            ("jitter_s", jitter_s),
            ("fraction", fraction),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"RrBeatClock: {name} must be a number, got {value!r}")
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"RrBeatClock: {name} must be ≥ 0 and finite, got {value!r}")
        if not latency_s + jitter_s > 0:
            raise ConfigError("RrBeatClock: latency_s + jitter_s must be positive")
        self._latency_s = float(latency_s)
        self._jitter_s = float(jitter_s)
        self._fraction = float(fraction)
        self._last_beat_t: float | None = None
        self._window_min_lag_s = math.inf
        self._window_packets = 0
        self.n_reanchors = 0
        self.n_gaps = 0

    def reset(self) -> None:
        """Forget the chain of beats: the next packet is anchored to its arrival."""
        self._last_beat_t = None
        self._window_min_lag_s = math.inf
        self._window_packets = 0

    def _gap(self, arrival_t: float, rr_ms: tuple[float, ...]) -> Gap | None:
        if self._last_beat_t is None:
            return None
        gap = lost_beats_gap(
            self._last_beat_t,
            arrival_t,
            rr_ms,
            latency_s=self._latency_s,
            jitter_s=self._jitter_s,
            fraction=self._fraction,
        )
        if gap is not None:
            self.n_gaps += 1
        return gap

    def place(self, arrival_t: float, rr_ms: tuple[float, ...]) -> BeatPlacement:
        """Time the packet's last beat; report lost beats before it.

        Parameters
        ----------
        arrival_t : float
            When the packet arrived, s.
        rr_ms : tuple of float
            Its RR intervals in ms, oldest first (non-empty).

        Returns
        -------
        BeatPlacement
            ``t``: previous last beat + Σ rr_ms / 1000, or `arrival_t` when re-anchored;
            ``gap``: the lost beats, or None.
        """
        gap = self._gap(arrival_t, rr_ms)
        if self._last_beat_t is None:
            t = arrival_t
        elif gap is not None:
            self.n_reanchors += 1
            self._window_min_lag_s, self._window_packets = math.inf, 0
            t = arrival_t
        else:
            t = self._last_beat_t + math.fsum(rr_ms) / _MS_PER_S
            if t > arrival_t:
                self.n_reanchors += 1
                self._window_min_lag_s, self._window_packets = math.inf, 0
                t = arrival_t
            else:
                t = self._correct_drift(t, arrival_t - t)
        self._last_beat_t = t
        return BeatPlacement(t, gap)

    def _correct_drift(self, t: float, lag_s: float) -> float:
        """Move a chain that fell behind every arrival of a whole window forward (slow strap)."""
        self._window_min_lag_s = min(self._window_min_lag_s, lag_s)
        self._window_packets += 1
        if self._window_packets < RR_DRIFT_WINDOW_PACKETS:
            return t
        shift_s = self._window_min_lag_s
        self._window_min_lag_s, self._window_packets = math.inf, 0
        return t + shift_s

    def last_beat_t(self, arrival_t: float, rr_ms: tuple[float, ...]) -> float:
        """Time of the packet's last beat, s (`place` without the gap)."""
        return self.place(arrival_t, rr_ms).t

    def check(self, beat_t: float, rr_ms: tuple[float, ...]) -> Gap | None:
        """Lost beats before a recorded ``rr`` event whose last beat is at ``beat_t``.

        The recorded time is kept as the truth: the chain continues from ``beat_t``.

        Parameters
        ----------
        beat_t : float
            The event's ``t``, s.
        rr_ms : tuple of float
            Its intervals, ms.

        Returns
        -------
        Gap or None
        """
        gap = self._gap(beat_t, rr_ms)
        self._last_beat_t = beat_t
        return gap
