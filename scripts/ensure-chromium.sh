#!/usr/bin/env bash
# Make sure Debian's Chromium is installed: its headless shell, which the tests launch by path
# (playwright.config.ts), and the full browser at /usr/bin/chromium for watching a run --headed.
# Playwright's own browser download needs internet we don't have, Debian's mirror we do.
# Idempotent and silent when both are there. Runs as root (no sudo in CI images).
set -euo pipefail
shell=/usr/lib/chromium/chromium-headless-shell
if [[ -x /usr/bin/chromium && -x $shell ]]; then exit 0; fi
echo "[ensure-chromium] installing Debian chromium and chromium-headless-shell" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-headless-shell >/dev/null
# Also fail loudly here rather than later inside Playwright.
[[ -x /usr/bin/chromium && -x $shell ]] || { echo "[ensure-chromium] install failed" >&2; exit 1; }
echo "[ensure-chromium] installed: $($shell --version 2>/dev/null)" >&2
