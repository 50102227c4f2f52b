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
