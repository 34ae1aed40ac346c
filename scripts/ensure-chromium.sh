#!/usr/bin/env bash
# Test support (report stage): makes sure Debian's chromium is installed at /usr/bin/chromium, the
# browser test/report.test.ts drives with playwright-core. Installs it with apt-get when missing.
# Exit 0 when chromium is (now) there; non-zero with a message on stderr when it cannot be installed.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

# apt-get needs root; use sudo only when it works without a password (CI runners), never prompt.
if [ "$(id -u)" -eq 0 ]; then
  AS_ROOT=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  AS_ROOT=(sudo -n)
else
  echo "ensure-chromium: $CHROMIUM is missing and this user cannot install it (not root, no passwordless sudo)." >&2
  echo "ensure-chromium: install it as root: apt-get update && apt-get install -y chromium" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $CHROMIUM is missing and apt-get is not available (not Debian/Ubuntu?); install chromium yourself" >&2
  exit 1
fi

echo "ensure-chromium: installing Debian's chromium (apt-get)…" >&2
# Wait for the dpkg lock instead of failing when another job is installing packages at the same time.
export DEBIAN_FRONTEND=noninteractive
"${AS_ROOT[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q >&2
"${AS_ROOT[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends chromium >&2

if [ ! -x "$CHROMIUM" ]; then
  echo "ensure-chromium: apt-get finished but $CHROMIUM is still missing" >&2
  exit 1
fi
echo "ensure-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)" >&2
