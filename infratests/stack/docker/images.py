"""Local images for the container backend, built from Debian packages (no registry needed).

``build_local_images`` debootstraps a bookworm rootfs from the Debian mirror apt
is configured with, imports it as a base image and builds the Dockerfiles of
the repo's ``dockerfiles/`` directory FROM it. Every tag is a content hash of the
package list and the Dockerfiles: when nothing changed, the build is skipped.
The packages are the ones the local backend runs, so the service modules'
argv and config files work unchanged inside these images.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infratests.errors import ConfigError, ServiceError

__all__ = [
    "LOCAL_KINDS",
    "PACKAGES",
    "SUITE",
    "BuildReport",
    "build_local_images",
    "content_key",
    "debian_mirror",
    "dockerfiles_dir",
    "local_image_names",
    "missing_images",
]

PACKAGES = ("postgresql-15", "pgbouncer", "redis-server", "nginx-light", "python3")
SUITE = "bookworm"
LOCAL_KINDS = ("postgres", "pgbouncer", "redis", "nginx", "python")
_RECIPE = "2"  # bump when the rootfs recipe below changes
_STRIP = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
          "var/lib/postgresql/15", "etc/postgresql/15")


@dataclass(frozen=True)
class BuildReport:
    """What ``build_local_images`` did: ``built`` is False when the cache was hit."""

    key: str
    built: bool
    seconds: float
    images: dict[str, str]


def dockerfiles_dir() -> Path:
    """The repo's ``dockerfiles/`` directory (one Dockerfile per local image)."""
    found = Path(__file__).resolve().parents[3] / "dockerfiles"
    if not (found / "python" / "Dockerfile").is_file():
        raise ConfigError(f"no Dockerfiles in {found}: run from a checkout of the infratests repo "
                          "or set docker.images = \"official\"", "docker.images")
    return found


def base_key() -> str:
    """Hash of what goes into the debootstrapped base: suite, package list, recipe."""
    return hashlib.sha256(f"{SUITE}|{','.join(PACKAGES)}|{_RECIPE}".encode()).hexdigest()[:12]


def content_key() -> str:
    """Hash of everything that goes into the images: the base's key and every Dockerfile."""
    digest = hashlib.sha256(base_key().encode())
    for kind in LOCAL_KINDS:
        digest.update((dockerfiles_dir() / kind / "Dockerfile").read_bytes())
    return digest.hexdigest()[:12]


def local_image_names() -> dict[str, str]:
    """``kind -> tag`` for the current Dockerfiles, plus ``base`` (computed, no Docker call).

    A Dockerfile change rebuilds only the small images on top of the base.
    """
    key = content_key()
    return {"base": f"infratests/base:{base_key()}",
            **{kind: f"infratests/{kind}:{key}" for kind in LOCAL_KINDS}}


def debian_mirror(suite: str = SUITE, etc: Path = Path("/etc/apt")) -> str:
    """The first ``deb`` URI apt uses for ``suite`` (deb822 ``.sources`` or one-line lists)."""
    for stanza in _apt_sources(etc):
        if "deb" in stanza.get("types", "").split() and suite in stanza.get("suites", "").split() \
                and stanza.get("enabled", "yes") != "no":
            return stanza["uris"].split()[0].rstrip("/")
    raise ConfigError(f"no apt source for Debian {suite} in {etc}/sources.list(.d): add one "
                      f"(deb http://<mirror>/debian {suite} main)", etc)


def _apt_sources(etc: Path) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = []
    for path in [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]:
        for line in path.read_text().splitlines() if path.is_file() else []:
            words = re.sub(r"\[[^\]]*\]", " ", line.split("#")[0]).split()
            if len(words) >= 3 and words[0] == "deb":
                stanzas.append({"types": "deb", "uris": words[1], "suites": words[2]})
    for path in sorted((etc / "sources.list.d").glob("*.sources")):
        for block in path.read_text().split("\n\n"):
            fields = {}
            for line in block.splitlines():
                key, sep, value = line.partition(":")
                if sep and not line.startswith(("#", " ")):
                    fields[key.strip().lower()] = value.strip()
            if "uris" in fields:
                stanzas.append(fields)
    return stanzas


def missing_images(client: Any, names: Mapping[str, str]) -> list[str]:
    """The tags of ``names`` that the daemon does not have."""
    import docker.errors  # type: ignore[import-untyped]

    missing = []
    for tag in names.values():
        try:
            client.images.get(tag)
        except docker.errors.ImageNotFound:
            missing.append(tag)
    return missing


def build_local_images(force: bool = False, log: Callable[[str], None] | None = None) -> BuildReport:
    """Build (or find cached) every local image; safe to run concurrently (a file lock)."""
    import docker  # type: ignore[import-untyped]

    say = log or (lambda line: print(f"infratests images: {line}", file=sys.stderr, flush=True))
    began = time.monotonic()
    names = local_image_names()
    client = docker.from_env()
    with _build_lock():
        if not force and not missing_images(client, names):
            say(f"cached: {', '.join(names.values())}")
            return BuildReport(content_key(), False, round(time.monotonic() - began, 2), names)
        replaced = _image_ids(client, names)
        if force or missing_images(client, {"base": names["base"]}):
            _build_base(client, names["base"], say)
        for kind in LOCAL_KINDS:
            say(f"building {names[kind]} from dockerfiles/{kind}/Dockerfile")
            client.images.build(path=str(dockerfiles_dir() / kind), tag=names[kind], rm=True,
                                buildargs={"BASE": names["base"]}, pull=False, network_mode="none")
        _remove_stale(client, names, say)
        _remove_untagged(client, replaced)
    seconds = round(time.monotonic() - began, 2)
    say(f"built in {seconds} s")
    return BuildReport(content_key(), True, seconds, names)


def _remove_stale(client: Any, names: Mapping[str, str], say: Callable[[str], None]) -> None:
    """Untag older builds of our images (their layers go with them when nothing uses them)."""
    import docker.errors  # type: ignore[import-untyped]

    current = set(names.values())
    for kind in ("base", *LOCAL_KINDS):
        for image in client.images.list(name=f"infratests/{kind}"):
            for tag in set(image.tags) - current:
                try:
                    client.images.remove(tag, noprune=False)
                    say(f"removed stale {tag}")
                except docker.errors.APIError:  # still used by a container: keep it
                    continue


def _image_ids(client: Any, names: Mapping[str, str]) -> set[str]:
    import docker.errors  # type: ignore[import-untyped]

    ids = set()
    for tag in names.values():
        try:
            ids.add(client.images.get(tag).id)
        except docker.errors.ImageNotFound:
            continue
    return ids


def _remove_untagged(client: Any, ids: set[str]) -> None:
    """A rebuild moves our tags to new images: remove the old ones (ours alone, never a prune)."""
    import docker.errors  # type: ignore[import-untyped]

    for image_id in ids:
        try:
            if not client.images.get(image_id).tags:
                client.images.remove(image_id)
        except docker.errors.APIError:  # gone already, or a container still uses it
            continue


def _build_base(client: Any, tag: str, say: Callable[[str], None]) -> None:
    if os.geteuid() != 0 or not shutil.which("debootstrap"):
        raise ConfigError("building local images needs root and debootstrap "
                          "(apt-get install -y debootstrap); or use docker.images = \"official\"",
                          "docker.images")
    mirror = debian_mirror()
    work = Path(tempfile.mkdtemp(prefix="infratests-rootfs-", dir="/var/tmp"))
    try:
        rootfs, archive = work / "rootfs", work / "rootfs.tar"
        say(f"debootstrap {SUITE} from {mirror} ({', '.join(PACKAGES)})")
        began = time.monotonic()
        _run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
              f"--cache-dir={_deb_cache()}", SUITE, str(rootfs), mirror])
        for relative in _STRIP:
            shutil.rmtree(rootfs / relative, ignore_errors=True)
        say(f"debootstrap took {time.monotonic() - began:.1f} s")
        _run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(archive), "."])
        say(f"importing {tag}")
        repository, _, version = tag.partition(":")
        client.api.import_image_from_file(str(archive), repository=repository, tag=version)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _deb_cache() -> Path:
    root = Path(os.environ.get("INFRATESTS_CACHE", Path.home() / ".cache" / "infratests"))
    path = root / "debootstrap-debs"
    path.mkdir(parents=True, exist_ok=True)
    return path


class _build_lock:
    """An exclusive lock file, so two runs never debootstrap the same image at once."""

    def __enter__(self) -> None:
        path = _deb_cache().parent / "images.lock"
        self._file = path.open("w")
        fcntl.flock(self._file, fcntl.LOCK_EX)

    def __exit__(self, *_exc: object) -> None:
        self._file.close()


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise ServiceError(f"{argv[0]} exited {done.returncode}:\n{done.stdout[-2000:]}"
                           f"{done.stderr[-2000:]}", argv[0])
