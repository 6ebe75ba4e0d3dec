"""In CI no test may skip: a skip there hides a test that never ran (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).parent / "conftest.py").read_text()
SKIPPING = """
import pytest

def test_needs_a_missing_tool():
    pytest.skip("frobnicate is not installed")

def test_skips_outright():
    pytest.skip("no reason")

@pytest.mark.xfail(strict=True)
def test_known_bug():
    assert False

def test_runs():
    assert True
"""
MODULE_SKIP = """
import pytest
pytest.skip("a browser is not installed", allow_module_level=True)

def test_never_collected():
    assert True
"""
EMPTY_PARAMETERS = """
import pytest

@pytest.mark.parametrize("case", [])
def test_over_no_fixtures(case):
    assert case
"""


@pytest.fixture
def ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("VERDICTS_REQUIRE_BROWSER", raising=False)


@pytest.fixture
def not_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("VERDICTS_REQUIRE_BROWSER", raising=False)


def run(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_it=source)
    return pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "-o",
        "empty_parameter_set_mark=fail_at_collect",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
    )


@pytest.mark.usefixtures("ci")
def test_in_ci_a_skip_fails_and_an_xfail_stays_expected(pytester: pytest.Pytester) -> None:
    result = run(pytester, SKIPPING)
    result.assert_outcomes(failed=2, xfailed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "FAILED *test_needs_a_missing_tool - skipped in CI, which must run every test: *frobnicate*",
            "FAILED *test_skips_outright - skipped in CI, which must run every test: Skipped: no reason",
        ]
    )


@pytest.mark.usefixtures("not_ci")
def test_elsewhere_a_missing_tool_skips(pytester: pytest.Pytester) -> None:
    run(pytester, SKIPPING).assert_outcomes(skipped=2, xfailed=1, passed=1)


@pytest.mark.usefixtures("ci")
def test_in_ci_a_module_skipped_at_collection_fails(pytester: pytest.Pytester) -> None:
    result = run(pytester, MODULE_SKIP)
    assert result.ret != 0
    assert result.parseoutcomes().get("passed", 0) == 0
    result.stdout.fnmatch_lines(["*a browser is not installed*"])
    assert result.parseoutcomes().get("skipped", 0) == 0


@pytest.mark.usefixtures("not_ci")
def test_a_parametrize_over_nothing_fails(pytester: pytest.Pytester) -> None:
    result = run(pytester, EMPTY_PARAMETERS)
    assert result.ret != 0
    assert result.parseoutcomes().get("skipped", 0) == 0


def test_the_project_fails_a_parametrize_over_nothing() -> None:
    assert (
        'empty_parameter_set_mark = "fail_at_collect"'
        in (Path(__file__).parent.parent / "pyproject.toml").read_text()
    )
