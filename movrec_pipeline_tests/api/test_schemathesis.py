"""Schemathesis against the live schema of a real server (with API keys on), every check: it finds nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from movrec_pipeline.api import auth
from movrec_pipeline_tests.api.conftest import ARTIFACTS, start_server, stop_server

pytestmark = pytest.mark.slow
MAX_EXAMPLES = 40


def test_schemathesis_finds_nothing(pipeline) -> None:
    key, digest = auth.new_key()
    server = start_server("schemathesis", env={**os.environ, "MOVREC_API_KEY_HASHES": digest})
    report = ARTIFACTS / "schemathesis.txt"
    try:
        done = subprocess.run(
            [str(Path(sys.executable).with_name("schemathesis")), "run", f"{server.url}/openapi.json",
             "--checks", "all", "--max-examples", str(MAX_EXAMPLES), "--seed", "17", "--workers", "2",
             "--header", f"Authorization: Bearer {key}", "--no-color", "--generation-database", "none",
             "--request-timeout", "30", "--suppress-health-check", "too_slow",
             "--report", "junit", "--report-junit-path", str(ARTIFACTS / "schemathesis.xml")],
            capture_output=True, text=True, timeout=1800, env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
        report.write_text(done.stdout + done.stderr)
        summary = [line for line in done.stdout.splitlines() if re.search(r"\b(passed|failed|errors?)\b", line)]
        assert done.returncode == 0, "\n".join(done.stdout.splitlines()[-80:]) + "\n" + server.log_tail()
        assert "Traceback" not in server.log.read_text(errors="replace"), server.log_tail(80)
        print("\n".join(summary[-3:]))
    finally:
        stop_server(server)
