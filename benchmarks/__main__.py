"""``python -m benchmarks [--quick]``: our timings and the peers', one run, one table.

Then the issue's goals, each checked against numbers from this same run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from benchmarks import ours, peers
from benchmarks.peers import Row


def _find(rows: Sequence[Row], prefix: str) -> Row | None:
    return next((r for r in rows if r.name.startswith(prefix)), None)


def _goals(rows: Sequence[Row]) -> list[str]:
    out = []
    live = _find(rows, "live: ours LiveAnalyzer.push (all")
    live_cpu = _find(rows, "live: ours LiveAnalyzer.push, CPU")
    nk_live = _find(rows, "live: NeuroKit2 update")
    if live:
        vs_nk = (
            f", {nk_live.median_s / live.median_s:.0f}× NeuroKit2's time + Welch update"
            if nk_live
            else ""
        )
        ok = "met" if live.median_s <= 0.3e-3 else "MISSED"
        out.append(f"live update ≤ 0.3 ms median: {1e3 * live.median_s:.3f} ms — {ok}{vs_nk}")
        ok = "met" if live.p99_s < 2e-3 else "MISSED"
        out.append(
            f"live update p99 < 2 ms (issue 9): wall {1e3 * live.p99_s:.2f} ms — {ok}"
            f" (mean {1e3 * live.mean_s:.3f} ms)"
        )
    if live_cpu:
        ok = "met" if live_cpu.p99_s < 2e-3 else "MISSED"
        out.append(
            f"live update p99 < 2 ms in CPU time (load-independent): "
            f"{1e3 * live_cpu.p99_s:.2f} ms — {ok} (mean {1e3 * live_cpu.mean_s:.3f} ms)"
        )
    cmd = _find(rows, "24 h ours: whole command")
    nk_total = _find(rows, "24 h NeuroKit2: TOTAL")
    nk_import = _find(rows, "import: neurokit2")
    read = _find(rows, "24 h peers: reading")
    if cmd and nk_total:
        nk_s = nk_total.median_s
        nk_s += nk_import.median_s if nk_import else 0.0
        nk_s += read.median_s if read else 0.0
        ratio = nk_s / cmd.median_s
        ok = "met" if ratio >= 25 else "MISSED"
        what = "import + reading the file + correction + summary + windows"
        if not nk_import:
            what += "; import not measured in this run"
        out.append(
            f"24 h analyze --window 300 --step 150 ≥ 25× NeuroKit2: ours {cmd.median_s:.2f} s, "
            f"NeuroKit2 {nk_s:.1f} s ({what}) → {ratio:.0f}× — {ok}"
        )
    cmd_cpu = _find(rows, "24 h ours: whole command, CPU")
    nk_cpu = _find(rows, "24 h NeuroKit2: TOTAL, CPU")
    if cmd_cpu and nk_cpu and "EXTRAPOLATED" not in nk_cpu.note:
        out.append(
            f"  in CPU time (load-independent): ours {cmd_cpu.median_s:.2f} s (whole command, "
            f"median), NeuroKit2 {nk_cpu.median_s:.1f} s (correction + summary + windows, its "
            f"import left out) → {nk_cpu.median_s / cmd_cpu.median_s:.0f}×"
        )
    art = _find(rows, "artifacts: ours")
    nk_art = _find(rows, "artifacts: NeuroKit2 signal_fixpeaks Kubios iterative")
    if art:
        ok = "met" if art.median_s <= 0.2 else "MISSED"
        cmp = ""
        if nk_art:
            speedup = nk_art.median_s / art.median_s
            cmp = f"; NeuroKit2 Kubios {nk_art.median_s:.2f} s ({speedup:.0f}×)"
        out.append(f"artifact correction 100 000 beats ≤ 0.2 s: {art.median_s:.3f} s — {ok}{cmp}")
        out.append(f"  accuracy — ours: {art.note}")
        if nk_art:
            out.append(f"  accuracy — NeuroKit2: {nk_art.note}")
    imp = _find(rows, "import: ours")
    if imp and nk_import:
        out.append(f"import: ours {imp.median_s:.2f} s vs NeuroKit2 {nk_import.median_s:.2f} s")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="peers: extrapolate the 24-h batch")
    parser.add_argument("--sections", default=",".join(peers.SECTIONS))
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - set(peers.SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    print(peers.conditions(), flush=True)
    inputs = peers.make_inputs()
    runners: dict[str, list[Callable[[], list[Row]]]] = {
        "live": [lambda: ours.live_rows(inputs), lambda: peers.live_update_rows(inputs)],
        "batch": [
            lambda: ours.batch_rows(inputs),
            lambda: peers.batch_24h_rows(inputs, peers.QUICK_WINDOWS if args.quick else None),
        ],
        "artifacts": [
            lambda: ours.artifact_rows(inputs, 1 if args.quick else peers.ARTIFACT_REPEATS),
            lambda: peers.artifact_rows(inputs, 1 if args.quick else peers.ARTIFACT_REPEATS),
        ],
        "import": [ours.import_rows, peers.import_rows],
    }
    rows: list[Row] = []
    for section in sections:
        for run in runners[section]:
            rows += run()
        print(f"[{section} done]", flush=True)
    print()
    print(peers.format_table(rows))
    print()
    print("Goals (issues #2 and #9), from this run:")
    for line in _goals(rows):
        print(f"- {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
