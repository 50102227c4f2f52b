#!/usr/bin/env python3
"""Writes the sysroot fixtures for tests/test-hw.c: trees of the /proc and
/sys files that src/hw reads, laid out as the Linux kernel exposes them
(Documentation/ABI/testing/sysfs-devices-system-cpu, cgroup-v1/v2 docs,
amdgpu and xe sysfs). Each machine is modelled on a real product's published
topology; the file contents are written by this script, not recorded (the
recorded tree of a real machine is made with capture.sh). Run from anywhere:
    python3 tests/data/hw/make-fixtures.py
Each case directory holds root/ (the sysroot) and expected.json (the figures
the probe must report: dotted paths into `tailor probe --json`; a key ending
in '~' lists substrings that must appear in that array or string)."""
import json, os, shutil, struct

HERE = os.path.dirname(os.path.abspath(__file__))
GiB = 1 << 30

def w(root, path, text):
    p = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb" if isinstance(text, bytes) else "w") as f:
        f.write(text)

def cpulist(cpus):
    cpus = sorted(cpus); out = []; i = 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1: j += 1
        out.append(str(cpus[i]) if i == j else f"{cpus[i]}-{cpus[j]}"); i = j + 1
    return ",".join(out)

def meminfo(total, avail, swap=0, swapfree=0):
    kb = lambda b: b // 1024
    return (f"MemTotal:       {kb(total)} kB\nMemFree:        {kb(avail)//2} kB\n"
            f"MemAvailable:   {kb(avail)} kB\nBuffers:          10240 kB\nCached:         {kb(avail)//3} kB\n"
            f"SwapCached:            0 kB\nSwapTotal:      {kb(swap)} kB\nSwapFree:       {kb(swapfree)} kB\n")

def x86_cpuinfo(cpus, model, family, modelno, flags, mhz, pkg_of, core_of, siblings, cores):
    blocks = []
    for c in cpus:
        blocks.append(f"processor\t: {c}\nvendor_id\t: {'AuthenticAMD' if 'AMD' in model else 'GenuineIntel'}\n"
                      f"cpu family\t: {family}\nmodel\t\t: {modelno}\nmodel name\t: {model}\nstepping\t: 7\n"
                      f"cpu MHz\t\t: {mhz:.3f}\ncache size\t: 16896 KB\nphysical id\t: {pkg_of(c)}\n"
                      f"siblings\t: {siblings}\ncore id\t\t: {core_of(c)}\ncpu cores\t: {cores}\n"
                      f"flags\t\t: {flags}\nbogomips\t: 4400.00\n\n")
    return "".join(blocks)

def cpu_tree(root, cpus, pkg_of, core_of, caches, max_khz, cache_all=False, capacity=None):
    """caches: list of (level, type, size, shared_fn(cpu)->list)"""
    w(root, "/sys/devices/system/cpu/online", cpulist(cpus) + "\n")
    w(root, "/sys/devices/system/cpu/possible", cpulist(cpus) + "\n")
    for c in cpus:
        d = f"/sys/devices/system/cpu/cpu{c}"
        w(root, d + "/topology/physical_package_id", f"{pkg_of(c)}\n")
        w(root, d + "/topology/core_id", f"{core_of(c)}\n")
        if capacity:
            w(root, d + "/cpu_capacity", f"{capacity(c)}\n")
        khz = max_khz(c) if callable(max_khz) else max_khz
        if khz:
            w(root, d + "/cpufreq/cpuinfo_max_freq", f"{khz}\n")
        for i, (lvl, typ, size, shared) in enumerate(caches):
            if c == cpus[0] or cache_all or lvl == 3:
                w(root, d + f"/cache/index{i}/shared_cpu_list", cpulist(shared(c)) + "\n")
            if c == cpus[0] or cache_all:
                w(root, d + f"/cache/index{i}/level", f"{lvl}\n")
                w(root, d + f"/cache/index{i}/type", typ + "\n")
                w(root, d + f"/cache/index{i}/size", size + "\n")

def nodes(root, n):
    w(root, "/sys/devices/system/node/online", cpulist(range(n)) + "\n")

def cgroup_v2_root(root, path="/"):
    w(root, "/proc/self/cgroup", f"0::{path}\n")
    w(root, "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")

def smbios_type17(n, width, speed, ddr_type, size_mb):
    """n populated memory devices + an end-of-table structure (DSP0134 7.18)."""
    out = b""
    for i in range(n):
        f = bytearray(0x28)
        f[0] = 17; f[1] = 0x28; struct.pack_into("<H", f, 2, 0x1100 + i)
        struct.pack_into("<H", f, 0x08, width + 8)      # total width (ECC)
        struct.pack_into("<H", f, 0x0a, width)          # data width
        struct.pack_into("<H", f, 0x0c, size_mb)        # size in MB
        f[0x0e] = 0x09; f[0x10] = 1; f[0x11] = 2        # form factor DIMM, device locator string 1
        f[0x12] = ddr_type
        struct.pack_into("<H", f, 0x15, speed)
        struct.pack_into("<H", f, 0x20, speed)          # configured speed
        out += bytes(f) + f"DIMM_{i}\0".encode() + b"\0"
    out += bytes([127, 4, 0xff, 0xfe]) + b"\0\0"
    return out

def case(name, expected):
    d = os.path.join(HERE, name)
    if os.path.isdir(d): shutil.rmtree(d)
    root = os.path.join(d, "root"); os.makedirs(root)
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2, sort_keys=True); f.write("\n")
    return root

def xeon_2s():
    """Two Intel Xeon Silver 4214 (Cascade Lake, 12 cores + HT each), 2 NUMA
    nodes, 12 x DDR4-2400 RDIMM (SMBIOS readable: probe run as root)."""
    root = case("xeon-2s", {"cpu.sockets": 2, "cpu.cores": 24, "cpu.threads": 48, "cpu.perf_cores": 24,
        "cpu.eff_cores": 0, "cpu.numa_nodes": 2, "cpu.l1d_bytes": 32768, "cpu.l2_bytes": 1048576,
        "cpu.l3_bytes": 2 * 16896 * 1024, "cpu.max_mhz": 3200, "cpu.vendor": "GenuineIntel",
        "cpu.model": "Intel(R) Xeon(R) Silver 4214 CPU @ 2.20GHz", "cpu.arch": "x86_64",
        "cpu.isa~": ["avx512f", "avx512vnni", "avx2", "fma"], "cpu.flops_f32": 24 * 3200e6 * 64,
        "memory.total_bytes": 192 * GiB, "memory.limit_source": "none",
        "memory.bandwidth_bytes_per_s": 12 * 8 * 2400e6, "memory.bandwidth_source": "estimated",
        "gpus": [], "platform_id": "cpu_x86_avx512_192gb", "backend": "cpu", "warnings": [], "os": "Linux 5.15.0-91-generic"})
    per = 12
    core_ids = [0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13]
    cpus = list(range(48))
    pkg = lambda c: (c % 24) // per
    core = lambda c: core_ids[(c % 24) % per]
    sock = lambda c: [x for x in cpus if pkg(x) == pkg(c)]
    sib = lambda c: [x for x in cpus if pkg(x) == pkg(c) and core(x) == core(c)]
    flags = ("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe "
             "syscall nx pdpe1gb rdtscp lm constant_tsc pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave "
             "avx f16c rdrand lahf_lm abm 3dnowprefetch bmi1 avx2 smep bmi2 erms invpcid avx512f avx512dq rdseed adx smap clflushopt "
             "clwb avx512cd avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves pku ospke avx512_vnni md_clear flush_l1d arch_capabilities")
    w(root, "/proc/cpuinfo", x86_cpuinfo(cpus, "Intel(R) Xeon(R) Silver 4214 CPU @ 2.20GHz", 6, 85, flags, 2200.0, pkg, core, 24, 12))
    cpu_tree(root, cpus, pkg, core, [(1, "Data", "32K", sib), (1, "Instruction", "32K", sib),
             (2, "Unified", "1024K", sib), (3, "Unified", "16896K", sock)], 3200000)
    nodes(root, 2)
    w(root, "/proc/meminfo", meminfo(192 * GiB, 180 * GiB))
    cgroup_v2_root(root, "/user.slice/user-1000.slice/session-3.scope")
    w(root, "/proc/sys/kernel/osrelease", "5.15.0-91-generic\n")
    w(root, "/proc/sys/kernel/hostname", "xeon-2s\n")
    w(root, "/sys/firmware/dmi/tables/DMI", smbios_type17(12, 64, 2400, 0x1a, 16384))

def hybrid_laptop():
    """Intel Core i7-1260P (Alder Lake: 4 P-cores with HT + 8 E-cores), 16 GiB,
    8 GiB swap; hybrid core types from /sys/devices/cpu_core and cpu_atom."""
    root = case("intel-hybrid-laptop", {"cpu.sockets": 1, "cpu.cores": 12, "cpu.threads": 16,
        "cpu.perf_cores": 4, "cpu.eff_cores": 8, "cpu.numa_nodes": 1, "cpu.max_mhz": 4700,
        "cpu.isa~": ["avx2", "avxvnni"], "cpu.l3_bytes": 18 * 1024 * 1024, "cpu.l1d_bytes": 49152,
        "memory.total_bytes": 16 * GiB, "memory.swap_total_bytes": 8 * GiB, "memory.limit_source": "none",
        "memory.bandwidth_source": "unknown", "platform_id": "cpu_x86_avx2_16gb", "gpus": [], "warnings": [],
        "capabilities~": ["hybrid 4 P + 8 E cores", "vnni"]})
    cpus = list(range(16))
    pkg = lambda c: 0
    core = lambda c: (c // 2) * 4 if c < 8 else c + 8
    sib = lambda c: [x for x in cpus if core(x) == core(c)]
    ecl = lambda c: [x for x in cpus if x >= 8 and (x - 8) // 4 == (c - 8) // 4] if c >= 8 else sib(c)
    flags = ("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe "
             "syscall nx pdpe1gb rdtscp lm constant_tsc art pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave "
             "avx f16c rdrand lahf_lm abm 3dnowprefetch bmi1 avx2 smep bmi2 erms invpcid rdseed adx smap clflushopt clwb sha_ni xsaveopt "
             "xsavec xgetbv1 xsaves avx_vnni umip pku ospke waitpkg gfni vaes vpclmulqdq rdpid movdiri movdir64b fsrm md_clear serialize arch_lbr")
    w(root, "/proc/cpuinfo", x86_cpuinfo(cpus, "12th Gen Intel(R) Core(TM) i7-1260P", 6, 154, flags, 1000.0, pkg, core, 16, 12))
    cpu_tree(root, cpus, pkg, core, [(1, "Data", "48K", sib), (1, "Instruction", "32K", sib),
             (2, "Unified", "1280K", ecl), (3, "Unified", "18432K", lambda c: cpus)],
             lambda c: 4700000 if c < 8 else 3400000)
    w(root, "/sys/devices/cpu_core/cpus", "0-7\n")
    w(root, "/sys/devices/cpu_atom/cpus", "8-15\n")
    nodes(root, 1)
    w(root, "/proc/meminfo", meminfo(16 * GiB, 11 * GiB, 8 * GiB, 8 * GiB))
    cgroup_v2_root(root, "/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-terminal.scope")
    w(root, "/proc/sys/kernel/osrelease", "6.5.0-14-generic\n")

def amd_desktop():
    """AMD Ryzen 9 7950X (Zen 4, 16 cores + SMT) with a Radeon RX 7900 XTX
    (amdgpu sysfs, GC 11.0.0) and an Intel Arc A770 16GB (xe driver) in the
    second slot: two GPU kinds in one machine."""
    root = case("amd-desktop-radeon", {"cpu.sockets": 1, "cpu.cores": 16, "cpu.threads": 32, "cpu.vendor": "AuthenticAMD",
        "cpu.isa~": ["avx512f", "avx512bf16"], "cpu.flops_f32": 16 * 5881e6 * 32, "memory.total_bytes": 64 * GiB,
        "gpus.0.vendor": "amd", "gpus.0.name": "AMD Radeon RX 7900 XTX", "gpus.0.arch": "gfx1100",
        "gpus.0.vram_total_bytes": 25753026560, "gpus.0.vram_free_bytes": 25753026560 - 1234567168,
        "gpus.0.spec_id": "amd-rx-7900-xtx", "gpus.0.bandwidth_source": "spec", "gpus.0.bandwidth_bytes_per_s": 960e9,
        "gpus.0.pcie_gen": 4, "gpus.0.pcie_width": 16, "gpus.0.flops_source": "spec",
        "gpus.1.vendor": "intel", "gpus.1.spec_id": "intel-arc-a770-16gb", "gpus.1.vram_total_bytes": 17163091968,
        "gpus.1.arch": "Xe-HPG", "backend": "rocm", "platform_id": "amd_rx_7900_xtx_24gb_x1+intel_arc_a770_16gb_16gb_x1",
        "warnings": [], "notes~": ["AMD integrated GPU"]})
    cpus = list(range(32))
    pkg = lambda c: 0
    core = lambda c: c % 16
    sib = lambda c: [x for x in cpus if core(x) == core(c)]
    ccd = lambda c: [x for x in cpus if (x % 16) // 8 == (c % 16) // 8]
    flags = ("fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext "
             "fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf rapl pni pclmulqdq monitor "
             "ssse3 fma cx16 sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm cmp_legacy svm extapic cr8_legacy abm "
             "sse4a misalignsse 3dnowprefetch osvw ibs skinit wdt tce topoext perfctr_core bmi1 avx2 smep bmi2 erms invpcid cqm rdt_a "
             "avx512f avx512dq rdseed adx smap avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves "
             "avx512_bf16 clzero irperf xsaveerptr wbnoinvd avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni "
             "avx512_bitalg avx512_vpopcntdq rdpid overflow_recov succor smca fsrm flush_l1d")
    w(root, "/proc/cpuinfo", x86_cpuinfo(cpus, "AMD Ryzen 9 7950X 16-Core Processor", 25, 97, flags, 4500.0, pkg, core, 32, 16))
    cpu_tree(root, cpus, pkg, core, [(1, "Data", "32K", sib), (1, "Instruction", "32K", sib),
             (2, "Unified", "1024K", sib), (3, "Unified", "32768K", ccd)], 5881000)
    nodes(root, 1)
    w(root, "/proc/meminfo", meminfo(64 * GiB, 58 * GiB))
    cgroup_v2_root(root, "/user.slice")
    d = "/sys/class/drm/card0/device"
    w(root, d + "/vendor", "0x1002\n"); w(root, d + "/device", "0x744c\n")
    w(root, d + "/mem_info_vram_total", "25753026560\n"); w(root, d + "/mem_info_vram_used", "1234567168\n")
    w(root, d + "/product_name", "AMD Radeon RX 7900 XTX\n")
    w(root, d + "/current_link_speed", "16.0 GT/s PCIe\n"); w(root, d + "/current_link_width", "16\n")
    for k, v in (("major", 11), ("minor", 0), ("revision", 0)):
        w(root, d + f"/ip_discovery/die/0/GC/0/{k}", f"{v}\n")
    w(root, "/sys/class/drm/card0-DP-1/status", "connected\n")
    w(root, "/sys/class/drm/renderD128/dev", "226:128\n")
    d = "/sys/class/drm/card2/device"   # the Ryzen's integrated Radeon (Raphael): a 512 MiB carve-out
    w(root, d + "/vendor", "0x1002\n"); w(root, d + "/device", "0x164e\n")
    w(root, d + "/mem_info_vram_total", "536870912\n"); w(root, d + "/mem_info_vram_used", "104857600\n")
    d = "/sys/class/drm/card1/device"
    w(root, d + "/vendor", "0x8086\n"); w(root, d + "/device", "0x56a0\n")
    w(root, d + "/tile0/physical_vram_size_bytes", "17163091968\n")
    w(root, d + "/current_link_speed", "16.0 GT/s PCIe\n"); w(root, d + "/current_link_width", "16\n")

def arm64_server():
    """AWS Graviton3 instance (Neoverse V1, 16 vCPUs, SVE/I8MM), 32 GiB."""
    root = case("arm64-server", {"cpu.sockets": 1, "cpu.cores": 16, "cpu.threads": 16, "cpu.arch": "aarch64",
        "cpu.vendor": "ARM", "cpu.model": "ARM Neoverse-V1", "cpu.isa~": ["neon", "sve", "i8mm", "dotprod"],
        "cpu.l1d_bytes": 65536, "cpu.l2_bytes": 1048576, "cpu.l3_bytes": 32 * 1024 * 1024, "cpu.max_mhz": 2600,
        "cpu.flops_f32": 16 * 2600e6 * 32, "memory.total_bytes": 32 * GiB, "platform_id": "cpu_arm64_sve_32gb",
        "gpus": [], "warnings": []})
    cpus = list(range(16))
    blocks = "".join(f"processor\t: {c}\nBogoMIPS\t: 2100.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp "
                     f"asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm "
                     f"ssbs paca pacg dcpodp svei8mm svebf16 i8mm bf16 dgh rng\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
                     f"CPU variant\t: 0x1\nCPU part\t: 0xd40\nCPU revision\t: 1\n\n" for c in cpus)
    w(root, "/proc/cpuinfo", blocks)
    one = lambda c: [c]
    cpu_tree(root, cpus, lambda c: 0, lambda c: c, [(1, "Data", "64K", one), (1, "Instruction", "64K", one),
             (2, "Unified", "1024K", one), (3, "Unified", "32768K", lambda c: cpus)], 2600000)
    nodes(root, 1)
    w(root, "/proc/meminfo", meminfo(32 * GiB, 30 * GiB))
    cgroup_v2_root(root, "/")

def small_vm(root, mem_total, avail):
    cpus = [0, 1, 2, 3]
    flags = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx lm pni ssse3 fma cx16 sse4_1 sse4_2 avx f16c avx2"
    w(root, "/proc/cpuinfo", x86_cpuinfo(cpus, "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", 6, 106, flags, 2900.0,
                                         lambda c: 0, lambda c: c // 2, 4, 2))
    sib = lambda c: [c - c % 2, c - c % 2 + 1]
    cpu_tree(root, cpus, lambda c: 0, lambda c: c // 2, [(1, "Data", "48K", sib), (2, "Unified", "1280K", sib),
             (3, "Unified", "55296K", lambda c: cpus)], 0)
    w(root, "/proc/meminfo", meminfo(mem_total, avail))

def container_v2():
    """A Kubernetes container (cgroup v2): the pod's memory.max (4 GiB) binds,
    the container's own is 'max'; 1 GiB already charged."""
    root = case("container-cgroup2", {"memory.total_bytes": 64 * GiB, "memory.cgroup_limit_bytes": 4 * GiB,
        "memory.cgroup_usage_bytes": GiB, "memory.limit_source": "cgroup_v2", "memory.usable_bytes": 3 * GiB,
        "cpu.cores": 2, "cpu.threads": 4, "platform_id": "cpu_x86_avx2_64gb", "warnings": [],
        "capabilities~": ["container memory limit"]})
    small_vm(root, 64 * GiB, 60 * GiB)
    cgroup_v2_root(root, "/kubepods/burstable/pod1234/ctr5678")
    base = "/sys/fs/cgroup/kubepods/burstable/pod1234"
    w(root, base + "/memory.max", "4294967296\n")
    w(root, base + "/ctr5678/memory.max", "max\n")
    w(root, base + "/ctr5678/memory.current", f"{GiB}\n")
    w(root, "/sys/fs/cgroup/kubepods/memory.max", "max\n")

def container_v1():
    """A Docker container on a cgroup v1 host: the container sees its own
    cgroup at the mount root; memory.limit_in_bytes is 2 GiB."""
    root = case("container-cgroup1", {"memory.total_bytes": 32 * GiB, "memory.cgroup_limit_bytes": 2 * GiB,
        "memory.cgroup_usage_bytes": 512 << 20, "memory.limit_source": "cgroup_v1",
        "memory.usable_bytes": 2 * GiB - (512 << 20), "warnings": []})
    small_vm(root, 32 * GiB, 30 * GiB)
    w(root, "/proc/self/cgroup", "12:pids:/docker/3f2a\n11:cpuset:/docker/3f2a\n4:memory:/docker/3f2a\n"
      "3:cpu,cpuacct:/docker/3f2a\n1:name=systemd:/docker/3f2a\n0::/system.slice/containerd.service\n")
    w(root, "/sys/fs/cgroup/memory/memory.limit_in_bytes", f"{2 * GiB}\n")
    w(root, "/sys/fs/cgroup/memory/memory.usage_in_bytes", f"{512 << 20}\n")

def container_v1_unlimited():
    """cgroup v1 without a limit: the kernel reports a page-rounded LONG_MAX."""
    root = case("container-cgroup1-unlimited", {"memory.limit_source": "none", "memory.cgroup_limit_bytes": 0,
        "memory.usable_bytes": 30 * GiB, "warnings": []})
    small_vm(root, 32 * GiB, 30 * GiB)
    w(root, "/proc/self/cgroup", "4:memory:/\n0::/\n")
    w(root, "/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n")
    w(root, "/sys/fs/cgroup/memory/memory.usage_in_bytes", "1743450112\n")

def malformed():
    """Files that exist but do not parse: each gives one warning naming it and
    the probe keeps what it could read."""
    root = case("malformed", {"warnings~": ["/proc/meminfo: malformed", "/sys/devices/system/cpu/online: malformed",
        "/sys/fs/cgroup/kubepods/memory.max: malformed", "/sys/class/drm/card0/device/mem_info_vram_total: malformed",
        "cpu0/topology/core_id: malformed"],
        "cpu.threads": 4, "cpu.model": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "memory.total_bytes": 0,
        "gpus.0.vendor": "amd", "gpus.0.vram_total_bytes": 0})
    small_vm(root, 8 * GiB, 6 * GiB)
    w(root, "/proc/meminfo", "this is not meminfo\n")
    w(root, "/sys/devices/system/cpu/online", "zero-three\n")
    w(root, "/sys/devices/system/cpu/cpu0/topology/core_id", "x\n")
    cgroup_v2_root(root, "/kubepods")
    w(root, "/sys/fs/cgroup/kubepods/memory.max", "lots\n")
    d = "/sys/class/drm/card0/device"
    w(root, d + "/vendor", "0x1002\n"); w(root, d + "/device", "0x73bf\n")
    w(root, d + "/mem_info_vram_total", "sixteen gigabytes\n")

def missing():
    """Only /proc/cpuinfo exists: every other source is named in a warning."""
    root = case("missing", {"warnings~": ["/sys/devices/system/cpu/online: missing", "/proc/meminfo: missing",
        "/proc/self/cgroup: missing", "cpu0/topology/physical_package_id: missing", "cpu0/cache: missing"],
        "cpu.threads": 2, "cpu.cores": 2, "cpu.model": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
        "memory.total_bytes": 0, "gpus": []})
    w(root, "/proc/cpuinfo", x86_cpuinfo([0, 1], "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", 6, 106,
                                         "fpu sse sse2 avx avx2 fma", 2900.0, lambda c: 0, lambda c: c, 2, 2))

for f in (xeon_2s, hybrid_laptop, amd_desktop, arm64_server, container_v2, container_v1, container_v1_unlimited,
          malformed, missing):
    f()
