#!/usr/bin/env bash
# Installs the Debian packages tailor needs to build and test, and only those
# that are missing. Idempotent: a second run installs nothing.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config clang
  libjansson-dev libmicrohttpd-dev libhwloc-dev libpcre2-dev libssl-dev
  libcurl4-openssl-dev libcmocka-dev libomp-dev
  jq curl time
)

# The openai npm package for the server's compatibility test
# (tests/openai-compat), from the npm registry, only where node and npm exist.
install_openai_compat() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/openai-compat"
  if command -v node >/dev/null && command -v npm >/dev/null && [ ! -d "$dir/node_modules/openai" ]; then
    echo "install-deps: npm ci in tests/openai-compat"
    (cd "$dir" && npm ci --no-audit --no-fund --silent) || echo "install-deps: npm failed; the openai compatibility test will be skipped"
  fi
}
trap install_openai_compat EXIT

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
