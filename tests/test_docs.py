"""README documents every environment variable the code reads and every CLI command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [*ROOT.glob("microsite/**/*.py"), ROOT / "gunicorn.conf.py"]


def env_variables() -> set[str]:
    found = set()
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r"environ(?:\.get)?\(\s*[\"']([A-Z_]+)[\"']", text))
        found |= set(re.findall(r"environ\[[\"']([A-Z_]+)[\"']\]", text))
        found |= set(re.findall(r"_env_flag\(\s*[\"']([A-Z_]+)[\"']", text))
    return found


def test_every_environment_variable_is_documented():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    variables = env_variables()
    assert {"SECRET_KEY", "DATABASE_URL", "PORT", "WEB_CONCURRENCY"} <= variables
    missing = sorted(v for v in variables if f"`{v}`" not in readme)
    assert missing == []


def test_every_cli_command_is_documented(app):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = set(app.cli.list_commands(None)) - {"routes", "run", "shell"}
    assert "import-page" in commands
    missing = sorted(c for c in commands if f"`{c}" not in readme)
    assert missing == []
