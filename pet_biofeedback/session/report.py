"""The session report: one self-contained HTML file for the patient and the therapist.

Figures are embedded as base64 PNG, the CSS is inline, there is no script and nothing is
fetched, so the file can be mailed, opened offline or printed. Plain words come first (what
each measure means, in one line); the precise numbers and the quality notes follow for the
therapist. Every piece of text a person typed or a file supplied (markers, profile names, file
names, notes) is HTML-escaped.

The numbers are those of `analysis.analyze_file` with default settings (`report_data`), so the
report and ``pet-biofeedback analyze`` of the same file agree. LF/HF is shown among the
technical numbers without the "sympathovagal balance" reading, which does not hold during slow
breathing (hrv-methods.md §2.1).
"""

from __future__ import annotations

import base64
import html
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from pet_biofeedback.errors import ConfigError, InputFileError
from pet_biofeedback.session.report_data import ReportData, gather_report

__all__ = ["render_html", "write_report"]

_AUTO_MARKERS: Final = ("session start", "session end")
_RATING_LABELS: Final = {"pain": "Pain", "mood": "Mood"}

_CSS: Final = """
body { font-family: "DejaVu Sans", "Segoe UI", Arial, sans-serif; font-size: 18px;
  line-height: 1.5; color: #1a1a1a; background: #ffffff; margin: 0; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 32px; margin: 0 0 4px; color: #1b3f73; }
h2 { font-size: 24px; margin: 36px 0 8px; color: #1b3f73;
  border-bottom: 2px solid #dde5ef; padding-bottom: 4px; }
.sub { color: #555555; margin: 0 0 16px; word-break: break-all; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr));
  gap: 8px 24px; background: #f3f6fa; border-radius: 8px; padding: 14px 18px; }
.facts div span { display: block; color: #555555; font-size: 15px; }
.facts div b { font-size: 19px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid #e3e3e3;
  vertical-align: top; }
th { background: #f3f6fa; font-size: 16px; }
td.value { white-space: nowrap; font-weight: bold; font-size: 19px; }
td.why { color: #333333; }
table.tech { width: auto; min-width: 60%; }
table.tech td, table.tech th { font-size: 15px; padding: 4px 10px; }
table.tech td.value { font-size: 15px; }
tr.chosen td { background: #e3f2ec; font-weight: bold; }
figure { margin: 12px 0 24px; }
figure img { width: 100%; height: auto; border: 1px solid #e3e3e3; }
figcaption { color: #333333; font-size: 16px; margin-top: 6px; }
ul { padding-left: 24px; }
li { margin: 3px 0; }
.muted { color: #555555; }
footer { margin-top: 40px; color: #666666; font-size: 14px; }
"""


def _e(text: object) -> str:
    """Escape anything for HTML text and attributes."""
    return html.escape(str(text), quote=True)


def _num(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _clock(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    minutes, secs = divmod(round(abs(seconds)), 60)
    return f"{sign}{minutes}:{secs:02d}"


def _img(png: bytes | None, alt: str, caption: str) -> str:
    if png is None:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _pacer_rates(d: ReportData) -> tuple[float, ...]:
    """Every rate the pacer ran at (breaths/min), in order; empty without a pacer."""
    if d.pacer is not None:
        return d.pacer.rates_breaths_per_min
    if d.pacer_settings is not None:
        rate = d.pacer_settings.get("breaths_per_min")
        if isinstance(rate, int | float) and math.isfinite(rate) and rate > 0:
            return (float(rate),)
    return ()


def _rates_text(rates: Sequence[float]) -> str:
    """``6.5``, ``6.5 and 6``, ``6.5, 6 and 5``."""
    texts = [f"{r:g}" for r in rates]
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " and " + texts[-1]


def _pacer_text(d: ReportData) -> str:
    p = d.pacer_settings
    if d.kind != "recording":
        return "not recorded in this file"
    if p is None and d.pacer is None:
        return "none (own breathing)"
    parts: list[str] = []
    if p is not None:
        rate = p.get("breaths_per_min")
        inhale, exhale = p.get("inhale_s"), p.get("exhale_s")
        if isinstance(rate, int | float):
            parts.append(f"{rate:g} breaths/min")
        if isinstance(inhale, int | float) and isinstance(exhale, int | float):
            parts.append(f"in {inhale:.1f} s : out {exhale:.1f} s")
        for key, label in (("hold_after_inhale_s", "hold in"), ("hold_after_exhale_s", "hold out")):
            hold = p.get(key)
            if isinstance(hold, int | float) and hold > 0:
                parts.append(f"{label} {hold:g} s")
    if d.pacer is not None:
        rates = d.pacer.rates_breaths_per_min
        if len(rates) > 1:
            parts.append("changed: " + " → ".join(f"{r:g}" for r in rates))
        elif not parts:
            parts.append(f"{rates[0]:g} breaths/min")
    return ", ".join(parts)


def _facts(d: ReportData) -> str:
    when = (
        d.started_at.astimezone().strftime("%A %d %B %Y, %H:%M")
        if d.started_at is not None
        else "—"
    )
    planned = f"{d.planned_minutes:g} min" if d.planned_minutes is not None else "—"
    items = [
        ("Date", when),
        ("Session", d.protocol or "—"),
        ("Planned", planned),
        ("Actual", f"{d.actual_minutes:.1f} min"),
        ("Pacer", _pacer_text(d)),
        ("Strap", d.device or "—"),
    ]
    if d.profile and d.profile != "default":  # the engine's name for "nobody chose one"
        items.append(("Profile", d.profile))
    cells = "".join(f"<div><span>{_e(k)}</span><b>{_e(v)}</b></div>" for k, v in items)
    return f'<section class="facts">{cells}</section>'


def _row(key: str, label: str, value: str, why: str) -> str:
    return (
        f'<tr><th>{_e(label)}</th><td class="value" data-key="{_e(key)}">{_e(value)}</td>'
        f'<td class="why">{_e(why)}</td></tr>'
    )


# The breathing row's explanation by `analysis.analyze_file`'s ``breathing_source``.
_BREATHING_WHY: Final = {
    "acc": "How fast you actually breathed, measured from chest movement",
    "ecg": "How fast you actually breathed, measured from how the heartbeat's electrical "
    "signal grew and shrank with each breath",
    "rr-estimate": "An estimate of how fast you breathed, from the rhythm of your heart rate "
    "itself (the strap gave no breathing signal; with slow breathing it follows the breaths, "
    "otherwise it may not)",
}


def _measures(d: ReportData) -> str:
    s = d.report["summary"]
    rates = _pacer_rates(d)
    pacer = f"{_rates_text(rates)} per minute" if rates else None
    rows = [
        _row(
            "mean_hr_bpm",
            "Heart rate",
            f"{_num(s['mean_hr_bpm'], 1)} beats/min",
            f"Your average heart rate (lowest {_num(s['min_hr_bpm'], 0)}, highest "
            f"{_num(s['max_hr_bpm'], 0)}).",
        ),
        _row(
            "rmssd_ms",
            "RMSSD",
            f"{_num(s['rmssd_ms'], 1)} ms",
            "How much each heartbeat differs from the next; higher usually means a more "
            "relaxed, recovering body. Compare it with your own earlier sessions.",
        ),
        _row(
            "coherence",
            "Coherence",
            _num(s["coherence"], 2),
            "How much of your heart-rate variation is one smooth, regular wave. Above 0.5 is "
            "a start, above 2 is very good.",
        ),
    ]
    if d.rsa_bpm.size:
        mean = float(d.rsa_bpm.mean())
        rows.append(
            _row(
                "rsa_bpm",
                "Heart-rate swing per breath",
                f"{mean:.1f} beats/min",
                f"How far your heart rate rose and fell within each breath (average of "
                f"{d.rsa_bpm.size} breaths, timed by the {d.rsa_source}). Bigger swings "
                "mean heart and breathing work together.",
            )
        )
    lf_peak = s["lf_peak_hz"]
    if lf_peak is not None:
        at = f"{lf_peak * 60:.1f} per minute"
        why = f"The strongest slow wave in your heart rate came {at}"
        if pacer is not None:
            why += (
                f"; the pacer {'was at' if len(rates) == 1 else 'ran at'} {pacer}. When "
                "the two match, your heart "
                "rate followed your breathing."
            )
        else:
            why += "."
        rows.append(_row("lf_peak_hz", "Slow-wave peak (LF peak)", f"{lf_peak:.3f} Hz", why))
    breathing = s["breathing_rate_bpm"]
    source = d.report["settings"].get("breathing_source")
    if breathing is not None:
        why = _BREATHING_WHY.get(source, _BREATHING_WHY["acc"])
        why += f" (the pacer: {pacer})." if pacer is not None else "."
        rows.append(
            _row(
                "breathing_rate_bpm",
                "Breathing rate",
                f"{breathing:.1f} breaths/min",
                why,
            )
        )
    return "<table>" + "".join(rows) + "</table>"


_TECH_ROWS: Final = (
    ("n_beats", "Beats", "", 0),
    ("duration_s", "Duration analysed", "s", 1),
    ("mean_rr_ms", "Mean NN", "ms", 1),
    ("sdnn_ms", "SDNN", "ms", 1),
    ("rmssd_ms", "RMSSD", "ms", 1),
    ("pnn50_pct", "pNN50", "%", 1),
    ("min_hr_bpm", "Lowest heart rate", "beats/min", 1),
    ("max_hr_bpm", "Highest heart rate", "beats/min", 1),
    ("vlf_ms2", "VLF power (0.0033–0.04 Hz)", "ms²", 0),
    ("lf_ms2", "LF power (0.04–0.15 Hz)", "ms²", 0),
    ("hf_ms2", "HF power (0.15–0.4 Hz)", "ms²", 0),
    ("total_power_ms2", "Total power", "ms²", 0),
    ("lf_nu", "LF, normalised", "n.u.", 1),
    ("hf_nu", "HF, normalised", "n.u.", 1),
    ("lf_hf", "LF/HF (during slow breathing it reflects the breathing wave)", "", 2),
    ("lf_peak_hz", "LF peak", "Hz", 3),
    ("hf_peak_hz", "HF peak", "Hz", 3),
    ("sd1_ms", "Poincaré SD1", "ms", 1),
    ("sd2_ms", "Poincaré SD2", "ms", 1),
    ("dfa_alpha1", "DFA α1", "", 3),
    ("sampen", "Sample entropy", "", 3),
    ("coherence", "Coherence ratio (64-s windows, mean)", "", 2),
    ("breathing_rate_bpm", "Breathing rate (as explained above)", "breaths/min", 1),
)


def _technical(d: ReportData) -> str:
    s = d.report["summary"]
    rows = []
    for key, label, unit, digits in _TECH_ROWS:
        value = _num(s[key], digits)
        text = f"{value} {unit}".rstrip() if value != "—" else value
        rows.append(
            f'<tr><th>{_e(label)}</th><td class="value" data-tech="{_e(key)}">{_e(text)}</td></tr>'
        )
    settings = d.report["settings"]
    method = (
        f"Artifact correction: {'on' if settings['correction'] else 'off'}; spectrum: Welch, "
        f"{settings['welch_segment_s']:g}-s segments on a {settings['resample_hz']:g}-Hz "
        f"spline, {settings['detrending']}; beats from {settings.get('rr_source', d.kind)}."
    )
    return f'<table class="tech">{"".join(rows)}</table><p class="muted">{_e(method)}</p>'


def _ratings(d: ReportData) -> str:
    if not d.ratings:
        return '<p class="muted">No ratings in this file.</p>'
    rows = []
    done: set[str] = set()
    for what, label in _RATING_LABELS.items():
        before = d.ratings.get(f"{what}_before")
        after = d.ratings.get(f"{what}_after")
        done.update((f"{what}_before", f"{what}_after"))
        if before is None and after is None:
            continue
        change = "—"
        if before is not None and after is not None:
            change = f"{after - before:+g}"
        rows.append(
            f"<tr><th>{_e(label)} (0–10)</th><td>{_num(before, 0)}</td>"
            f"<td>{_num(after, 0)}</td><td>{_e(change)}</td></tr>"
        )
    for kind, value in d.ratings.items():
        if kind not in done:
            rows.append(f'<tr><th>{_e(kind)}</th><td colspan="3">{value:g}</td></tr>')
    return (
        "<table><tr><th></th><th>before</th><th>after</th><th>change</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _n_user_markers(d: ReportData) -> int:
    return sum(not m.text.startswith(_AUTO_MARKERS) for m in d.markers)


def _markers(d: ReportData) -> str:
    if not d.markers:
        return ""
    items = []
    number = 0
    for m in d.markers:
        tag = ""
        if not m.text.startswith(_AUTO_MARKERS):
            number += 1
            tag = f"<b>{number}</b> "
        items.append(f"<li>{tag}{_e(_clock(m.t))} — {_e(m.text)}</li>")
    return "<h2>Notes and markers</h2><ul>" + "".join(items) + "</ul>"


def _quality(d: ReportData) -> str:
    items = [f"<li>{_e(n)}</li>" for n in d.quality_notes]
    for g in d.gaps:
        items.append(
            f"<li>at {_e(_clock(g.t))}: {_e(f'{g.seconds:.1f}')} s of data lost — {_e(g.reason)}"
            "</li>"
        )
    return "<h2>Data quality</h2><ul>" + "".join(items) + "</ul>"


def _assessment(d: ReportData) -> str:
    a = d.assessment
    if a is None:
        if d.protocol == "assessment":
            return (
                '<h2>Resonance-rate assessment</h2><p class="muted">This was an assessment '
                "session; its per-rate results are not part of this report version.</p>"
            )
        return ""
    rates: Sequence[Mapping[str, Any]] = a.get("rates") or []
    columns: list[str] = ["bpm"]
    for row in rates:
        columns.extend(k for k in row if k not in columns)
    recommended = a.get("recommended_bpm")
    head = "".join(
        f"<th>{_e('rate (breaths/min)' if c == 'bpm' else c.replace('_', ' '))}</th>"
        for c in columns
    )
    body = []
    for row in rates:
        bpm = row.get("bpm")
        chosen = (
            isinstance(bpm, int | float)
            and isinstance(recommended, int | float)
            and math.isclose(bpm, recommended, abs_tol=1e-6)
        )
        cells = "".join(f"<td>{_e(_num(row.get(c), 2 if c != 'bpm' else 1))}</td>" for c in columns)
        css = ' class="chosen"' if chosen else ""
        body.append(f"<tr{css}>{cells}</tr>")
    summary = (
        f"<p>Recommended rate: <b>{_e(_num(recommended, 1))} breaths/min</b>"
        f" (confidence: {_e(_num(a.get('confidence'), 2))}). The table is for the therapist "
        "to check the choice.</p>"
    )
    return (
        "<h2>Resonance-rate assessment</h2>"
        + summary
        + f'<table class="tech"><tr>{head}</tr>{"".join(body)}</table>'
    )


def render_html(d: ReportData) -> str:
    """The whole report as one HTML document (module docstring)."""
    from pet_biofeedback.session import report_figures as figs

    figures = [
        _img(
            figs.heart_rate_png(d),
            "heart rate over the session",
            "Your heart rate over the whole session"
            + (
                ", with the pacer's breathing wave behind it (green, scaled to the heart-rate "
                "range) and the start of each paced breath (ticks at the bottom)."
                if d.pacer is not None
                else "."
            )
            + (" Grey: no heartbeats received." if d.gap_spans_s else "")
            + (" Numbered lines: markers (listed below)." if _n_user_markers(d) else ""),
        ),
        _img(
            figs.zoom_png(d),
            "two minutes close up",
            "Two minutes close up (where the swings were largest): with slow breathing the "
            "heart rate rises while you breathe in and falls while you breathe out."
            + (
                " Below: your breathing from the strap's chest movement (a strap cannot tell "
                "in from out, so it is drawn the way that agrees with the pacer)."
                if d.breathing is not None and d.pacer is not None
                else ""
            ),
        ),
        _img(
            figs.breathing_png(d),
            "measured breathing rate",
            "Your breathing, breath by breath, measured from the strap's chest movement "
            "(a dot per breath).",
        ),
        _img(
            figs.spectrum_png(d, _pacer_rates(d)),
            "heart-rate spectrum",
            "Which wave speeds your heart rate contains (Welch spectrum of the corrected beat "
            "intervals). With resonance breathing one tall peak sits at the pacer's rate, "
            "inside the LF band.",
        ),
    ]
    title = "Breathing session report"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} — {_e(d.source_name)}</title><style>{_CSS}</style></head>"
        f'<body><main><h1>{_e(title)}</h1><p class="sub">{_e(d.source_name)}</p>'
        + _facts(d)
        + "<h2>Your session in numbers</h2>"
        + _measures(d)
        + "<h2>How you felt</h2>"
        + _ratings(d)
        + "<h2>Heart rate and breathing</h2>"
        + "".join(figures)
        + _assessment(d)
        + _markers(d)
        + _quality(d)
        + "<h2>All measures (for your therapist)</h2>"
        + _technical(d)
        + "<footer>Made by pet-biofeedback. This report is health data: keep it private."
        "</footer></main></body></html>\n"
    )


def write_report(
    path: Path,
    out: Path,
    *,
    force: bool = False,
    assessment: Mapping[str, Any] | None = None,
) -> Path:
    """Analyse ``path`` and write its report to ``out`` (readable only by its owner).

    Raises
    ------
    ConfigError
        ``out`` exists (and ``force`` is not set), is a folder, or its folder is missing.
    InputFileError
        ``path`` is missing, unreadable or too short to analyse.
    """
    if out.is_dir():
        raise ConfigError(f"{out}: is a folder; give the name of the report file to write")
    if out.exists() and not force:
        raise ConfigError(f"{out}: already exists; use --force to replace it")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"{out}: the folder {folder} does not exist")
    if not path.is_file():
        raise InputFileError(str(path), "no such file")
    text = render_html(gather_report(path, assessment=assessment))
    # Written beside the target and renamed: a crash never leaves half a report.
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
