"""Attack surface: what listens where by default, and how SQL is built from values.

* The embedded PostgreSQL has no TCP listener (``listen_addresses = ''``, Unix socket only).
* ``movrec dev`` binds the Dagster webserver to 127.0.0.1 unless told otherwise.
* No statement in ``movrec_pipeline`` is built by string formatting: ruff's S608 rule (flake8-bandit) is on in
  the project's configuration and finds nothing; values are bound as parameters, identifiers and literals go
  through ``psycopg.sql`` composition.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from movrec_pipeline.cli import instance, supervise
from movrec_pipeline.cli import main as cli
from movrec_pipeline_tests.reliability.conftest import FIGURES, PROJECT_DIR

PACKAGE = PROJECT_DIR / "movrec_pipeline"


def test_embedded_server_listens_on_a_unix_socket_only(warehouse_url: str) -> None:
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == ""
        assert conn.execute("SELECT inet_server_addr()").fetchone()[0] is None  # we came in over the socket
    assert "host=/" in warehouse_url  # the URL names a socket directory, not a host
    FIGURES.security["embedded PostgreSQL: Unix socket only"] = True


def test_movrec_dev_binds_loopback_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    args = cli.build_parser().parse_args(["dev"])
    assert (args.host, args.port) == ("127.0.0.1", 3000)
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["--help"])
    assert any(line.split()[:1] == ["dev"] and "127.0.0.1" in line for line in capsys.readouterr().out.splitlines())
    # and that host is what reaches `dagster dev` (nothing started: the call is captured)

    calls = []
    monkeypatch.setattr(instance, "prepare_environment", lambda: {})
    monkeypatch.setattr(instance, "apply_pool_limits", lambda: None)
    monkeypatch.setattr(supervise, "supervise", lambda commands: calls.extend(commands) or 0)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    assert cli.main(["dev"]) == 0
    assert len(calls) == 1  # without --api only `dagster dev` is started
    argv = calls[0]
    assert argv[argv.index("-h") + 1] == "127.0.0.1" and "0.0.0.0" not in argv
    FIGURES.security["movrec dev binds 127.0.0.1 by default"] = True


# -- the SQL-construction scan ---------------------------------------------------------------------------------
# call name -> position of its SQL argument
def ruff_s608(path: Path) -> list[str]:
    """Findings of ruff's S608 rule (flake8-bandit: SQL built from strings) under ``path``, as configured."""
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "S608", "--output-format", "concise",
                           "--no-cache", str(path)], capture_output=True, text=True, cwd=PROJECT_DIR)
    return [line for line in done.stdout.splitlines() if "S608" in line]


def test_no_sql_is_built_by_string_formatting() -> None:
    """The project's ruff configuration selects S608; the package has no finding."""
    assert '"S608"' in (PROJECT_DIR / "pyproject.toml").read_text()
    findings = ruff_s608(PACKAGE)
    assert not findings, "SQL built from strings (bind it, or compose with psycopg.sql):\n" + "\n".join(findings)
    FIGURES.security["no SQL built by string formatting (ruff S608)"] = True


def test_the_rule_catches_what_it_should(tmp_path: Path) -> None:
    """S608 flags f-string, %, .format and + SQL, and leaves bound parameters and psycopg.sql alone."""
    (tmp_path / "bad.py").write_text(
        "def f(conn, cur, name, table):\n"
        "    conn.execute(f'SELECT * FROM {name}')\n"
        "    cur.execute('SELECT * FROM %s' % table)\n"
        "    conn.execute('SELECT * FROM {}'.format(name))\n"
        "    conn.execute('DELETE FROM ' + table)\n")
    (tmp_path / "good.py").write_text(
        "def f(conn, value, sql):\n"
        "    conn.execute('SELECT %s', (value,))\n"
        "    conn.execute(sql.SQL('DROP TABLE {}').format(sql.Identifier(value)))\n")
    findings = ruff_s608(tmp_path)
    assert sorted(int(f.split(":")[1]) for f in findings if "bad.py" in f) == [2, 3, 4, 5], findings
    assert not [f for f in findings if "good.py" in f], findings
