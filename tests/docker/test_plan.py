"""Which image runs a spec, and how: pure data, no daemon needed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from infratests.errors import ConfigError
from infratests.profile_file import load_profile
from infratests.stack import app, faultproxy, postgres, redis
from infratests.stack.docker.plan import OFFICIAL_IMAGES, ImagePlan
from infratests.stack.service import Endpoint

LOCAL = ImagePlan("local", {k: f"infratests/{k}:x" for k in ("postgres", "redis", "python")})
OFFICIAL = ImagePlan("official", dict(OFFICIAL_IMAGES))


def test_local_images_keep_the_host_argv(tmp_path: Path) -> None:
    spec = redis.redis_spec(load_profile(), "redis-1", 7001, tmp_path)
    launch = LOCAL.launch(spec, tmp_path)
    assert (launch.image, (*launch.entrypoint, *launch.command)) == ("infratests/redis:x", spec.argv)
    assert (str(tmp_path), str(tmp_path), "rw") in launch.mounts


def test_official_images_run_the_binary_from_their_own_path(tmp_path: Path) -> None:
    spec = postgres.postgres_spec(load_profile(), 7002, None, tmp_path)
    launch = OFFICIAL.launch(spec, tmp_path)
    assert launch.image == OFFICIAL_IMAGES["postgres"]
    assert launch.entrypoint == ("postgres",) and launch.command == spec.argv[1:]


def test_python_services_run_this_interpreter_mounted_read_only(tmp_path: Path) -> None:
    launch = LOCAL.launch(app.dependency_spec(7003, tmp_path), tmp_path)
    assert launch.image == "infratests/python:x"
    if not sys.base_prefix.startswith("/usr"):
        assert launch.entrypoint == (sys.executable,)
        mounted = [inside for _host, inside, mode in launch.mounts if mode == "ro"]
        assert any(Path(sys.base_prefix).is_relative_to(path) for path in mounted)
        assert any(Path(sys.prefix).is_relative_to(path) for path in mounted)


def test_real_toxiproxy_gets_the_same_listeners(tmp_path: Path) -> None:
    listen, upstream = Endpoint("127.0.0.1", 7005, "x"), Endpoint("127.0.0.1", 7006, "y")
    spec = faultproxy.faultproxy_spec(7004, {"redis-1": (listen, upstream)}, tmp_path)
    launch = OFFICIAL.launch(spec, tmp_path)
    assert launch.entrypoint == ("/toxiproxy",)
    assert launch.command == ("-host", "127.0.0.1", "-port", "7004",
                              "-config", str(tmp_path / "proxies.json"))


def test_without_toxiproxy_the_suite_proxy_runs_in_the_python_image(tmp_path: Path) -> None:
    spec = faultproxy.faultproxy_spec(7004, {}, tmp_path)
    assert LOCAL.launch(spec, tmp_path).image == "infratests/python:x"


def test_a_kind_without_an_image_names_the_key(tmp_path: Path) -> None:
    spec = redis.redis_spec(load_profile(), "redis-1", 7001, tmp_path)
    with pytest.raises(ConfigError, match=r"docker\.image\.redis"):
        ImagePlan("local", {}).launch(spec, tmp_path)


def test_profile_validates_the_image_set() -> None:
    with pytest.raises(ConfigError, match="docker.images"):
        load_profile(None, {"docker.images": "nightly"})
    assert load_profile(None, {"docker.image.redis": "redis:7.2"}).docker.image == {"redis": "redis:7.2"}


@pytest.mark.parametrize("key", ["docker.network", "docker.ryuk"])
def test_profile_validates_network_and_ryuk(key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_profile(None, {key: "sometimes"})


def test_ryuk_setting_beats_detection() -> None:
    from testcontainers.core.config import testcontainers_config as tc

    from infratests.stack.docker.choose import configure_ryuk

    before = tc.ryuk_disabled
    try:
        assert configure_ryuk(None, "off") == "Ryuk off (docker.ryuk)" and tc.ryuk_disabled
        assert configure_ryuk(None, "on") == "Ryuk on (docker.ryuk)" and not tc.ryuk_disabled
    finally:
        tc.ryuk_disabled = before
