#!/usr/bin/env bash
# Make sure the Debian packages given as arguments are installed: `make test` calls it for the system
# packages the tests use. Installs only the missing ones, as root on Debian or Ubuntu (one
# `apt-get update` first); anywhere else it installs nothing and stops with the command to run.
# It uses only dpkg-query, apt-get and id from PATH (tests/test_debian_packages.py fakes them).
set -euo pipefail

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  echo "make test needs the Debian packages $*, and this is not Debian or Ubuntu (no dpkg-query/apt-get)." >&2
  echo "Run the tests in a Debian container instead:" >&2
  echo "  docker run --rm -v \"\$PWD\":/src -w /src python:3.11-bookworm make test" >&2
  exit 1
fi

missing=()
for package in "$@"; do
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" == installed ]] || missing+=("$package")
done
((${#missing[@]})) || exit 0

if [[ "$(id -u)" != 0 ]]; then
  echo "make test needs the Debian packages ${missing[*]}; install them as root, then run make test again:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing the Debian packages the tests use: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
