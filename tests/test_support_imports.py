"""Test modules share their setup through tests/support/, never by importing one another or
conftest: a test module is free to change without breaking another one."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent


def is_test_module(name: str) -> bool:
    """`name` (as imported) is a test module or conftest."""
    last = name.rsplit(".", 1)[-1]
    return last == "conftest" or last.startswith("test_")


def shared_imports(source: str) -> list[str]:
    """The test modules and conftest that `source` imports, as written."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if is_test_module(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if node.module and is_test_module(node.module):
                found.append(module)
            elif node.module in (None, "tests"):
                # `from . import conftest`, `from tests import test_x`
                found += [f"{module}.{a.name}" for a in node.names if is_test_module(a.name)]
    return found


def test_the_checker_sees_every_way_of_importing_a_test_module():
    offending = """
import tests.test_listings
import conftest
from tests.test_admin_helpers import make_user
from .test_listings import statements
from .conftest import soup
from . import conftest
from tests import test_multihost
from tests.conftest import make_app
"""
    assert len(shared_imports(offending)) == 8
    allowed = """
from tests.support.app import soup
from tests.support import factories
from microsite import testing
import pytest
"""
    assert shared_imports(allowed) == []


def test_no_test_module_imports_another_test_module_or_conftest():
    found = {
        path.name: imports
        for path in sorted(TESTS.glob("test_*.py"))
        if (imports := shared_imports(path.read_text(encoding="utf-8")))
    }
    assert found == {}, "import these from tests/support/ instead"


def test_support_modules_import_no_test_module_either():
    found = {
        str(path.relative_to(TESTS)): imports
        for path in sorted((TESTS / "support").glob("*.py"))
        if (imports := shared_imports(path.read_text(encoding="utf-8")))
    }
    assert found == {}
