/* Shared helpers for the unit tests (cmocka): where the fixtures are, reading
 * files, running the `tailor` program and capturing its output, and an
 * allocator that counts allocations and fails the n-th one. */
#ifndef TAILOR_TEST_HARNESS_H
#define TAILOR_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* tests/data/<rel>, from TAILOR_TEST_DATA. Returns a static buffer. */
const char *th_data_path(const char *rel);
/* A fresh empty directory under the build tree (removed by nothing; unique). */
const char *th_tmpdir(void);
/* Reads a whole file (NUL-terminated; *len excludes it). NULL on failure. free() it. */
char *th_read_file(const char *path, size_t *len);
/* Writes bytes to path; 0 on success. */
int th_write_file(const char *path, const void *data, size_t len);

/* Runs the tailor program with the given arguments (NULL-terminated list,
 * without argv[0]) and optional stdin text; captures stdout and stderr.
 * Returns the exit status (or 128 + signal). Free out/err with free(). */
int th_run_tailor(const char *const *args, const char *stdin_text, char **out, char **err);
/* As th_run_tailor with extra environment entries ("K=V", NULL-terminated). */
int th_run_tailor_env(const char *const *args, const char *const *env, const char *stdin_text,
                      char **out, char **err);

/* Installs a counting allocator into libtailor. fail_at = n makes the n-th
 * allocation (1-based) from now on fail; 0 never fails. */
void th_alloc_install(uint64_t fail_at);
/* Allocations made since th_alloc_install. */
uint64_t th_alloc_count(void);
/* Live allocations (made minus freed) since th_alloc_install. */
int64_t th_alloc_live(void);
/* Restores the C library allocator. */
void th_alloc_uninstall(void);

#endif
