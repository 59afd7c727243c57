"""nginx in front of skillgate replicas, on loopback ports, for tests and benchmarks."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import free_port, listening

CONFIG = """
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream skillgate {{
{servers}
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://skillgate;
            proxy_http_version 1.1;
            proxy_set_header Host $host:$server_port;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 300s;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


def nginx_config(directory: Path, port: int, replicas: Sequence[int]) -> str:
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=30s;" for p in replicas)
    return CONFIG.format(dir=directory, port=port, servers=servers)


@contextmanager
def nginx(directory: Path, replicas: Sequence[int]) -> Iterator[str]:
    """Run nginx balancing over the replica ports; yields its base URL."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (directory / "nginx.conf").write_text(nginx_config(directory, port, replicas))
    with listening([binary, "-p", str(directory), "-c", str(directory / "nginx.conf")], port) as url:
        yield url
