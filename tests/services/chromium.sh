#!/usr/bin/env bash
# Headless Chromium for the browser tests of the run report (Debian's `chromium` package).
#   tests/services/chromium.sh        installs it with apt-get if missing; prints its path
# Nothing to start or stop: each test runs it once per page, headless, with no network.
set -euo pipefail
PATH=$PATH:/usr/bin
if ! command -v chromium >/dev/null; then
  echo "chromium is missing: installing it with apt-get" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
command -v chromium
