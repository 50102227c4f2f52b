/* The one allocator wrapper of libtailor, and the hook that replaces it.
 * Also routes jansson's allocations through the same hook. Aligned blocks are
 * carved out of ordinary ones so a test allocator sees them too. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc-int.h"
#include "tailor/hooks.h"

static void *sys_malloc(size_t size, void *ud)
{
  (void)ud;
  return malloc(size);
}
static void *sys_realloc(void *ptr, size_t size, void *ud)
{
  (void)ud;
  return realloc(ptr, size);
}
static void sys_free(void *ptr, void *ud)
{
  (void)ud;
  free(ptr);
}

static tl_allocator g_alloc = {sys_malloc, sys_realloc, sys_free, NULL};

static void *json_malloc(size_t size) { return tl__malloc(size); }
static void json_free(void *ptr) { tl__free(ptr); }

void tl_set_allocator(const tl_allocator *a)
{
  if (a)
    g_alloc = *a;
  else
    g_alloc = (tl_allocator){sys_malloc, sys_realloc, sys_free, NULL};
  json_set_alloc_funcs(json_malloc, json_free);
}

void tl_free(void *ptr) { tl__free(ptr); }

void *tl__malloc(size_t size) { return g_alloc.malloc(size ? size : 1, g_alloc.ud); }

void *tl__malloc_array(size_t n, size_t size)
{
  if (size && n > SIZE_MAX / size)
    return NULL;
  return tl__malloc(n * size);
}

void *tl__calloc(size_t n, size_t size)
{
  void *p = tl__malloc_array(n, size);
  if (p)
    memset(p, 0, n * size);
  return p;
}

void *tl__realloc(void *ptr, size_t size) { return g_alloc.realloc(ptr, size ? size : 1, g_alloc.ud); }

void tl__free(void *ptr)
{
  if (ptr)
    g_alloc.free(ptr, g_alloc.ud);
}

char *tl__strndup(const char *s, size_t n)
{
  size_t len = strnlen(s, n);
  char *d = tl__malloc(len + 1);
  if (!d)
    return NULL;
  memcpy(d, s, len);
  d[len] = '\0';
  return d;
}

char *tl__strdup(const char *s) { return tl__strndup(s, SIZE_MAX); }

void *tl__aligned_malloc(size_t align, size_t size)
{
  if (align < sizeof(void *) || (align & (align - 1)) || size > SIZE_MAX - align - sizeof(void *))
    return NULL;
  unsigned char *raw = tl__malloc(size + align + sizeof(void *));
  if (!raw)
    return NULL;
  uintptr_t p = ((uintptr_t)(raw + sizeof(void *)) + align - 1) & ~(uintptr_t)(align - 1);
  ((void **)p)[-1] = raw;
  return (void *)p;
}

void tl__aligned_free(void *ptr)
{
  if (ptr)
    tl__free(((void **)ptr)[-1]);
}
