#!/bin/sh
# Records the /proc and /sys files that tailor's probe reads into DIR/root,
# so a machine can be replayed with TAILOR_SYSROOT=DIR/root (see
# docs/probe.md). Reads only; copies no serial numbers (DMI is skipped
# unless --with-dmi is given, and then only the memory-device table is used).
#   tests/data/hw/capture.sh DIR [--with-dmi]
set -eu
out=$1/root
mkdir -p "$out"
copy() { # copy one file if readable
  for f in "$@"; do
    [ -r "$f" ] && [ -f "$f" ] || continue
    mkdir -p "$out$(dirname "$f")"
    cat "$f" > "$out$f" 2>/dev/null || rm -f "$out$f"
  done
}
copy /proc/cpuinfo /proc/meminfo /proc/self/cgroup /proc/sys/kernel/osrelease
copy /sys/devices/system/cpu/online /sys/devices/system/cpu/possible /sys/devices/system/node/online
copy /sys/devices/cpu_core/cpus /sys/devices/cpu_atom/cpus
for c in /sys/devices/system/cpu/cpu[0-9]*; do
  copy "$c/topology/physical_package_id" "$c/topology/core_id" "$c/cpu_capacity" "$c/cpufreq/cpuinfo_max_freq"
  for i in "$c"/cache/index*; do
    copy "$i/level" "$i/type" "$i/size" "$i/shared_cpu_list"
  done
done
# the memory cgroup of this process, and its ancestors
copy /sys/fs/cgroup/cgroup.controllers /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory.current
copy /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.usage_in_bytes
while IFS=: read -r _ ctrl path; do
  case "$ctrl" in
    "") base=/sys/fs/cgroup; files="memory.max memory.current" ;;
    *memory*) base=/sys/fs/cgroup/memory; files="memory.limit_in_bytes memory.usage_in_bytes" ;;
    *) continue ;;
  esac
  p=$path
  while [ -n "$p" ] && [ "$p" != / ]; do
    for f in $files; do copy "$base$p/$f"; done
    p=$(dirname "$p")
  done
done < /proc/self/cgroup
for d in /sys/class/drm/card[0-9]*; do
  [ -e "$d/device/vendor" ] || continue
  dev=$d/device
  copy "$dev/vendor" "$dev/device" "$dev/mem_info_vram_total" "$dev/mem_info_vram_used" "$dev/product_name" \
       "$dev/current_link_speed" "$dev/current_link_width" "$dev/tile0/physical_vram_size_bytes"
  for k in major minor revision; do copy "$dev/ip_discovery/die/0/GC/0/$k"; done
done
if [ "${2:-}" = --with-dmi ]; then copy /sys/firmware/dmi/tables/DMI; fi
echo "recorded into $out"
