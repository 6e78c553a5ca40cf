"""Regenerate docs/screenshots/approval.png: the tray's approval dialog for a file write.

Usage: ``.venv/bin/python tools/screenshot_approval.py [--out PATH]``

Runs the real ``TraymindApp`` offscreen against the loopback LLM stand-in, whose model
asks an agent with ``files: {write: true}`` to rewrite a note; a real chat request
(the official ``openai`` client) waits for approval while the dialog is grabbed. Then
the request is denied, so nothing is written. Everything lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path

from shot_session import SHOTS, Session, private_environment

DEFAULT_OUT = SHOTS / "approval.png"
NOTE = "# Groceries\n- milk\n- bread\n- coffee\n"
NEW_NOTE = "# Groceries\n- milk\n- sourdough bread\n- coffee\n- apples\n"


def capture(out: Path, workdir: Path) -> None:
    private_environment(workdir, "sk-screenshot")
    import openai

    from tests.harness import agent_config
    from tests.upstream import Reply, Upstream

    shots = Session()
    notes = workdir / "notes"
    notes.mkdir()
    (notes / "groceries.md").write_text(NOTE)
    with Upstream() as upstream:
        tools = [{"files": {"roots": [str(notes)], "write": True}}]
        agents = {"notes": {"display_name": "NotesAgent", "tools": tools}}
        upstream.script(
            Reply.tool_calls([("write_file", {"path": "groceries.md", "content": NEW_NOTE})]),
            Reply.text("I left the list as it was."),
        )
        app = shots.start_app(workdir, agent_config(upstream.base_url, **agents))
        client = openai.OpenAI(base_url=app.controller.url, api_key="sk-screenshot", max_retries=0)

        def ask() -> None:
            client.chat.completions.create(
                model="notes",
                messages=[{"role": "user", "content": "Add apples to my grocery list"}],
                extra_headers={"X-Session-Id": "groceries"},
            )

        asking = threading.Thread(target=ask, daemon=True)
        asking.start()
        dialog = app.approval_prompter.dialog
        if not shots.pump(15, dialog.isVisible):
            sys.exit("screenshot: no approval was asked")
        dialog.resize(640, 560)
        shots.save(dialog, out)
        dialog.deny_button.click()
        shots.pump(10, lambda: not asking.is_alive())
        app.quit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="traymind-shot-") as tmp:
        capture(args.out.resolve(), Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
