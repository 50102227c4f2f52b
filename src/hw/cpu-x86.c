/* Live-system x86 ISA detection with CPUID and XGETBV (Intel SDM vol. 2A,
 * CPUID leaves 1 and 7; AMD APM vol. 3): a feature counts only when the OS
 * saves its register state (XCR0). Replaces the /proc/cpuinfo flags. */
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <stdio.h>
#include <string.h>

#include "hw/internal.h"

static uint64_t xgetbv0(void)
{
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

void tl__hw_cpu_isa_native(tl_cpu *cpu)
{
  unsigned a = 0, b = 0, c = 0, d = 0, max = 0;
  if (!__get_cpuid(0, &max, &b, &c, &d))
    return;
  char vendor[13];
  memcpy(vendor, &b, 4);
  memcpy(vendor + 4, &d, 4);
  memcpy(vendor + 8, &c, 4);
  vendor[12] = '\0';
  if (!cpu->vendor[0])
    snprintf(cpu->vendor, sizeof cpu->vendor, "%s", vendor);
  __get_cpuid(1, &a, &b, &c, &d);
  int family = (int)((a >> 8) & 0xf);
  if (family == 0xf)
    family += (int)((a >> 20) & 0xff);
  bool osxsave = c & (1u << 27);
  uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  bool avx_os = (xcr0 & 0x6) == 0x6;
  bool avx512_os = avx_os && (xcr0 & 0xe0) == 0xe0;
  bool amx_os = (xcr0 & (3u << 17)) == (3u << 17);
  uint32_t isa = 0;
  if (c & (1u << 0))
    isa |= TL_ISA_SSE3;
  if (avx_os) {
    if (c & (1u << 28))
      isa |= TL_ISA_AVX;
    if (c & (1u << 12))
      isa |= TL_ISA_FMA;
    if (c & (1u << 29))
      isa |= TL_ISA_F16C;
  }
  if (max >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    if (avx_os && (b & (1u << 5)))
      isa |= TL_ISA_AVX2;
    if (avx512_os) {
      if (b & (1u << 16))
        isa |= TL_ISA_AVX512F;
      if (b & (1u << 30))
        isa |= TL_ISA_AVX512BW;
      if (b & (1u << 31))
        isa |= TL_ISA_AVX512VL;
      if (c & (1u << 11))
        isa |= TL_ISA_AVX512VNNI;
      if (d & (1u << 23))
        isa |= TL_ISA_AVX512FP16;
    }
    if (amx_os) {
      if (d & (1u << 22))
        isa |= TL_ISA_AMX_BF16;
      if (d & (1u << 24))
        isa |= TL_ISA_AMX_TILE;
      if (d & (1u << 25))
        isa |= TL_ISA_AMX_INT8;
    }
    unsigned sub = a;
    if (sub >= 1) {
      __cpuid_count(7, 1, a, b, c, d);
      if (avx_os && (a & (1u << 4)))
        isa |= TL_ISA_AVXVNNI;
      if (avx512_os && (a & (1u << 5)))
        isa |= TL_ISA_AVX512BF16;
    }
  }
  cpu->isa = isa;
  if (!cpu->model[0]) {
    unsigned ext = 0;
    __get_cpuid(0x80000000, &ext, &b, &c, &d);
    if (ext >= 0x80000004) {
      unsigned r[12];
      for (unsigned i = 0; i < 3; i++)
        __get_cpuid(0x80000002 + i, &r[i * 4], &r[i * 4 + 1], &r[i * 4 + 2], &r[i * 4 + 3]);
      char brand[49];
      memcpy(brand, r, 48);
      brand[48] = '\0';
      tl__hw_copy_trim(cpu->model, sizeof cpu->model, brand);
    }
  }
  tl__hw_cpu_estimate_flops(cpu, family);
}
#endif
