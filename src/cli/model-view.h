/* Shared by the commands that show models (inspect, catalog): opening SRC
 * with the common options and printing byte counts and parameter counts. */
#ifndef TAILOR_CLI_MODEL_VIEW_H
#define TAILOR_CLI_MODEL_VIEW_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "tailor/quant.h"
#include "tailor/tailor.h"

/* "4.92 GB" style with decimal units; buf of at least 32 bytes. */
const char *tl_cli_fmt_bytes(uint64_t bytes, char *buf, size_t n);
/* "8.03B" / "292.2K" parameter counts. */
const char *tl_cli_fmt_count(uint64_t n, char *buf, size_t size);
/* Loads the default catalog and overlays `user_file` when not NULL; prints
 * the error as `cmd` and returns NULL on failure. */
tl_catalog *tl_cli_catalog_load(const char *cmd, const char *user_file);
/* A JSON object describing a catalog entry (the published facts). */
json_t *tl_cli_catalog_entry_json(const tl_catalog_entry *e);

#endif
