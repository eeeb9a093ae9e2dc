#!/usr/bin/env bash
# Install the npm tools the deployment tests use (dclint, KEDA's schemas) at the versions package-lock.json
# pins, into .hpo_home/npm (ignored by git). Needs node and npm; fetches from the npm registry only.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="${HPO_NPM_TOOLS:-$root/.hpo_home/npm}"
mkdir -p "$target"
cp "$root/deploy/tools/package.json" "$root/deploy/tools/package-lock.json" "$target/"
npm ci --prefix "$target" --no-audit --no-fund --ignore-scripts --loglevel=error
echo "deploy tools installed in $target"
