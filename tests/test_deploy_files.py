"""The deployment files say what docs/deploy.md promises: units systemd accepts and rates well,
a compose file with every service, a Dockerfile that ends as a non-root user with a
healthcheck, and a base-image script that is valid shell."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
EXPOSURE = re.compile(r"Overall exposure level for \S+: (\d+\.\d+)")


def test_there_is_a_unit_for_each_role() -> None:
    assert [u.name for u in UNITS] == [
        "aggregator-scheduler.service",
        "aggregator-web.service",
        "aggregator-worker@.service",
        "aggregator.service",
    ]
    for unit in UNITS:
        text = unit.read_text()
        assert "User=aggregator" in text and "NoNewPrivileges=yes" in text
        assert "ProtectSystem=strict" in text and "CapabilityBoundingSet=\n" in text
        assert "EnvironmentFile=/etc/aggregator/secrets" in text  # secrets never in the unit


@pytest.mark.slow
@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_accepts_each_unit_and_rates_it_well(unit: Path, tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    # the interpreter of a real install is not here; the system's stands in for it
    local = tmp_path / unit.name
    local.write_text(
        unit.read_text().replace("/opt/localgov-aggregator/.venv/bin/python", "/usr/bin/python3")
    )
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(local)], capture_output=True, text=True, check=False
    )
    assert verify.returncode == 0, verify.stderr
    rating = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(local)],
        capture_output=True,
        text=True,
        check=False,
    )
    found = EXPOSURE.search(rating.stdout + rating.stderr)
    assert found is not None, rating.stdout[-500:] + rating.stderr[-500:]
    assert float(found.group(1)) <= 2.0  # "OK" on systemd's scale (10 is "UNSAFE")


def test_compose_runs_every_role_from_one_image() -> None:
    compose = YAML(typ="safe").load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "web", "worker", "scheduler"}
    commands = {"migrate": "migrate", "web": "serve", "worker": "worker", "scheduler": "scheduler"}
    for name, command in commands.items():
        assert services[name]["image"] == "localgov-aggregator:latest"
        assert services[name]["command"][0] == command
    assert services["worker"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert "outputs:/data" in services["web"]["volumes"]


def test_the_dockerfile_ends_unprivileged_with_a_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text()
    runtime = text.rsplit("\nFROM ", 1)[1]
    assert text.startswith("# syntax=") and "ARG BASE=python:3.11-slim" in text
    assert "\nUSER aggregator\n" in runtime and "HEALTHCHECK" in runtime
    assert text.count("\nFROM ") == 2  # build, then runtime


@pytest.mark.slow
def test_the_base_image_script_is_valid_shell() -> None:
    check = subprocess.run(
        ["bash", "-n", str(ROOT / "deploy" / "docker" / "debian-base.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
