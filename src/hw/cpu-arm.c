/* Live-system ISA detection on non-x86 processors: on Linux/aarch64 the
 * kernel's hardware capability bits (getauxval AT_HWCAP/AT_HWCAP2, see
 * Documentation/arch/arm64/elf_hwcaps.rst); elsewhere the OS pass (files or
 * sysctl) already set the ISA and nothing is added. */
#if !(defined(__x86_64__) || defined(__i386__))
#include "hw/internal.h"

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>

void tl__hw_cpu_isa_native(tl_cpu *cpu)
{
  unsigned long h1 = getauxval(AT_HWCAP), h2 = getauxval(AT_HWCAP2);
  uint32_t isa = 0;
  if (h1 & (1ul << 1))
    isa |= TL_ISA_NEON; /* HWCAP_ASIMD */
  if (h1 & (1ul << 20))
    isa |= TL_ISA_DOTPROD; /* HWCAP_ASIMDDP */
  if (h1 & (1ul << 22))
    isa |= TL_ISA_SVE; /* HWCAP_SVE */
  if (h2 & (1ul << 1))
    isa |= TL_ISA_SVE2; /* HWCAP2_SVE2 */
  if (h2 & (1ul << 13))
    isa |= TL_ISA_I8MM; /* HWCAP2_I8MM */
  if (isa)
    cpu->isa = isa;
  tl__hw_cpu_estimate_flops(cpu, -1);
}
#else
void tl__hw_cpu_isa_native(tl_cpu *cpu)
{
  (void)cpu;
}
#endif
#endif
