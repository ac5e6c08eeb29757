#!/usr/bin/env bash
# Make sure Debian's Chromium is at /usr/bin/chromium (playwright.config.ts launches it by path;
# Playwright's own browser download needs internet we don't have, Debian's mirror we do).
# Idempotent and silent when Chromium is already there. Runs as root (no sudo in CI images).
set -euo pipefail
if [[ -x /usr/bin/chromium ]]; then exit 0; fi
echo "[ensure-chromium] /usr/bin/chromium missing: installing Debian chromium" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
# Also fail loudly here rather than later inside Playwright.
[[ -x /usr/bin/chromium ]] || { echo "[ensure-chromium] install failed" >&2; exit 1; }
echo "[ensure-chromium] installed: $(/usr/bin/chromium --version 2>/dev/null)" >&2
