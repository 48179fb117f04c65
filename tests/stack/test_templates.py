"""Rendered configs carry the profile's numbers, and real servers accept them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infratests.errors import ConfigError
from infratests.profile_file import load_profile
from infratests.session import Session
from infratests.stack import nginx, pgbouncer, redis
from infratests.stack.service import Endpoint
from infratests.stack.tls import make_tls

UPSTREAMS = [Endpoint("127.0.0.1", 40001, "http://x"), Endpoint("127.0.0.1", 40002, "http://y")]


def test_nginx_config_shape_and_nginx_accepts_it(session: Session) -> None:
    workdir = session.service_dir("nginx")
    spec = nginx.nginx_spec(load_profile(), 40010, 40011, UPSTREAMS, make_tls(session.dir / "tls"), workdir)
    conf = spec.files["nginx.conf"]
    for expected in ("listen 127.0.0.1:40010 ssl http2", "least_conn", "keepalive 32",
                     "server 127.0.0.1:40001", "server 127.0.0.1:40002", "zone=auth:10m rate=10r/s",
                     "zone=webhook:10m rate=50r/s", "zone=api:10m rate=100r/s", "gzip_min_length 1024",
                     "gzip_vary on", "X-Frame-Options SAMEORIGIN", "nosniff", "Strict-Transport-Security",
                     "ssl_protocols TLSv1.2 TLSv1.3", "return 301 https://", 'proxy_set_header Connection ""'):
        assert expected in conf
    assert "X-XSS-Protection" not in conf
    (workdir / "nginx.conf").write_text(conf)
    checked = subprocess.run([spec.argv[0], "-t", "-p", str(workdir), "-e", "stderr", "-c",
                              str(workdir / "nginx.conf")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_pgbouncer_and_redis_configs_carry_the_profile() -> None:
    profile = load_profile(None, {"pgbouncer.default_pool_size": "7", "redis.appendonly": "false"})
    bouncer = pgbouncer.pgbouncer_spec(profile, 40020, Endpoint("127.0.0.1", 40021, ""), Path("/w"))
    ini = bouncer.files["pgbouncer.ini"]
    assert "default_pool_size = 7" in ini and "max_client_conn = 1000" in ini
    assert "pool_mode = transaction" in ini and "port=40021" in ini
    conf = redis.redis_spec(profile, "redis-1", 40030, Path("/w")).files["redis.conf"]
    assert "appendonly no" in conf and "maxmemory 512mb" in conf and "allkeys-lru" in conf


def test_user_template_that_does_not_render_names_the_key(tmp_path: Path) -> None:
    template = tmp_path / "redis.conf.j2"
    template.write_text("port {{ port }}\nmaxmemory {{ no_such_variable }}\n")
    profile = load_profile(None, {"redis.template": str(template)})
    with pytest.raises(ConfigError, match="redis.template: template .* does not render: 'no_such_variable'"):
        redis.redis_spec(profile, "redis-1", 40031, tmp_path)


def test_missing_binary_names_the_fix() -> None:
    profile = load_profile(None, {"binaries.pgbouncer": "/nonexistent/pgbouncer"})
    with pytest.raises(ConfigError, match="apt-get install -y pgbouncer"):
        pgbouncer.binary(profile)
