"""The coach's commands: ``session``, ``assess``, ``gui``, ``history``, ``report``, ``export``.

Imported by `pet_biofeedback.cli` only when one of them is parsed or run, so ``analyze`` and
``record`` never load the session engine, Qt or matplotlib. Like the rest of the command line,
every expected problem is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Literal

from pet_biofeedback.cli import (
    EXIT_OK,
    EXIT_USAGE,
    EXPORT_STEP_S,
    EXPORT_WINDOW_S,
    _add_column_argument,
    _plural,
    _positive_seconds,
    _print_notes,
    _profile_name,
    _speed,
    logger,
)
from pet_biofeedback.errors import ConfigError

_DEFAULT_RATIO = "4:6"


def _rate(text: str) -> float:
    """``--rate``: 3–10 breaths/min in steps of 0.1."""
    from pet_biofeedback.session.pacer import rate_on_grid

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected breaths/min like 5.5, got {text[:40]!r}"
        ) from None
    try:
        return rate_on_grid(value)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(exc.user_message) from None


def _rating(text: str) -> int:
    """A 0–10 rating."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number 0–10, got {text[:40]!r}"
        ) from None
    if not 0 <= value <= 10:
        raise argparse.ArgumentTypeError(f"ratings go from 0 to 10, got {value}")
    return value


def _add_pacer_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--minutes", type=float, default=None, metavar="N", help="session length")
    p.add_argument(
        "--rate",
        type=_rate,
        default=None,
        metavar="BPM",
        help="pacer rate, 3–10 breaths/min in steps of 0.1 (default 6)",
    )
    p.add_argument(
        "--ratio",
        default=_DEFAULT_RATIO,
        metavar="IN:OUT",
        help=f"inhale:exhale ratio (default {_DEFAULT_RATIO})",
    )
    p.add_argument("--profile", default="default", metavar="NAME", help="whose session it is")


def add_coach_parsers(sub: Any) -> None:
    session = sub.add_parser(
        "session",
        help="a breathing session in the terminal (no window)",
        description=(
            "A paced-breathing session in the terminal: a breathing bar to follow, heart rate, "
            "heart-rate swing, coherence and signal quality, recorded to a crash-safe file; "
            "a summary at the end. Ctrl-C stops early and keeps everything."
        ),
    )
    session.add_argument(
        "--source", default="sim", metavar="SRC", help="as for record (default sim)"
    )
    session.add_argument(
        "--protocol",
        choices=("practice", "baseline"),
        default="practice",
        help="practice: paced breathing (2–60 min); baseline: free breathing (2–5 min)",
    )
    _add_pacer_arguments(session)
    session.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        metavar="X|max",
        help="for sim and file sources: X times real time, or max (default 1)",
    )
    for kind in ("pain", "mood"):
        for when in ("before", "after"):
            session.add_argument(
                f"--{kind}-{when}",
                type=_rating,
                default=None,
                metavar="N",
                help=f"{kind} {when} the session, 0–10 (asked in a terminal when not given)",
            )
    _add_column_argument(session)
    session.add_argument("--note", default=None, metavar="TEXT", help="a note for the history")
    session.add_argument("--out", metavar="FILE", help="the recording to write (as for record)")
    session.add_argument("--json", action="store_true", help="print the result as JSON")

    gui = sub.add_parser(
        "gui",
        help="open the app (also what pet-biofeedback does with no command)",
        description="Open the breathing coach's window.",
    )
    gui.add_argument("--source", default=None, metavar="SRC", help="as for record (default sim)")
    gui.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        metavar="X|max",
        help="for sim and file sources: X times real time (default 1)",
    )
    gui.add_argument(
        "--faults",
        metavar="SPEC",
        help="with --source emulated:…: fault injection as for record, "
        "e.g. disconnect-every=15s (the app shows each reconnect)",
    )
    gui.add_argument("--presentation", action="store_true", help="start in presentation mode")
    _add_pacer_arguments(gui)
    gui.add_argument("--screenshot", metavar="PATH", help="save a PNG of the window at the end")
    gui.add_argument(
        "--exit-after",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help="close after this many seconds (with --screenshot: for docs and tests)",
    )
    gui.add_argument("--out", metavar="FILE", help="the recording to write (as for record)")
    _add_export_parser(sub)
    assess = sub.add_parser(
        "assess",
        help="find your resonance breathing rate (stepped-rate assessment)",
        description=(
            "Resonance-frequency assessment: breathe with the pacer at each rate in turn "
            "(default 6.5, 6, 5.5, 5 and 4.5 breaths/min, 2 minutes each, a short rest "
            "between), then see which rate made your heart rate swing most and in step with "
            "your breathing. The recommended rate becomes your practice rate."
        ),
    )
    assess.add_argument("--source", default="sim", metavar="SRC", help="as for record")
    assess.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        metavar="X|max",
        help="for sim and file sources: X times real time, or max (default 1)",
    )
    assess.add_argument(
        "--rates",
        default="6.5,6,5.5,5,4.5",
        metavar="LIST",
        help="breaths/min to try, comma-separated (default 6.5,6,5.5,5,4.5)",
    )
    assess.add_argument(
        "--minutes-per-rate",
        type=float,
        default=2.0,
        metavar="N",
        help="minutes at each rate, 1–5 (default 2)",
    )
    assess.add_argument("--profile", default="default", metavar="NAME", help="whose assessment")
    assess.add_argument("--out", metavar="FILE", help="the recording to write (as for record)")
    assess.add_argument("--json", action="store_true", help="print the result as JSON")


def _add_export_parser(sub: Any) -> None:
    """The ``export`` subcommand (issue 7)."""
    export = sub.add_parser(
        "export",
        help="export a recording as Kubios RR text, CSV or EDF+",
        description=(
            "Export a recording (.jsonl, .jsonl.gz), XDF or RR text file: --to kubios writes "
            "the RR intervals as Kubios HRV reads them; --to csv writes the beats to --out "
            "and the per-window measures beside it (NAME-windows.csv); --to edf writes "
            "EDF+ with the ECG and accelerometer and annotations for pacer changes, "
            "markers and gaps (recordings with ECG or accelerometer only)."
        ),
    )
    export.add_argument(
        "source",
        metavar="FILE|SESSION_ID",
        help="the file to export, or a session's id from 'pet-biofeedback history'",
    )
    export.add_argument(
        "--profile",
        type=_profile_name,
        default="default",
        metavar="NAME",
        help="whose session SESSION_ID is (default: default)",
    )
    export.add_argument(
        "--to", required=True, choices=("kubios", "csv", "edf"), help="the format to write"
    )
    export.add_argument("--out", required=True, metavar="PATH", help="the file to write")
    export.add_argument(
        "--anonymise",
        "--anonymize",
        action="store_true",
        help="leave out names, marker notes, device details, file names and dates",
    )
    export.add_argument("--force", action="store_true", help="replace outputs that exist")
    _add_column_argument(export)
    export.add_argument("--no-correction", action="store_true", help="CSV: no artifact correction")
    export.add_argument(
        "--window",
        type=_positive_seconds,
        default=EXPORT_WINDOW_S,
        metavar="SECONDS",
        help=f"CSV: window length of the per-window measures (default {EXPORT_WINDOW_S:g})",
    )
    export.add_argument(
        "--step",
        type=_positive_seconds,
        default=EXPORT_STEP_S,
        metavar="SECONDS",
        help=f"CSV: step between windows (default {EXPORT_STEP_S:g})",
    )


# --- session and gui -----------------------------------------------------------------------------


def _plan_from(args: argparse.Namespace) -> Any:
    from pet_biofeedback.session.engine import SessionPlan
    from pet_biofeedback.session.pacer import PacerSettings, parse_ratio

    protocol: Literal["practice", "baseline"] = (
        "baseline" if getattr(args, "protocol", "practice") == "baseline" else "practice"
    )
    default_minutes = 5.0 if protocol == "baseline" else 10.0
    minutes = args.minutes if args.minutes is not None else default_minutes
    pacer = None
    if protocol != "baseline":
        inhale, exhale = parse_ratio(args.ratio)
        from pet_biofeedback.session.preferences import practice_rate

        saved = practice_rate(args.profile)  # from the last assessment, if any
        default_rate = saved if saved is not None else 6.0
        pacer = PacerSettings(
            breaths_per_min=args.rate if args.rate is not None else default_rate,
            inhale_parts=inhale,
            exhale_parts=exhale,
        )
    elif args.rate is not None:
        raise ConfigError("a baseline is free breathing: --rate is for practice sessions")
    return SessionPlan(protocol=protocol, minutes=minutes, pacer=pacer, profile=args.profile)


def _ask_rating(question: str) -> int | None:
    """Ask for a 0–10 rating on the terminal; Enter skips. Runs on a plain thread."""
    while True:
        answer = input(f"{question} (0–10, Enter to skip): ").strip()
        if not answer:
            return None
        if answer.isdigit() and 0 <= int(answer) <= 10:
            return int(answer)
        print("Please type a whole number from 0 to 10, or press Enter to skip.")


async def _ask_in_thread(questions: list[tuple[str, str]]) -> dict[str, int]:
    """Ask on a daemon thread, so a stop signal never waits for someone to answer."""
    import asyncio
    import threading

    loop = asyncio.get_running_loop()
    done: asyncio.Future[dict[str, int]] = loop.create_future()

    def ask() -> None:
        answers: dict[str, int] = {}
        try:
            for kind, question in questions:
                value = _ask_rating(question)
                if value is not None:
                    answers[kind] = value
        except (EOFError, OSError):
            pass

        def deliver() -> None:
            if not done.done():
                done.set_result(answers)

        loop.call_soon_threadsafe(deliver)

    threading.Thread(target=ask, name="ratings", daemon=True).start()
    return await done


def cmd_session(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from pet_biofeedback.session.engine import SessionEngine
    from pet_biofeedback.session.run import run_session
    from pet_biofeedback.session.sources import describe_source, open_source
    from pet_biofeedback.session.terminal import TerminalView

    plan = _plan_from(args)
    interactive = sys.stdin.isatty() and sys.stdout.isatty() and not args.json
    before: dict[str, int] = {
        kind: value
        for kind, value in (("pain_before", args.pain_before), ("mood_before", args.mood_before))
        if value is not None
    }
    if interactive:
        for kind, question in (
            ("pain_before", "Pain right now"),
            ("mood_before", "Mood right now"),
        ):
            if kind not in before:
                value = _ask_rating(question)
                if value is not None:
                    before[kind] = value
    after_given = {
        kind: value
        for kind, value in (("pain_after", args.pain_after), ("mood_after", args.mood_after))
        if value is not None
    }
    questions = [
        (kind, question)
        for kind, question in (("pain_after", "Pain now"), ("mood_after", "Mood now"))
        if kind not in after_given
    ]

    async def ask_after() -> dict[str, int]:
        answers = dict(after_given)
        if interactive and questions:
            answers.update(await _ask_in_thread(questions))
        return answers

    out = Path(args.out) if args.out else _default_recording()
    holder: list[SessionEngine] = []
    source = open_source(
        args.source,
        speed=args.speed,
        pacer=lambda t: holder[0].pacer_position(t) if holder else 0.0,
        column=args.column,
    )
    engine = SessionEngine(source, plan, ask_after=ask_after)
    holder.append(engine)
    if args.note:
        engine.mark(f"note: {args.note}")
    view = None if args.json else TerminalView(sys.stdout)

    async def run() -> Any:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None:
                loop.add_signal_handler(sig, engine.request_stop)
        return await run_session(
            engine,
            out,
            ratings_before=before,
            view=view,
            speed=args.speed,
            device=describe_source(args.source, speed=args.speed),
        )

    if not args.json:
        what = (
            "free breathing"
            if plan.pacer is None
            else (f"breathing at {plan.pacer.breaths_per_min:g}/min")
        )
        print(
            f"{plan.protocol.capitalize()} session, {plan.minutes:g} min, {what}. "
            "Ctrl-C ends early and keeps everything.",
            flush=True,
        )
    outcome = asyncio.run(run())
    _index_in_history()
    if args.json:
        print(json.dumps(outcome.to_json(), ensure_ascii=False, allow_nan=False))
        return EXIT_OK
    _print_session_summary(outcome)
    _print_notes(source)  # what a file source's plausibility gate skipped, as analyze says
    return EXIT_OK


def _index_in_history() -> None:
    """Add the session just recorded (and any recording without a row) to the history.

    The recording is closed first, so a failure here loses nothing: the next ``history``
    finds it again (docs/design.md §5).
    """
    from pet_biofeedback.errors import PetBiofeedbackError
    from pet_biofeedback.session.history import open_history

    try:
        store, _ = open_history()
        store.close()
    except PetBiofeedbackError as exc:
        logger.warning("the session was not added to the history yet: %s", exc.user_message)


def _default_recording() -> Path:
    from pet_biofeedback.paths import default_recording_path

    return default_recording_path()


def _print_session_summary(outcome: Any) -> None:
    s = outcome.summary

    def num(key: str, digits: int, unit: str) -> str | None:
        value = s.get(key)
        return None if value is None else f"{value:.{digits}f}{unit}"

    parts = [
        ("heart rate", num("mean_hr_bpm", 0, " bpm")),
        ("RMSSD", num("rmssd_ms", 0, " ms")),
        ("coherence", num("coherence_shown", 1, "")),
        ("heart-rate swing", num("rsa_bpm", 0, " bpm per breath")),
        ("breathing", num("breathing_rate_bpm", 1, " breaths/min")),
    ]
    if parts[-1][1] is not None and s.get("breathing_source") == "rr-estimate":
        # not measured: the heart rhythm's own wave (docs/hrv-methods.md §8.3)
        parts[-1] = ("breathing (estimated)", parts[-1][1])
    early = " (stopped early)" if outcome.stopped_early else ""
    measured = ", ".join(f"{k} {v}" for k, v in parts if v)
    if not measured:  # e.g. an optical sensor's heart rate only: the note says why
        measured = "no measures" + (" (see the note below)" if s.get("notes") else "")
    print(f"Session finished{early}: {measured}.")
    ratings = {k: v for k, v in outcome.ratings.items() if v is not None}
    if ratings:
        print("Ratings: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in ratings.items()))
    for note in s.get("notes", []):
        print(f"Note: {note}")
    print(f"Recording saved to {outcome.recording}")


def cmd_gui(args: argparse.Namespace) -> int:
    from pet_biofeedback.gui.display import display_problem

    problem = display_problem()
    if problem is not None:
        print(f"pet-biofeedback: {problem}", file=sys.stderr)
        return EXIT_USAGE
    from pet_biofeedback.gui.app import GuiOptions, run_app

    plan = _plan_from(args)  # checks --minutes, --rate and --ratio
    # What was not given comes from the profile's settings (the app's Settings page).
    pacer_given = args.rate is not None or args.ratio != _DEFAULT_RATIO
    return run_app(
        GuiOptions(
            source=args.source,
            faults=args.faults,
            speed=args.speed,
            presentation=args.presentation,
            profile=args.profile,
            minutes=args.minutes,
            pacer=plan.pacer if pacer_given else None,
            recording=Path(args.out) if args.out else None,
            screenshot=Path(args.screenshot) if args.screenshot else None,
            exit_after_s=args.exit_after,
        )
    )


def cmd_assess(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from pet_biofeedback.session.assessment import AssessmentSettings, make_plan
    from pet_biofeedback.session.assessment_run import score_recording, session_plan
    from pet_biofeedback.session.engine import SessionEngine
    from pet_biofeedback.session.preferences import remember_practice_rate
    from pet_biofeedback.session.run import run_session
    from pet_biofeedback.session.sources import describe_source, open_source
    from pet_biofeedback.session.terminal import TerminalView

    try:
        rates = tuple(float(r) for r in args.rates.split(",") if r.strip())
    except ValueError:
        raise ConfigError(f"--rates must be numbers like 6.5,6,5.5, got {args.rates!r}") from None
    plan = make_plan(
        AssessmentSettings(rates_breaths_per_min=rates, block_s=60.0 * args.minutes_per_rate)
    )
    profile = _profile_name(args.profile)
    engine_plan = session_plan(plan, profile=profile)
    out = Path(args.out) if args.out else _default_recording()
    holder: list[SessionEngine] = []
    source = open_source(
        args.source,
        speed=args.speed,
        pacer=lambda t: holder[0].pacer_position(t) if holder else 0.0,
    )
    engine = SessionEngine(source, engine_plan)
    holder.append(engine)

    async def run() -> Any:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None:
                loop.add_signal_handler(sig, engine.request_stop)
        return await run_session(
            engine,
            out,
            view=None if args.json else TerminalView(sys.stdout),
            speed=args.speed,
            device=describe_source(args.source, speed=args.speed),
        )

    if not args.json:
        listed = ", ".join(f"{b.breaths_per_min:g}" for b in plan.blocks)
        print(
            f"Assessment: {len(plan.blocks)} rates ({listed} breaths/min), about "
            f"{plan.end_s / 60:.0f} minutes. Breathe with the guide; rest between rates.",
            flush=True,
        )
    outcome = asyncio.run(run())
    if outcome.stopped_early:
        print(f"Stopped early; recording saved to {outcome.recording}. Not scored.")
        return EXIT_OK
    _index_in_history()
    result = score_recording(outcome.recording, plan)
    saved = remember_practice_rate(
        profile, result.recommended_breaths_per_min, source=f"assessment {outcome.recording.name}"
    )
    logger.info("practice rate saved to %s", saved)
    if args.json:
        body = result.to_dict()
        body["recording"] = str(outcome.recording)
        print(json.dumps(body, ensure_ascii=False, allow_nan=False))
        return EXIT_OK
    print(result.estimate.explanation)
    print(
        f"Recommended: {result.recommended_breaths_per_min:g} breaths/min "
        f"({result.estimate.confidence}). It is now your practice rate "
        f"(pet-biofeedback session uses it when you give no --rate)."
    )
    print(f"Recording saved to {outcome.recording}")
    return EXIT_OK


# --- history ------------------------------------------------------------------------------------


def cmd_history(args: argparse.Namespace) -> int:
    from datetime import datetime

    from pet_biofeedback.session.history import open_history
    from pet_biofeedback.session.history_report import history_dict, history_table, printable
    from pet_biofeedback.session.practice import practice_summary

    store, report = open_history(rebuild=args.rebuild)
    with store:
        sessions = store.sessions(args.profile)
        levels = store.feedback_levels(args.profile)
    # Messages about the index go to stderr so that --json output stays one JSON object.
    if store.moved_aside is not None:
        print(
            f"pet-biofeedback: the history database was damaged. It was moved to "
            f"{store.moved_aside} (nothing was deleted) and rebuilt from the recordings.",
            file=sys.stderr,
        )
    if args.rebuild or (report.n_indexed and store.moved_aside is None):
        what = "Rebuilt the history from" if args.rebuild else "Added to the history:"
        print(f"{what} {_plural(report.n_indexed, 'recording')}.", file=sys.stderr)
    for path, why in report.without_measures:
        print(f"  {printable(path)}: no heart-rate measures ({why})", file=sys.stderr)
    for path, why in report.skipped:
        print(f"  {printable(path)}: skipped, cannot be read ({why})", file=sys.stderr)
    practice = practice_summary(sessions, today=datetime.now().astimezone().date())
    if args.json:
        out = history_dict(sessions, practice)
        print(json.dumps(out, ensure_ascii=False, allow_nan=False))
    else:
        print(history_table(sessions, practice, levels, args.profile))
    return EXIT_OK


# --- report -------------------------------------------------------------------------------------


def _session_file(text: str, profile: str, *, command: str) -> Path:
    """FILE, or a SESSION_ID (``history --json`` "id") of ``profile`` resolved to its recording.

    A name that exists is that file, even when it is a number; a bare number that is not a
    file is looked up in the profile's history.
    """
    path = Path(text)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder ({command} reads a recording, XDF or RR text file)")
    if path.is_file():
        return path
    from pet_biofeedback.session.history_lookup import looks_like_session_id, recording_of_session

    if looks_like_session_id(text):
        return recording_of_session(int(text.strip()), profile)
    raise ConfigError(
        f"{path}: no such file ({command} reads a recording, XDF or RR text file, or a session "
        "id from 'pet-biofeedback history')"
    )


def cmd_report(args: argparse.Namespace) -> int:
    from pet_biofeedback.session.report import write_report

    path = _session_file(args.file, args.profile, command="report")
    out = write_report(path, Path(args.out), force=args.force)
    print(f"Report saved to {out}")
    return EXIT_OK


# --- export -------------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    from pet_biofeedback.session.exports import ExportOptions, export_file

    options = ExportOptions(
        to=args.to,
        anonymise=args.anonymise,
        force=args.force,
        window_s=args.window,
        step_s=args.step,
        correction=not args.no_correction,
        column=args.column,
    )
    source = _session_file(args.source, args.profile, command="export")
    result = export_file(source, Path(args.out), options)
    for note in result.notes:
        print(f"note: {note}")
    for path in result.paths:
        print(f"Wrote {path}")
    return EXIT_OK
