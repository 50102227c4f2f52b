/* Chooses the kernel table once per process: the best ISA the CPU supports
 * (cpuid and xgetbv), or the one TAILOR_CPU_ISA names.
 * Also the per-type traits table and the type-generic row entry points. */
#include <pthread.h>
#include <stdlib.h>

#include "base/log-int.h"
#include "engine/cpu/internal.h"

static const tl__qtype_traits traits_table[TL_QTYPE_COUNT] = {
    [TL_QTYPE_F32] = {"f32", 1, 4, TL_QTYPE_F32},
    [TL_QTYPE_F16] = {"f16", 1, 2, TL_QTYPE_F32},
    [TL_QTYPE_BF16] = {"bf16", 1, 2, TL_QTYPE_BF16},
    [TL_QTYPE_Q8_0] = {"q8_0", TL_QK8_0, sizeof(tl__block_q8_0), TL_QTYPE_Q8_0},
    [TL_QTYPE_Q4_0] = {"q4_0", TL_QK4_0, sizeof(tl__block_q4_0), TL_QTYPE_Q8_0},
    [TL_QTYPE_Q4_K] = {"q4_K", TL_QK_K, sizeof(tl__block_q4_K), TL_QTYPE_Q8_K},
    [TL_QTYPE_Q5_K] = {"q5_K", TL_QK_K, sizeof(tl__block_q5_K), TL_QTYPE_Q8_K},
    [TL_QTYPE_Q6_K] = {"q6_K", TL_QK_K, sizeof(tl__block_q6_K), TL_QTYPE_Q8_K},
    [TL_QTYPE_Q8_K] = {"q8_K", TL_QK_K, sizeof(tl__block_q8_K), TL_QTYPE_Q8_K},
};

const tl__qtype_traits *tl__qtype_traits_get(tl_qtype t)
{
  if ((unsigned)t >= TL_QTYPE_COUNT || traits_table[t].name == NULL)
    return NULL;
  return &traits_table[t];
}

bool tl__qtype_is_weight(tl_qtype t)
{
  return tl__qtype_traits_get(t) != NULL && t != TL_QTYPE_Q8_K;
}

size_t tl__row_bytes(tl_qtype t, int64_t n)
{
  const tl__qtype_traits *tr = tl__qtype_traits_get(t);
  if (!tr)
    return 0;
  return (size_t)(n / tr->block_elems) * tr->block_bytes;
}

size_t tl__quantize_row(tl_qtype t, const float *src, void *dst, int64_t n)
{
  switch (t) {
  case TL_QTYPE_F32: tl__quantize_f32_copy(src, dst, n); break;
  case TL_QTYPE_F16: tl__quantize_f16_ref(src, dst, n); break;
  case TL_QTYPE_BF16: tl__quantize_bf16_ref(src, dst, n); break;
  case TL_QTYPE_Q8_0: tl__quantize_q8_0_ref(src, dst, n); break;
  case TL_QTYPE_Q4_0: tl__quantize_q4_0_ref(src, dst, n); break;
  case TL_QTYPE_Q4_K: tl__quantize_q4_K_ref(src, dst, n); break;
  case TL_QTYPE_Q5_K: tl__quantize_q5_K_ref(src, dst, n); break;
  case TL_QTYPE_Q6_K: tl__quantize_q6_K_ref(src, dst, n); break;
  case TL_QTYPE_Q8_K: tl__quantize_q8_K_ref(src, dst, n); break;
  default: return 0;
  }
  return tl__row_bytes(t, n);
}

size_t tl__quantize_activation(tl_qtype wtype, const float *src, void *dst, int64_t n)
{
  const tl_qtype at = traits_table[wtype].vec_dot_type;
  tl__cpu_kernels_get()->quantize_act[at](src, dst, n);
  return tl__row_bytes(at, n);
}

float tl__vec_dot(tl_qtype wtype, int64_t n, const void *w_row, const void *x_quantized)
{
  return tl__cpu_kernels_get()->vec_dot[wtype](n, w_row, x_quantized);
}

/* ---- ISA tables ---- */

static const char *const isa_names[TL__ISA_COUNT] = {"scalar", "avx2", "avx512", "neon", "amx"};

const char *tl__cpu_isa_name(tl__isa isa)
{
  return (unsigned)isa < TL__ISA_COUNT ? isa_names[isa] : "unknown";
}

/* The one place that knows which ISAs a build target can have. */
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* CPUID bits (Intel SDM vol. 2, CPUID leaves 1 and 7) and the OS having
 * enabled the YMM / ZMM state (XCR0 bits 1-2 and 5-7). */
static void x86_features(bool *avx2, bool *avx512)
{
  unsigned a, b, c, d;
  *avx2 = *avx512 = false;
  if (!__get_cpuid(1, &a, &b, &c, &d))
    return;
  const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
  if (!osxsave || !avx)
    return;
  unsigned xlo, xhi;
  __asm__ __volatile__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
  const bool ymm_os = (xlo & 0x6) == 0x6, zmm_os = (xlo & 0xe6) == 0xe6;
  if (__get_cpuid_max(0, NULL) < 7)
    return;
  __cpuid_count(7, 0, a, b, c, d);
  const bool has_avx2 = b & (1u << 5), bmi2 = b & (1u << 8);
  const bool f = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30), vl = b & (1u << 31);
  const bool vnni = c & (1u << 11);
  __cpuid_count(7, 1, a, b, c, d);
  const bool bf16 = a & (1u << 5);
  *avx2 = ymm_os && has_avx2 && fma && f16c && bmi2;
  *avx512 = *avx2 && zmm_os && f && dq && bw && vl && vnni && bf16;
}

bool tl__cpu_isa_supported(tl__isa isa)
{
  bool avx2, avx512;
  x86_features(&avx2, &avx512);
  switch (isa) {
  case TL__ISA_SCALAR: return true;
  case TL__ISA_AVX2: return avx2;
  case TL__ISA_AVX512: return avx512;
  case TL__ISA_AMX: return avx512 && tl__cpu_amx_usable();
  default: return false;
  }
}
static void fill_isa(tl__cpu_kernels *k, tl__isa isa)
{
  tl__cpu_fill_scalar(k);
  if (isa >= TL__ISA_AVX2)
    tl__cpu_fill_avx2(k);
  if (isa >= TL__ISA_AVX512 && isa != TL__ISA_NEON)
    tl__cpu_fill_avx512(k);
  if (isa == TL__ISA_AMX)
    tl__cpu_fill_amx(k);
}
#elif defined(__aarch64__)
bool tl__cpu_isa_supported(tl__isa isa)
{
  return isa == TL__ISA_SCALAR || isa == TL__ISA_NEON;
}
static void fill_isa(tl__cpu_kernels *k, tl__isa isa)
{
  tl__cpu_fill_scalar(k);
  if (isa == TL__ISA_NEON)
    tl__cpu_fill_neon(k);
}
#else
bool tl__cpu_isa_supported(tl__isa isa)
{
  return isa == TL__ISA_SCALAR;
}
static void fill_isa(tl__cpu_kernels *k, tl__isa isa)
{
  (void)isa;
  tl__cpu_fill_scalar(k);
}
#endif

static tl__cpu_kernels tables[TL__ISA_COUNT];
static bool table_ok[TL__ISA_COUNT];
static tl__isa selected;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_tables(void)
{
  for (int i = 0; i < TL__ISA_COUNT; i++) {
    if (tl__cpu_isa_supported((tl__isa)i)) {
      fill_isa(&tables[i], (tl__isa)i);
      table_ok[i] = true;
      selected = (tl__isa)i; /* ISAs are ordered by preference within a target */
    }
  }
  const char *env = getenv("TAILOR_CPU_ISA");
  if (env && *env) {
    int found = -1;
    for (int i = 0; i < TL__ISA_COUNT; i++)
      if (strcmp(env, isa_names[i]) == 0)
        found = i;
    if (found >= 0 && table_ok[found])
      selected = (tl__isa)found;
    else
      tl__warn("TAILOR_CPU_ISA=%s is not available on this CPU or build; using %s", env,
               isa_names[selected]);
  }
}

const tl__cpu_kernels *tl__cpu_kernels_for(tl__isa isa)
{
  pthread_once(&init_once, init_tables);
  if ((unsigned)isa >= TL__ISA_COUNT || !table_ok[isa])
    return NULL;
  return &tables[isa];
}

const tl__cpu_kernels *tl__cpu_kernels_get(void)
{
  pthread_once(&init_once, init_tables);
  return &tables[selected];
}
