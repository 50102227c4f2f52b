/* Test helpers; see harness.h. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tailor/hooks.h"

const char *th_data_path(const char *rel)
{
  static char buf[4096];
  const char *root = getenv("TAILOR_TEST_DATA");
  if (!root)
    root = "tests/data";
  snprintf(buf, sizeof buf, "%s/%s", root, rel);
  return buf;
}

const char *th_tmpdir(void)
{
  static char buf[4096];
  const char *root = getenv("TAILOR_BINARY_DIR");
  if (!root)
    root = "/tmp";
  static unsigned seq;
  snprintf(buf, sizeof buf, "%s/test-tmp-%ld-%u", root, (long)getpid(), seq++);
  mkdir(buf, 0755);
  return buf;
}

char *th_read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (n + 1 >= cap) {
      cap *= 2;
      buf = realloc(buf, cap);
    }
    size_t r = fread(buf + n, 1, cap - n - 1, f);
    if (r == 0)
      break;
    n += r;
  }
  fclose(f);
  buf[n] = '\0';
  if (len)
    *len = n;
  return buf;
}

int th_write_file(const char *path, const void *data, size_t len)
{
  FILE *f = fopen(path, "wb");
  if (!f)
    return -1;
  size_t w = fwrite(data, 1, len, f);
  return (fclose(f) == 0 && w == len) ? 0 : -1;
}

static void drain(int fd, char **buf, size_t *n, size_t *cap)
{
  char tmp[65536];
  ssize_t r = read(fd, tmp, sizeof tmp);
  if (r <= 0)
    return;
  while (*n + (size_t)r + 1 > *cap) {
    *cap = *cap ? *cap * 2 : 65536;
    *buf = realloc(*buf, *cap);
  }
  memcpy(*buf + *n, tmp, (size_t)r);
  *n += (size_t)r;
  (*buf)[*n] = '\0';
}

int th_run_tailor_env(const char *const *args, const char *const *env, const char *stdin_text,
                      char **out, char **err)
{
  const char *prog = getenv("TAILOR_PROGRAM");
  if (!prog)
    prog = "tailor";
  int pin[2], pout[2], perr[2];
  if (pipe(pin) || pipe(pout) || pipe(perr))
    return -1;
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    dup2(pin[0], 0);
    dup2(pout[1], 1);
    dup2(perr[1], 2);
    close(pin[1]);
    close(pout[0]);
    close(perr[0]);
    for (size_t i = 0; env && env[i]; i++)
      putenv((char *)env[i]);
    size_t n = 0;
    while (args[n])
      n++;
    char **argv = calloc(n + 2, sizeof *argv);
    argv[0] = (char *)prog;
    for (size_t i = 0; i < n; i++)
      argv[i + 1] = (char *)args[i];
    execv(prog, argv);
    _exit(127);
  }
  close(pin[0]);
  close(pout[1]);
  close(perr[1]);
  signal(SIGPIPE, SIG_IGN);
  if (stdin_text) {
    size_t len = strlen(stdin_text), off = 0;
    while (off < len) {
      ssize_t w = write(pin[1], stdin_text + off, len - off);
      if (w <= 0)
        break;
      off += (size_t)w;
    }
  }
  close(pin[1]);
  char *ob = NULL, *eb = NULL;
  size_t on = 0, oc = 0, en = 0, ec = 0;
  ob = calloc(1, 1);
  eb = calloc(1, 1);
  oc = ec = 1;
  struct pollfd fds[2] = {{pout[0], POLLIN, 0}, {perr[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR)
      break;
    for (int k = 0; k < 2; k++) {
      if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      size_t before = k == 0 ? on : en;
      if (k == 0)
        drain(fds[k].fd, &ob, &on, &oc);
      else
        drain(fds[k].fd, &eb, &en, &ec);
      size_t after = k == 0 ? on : en;
      if (after == before) {
        close(fds[k].fd);
        fds[k].fd = -1;
        open_fds--;
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (out)
    *out = ob;
  else
    free(ob);
  if (err)
    *err = eb;
  else
    free(eb);
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

int th_run_tailor(const char *const *args, const char *stdin_text, char **out, char **err)
{
  return th_run_tailor_env(args, NULL, stdin_text, out, err);
}

static uint64_t g_count, g_fail_at;
static int64_t g_live;

static void *count_malloc(size_t size, void *ud)
{
  (void)ud;
  g_count++;
  if (g_fail_at && g_count == g_fail_at)
    return NULL;
  void *p = malloc(size);
  if (p)
    g_live++;
  return p;
}

static void *count_realloc(void *ptr, size_t size, void *ud)
{
  (void)ud;
  g_count++;
  if (g_fail_at && g_count == g_fail_at)
    return NULL;
  void *p = realloc(ptr, size);
  if (p && !ptr)
    g_live++;
  return p;
}

static void count_free(void *ptr, void *ud)
{
  (void)ud;
  if (ptr)
    g_live--;
  free(ptr);
}

void th_alloc_install(uint64_t fail_at)
{
  g_count = 0;
  g_live = 0;
  g_fail_at = fail_at;
  tl_allocator a = {count_malloc, count_realloc, count_free, NULL};
  tl_set_allocator(&a);
}

uint64_t th_alloc_count(void) { return g_count; }
int64_t th_alloc_live(void) { return g_live; }
void th_alloc_uninstall(void) { tl_set_allocator(NULL); }
