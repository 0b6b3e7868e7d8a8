"""`make test` installs the Debian packages the tests use (scripts/debian-packages.sh), shown on a fake system.

The packages are already on this machine, so the script runs with a PATH of fakes: a `dpkg-query` that knows
which packages are installed, an `apt-get` that logs its arguments, an `id` that says who we are.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "debian-packages.sh"
PACKAGES = ["chromium", "fonts-noto-color-emoji", "unicode-cldr-core"]
BASH = shutil.which("bash")


def fake_system(tmp: Path, installed: list[str], uid: int, debian: bool = True) -> Path:
    """A folder of fake commands to use as the whole PATH."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    log = tmp / "apt.log"
    commands = {"id": f'[[ "$1" == -u ]] && echo {uid}\n'}
    if debian:
        known = " ".join(installed)
        # like dpkg-query -W -f='${db:Status-Status}' PACKAGE: "installed", or an error for an unknown one
        commands["dpkg-query"] = (f'for p in {known}; do [[ "${{@: -1}}" == "$p" ]] && printf installed && exit 0; done\n'
                                  'echo "dpkg-query: no packages found matching ${@: -1}" >&2; exit 1\n')
        commands["apt-get"] = f'echo "$DEBIAN_FRONTEND apt-get $*" >> {log}\n'
    for name, body in commands.items():
        (bin_dir / name).write_text(f"#!{BASH}\n{body}")
        (bin_dir / name).chmod(0o755)
    return bin_dir


def run_script(tmp: Path, installed: list[str], uid: int, debian: bool = True):
    bin_dir = fake_system(tmp, installed, uid, debian)
    result = subprocess.run([BASH, str(SCRIPT), *PACKAGES], env={"PATH": str(bin_dir)},
                            capture_output=True, text=True, timeout=30)
    log = tmp / "apt.log"
    return result, (log.read_text().splitlines() if log.exists() else [])


def test_as_root_it_installs_exactly_the_missing_packages_after_one_update(tmp_path):
    result, apt = run_script(tmp_path, installed=["fonts-noto-color-emoji"], uid=0)
    assert result.returncode == 0, result.stderr
    assert apt == ["noninteractive apt-get update -qq",
                   "noninteractive apt-get install -y -qq chromium unicode-cldr-core"]


def test_nothing_missing_means_no_apt_and_no_root_needed(tmp_path):
    result, apt = run_script(tmp_path, installed=PACKAGES, uid=1000)
    assert result.returncode == 0, result.stderr
    assert apt == [] and result.stdout == result.stderr == ""


def test_not_root_stops_with_the_exact_command(tmp_path):
    result, apt = run_script(tmp_path, installed=["chromium"], uid=1000)
    assert result.returncode == 1
    assert apt == []
    assert ("  sudo apt-get update && sudo apt-get install -y fonts-noto-color-emoji unicode-cldr-core\n"
            in result.stderr)


@pytest.mark.parametrize("uid", [0, 1000])
def test_not_debian_stops_at_once_with_a_command_that_works(tmp_path, uid):
    result, apt = run_script(tmp_path, installed=[], uid=uid, debian=False)
    assert result.returncode == 1 and apt == []
    assert "not Debian or Ubuntu" in result.stderr and " ".join(PACKAGES) in result.stderr
    assert "docker run --rm -v \"$PWD\":/src -w /src python:3.11-bookworm make test" in result.stderr


def test_make_test_runs_it_with_the_packages_before_the_suite():
    """The Makefile's `test` target asks for these packages before anything else (make -n prints the plan)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}  # under make test
    plan = subprocess.run(["make", "--no-print-directory", "-n", "-W", "pyproject.toml", "test"], cwd=ROOT,
                          env=env, capture_output=True, text=True, check=True).stdout.splitlines()
    assert plan[0] == "bash scripts/debian-packages.sh " + " ".join(PACKAGES)
    assert plan[-1].endswith("python -m pytest -q")
