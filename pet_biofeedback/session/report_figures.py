"""The session report's figures as PNG bytes (matplotlib, Agg canvas, no pyplot state).

Imported only when a report is written, so that no other command pays for matplotlib. Every
figure is drawn on its own `Figure` with an Agg canvas: nothing global, nothing shown, safe in
any thread. Colours are dark-on-light with enough contrast for a tired reader; sizes are chosen
for a page about 1000 px wide.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MultipleLocator

from pet_biofeedback.session.report_data import ReportData
from pet_biofeedback.signal import spectral
from pet_biofeedback.signal._typing import FloatArray

__all__ = ["breathing_png", "heart_rate_png", "spectrum_png", "zoom_png"]

DPI: Final = 100
WIDTH_IN: Final = 11.0
FONT_PT: Final = 12.0
HR_COLOUR: Final = "#1b3f73"  # dark blue: the person's heart rate
PACER_COLOUR: Final = "#9fd3c7"  # soft green: the target wave behind it
PACER_EDGE: Final = "#3f8f7f"
ONSET_COLOUR: Final = "#5f7f78"
GAP_COLOUR: Final = "#d9d9d9"
MARKER_COLOUR: Final = "#b35900"
BREATH_COLOUR: Final = "#7a3d8f"  # purple: measured breathing
GRID_COLOUR: Final = "#e6e6e6"
BAND_COLOURS: Final = {"VLF": "#eeeeee", "LF": "#dcefe9", "HF": "#e8e3f3"}
_AUTO_MARKERS: Final = ("session start", "session end")
TIME_STEPS_S: Final = (10.0, 15.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0)
MAX_TIME_TICKS: Final = 12
FEW_BREATHS: Final = 30  # up to this many breaths in a figure the pacer wave stays strong


def _figure(height_in: float, n_rows: int = 1) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(n_rows, 1, k + 1) for k in range(n_rows)]
    for ax in axes:
        ax.tick_params(labelsize=FONT_PT)
        ax.grid(True, color=GRID_COLOUR, linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return fig, axes


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _clock(seconds: float, _pos: object = None) -> str:
    sign = "-" if seconds < 0 else ""
    minutes, secs = divmod(round(abs(seconds)), 60)
    return f"{sign}{minutes}:{secs:02d}"


def _time_axis(ax: Axes) -> None:
    t0, t1 = ax.get_xlim()
    # round clock times: the first step giving at most MAX_TIME_TICKS labels
    step = next((s for s in TIME_STEPS_S if (t1 - t0) / s <= MAX_TIME_TICKS), TIME_STEPS_S[-1])
    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.xaxis.set_major_formatter(FuncFormatter(_clock))
    ax.set_xlabel("time in the session (minutes:seconds)", fontsize=FONT_PT)


def _hr_line(data: ReportData, t0_s: float, t1_s: float) -> tuple[FloatArray, FloatArray]:
    """Heart rate inside [t0, t1] with a break (NaN) at every gap."""
    t, hr = data.beat_t_s, data.hr_bpm
    inside = (t >= t0_s) & (t <= t1_s)
    t, hr = t[inside], hr[inside]
    if data.gap_spans_s and t.size:
        cut = np.searchsorted(t, [g1 for _, g1 in data.gap_spans_s])
        t = np.insert(t, cut, np.nan)
        hr = np.insert(hr, cut, np.nan)
    return t, hr


def _hr_range(hr: FloatArray) -> tuple[float, float]:
    finite = hr[np.isfinite(hr)]
    if finite.size == 0:
        return 50.0, 90.0
    lo, hi = np.percentile(finite, [1, 99])
    pad = max(0.08 * (hi - lo), 1.0)
    return float(lo - pad), float(hi + pad)


def _draw_pacer(ax: Axes, data: ReportData, t0_s: float, t1_s: float, lo: float, hi: float) -> None:
    """The pacer's lung-fill wave scaled to the heart-rate range, behind the heart rate."""
    if data.pacer is None:
        return
    grid = np.linspace(t0_s, t1_s, max(int((t1_s - t0_s) * 5), 200))
    guide = data.pacer.guide(grid)
    if not np.any(np.isfinite(guide)):
        return
    wave = lo + guide * (hi - lo)
    # many breaths side by side: a paler wave, so that the heart rate stays readable
    n_breaths = data.pacer.breath_starts(t0_s, t1_s).size
    alpha = 0.55 if n_breaths <= FEW_BREATHS else 0.3
    ax.fill_between(grid, lo, wave, color=PACER_COLOUR, alpha=alpha, linewidth=0, zorder=1)
    ax.plot(
        grid,
        wave,
        color=PACER_EDGE,
        linewidth=0.8,
        alpha=alpha + 0.25,
        zorder=1,
        label="pacer: breathe in while it rises, out while it falls",
    )


def _draw_gaps(ax: Axes, data: ReportData) -> None:
    for k, (g0, g1) in enumerate(data.gap_spans_s):
        ax.axvspan(
            g0, g1, color=GAP_COLOUR, zorder=0, label="no heartbeats received" if k == 0 else None
        )


def _draw_markers(ax: Axes, data: ReportData, t0_s: float, t1_s: float) -> None:
    number = 0
    for marker in data.markers:
        if marker.text.startswith(_AUTO_MARKERS):
            continue
        number += 1
        if t0_s <= marker.t <= t1_s:
            ax.axvline(marker.t, color=MARKER_COLOUR, linestyle="--", linewidth=1.2, zorder=3)
            ax.annotate(
                str(number),
                (marker.t, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -3),
                textcoords="offset points",
                va="top",
                color=MARKER_COLOUR,
                fontsize=FONT_PT,
                fontweight="bold",
            )


def _legend(ax: Axes) -> None:
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(0.0, -0.22),
            ncol=3,
            frameon=False,
            fontsize=FONT_PT - 1,
        )


def _session_span(data: ReportData) -> tuple[float, float]:
    t0 = float(data.beat_t_s[0]) if data.beat_t_s.size else 0.0
    t1 = float(data.beat_t_s[-1]) if data.beat_t_s.size else 1.0
    return t0, max(t1, t0 + 1.0)


def heart_rate_png(data: ReportData) -> bytes:
    """Heart rate over the whole session, the pacer's wave behind it, gaps and markers."""
    t0, t1 = _session_span(data)
    fig, (ax,) = _figure(4.2)
    lo, hi = _hr_range(data.hr_bpm)
    _draw_gaps(ax, data)
    _draw_pacer(ax, data, t0, t1, lo, hi)
    t, hr = _hr_line(data, t0, t1)
    ax.plot(t, hr, color=HR_COLOUR, linewidth=1.4, zorder=4, label="your heart rate")
    if data.pacer is not None and t1 - t0 <= 15 * 60:
        # onset ticks at the bottom; lines over a long session would hide the heart rate
        onsets = data.pacer.breath_starts(t0, t1)
        ax.plot(
            onsets,
            np.full(onsets.size, lo),
            linestyle="none",
            marker="|",
            markersize=10,
            markeredgewidth=1.5,
            color=ONSET_COLOUR,
            zorder=5,
            clip_on=False,  # half of each tick below the axis line, half above
            label="paced breath starts",
        )
    _draw_markers(ax, data, t0, t1)
    ax.set_xlim(t0, t1)
    ax.set_ylim(lo, hi)
    ax.set_ylabel("heart rate (beats/min)", fontsize=FONT_PT)
    _time_axis(ax)
    _legend(ax)
    return _png(fig)


def zoom_png(data: ReportData) -> bytes | None:
    """Two minutes close up: heart rate rising and falling with each paced breath.

    With chest-movement breathing a second panel shows it under the pacer's wave.
    """
    if data.zoom_s is None:
        return None
    t0, t1 = data.zoom_s
    show_breathing = data.breathing is not None and data.breathing.waveform.size > 0
    fig, axes = _figure(6.4 if show_breathing else 4.0, 2 if show_breathing else 1)
    ax = axes[0]
    t, hr = _hr_line(data, t0, t1)
    lo, hi = _hr_range(hr)
    _draw_gaps(ax, data)
    _draw_pacer(ax, data, t0, t1, lo, hi)
    onsets = (
        data.pacer.breath_starts(t0, t1)
        if data.pacer is not None
        else (data.breathing.onsets_s if data.breathing is not None else np.empty(0))
    )
    onsets = onsets[(onsets >= t0) & (onsets <= t1)]
    for k, onset in enumerate(onsets):
        ax.axvline(
            onset,
            color=ONSET_COLOUR,
            linewidth=0.9,
            linestyle=":",
            zorder=2,
            label="breath starts" if k == 0 else None,
        )
    ax.plot(
        t,
        hr,
        color=HR_COLOUR,
        linewidth=2.0,
        marker="o",
        markersize=3,
        zorder=4,
        label="your heart rate (each dot is one beat)",
    )
    ax.set_xlim(t0, t1)
    ax.set_ylim(lo, hi)
    ax.set_ylabel("heart rate (beats/min)", fontsize=FONT_PT)
    _time_axis(ax)
    _legend(ax)
    if show_breathing and data.breathing is not None:
        bx = axes[1]
        b = data.breathing
        inside = (b.waveform_t_s >= t0) & (b.waveform_t_s <= t1)
        wave = b.waveform[inside]
        scale = float(np.max(np.abs(wave))) if wave.size else 1.0
        if data.pacer is not None:
            grid = np.linspace(t0, t1, 600)
            guide = data.pacer.guide(grid)
            bx.plot(
                grid, 2.0 * guide - 1.0, color=PACER_EDGE, linewidth=2.0, alpha=0.7, label="pacer"
            )
        bx.plot(
            b.waveform_t_s[inside],
            wave / (scale or 1.0),
            color=BREATH_COLOUR,
            linewidth=1.8,
            label="your breathing (chest movement)",
        )
        bx.set_xlim(t0, t1)
        bx.set_ylim(-1.15, 1.15)
        bx.set_yticks([-1, 1], ["out", "in"])
        _time_axis(bx)
        _legend(bx)
    return _png(fig)


def breathing_png(data: ReportData) -> bytes | None:
    """Measured breaths per minute, breath by breath, against the pacer's rate."""
    b = data.breathing
    if b is None or b.onsets_s.size < 3:
        return None
    period = np.diff(b.onsets_s)
    mid = b.onsets_s[:-1] + period / 2
    rate = 60.0 / period
    fig, (ax,) = _figure(3.6)
    t0, t1 = _session_span(data)
    if data.pacer is not None:
        grid = np.linspace(t0, t1, 2000)
        ax.plot(
            grid,
            data.pacer.rate_breaths_per_min(grid),
            color=PACER_EDGE,
            linewidth=3,
            alpha=0.8,
            label="pacer rate",
        )
    ax.plot(
        mid,
        rate,
        linestyle="none",
        marker="o",
        markersize=5,
        color=BREATH_COLOUR,
        label="your breaths (from chest movement)",
    )
    finite = rate[np.isfinite(rate)]
    top = max(12.0, float(np.percentile(finite, 98)) + 1.0) if finite.size else 12.0
    ax.set_ylim(0, min(top, 30.0))
    ax.set_xlim(t0, t1)
    ax.set_ylabel("breaths per minute", fontsize=FONT_PT)
    _time_axis(ax)
    _legend(ax)
    return _png(fig)


def _per_min(f_hz: npt.ArrayLike) -> FloatArray:
    return np.asarray(f_hz, dtype=np.float64) * 60.0


def _hz(per_min: npt.ArrayLike) -> FloatArray:
    return np.asarray(per_min, dtype=np.float64) / 60.0


def spectrum_png(
    data: ReportData, pacer_rates_breaths_per_min: Sequence[float] = ()
) -> bytes | None:
    """The NN spectrum with the VLF/LF/HF bands shaded and the pacer frequency marked."""
    sp = data.spectrum
    if sp is None or not np.any(np.isfinite(sp.psd_ms2_per_hz)):
        return None
    fig, (ax,) = _figure(4.0)
    top = float(np.nanmax(sp.psd_ms2_per_hz)) * 1.15 or 1.0
    for name, band in (
        ("VLF", spectral.VLF_BAND_HZ),
        ("LF", spectral.LF_BAND_HZ),
        ("HF", spectral.HF_BAND_HZ),
    ):
        ax.axvspan(band[0], band[1], color=BAND_COLOURS[name], zorder=0)
        # at the band's left edge: the pacer's mark usually sits in the middle of LF
        ax.text(
            band[0] + 0.004,
            0.97,
            name,
            transform=ax.get_xaxis_transform(),
            ha="left",
            va="top",
            fontsize=FONT_PT,
            color="#333333",
        )
    ax.plot(sp.freqs_hz, sp.psd_ms2_per_hz, color=HR_COLOUR, linewidth=1.8, zorder=3)
    for k, rate in enumerate(pacer_rates_breaths_per_min):
        f_p = rate / 60.0
        ax.axvline(f_p, color=MARKER_COLOUR, linestyle="--", linewidth=1.5, zorder=4)
        ax.annotate(
            f"pacer {rate:g}/min",
            (f_p, 0.85 - 0.12 * k),  # stacked: several rates lie close together
            xycoords=("data", "axes fraction"),
            xytext=(6, 0),
            textcoords="offset points",
            color=MARKER_COLOUR,
            fontsize=FONT_PT,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.5},
        )
    ax.set_xlim(0.0, spectral.HF_BAND_HZ[1])
    ax.set_ylim(0.0, top)
    ax.set_xlabel("frequency (Hz)", fontsize=FONT_PT)
    ax.set_ylabel("power (ms²/Hz)", fontsize=FONT_PT)
    per_min = ax.secondary_xaxis("top", functions=(_per_min, _hz))
    per_min.set_xlabel("the same as waves (or breaths) per minute", fontsize=FONT_PT)
    per_min.tick_params(labelsize=FONT_PT)
    return _png(fig)
