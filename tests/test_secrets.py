"""No secret in any message or report: passwords in URLs/DSNs and the stack's secrets are masked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from infratests.secrets import mask, register

LEAKY = '''
from pathlib import Path


def test_fails_with_secrets_everywhere(stack, record_property):
    Path("{secret_file}").write_text(stack.health_secret)
    dsn = stack["postgres"].endpoint.url
    print("connecting to", dsn, "with", stack.health_secret)
    record_property("dsn", stack.admin_dsn)
    assert False, f"could not use {{dsn}} / {{stack.admin_dsn}} (secret {{stack.health_secret}})"
'''


def test_url_and_keyword_passwords_are_masked() -> None:
    text = "postgresql://app:s3cr3t@127.0.0.1:5432/app and redis://:hunter22@h:1/0 host=x password=pw12345 user=y"
    assert mask(text) == ("postgresql://app:***@127.0.0.1:5432/app and redis://:hunter22@h:1/0 host=x "
                          "password=*** user=y")


def test_registered_secrets_are_masked_wherever_they_appear() -> None:
    register("a-long-health-secret")
    assert mask("X-Health-Secret: a-long-health-secret!") == "X-Health-Secret: ***!"


def test_a_failing_runs_whole_output_and_junit_hold_no_secret(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    (tmp_path / "test_leaky.py").write_text(LEAKY.format(secret_file=secret_file))
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA",
                           f"--junitxml={tmp_path / 'junit.xml'}", str(tmp_path / "test_leaky.py")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    everything = done.stdout + done.stderr + (tmp_path / "junit.xml").read_text()
    assert "1 failed" in done.stdout, done.stdout[-2000:]
    for secret in ("app-secret", "postgres-secret", secret_file.read_text()):
        assert secret not in everything, f"{secret!r} leaked"
    assert "postgresql://app:***@" in everything
