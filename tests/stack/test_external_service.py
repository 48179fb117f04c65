"""The external backend's Service: a live server answers, and every operation a live environment must
not get raises UnsupportedOperation (which scenarios turn into a skip)."""

from __future__ import annotations

import pytest

from infratests.errors import ConfigError, UnsupportedOperation
from infratests.profile_file import load_profile
from infratests.stack.external import ExternalService, external_services
from infratests.stack.service import Service
from infratests.stack.topology import Stack


def test_a_live_service_answers_and_refuses_every_fault(stack: Stack) -> None:
    redis_url = stack["redis-cache"].endpoint.url
    profile = load_profile(None, {"external.url": "\"https://127.0.0.1:1\"", "external.redis_urls": f'["{redis_url}"]'})
    service = external_services(profile)["redis-cache"]
    assert isinstance(service, Service) and isinstance(service, ExternalService)
    with service:
        assert service.is_running() and service.is_ready() and service.logs() == ""
        for fault in (service.kill, service.pause, service.resume, service.restart, service.terminate):
            with pytest.raises(UnsupportedOperation, match="never"):
                fault()
    service.stop()  # nothing to stop, and idempotent


def test_the_environment_needs_its_public_https_url() -> None:
    with pytest.raises(ConfigError, match="external.url"):
        external_services(load_profile(None, {"external.url": "\"http://plain.example\""}))


def test_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set, they are used; unset, only the external backend stops, naming the key and the variable (a
    staging secret is not needed to run the gate)."""
    monkeypatch.setenv("STAGING_SECRET", "s3cr3t-from-env")
    overrides = {"external.url": "\"https://127.0.0.1:1\"", "external.health_secret": "\"${STAGING_SECRET}\""}
    assert load_profile(None, overrides).external.health_secret == "s3cr3t-from-env"
    monkeypatch.delenv("STAGING_SECRET")
    profile = load_profile(None, overrides)
    with pytest.raises(ConfigError, match=r"external.health_secret: \$\{STAGING_SECRET\} is not set"):
        external_services(profile)
    with pytest.raises(ConfigError, match=r"postgres.password: \$\{STAGING_SECRET\} is not set"):
        load_profile(None, {"postgres.password": "\"${STAGING_SECRET}\""})
