"""``breathing_source``: one set of words for analyze, the session summary and the live feedback.

docs/design.md §6 states the contract; the README's JSON descriptions name it for ``analyze
--json`` and ``session --json``. These tests keep code and both documents agreeing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from pet_biofeedback.session import engine
from pet_biofeedback.session.analysis import BreathingSource

REPO = Path(__file__).resolve().parents[3]
WORDS = {"acc", "ecg", "rr-estimate"}


def _flat(path: Path) -> str:
    return " ".join(path.read_text(encoding="utf-8").split())


def test_engine_and_analysis_spell_the_same_words() -> None:
    assert set(get_args(BreathingSource)) == WORDS
    assert {engine.FROM_ACC, engine.FROM_ECG, engine.ESTIMATED_FROM_RR} == WORDS


def test_design_doc_states_the_contract_where_the_engine_outputs_are() -> None:
    design = (REPO / "docs" / "design.md").read_text(encoding="utf-8")
    engine_section = design.split("## 6. The session engine", 1)[1].split("\n## ", 1)[0]
    contract = " ".join(engine_section.split("`breathing_source`", 1)[1].split())
    for word in WORDS:
        assert f'`"{word}"`' in contract
    assert "`null`" in contract
    for output in ("FeedbackSnapshot", "session --json", "analyze --json"):
        assert output in contract


def test_readme_names_it_for_analyze_and_session_json() -> None:
    readme = _flat(REPO / "README.md")
    assert "`settings.breathing_source` says where the breathing rate comes from" in readme
    session_json = re.search(r"with a summary \(`--json`: (.*?)\)\.", readme)
    assert session_json is not None
    assert "`breathing_source`" in session_json.group(1)
    for word in WORDS:
        assert f'`"{word}"`' in session_json.group(1)
