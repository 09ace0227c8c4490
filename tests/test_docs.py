"""The docs users read are exact: every setting documented, every CLI command in the README exists."""

from __future__ import annotations

import re

from support import ROOT

from paperlens.cli import _parser
from paperlens.settings import Settings, env_example, settings_markdown


def test_readme_settings_table_is_current():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert settings_markdown() in readme, "run `python -m paperlens.settings` to refresh the README table"
    for name in Settings.model_fields:
        assert f"PAPERLENS_{name.upper()}" in readme


def test_env_example_is_current():
    assert (ROOT / ".env.example").read_text(encoding="utf-8") == env_example()


def test_every_setting_has_a_description():
    assert all(f.description for f in Settings.model_fields.values())


def test_readme_cli_commands_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    used = set(re.findall(r"\.venv/bin/paperlens (\w+)", readme))
    known = set(_parser()._subparsers._group_actions[0].choices)
    assert used and used <= known, used - known
    assert "make demo" in readme and "make test" in readme
