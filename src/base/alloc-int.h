/* All allocation inside libtailor goes through these wrappers, which call the
 * allocator installed with tl_set_allocator (tests use it to count
 * allocations and to make each one fail in turn). */
#ifndef TL_BASE_ALLOC_INT_H
#define TL_BASE_ALLOC_INT_H

#include <stddef.h>

void *tl__malloc(size_t size);
void *tl__calloc(size_t n, size_t size); /* NULL on overflow of n * size */
void *tl__realloc(void *ptr, size_t size);
void tl__free(void *ptr);
char *tl__strdup(const char *s);
char *tl__strndup(const char *s, size_t n);
/* Allocates n * size bytes; NULL on overflow. */
void *tl__malloc_array(size_t n, size_t size);

/* Memory aligned to `align` (a power of two, >= sizeof(void*)), for kernels.
 * Free with tl__aligned_free only. */
void *tl__aligned_malloc(size_t align, size_t size);
void tl__aligned_free(void *ptr);

#endif
