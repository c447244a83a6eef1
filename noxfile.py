"""Every check of the project, one session each: `nox -l` lists them."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "imports"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
# Not docs/ as a whole: ruff would reformat the code blocks of hand-written pages.
LINTED = ("src", "tests", "examples", "benchmarks", "docs/hooks", "noxfile.py", "dev.py")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit, contract (memory, SQLite, PostgreSQL, MariaDB), property and end-to-end tests."""
    session.install("-e", ".[dev,sql,postgres,mysql]")
    args = session.posargs or ["-q", "-p", "no:cacheprovider"]
    session.run("pytest", *args)


# The suites whose long versions `nox -s reliability` runs (docs/reliability.md).
RELIABILITY = [
    "tests/reliability",
    "tests/property/test_whole_flow_stateful.py",
    "tests/property/test_flow_stateful.py",
    "tests/integration/test_process_concurrency.py",
    "tests/integration/test_concurrency.py",
]


@nox.session(python=PYTHON)
def reliability(session: nox.Session) -> None:
    """The long profile of the reliability suites: 10x the examples, 6 to 18 worker processes."""
    session.install("-e", ".[dev,sql,postgres,mysql]")
    args = session.posargs or ["-q", "-p", "no:cacheprovider", "-rA", *RELIABILITY]
    session.run("pytest", *args, env={"SETTLEMENT_TEST_PROFILE": "long"})


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the library, its tests and examples."""
    session.install("-e", ".[dev,sql,postgres,mysql]")
    session.run("mypy", "--strict")


@nox.session(python=PYTHON)
def imports(session: nox.Session) -> None:
    """import-linter: the core stays pure and layered."""
    session.install("-e", ".[dev,sql]")
    session.run("lint-imports")


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Two months of a marketplace on embedded SQLite, from orders to the bank, reconciled."""
    session.install("-e", ".[cli]")
    session.run("python", "examples/demo.py", *session.posargs)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """The MkDocs site (docs/), built strictly: any warning fails the build."""
    session.install("-e", ".[docs]")
    quiet = {"NO_MKDOCS_2_WARNING": "1"}  # the theme's end-of-life banner, not a docs problem
    session.run("mkdocs", "build", "--strict", "--site-dir", "build/site", env=quiet)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks of issue 8 against raw baselines; writes docs/performance.md (--full: 1M)."""
    session.install("-e", ".[sql,postgres,mysql]")
    # The peer, for the side-by-side comparison only. Its MySQL and
    # PostgreSQL drivers build from source and the comparison runs on SQLite.
    session.install("--no-deps", "python-accounting==2.0.0", "python-dateutil", "six")
    args = session.posargs or ["--quick"]
    session.run("python", "benchmarks/run.py", *args)
