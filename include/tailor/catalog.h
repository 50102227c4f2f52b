/* The model catalog: known models with their published facts and config.json
 * (data/models.json, embedded in the library; schema in docs/models.md), an
 * optional user file of the same schema overlaid on it, and model
 * descriptions predicted from an entry for any file-type mixture. */
#ifndef TAILOR_CATALOG_H
#define TAILOR_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tailor/error.h"
#include "tailor/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tl_catalog tl_catalog;

/* One model. Strings are owned by the catalog. */
typedef struct tl_catalog_entry {
  const char *id;            /* lowercase, unique: "qwen3-8b" */
  const char *name;          /* "Qwen3 8B" */
  const char *hf_repo;       /* "Qwen/Qwen3-8B" */
  const char *family;        /* "qwen3", "llama3.1" ... */
  const char *arch;          /* GGUF general.architecture */
  uint64_t params_total;     /* published */
  uint64_t params_active;    /* published, per token */
  const char *params_source;
  uint32_t context_length;   /* tokens, as the model card states */
  const char *license;
  const char *release_date;  /* YYYY-MM-DD */
  const char *const *tags;   /* n_tags entries */
  size_t n_tags;
  bool has_quality;
  const char *quality_benchmark;
  double quality_score;
  const char *quality_source;
  const char *config_json;   /* the entry's "config" object as JSON text */
  const char *source;        /* where the config came from */
  const char *origin;        /* the file the entry was loaded from ("embedded:models.json" or a path) */
  bool in_registry;          /* the config's architecture is in the registry; otherwise
                                descriptions fall back to the parameter count */
  tl_hparams hp;             /* from config (finalized) when in_registry */
  uint64_t params_vision;    /* a SigLIP/CLIP vision tower and its projector estimated from
                                config.vision_config: published totals of multimodal models
                                include it; llama.cpp puts it in a separate mmproj GGUF, so
                                descriptions leave it out. 0 when there is none. */
} tl_catalog_entry;

/* An empty catalog. Free with tl_catalog_free. */
tl_status tl_catalog_create(tl_catalog **out, tl_error *err);
/* The catalog embedded in the library (data/models.json); empty when the
 * build embeds none. TL_EFORMAT naming the entry and key when it is invalid. */
tl_status tl_catalog_load_default(tl_catalog **out, tl_error *err);
void tl_catalog_free(tl_catalog *c);

/* Adds the entries of a models.json document (`len` bytes; `origin` names it
 * in messages). Entries whose id is already present replace the old entry.
 * The document is validated whole before anything is added: on error the
 * catalog is unchanged and err names the origin, the entry and the key. */
tl_status tl_catalog_add_json(tl_catalog *c, const char *json, size_t len, const char *origin, tl_error *err);
/* The same for a file (at most 64 MiB). */
tl_status tl_catalog_add_file(tl_catalog *c, const char *path, tl_error *err);

size_t tl_catalog_count(const tl_catalog *c);
/* Entries in load order (ids sorted within each document), borrowed. */
const tl_catalog_entry *tl_catalog_at(const tl_catalog *c, size_t i);
/* The entry with this id (exact), or NULL. */
const tl_catalog_entry *tl_catalog_find(const tl_catalog *c, const char *id);

/* The entry's registry tensors, each typed by the mixture rule of ftype, with
 * exact predicted tensor bytes and file_bytes_predicted. Entries whose
 * architecture is not in the registry are shaped from params_total
 * (tl_hparams_guess_from_params). TL_ENOTFOUND for an unknown id.
 * Free with tl_model_desc_free. */
tl_status tl_model_desc_from_catalog(const tl_catalog *c, const char *id, tl_ftype ftype, tl_model_desc **out,
                                     tl_error *err);

/* Opens SRC the way every command does: an existing regular file is read as
 * GGUF, an existing directory as a Hugging Face model directory, anything
 * else is looked up as a catalog id in `c` (NULL: the default catalog) and
 * predicted at `ftype`. Free with tl_model_desc_free. */
tl_status tl_model_desc_open(const char *src, const tl_catalog *c, tl_ftype ftype, tl_model_desc **out,
                             tl_error *err);

#ifdef __cplusplus
}
#endif
#endif
