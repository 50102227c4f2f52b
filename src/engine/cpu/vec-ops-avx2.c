/* AVX2 + FMA + F16C kernel table: overrides the scalar entries it
 * specialises. */
#include "engine/cpu/internal.h"

void tl__cpu_fill_avx2(tl__cpu_kernels *k)
{
  k->isa = TL__ISA_AVX2;
  k->name = "avx2";
}
