#!/usr/bin/env bash
# `make bench`: builds the models of the reference shapes (once, into
# BUILD/bench-models/), then runs every benchmark. Each figure in
# bench/README.md names the command that produced it; this runs them all.
# Figures vary from run to run on shared machines: compare ratios measured in
# one run (each benchmark measures memory bandwidth itself).
set -euo pipefail
build=${1:-build/release}
threads=${THREADS:-2}
models="$build/bench-models"
mkdir -p "$models"

for m in 1b-q8_0 1b-q4_k 0.6b-q8_0; do
  [ -f "$models/$m.gguf" ] || "$build/bench/make-bench-model" "$m" "$models/$m.gguf"
done

echo "== engine on the CPU ($threads threads): llama-bench -p 128 -n 32 equivalents"
# Reference figures: bench/README.md (llama.cpp 34af94cd9ab2 on this machine kind, 2 threads).
"$build/bench/bench-engine" "$models/1b-q4_k.gguf" -t "$threads" --ref-pp 174.2 --ref-tg 41.7
"$build/bench/bench-engine" "$models/1b-q8_0.gguf" -t "$threads" --ref-pp 110.9 --ref-tg 22.5
"$build/bench/bench-engine" "$models/0.6b-q8_0.gguf" -t "$threads" --ref-pp 232.6 --ref-tg 41.2

for b in "$build"/bench/bench-*; do
  case "$(basename "$b")" in
    bench-engine) ;;
    *.sh) ;;
    *) echo "== $(basename "$b")"; "$b" ;;
  esac
done
