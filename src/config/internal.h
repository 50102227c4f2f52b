/* What the files of src/config share: the settings table, the resolved
 * configuration object with its decisions, and the backend capability table. */
#ifndef TL_CONFIG_INTERNAL_H
#define TL_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "tailor/config.h"

typedef enum tl__vtype {
  TL__VT_INT = 0,
  TL__VT_BOOL,
  TL__VT_FLOAT,
  TL__VT_ENUM,
  TL__VT_LIST, /* comma-separated non-negative numbers (tensor_split) */
} tl__vtype;

typedef struct tl__setting_def {
  tl_setting_id id;
  const char *key;
  const char *env;
  const char *cli;       /* long flag */
  const char *cli_short; /* llama.cpp-style short flag, or NULL */
  tl__vtype type;
  double min, max;       /* inclusive range for INT / FLOAT */
  const char *const *enum_values; /* NULL-terminated, for ENUM */
  unsigned affects;
  const char *help;
} tl__setting_def;

const tl__setting_def *tl__setting_def_get(tl_setting_id id);

/* Checks that text is a well-formed value of the setting's type within its
 * range, and writes the canonical text form (e.g. "on" -> "true", "0x10" is
 * rejected, "Q8_0" -> "q8_0"). On failure returns TL_ECONFIG with err naming
 * the key and the reason. */
tl_status tl__setting_normalise(tl_setting_id id, const char *text, char *canon, size_t cap,
                                const char *source_key, tl_error *err);

#define TL__MAX_CANDIDATES 12
#define TL__MAX_REJECTED 12
#define TL__MAX_STEPS 8

typedef struct tl__rejected {
  char value[64];
  char reason[160];
} tl__rejected;

/* One proposal made for a setting during resolution (the history). */
typedef struct tl__step {
  tl_setting_source source;
  char source_key[96];
  char value[128];
  char reason[192];
} tl__step;

typedef struct tl__decision {
  bool set;
  char value[128];
  tl_setting_source source;
  char source_key[96];
  char reason[192];       /* why this value */
  bool pinned;            /* set by config_file / env / cli: never stepped down */
  int n_candidates;
  char candidates[TL__MAX_CANDIDATES][48];
  int n_rejected;
  tl__rejected rejected[TL__MAX_REJECTED];
  int n_steps;
  tl__step steps[TL__MAX_STEPS];
} tl__decision;

struct tl_config {
  tl__decision d[TL_SET_COUNT];
  tl_workload workload;
  char hash[65];
  /* model and hardware facts recorded in the document */
  char model_name[128];
  char model_source[256];
  char model_arch[32];
  uint32_t model_n_layer;
  uint32_t model_ctx_train;
  uint64_t model_params;
  bool model_moe;
  char hw_platform[96];
  uint32_t hw_cores, hw_threads;
  size_t hw_gpus;
  uint64_t hw_vram_free, hw_ram_usable;
  /* memory check of the final configuration */
  bool fit_checked;
  tl_config_fit fit;
};

/* Backend capabilities of this build (compiled features) and of the engine. */
typedef enum tl__backend {
  TL__BACKEND_CPU = 0,
  TL__BACKEND_CUDA,
  TL__BACKEND_METAL,
  TL__BACKEND_ROCM,
  TL__BACKEND_COUNT
} tl__backend;

typedef struct tl__backend_caps {
  const char *name;
  bool compiled;          /* this build has it */
  bool flash_attn;        /* a fused attention path exists */
  bool kv_f16, kv_q8_0, kv_q4_0;
  bool quantized_kv_needs_flash_attn;
  const char *attn_paths; /* comma-separated names of attention paths */
} tl__backend_caps;

const tl__backend_caps *tl__backend_caps_get(tl__backend b);
bool tl__backend_parse(const char *s, tl__backend *out);

#endif
