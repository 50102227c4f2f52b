#!/usr/bin/env bash
# Conversion benchmark: builds a Llama-3.2-1B-shaped BF16 safetensors
# directory with random weights (bench/make-hf-model.c), converts it to Q8_0
# and Q4_K_M with `tailor convert` under /usr/bin/time -v, and reports wall
# time, peak resident memory and output size. The target is a peak RSS below
# 1.3x the output file: conversion streams tensor by tensor.
#
# Usage: bench/bench-convert.sh [BUILD_DIR] [WORK_DIR] [THREADS]
#   BUILD_DIR  a Release tree (default build/release; configured if missing)
#   WORK_DIR   where the 2.5 GB model and the outputs go (default /tmp/tailor-bench-convert)
#   THREADS    quantization threads (default: nproc)
set -euo pipefail

build=${1:-build/release}
work=${2:-/tmp/tailor-bench-convert}
threads=${3:-$(nproc)}
src=$(cd "$(dirname "$0")/.." && pwd)

if [ ! -x /usr/bin/time ]; then
  echo "bench-convert: /usr/bin/time is missing (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTAILOR_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j"$threads" --target tailor make-hf-model >/dev/null

mkdir -p "$work"
model="$work/llama-3.2-1b-shape-bf16"
if [ ! -f "$model/model.safetensors" ]; then
  "$build/bench/make-hf-model" "$model" --dtype bf16
fi
in_bytes=$(stat -c %s "$model/model.safetensors")

printf '%-8s %10s %12s %14s %14s %8s\n' type wall_s peak_rss_MiB output_bytes input_bytes rss/out
for t in Q8_0 Q4_K_M; do
  out="$work/llama-1b-$t.gguf"
  log="$work/time-$t.log"
  /usr/bin/time -v "$build/tailor" convert "$model" -o "$out" --type "$t" -t "$threads" --force 2>"$log" >/dev/null
  rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
  out_bytes=$(stat -c %s "$out")
  ratio=$(awk -v r="$rss_kb" -v o="$out_bytes" 'BEGIN { printf "%.3f", r * 1024 / o }')
  printf '%-8s %10s %12.1f %14s %14s %8s\n' "$t" "$wall" "$(awk -v r="$rss_kb" 'BEGIN { print r / 1024 }')" \
    "$out_bytes" "$in_bytes" "$ratio"
done
