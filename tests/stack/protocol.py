"""The Service API contract, checked the same way on every backend (a real Redis, real faults)."""

from __future__ import annotations

from infratests.stack.service import Service


def check_service_protocol(service: Service) -> None:
    """Start, pause, resume, kill, restart, terminate, logs and an idempotent stop, in order."""
    with service:
        assert isinstance(service, Service)
        assert service.is_running() and service.is_ready()
        service.pause()
        assert not service.is_ready()
        service.resume()
        assert service.wait_ready(5).is_ready()
        service.kill()
        assert not service.is_running() and not service.is_ready()
        service.restart()
        assert service.is_ready()
        assert service.terminate(10) == 0
        assert "Ready to accept connections" in service.logs()
    service.stop()  # idempotent
