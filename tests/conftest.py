"""Settings for every test."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def formula_store(tmp_path_factory):
    """Typeset formulas are kept in a store (unsmudge/formulas.py, ~/.cache/unsmudge by default): the tests keep
    theirs in a folder of their own, so they neither read nor fill the user's (builds run in subprocesses too,
    hence the environment)."""
    before = os.environ.get("UNSMUDGE_CACHE")
    os.environ["UNSMUDGE_CACHE"] = str(tmp_path_factory.mktemp("formula-store"))
    yield
    if before is None:
        del os.environ["UNSMUDGE_CACHE"]
    else:
        os.environ["UNSMUDGE_CACHE"] = before
