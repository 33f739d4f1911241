"""The container image: built from the Dockerfile, it runs the demo and serves its outputs as a
non-root user, and reports healthy.

Needs a working Docker daemon; skipped with the reason otherwise (CI does not install Docker).
No image is pulled: the base is ``AGGREGATOR_DOCKER_BASE`` if set, else an image already
present (the one ``deploy/docker/debian-base.sh`` builds from Debian packages, or
``python:3.11-slim``), else the script is run when debootstrap is there.  Containers use the
host's network, so all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
DEBIAN_BASE = "localgov-aggregator/python-base:bookworm"
OFFICIAL_BASE = "python:3.11-slim"
IMAGE = "localgov-aggregator:test"
UID = 10001

pytestmark = pytest.mark.slow  # builds an image and starts containers


def _docker(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=check
    )


def _have_image(name: str) -> bool:
    return _docker("image", "inspect", name, check=False).returncode == 0


def _base() -> str:
    chosen = os.environ.get("AGGREGATOR_DOCKER_BASE")
    if chosen:
        return chosen
    for name in (DEBIAN_BASE, OFFICIAL_BASE):
        if _have_image(name):
            return name
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        pytest.skip(
            "no base image present, and debootstrap (as root) is not available to build one"
        )
    subprocess.run(
        ["bash", str(ROOT / "deploy/docker/debian-base.sh"), DEBIAN_BASE],
        check=True,
        capture_output=True,
        timeout=1800,
    )
    return DEBIAN_BASE


def _extra_ca_certs() -> str:
    """The certificates this machine adds to the system's (a TLS-inspecting proxy's, here),
    so that pip inside the build reaches PyPI as pip outside it does."""
    folder = Path("/usr/local/share/ca-certificates")
    return "".join(p.read_text() for p in sorted(folder.glob("*.crt"))) if folder.is_dir() else ""


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("docker") is None:
        pytest.skip("docker is not installed")
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        pytest.skip(f"the Docker daemon is not reachable: {info.stderr.strip()[:200]}")
    base = _base()
    build = _docker(
        "build",
        "--network",
        "host",
        "--build-arg",
        f"BASE={base}",
        "--build-arg",
        f"EXTRA_CA_CERTS={_extra_ca_certs()}",
        "-t",
        IMAGE,
        str(ROOT),
        timeout=1800,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    return IMAGE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _answers(port: int) -> bool:
    try:
        return _get(port, "/healthz")[0] in (200, 503)
    except OSError:
        return False


@pytest.fixture
def served(image: str, tmp_path: Path) -> Iterator[int]:
    data = tmp_path / "data"
    data.mkdir()
    os.chown(data, UID, UID) if os.geteuid() == 0 else data.chmod(0o777)
    mount = ["-v", f"{data}:/data"]
    demo = _docker(
        "run",
        "--rm",
        "--network",
        "host",
        *mount,
        image,
        "demo",
        "--out",
        "/data/demo",
        timeout=600,
        check=False,
    )
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "Demo done" in demo.stdout
    port = _free_port()
    name = f"aggregator-test-{uuid.uuid4().hex[:8]}"
    _docker(
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "host",
        *mount,
        image,
        "serve",
        "--config",
        "/data/demo/feeds.yaml",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    )
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=60)
        pause = threading.Event()
        while not _answers(port):
            assert datetime.now(UTC) < deadline, _docker("logs", name, check=False).stderr
            pause.wait(0.2)
        yield port
    finally:
        served_logs = _docker("logs", name, check=False)
        _docker("rm", "-f", name, check=False)
        (tmp_path / "serve.log").write_text(served_logs.stdout + served_logs.stderr)


def test_the_image_runs_the_demo_and_serves_it_as_a_non_root_user(
    image: str, served: int, tmp_path: Path
) -> None:
    status, page = _get(served, "/")
    assert status == 200 and b"<html" in page.lower()
    status, feed = _get(served, "/feed.atom")
    assert status == 200
    entries = etree.fromstring(feed).findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) > 5
    status, body = _get(served, "/healthz")
    health = json.loads(body)
    assert status == 200, health
    assert health["store"] == "ok"
    status, metrics = _get(served, "/metrics")
    assert status == 200 and b"aggregator_posts " in metrics
    user = _docker("run", "--rm", "--network", "host", image, "--version")
    assert user.returncode == 0
    whoami = _docker("run", "--rm", "--entrypoint", "id", image, "-u").stdout.strip()
    assert whoami == str(UID)
    config = json.loads(_docker("image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == "aggregator"
    assert "/healthz" in " ".join(config["Healthcheck"]["Test"])
    # files the demo wrote in the volume belong to the service user, not root
    assert (tmp_path / "data" / "demo" / "feeds.yaml").stat().st_uid == UID
