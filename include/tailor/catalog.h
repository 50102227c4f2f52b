/* The model catalog: known models with their published facts and config.json
 * (data/models.json, embedded in the library; schema in docs/models.md), an
 * optional user file of the same schema overlaid on it (the user catalog that
 * `tailor catalog update` fills from the Hugging Face Hub), and model
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
 * else is looked up as a catalog id in `c` (NULL: tl_catalog_load_user) and
 * predicted at `ftype`. Free with tl_model_desc_free. */
tl_status tl_model_desc_open(const char *src, const tl_catalog *c, tl_ftype ftype, tl_model_desc **out,
                             tl_error *err);


/* ---- The user catalog and `catalog update` (src/model/catalog-update.c) ---- */

/* Where the user catalog lives: $TAILOR_CACHE_DIR/catalog.json when that is
 * set, else $XDG_CACHE_HOME/tailor/catalog.json, else
 * $HOME/.cache/tailor/catalog.json. TAILOR_CACHE_DIR=none turns the user
 * catalog off: TL_ENOTFOUND (also when no HOME is set). */
tl_status tl_catalog_user_path(char *buf, size_t n, tl_error *err);
/* The embedded catalog with the user catalog (tl_catalog_user_path) overlaid
 * when that file exists: what every command uses. TL_EFORMAT naming the file,
 * the entry and the key when the user catalog is invalid. Free with
 * tl_catalog_free. */
tl_status tl_catalog_load_user(tl_catalog **out, tl_error *err);

/* Where and how the Hugging Face Hub is asked. Zeroed fields take defaults. */
typedef struct tl_hub_options {
  const char *endpoint; /* NULL: $HF_ENDPOINT, else https://huggingface.co */
  const char *token;    /* NULL: $HF_TOKEN (sent as Authorization: Bearer); "" sends none */
  uint32_t timeout_s;   /* per request; 0: 60 */
} tl_hub_options;

/* The outcome for one repository of tl_catalog_update. */
typedef struct tl_catalog_update_item {
  char repo[200];           /* "Qwen/Qwen3-0.6B" as given */
  tl_status status;         /* TL_OK: an entry was built (and written, see below) */
  tl_error err;             /* why not, when status != TL_OK */
  char id[64];              /* the catalog id of the entry */
  char arch[32];            /* GGUF architecture */
  bool in_registry;
  uint64_t params_total;    /* counted from the safetensors headers */
  uint64_t params_active;
  uint64_t hub_params_total; /* the Hub's own safetensors.total, 0 if it gave none */
  uint32_t context_length;
  uint32_t n_files;         /* safetensors headers read */
} tl_catalog_update_item;

/* Called after each repository (index i of n), from the calling thread. */
typedef void (*tl_catalog_update_fn)(const tl_catalog_update_item *item, size_t i, size_t n, void *user);

/* Ids of the Hub's trending text-generation models
 * (GET /api/models?pipeline_tag=text-generation&sort=trendingScore&limit=n),
 * n in 1..100. *out holds *n_out strings; free with tl_hub_repos_free.
 * TL_ENET (naming the host) when it cannot be reached. */
tl_status tl_hub_list_trending(const tl_hub_options *o, uint32_t n, char ***out, size_t *n_out, tl_error *err);
void tl_hub_repos_free(char **repos, size_t n);

/* For each repository id (`owner/name`), fetches its model info, config.json
 * and safetensors headers (HTTP Range requests: the 8-byte length, then the
 * header) from the Hub, builds a catalog entry with exact parameter counts,
 * and merges the entries that succeeded into the user catalog at `path`
 * (NULL: tl_catalog_user_path), replacing entries of the same id, by writing a
 * temporary file and renaming it over the old one. items[i] (n entries,
 * caller-allocated) receives each repository's outcome; a failure for one
 * repository does not stop the others. Returns TL_OK when the catalog file
 * was written or nothing needed writing; an error only when the existing user
 * catalog is invalid or the file cannot be written, and then the old file is
 * left as it was. */
tl_status tl_catalog_update(const tl_hub_options *o, const char *path, const char *const *repos, size_t n,
                            tl_catalog_update_item *items, tl_catalog_update_fn progress, void *user,
                            tl_error *err);

#ifdef __cplusplus
}
#endif
#endif
