/* Data files embedded at build time (the files in data/, see cmake/embed.cmake). */
#ifndef TL_BASE_EMBEDDED_INT_H
#define TL_BASE_EMBEDDED_INT_H

#include <stddef.h>

/* The bytes of data/<name> (NUL-terminated; *size excludes the NUL), or NULL
 * if no such file was embedded. The memory is static. */
const char *tl__embedded_find(const char *name, size_t *size);

#endif
