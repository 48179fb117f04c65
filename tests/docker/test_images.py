"""Local images: apt's own mirror, a content-hash tag, and a cached build that is skipped."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from infratests.errors import ConfigError
from infratests.stack.docker import images


def test_mirror_comes_from_deb822_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\n# comment\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\n")
    assert images.debian_mirror("bookworm", tmp_path) == "http://mirror.example/debian"


def test_mirror_comes_from_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "# deb http://old.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main\n")
    assert images.debian_mirror("bookworm", tmp_path) == "http://mirror.example/debian"


def test_no_mirror_says_how_to_add_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no apt source for Debian bookworm"):
        images.debian_mirror("bookworm", tmp_path)


def test_tags_are_content_hashes() -> None:
    names = images.local_image_names()
    assert names == images.local_image_names()
    assert names["base"] == f"infratests/base:{images.base_key()}"
    assert {tag.split(":")[1] for kind, tag in names.items() if kind != "base"} == {images.content_key()}


def test_a_cached_build_is_skipped(docker_api: Any, local_plan: object) -> None:
    began = time.monotonic()
    report = images.build_local_images(log=lambda _line: None)
    assert not report.built
    assert time.monotonic() - began < 10
    assert not images.missing_images(docker_api, report.images)
