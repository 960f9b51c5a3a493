#!/usr/bin/env bash
# Headless Chromium and its WebDriver for the dashboard's browser test (tests/test_dashboard.py),
# from Debian's packages (chromium, chromium-driver) plus a font with Vietnamese glyphs.
# Idempotent: does nothing when chromium and chromedriver are already on PATH. Nothing is
# downloaded from outside the distribution's package archive.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq chromium chromium-driver fonts-dejavu-core >/dev/null
chromium --version 2>/dev/null || true
chromedriver --version
