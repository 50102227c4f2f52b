/* AVX-512 (F/BW/VL/DQ, VNNI, BF16) kernel table: the AVX2 table with the
 * entries this ISA specialises replaced. */
#include "engine/cpu/internal.h"

void tl__cpu_fill_avx512(tl__cpu_kernels *k)
{
  k->isa = TL__ISA_AVX512;
  k->name = "avx512";
  tl__cpu_fill_kquant_avx512(k);
}
