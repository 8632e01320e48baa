#!/usr/bin/env bash
# Build the web dashboard (frontend/) and copy the bundle into the Python package, where
# `openusage serve` finds it: the installed server needs neither npm nor a network.
set -euo pipefail
cd "$(dirname "$0")/../frontend"
npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
dest=../src/openusage/dashboard/static
rm -rf "$dest"
mkdir -p "$dest"
cp dist/* "$dest"/
echo "dashboard built into src/openusage/dashboard/static:"
ls -l "$dest"
