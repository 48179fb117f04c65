"""Choosing what runs the stack: ``docker``, ``local`` or ``auto``, always with the reason.

``auto`` picks Docker when a daemon answers and every image of the plan is
already present, else the local backend. The image plan is the profile's
``docker.images``: ``local`` (built by ``infratests images build``),
``official`` (registry images) or ``auto`` (local when built, else official),
with ``docker.image.<kind>`` overriding one kind. Ryuk, testcontainers' reaper,
stays on where its image can be had; elsewhere the suite's janitor alone
reaps the session's labelled containers.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from infratests.config import Profile
from infratests.errors import ConfigError
from infratests.session import Session
from infratests.stack.docker.client import docker_client
from infratests.stack.docker.images import local_image_names, missing_images
from infratests.stack.docker.network import HOST, NetworkPlacement, Pod, choose_network
from infratests.stack.docker.oneoff import OneOff
from infratests.stack.docker.plan import OFFICIAL_IMAGES, ImagePlan
from infratests.stack.runtime import Runtime

if TYPE_CHECKING:
    from infratests.stack.placement import Placement

__all__ = ["choose_backend", "configure_ryuk", "docker_placement", "image_plan"]


def image_plan(profile: Profile, client: Any) -> ImagePlan:
    """The images for this profile (see the module doc); ``local`` insists they are built."""
    wanted = profile.docker.images
    local = local_image_names() if wanted != "official" else {}
    absent = missing_images(client, local) if local else []
    if wanted == "local" and absent:
        raise ConfigError(f"docker.images = \"local\" but {', '.join(absent)} are not built: "
                          "run `infratests images build`", "docker.images")
    if wanted == "local" or (wanted == "auto" and not absent):
        images = {kind: tag for kind, tag in local.items() if kind != "base"}
        plan = ImagePlan("local", images, "local images built from Debian bookworm packages")
    else:
        plan = _official(client, "official images" if wanted == "official" else
                         "official images (local ones not built: `infratests images build`)")
    return ImagePlan(plan.source, {**plan.images, **profile.docker.image}, plan.reason)


def _official(client: Any, reason: str) -> ImagePlan:
    images = dict(OFFICIAL_IMAGES)
    if not _obtainable(client, images["faultproxy"]):
        del images["faultproxy"]
        reason += f"; {OFFICIAL_IMAGES['faultproxy']} cannot be pulled: the suite's own proxy instead"
    return ImagePlan("official", images, reason)


def _obtainable(client: Any, image: str) -> bool:
    import docker.errors  # type: ignore[import-untyped]

    if not missing_images(client, {"image": image}):
        return True
    try:
        client.images.pull(image)
    except docker.errors.APIError:
        return False
    return True


def configure_ryuk(client: Any, wanted: str = "auto") -> str:
    """``docker.ryuk``: ``on`` or ``off`` as set; ``auto`` leaves Ryuk on when its image can be had,
    else turns it off (the janitor reaps instead). TESTCONTAINERS_RYUK_DISABLED beats ``auto``."""
    from testcontainers.core.config import testcontainers_config as tc

    if wanted != "auto":
        tc.ryuk_disabled = wanted == "off"
        return f"Ryuk {wanted} (docker.ryuk)"
    if "TESTCONTAINERS_RYUK_DISABLED" in os.environ:
        return f"Ryuk {'off' if tc.ryuk_disabled else 'on'} (TESTCONTAINERS_RYUK_DISABLED)"
    if _obtainable(client, tc.ryuk_image):
        return "Ryuk on"
    tc.ryuk_disabled = True
    return f"Ryuk off ({tc.ryuk_image} cannot be pulled; the janitor reaps labelled containers)"


def docker_placement(profile: Profile, session: Session) -> tuple[Placement, str]:
    """Where a stack of ``profile`` runs on Docker (images, network) and a sentence describing it."""
    from infratests.stack.docker.backend import DockerService
    from infratests.stack.placement import Placement

    client, why = docker_client()
    if client is None:
        raise ConfigError(f"--infratests-backend docker: {why}; start dockerd "
                          "(scripts/docker-setup) or use the local backend", "backend")
    plan = image_plan(profile, client)
    mode, network_why = choose_network(profile.docker.network)
    network: NetworkPlacement = Pod(session, plan.images["python"]) if mode == "bridge" else HOST
    reason = f"{plan.reason}; {network_why}; {configure_ryuk(client, profile.docker.ryuk)}"
    run = functools.partial(DockerService, plan=plan, network=network)
    runtime = Runtime(network.bind, lambda kind: OneOff(plan.images[kind], session.id))
    return Placement("docker", run, runtime, network), reason


def choose_backend(name: str, profile: Profile) -> tuple[str, str]:
    """Resolve ``auto`` to ``docker`` or ``local``; the choice and the reason."""
    if name != "auto":
        return name, "asked for"
    client, why = docker_client()
    if client is None:
        return "local", why
    try:
        plan = image_plan(profile, client)
    except ConfigError as error:
        return "local", str(error)
    absent = missing_images(client, plan.images)
    if absent:
        return "local", f"{why} but images are missing: {', '.join(absent)}"
    return "docker", f"{why} and every image is present"
