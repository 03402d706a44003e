from pathlib import Path

from bgpcore.session.fsm import TRANSITIONS, diagram

DOC = Path(__file__).resolve().parents[3] / "docs" / "fsm.md"


def test_fsm_doc_shows_the_current_table() -> None:
    text = DOC.read_text()
    assert diagram() in text
    for (state, event), (action, new) in TRANSITIONS.items():
        assert f"| {state.name} | {event.name} | {action.name} | {new.name} |" in text
