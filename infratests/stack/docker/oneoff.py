"""One-off commands in a container: what a server's image must do before the server starts.

The Postgres template (initdb, then the app's role and database) is built with
the image's own binaries when the stack runs in containers, so the machine
running the suite needs no server packages. The command runs with no network,
as the servers' unprivileged uid, on directories bind-mounted at the same path.
"""

from __future__ import annotations

import shlex
import uuid
from collections.abc import Sequence
from pathlib import Path

from infratests.errors import ServiceError
from infratests.stack.docker.calls import DOCKER_ERRORS, container_user, quietly
from infratests.stack.docker.reaper import SESSION_LABEL

__all__ = ["OneOff"]


class OneOff:
    """Runs commands of one image for one session: ``run(argv, workdir, stdin=...)``."""

    def __init__(self, image: str, session_id: str) -> None:
        self.image, self._session_id = image, session_id

    def __repr__(self) -> str:
        return f"<OneOff {self.image}>"

    def image_id(self) -> str:
        """The image's id (a cache key: another image, another template)."""
        import docker  # type: ignore[import-untyped]

        return str(docker.from_env(timeout=10).images.get(self.image).id)

    def run(self, argv: Sequence[object], workdir: Path, stdin: str | None = None, *,
            user: str | None = None, timeout: float = 120.0) -> str:
        """Run ``argv`` as ``user`` (None: root) with ``workdir`` mounted (``stdin`` fed from a file
        there); its output. A non-zero exit raises :class:`ServiceError` with the output's tail.
        """
        from testcontainers.core.container import DockerContainer

        script = 'exec "$@"'
        if stdin is not None:
            feed = workdir / f"stdin-{uuid.uuid4().hex[:6]}"
            feed.write_text(stdin)
            feed.chmod(0o644)
            script += f" <{shlex.quote(str(feed))}"
        container = (DockerContainer(self.image).with_command([str(arg) for arg in argv])
                     .with_volume_mapping(str(workdir), str(workdir), "rw")
                     .with_name(f"infratests-{self._session_id}-oneoff-{uuid.uuid4().hex[:6]}")
                     .with_kwargs(entrypoint=["/bin/sh", "-c", script, "sh"], user=container_user(user),
                                  network_mode="none", working_dir=str(workdir),
                                  labels={SESSION_LABEL: self._session_id}))
        container.start()
        wrapped = container.get_wrapped_container()
        try:
            code = int(wrapped.wait(timeout=timeout)["StatusCode"])
            output = wrapped.logs().decode(errors="replace")
        except DOCKER_ERRORS as error:
            raise ServiceError(f"{self.image}: {argv[0]} did not finish within {timeout} s ({error})",
                               self.image) from error
        finally:
            quietly(wrapped.remove, force=True, v=True)
        if code != 0:
            raise ServiceError(f"{self.image}: {argv[0]} exited {code}:\n{output[-2000:]}", self.image)
        return output
