"""``traymind kb`` and ``traymind memory`` on real folders and data dirs."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from server.cli.main import main
from server.memory import MemoryStore
from tests.harness import ROOT


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    docs = tmp_path / "knowledge" / "docs"
    docs.mkdir(parents=True)
    (docs / "warranty.md").write_text("# Warranty\n\nThe warranty lasts three years.\n")
    (docs / "returns.md").write_text("# Returns\n\nReturns are free within 30 days.\n")
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "knowledge_bases": {
                    "docs": {"path": "./knowledge/docs"},
                    "empty": {"path": "./knowledge/empty"},
                },
                "agents": {"general": {"knowledge_bases": ["docs"], "memory": True}},
            }
        )
    )
    return config, tmp_path / "data"


def kb(config: Path, data: Path, *args: str) -> int:
    return main(["kb", *args, "--config", str(config), "--data-dir", str(data)])


def test_reindex_then_search_prints_passages_with_sources(setup, capsys) -> None:
    config, data = setup
    assert kb(config, data, "reindex", "docs") == 0
    assert re.fullmatch(r"docs: 2 files, 2 passages in \d+\.\d s\n", capsys.readouterr().out)
    assert kb(config, data, "search", "docs", "how long is the warranty") == 0
    assert capsys.readouterr().out == (
        "[1] source: warranty.md (lines 1-3, knowledge base `docs`)\n"
        "section: Warranty\n# Warranty\n\nThe warranty lasts three years.\n"
    )
    assert kb(config, data, "search", "docs", "submarine") == 0
    assert capsys.readouterr() == ("", "No passages in 'docs' match 'submarine'.\n")


def test_reindex_all_reports_each_base_and_fails_for_a_missing_folder(setup, capsys) -> None:
    config, data = setup
    assert kb(config, data, "reindex") == 1
    out, err = capsys.readouterr()
    assert re.fullmatch(r"docs: 2 files, 2 passages in \d+\.\d s\n", out)
    assert err == f"empty: the folder {config.parent / 'knowledge' / 'empty'} does not exist\n"


def test_kb_explains_unknown_names_and_missing_indexes(setup, capsys) -> None:
    config, data = setup
    assert kb(config, data, "search", "wiki", "x") == 1
    assert capsys.readouterr().err == (
        "traymind kb: unknown knowledge base 'wiki' (configured: docs, empty)\n"
    )
    assert kb(config, data, "search", "docs", "x") == 1
    assert capsys.readouterr().err == (
        "traymind kb: 'docs' has no index yet; run `traymind kb reindex docs` or start the server\n"
    )


def test_memory_list_and_forget(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    assert main(["memory", "list", "general", "--data-dir", str(data)]) == 0
    assert capsys.readouterr().err == f"No memories yet (no {data / 'memory.sqlite3'}).\n"
    store = MemoryStore.in_data_dir(data).open()
    tea = store.add("general", "The user likes tea.", "openwebui:abc")
    store.add("general", "The user lives in Lyon.")
    store.add("coder", "Uses tabs.")
    store.close()
    assert main(["memory", "list", "general", "--data-dir", str(data)]) == 0
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(tea.created))
    assert capsys.readouterr().out == (
        "ID  CREATED           SESSION        MEMORY\n"
        f"2   {stamp}  -              The user lives in Lyon.\n"
        f"1   {stamp}  openwebui:abc  The user likes tea.\n"
    )
    assert main(["memory", "forget", "coder", "1", "--data-dir", str(data)]) == 1
    assert capsys.readouterr().err == "traymind memory: agent 'coder' has no memory #1\n"
    assert main(["memory", "forget", "general", "1", "--data-dir", str(data)]) == 0
    assert capsys.readouterr().err == "Forgot memory #1 of 'general': The user likes tea.\n"
    assert main(["memory", "list", "coder", "--data-dir", str(data)]) == 0
    assert "Uses tabs." in capsys.readouterr().out


def test_the_module_runs_standalone(setup) -> None:
    config, data = setup
    command = [sys.executable, "-m", "server.cli", "kb"]
    options = ["--config", str(config), "--data-dir", str(data)]
    built = subprocess.run(
        [*command, "reindex", "docs", *options], cwd=ROOT, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    found = subprocess.run(
        [*command, "search", "docs", "free returns", "-k", "1", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("[1] source: returns.md (lines 1-3, knowledge base `docs`)")
