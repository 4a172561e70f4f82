"""The shipped deploy files read the way systemd reads them, so that tests (and the
scale-out run) start exactly the commands the units start, with the example environment."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
ENV_EXAMPLE = DEPLOY / "fraudcenter.env.example"
INSTALL_DIR = "/opt/fraudcenter"  # WorkingDirectory= of every unit
VAR_DIR = "/var/lib/fraudcenter"  # FRAUDCENTER_VAR_DIR in the example environment


def unit_directives(name: str) -> dict[str, str]:
    """Section.Key → value of a unit file (the last one wins, as in systemd)."""
    directives, section = {}, ""
    for raw in (UNITS / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _sep, value = line.partition("=")
        directives[f"{section}.{key.strip()}"] = value.strip()
    return directives


def unit_environment(name: str) -> dict[str, str]:
    """The unit's own Environment= assignments (on top of the EnvironmentFile)."""
    env = {}
    for raw in (UNITS / name).read_text().splitlines():
        line = raw.strip()
        if line.startswith("Environment="):
            for assignment in shlex.split(line.removeprefix("Environment=")):
                key, _sep, value = assignment.partition("=")
                env[key] = value
    return env


def expand_specifiers(value: str, *, instance: str, hostname: str) -> str:
    """systemd's specifiers that the units use: %i (instance), %H (host name), %% (a %)."""

    def one(match: re.Match) -> str:
        spec = match.group(1)
        known = {"i": instance, "H": hostname, "%": "%"}
        if spec not in known:
            raise ValueError(f"specifier %{spec} is not expected in a fraudcenter unit")
        return known[spec]

    return re.sub(r"%(.)", one, value)


def unit_command(
    name: str, *, bin_dir: Path, hostname: str, instance: str = "", var_dir: Path | None = None
) -> list[str]:
    """The unit's ExecStart as argv, for this checkout: the venv's bin instead of
    /opt/fraudcenter/.venv/bin, and `var_dir` instead of /var/lib/fraudcenter."""
    command = expand_specifiers(
        unit_directives(name)["Service.ExecStart"], instance=instance, hostname=hostname
    )
    argv = shlex.split(command)
    argv[0] = argv[0].replace(f"{INSTALL_DIR}/.venv/bin", str(bin_dir))
    if var_dir is not None:
        argv = [arg.replace(VAR_DIR, str(var_dir)) for arg in argv]
    return argv


def env_example() -> dict[str, str]:
    """KEY=VALUE lines of the example environment file (EnvironmentFile= syntax)."""
    env = {}
    for raw in ENV_EXAMPLE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"not KEY=VALUE: {raw!r}")
        env[key.strip()] = value.strip()
    return env
