/*
 * The publish step of the HTML pages (publish.h).
 */
#include "publish.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bsl_cli_publish(const char *who, const char *path,
                    int (*write)(const void *obj, FILE *f), const void *obj) {
  size_t n = strlen(path);
  char *tmp = malloc(n + 16);
  if (!tmp) {
    fprintf(stderr, "%s: --html: out of memory\n", who);
    return -1;
  }
  snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    fprintf(stderr, "%s: --html: %s: %s\n", who, path, strerror(errno));
    free(tmp);
    return -1;
  }
  FILE *f = fdopen(fd, "w");
  if (!f) {
    fprintf(stderr, "%s: --html: %s: %s\n", who, path, strerror(errno));
    close(fd);
    goto out_unlink;
  }
  int rc = write(obj, f);
  /* the page is meant to be published: readable like any other file */
  mode_t mask = umask(0);
  umask(mask);
  fchmod(fd, 0666 & ~mask);
  if (fclose(f) != 0 || rc != 0) {
    fprintf(stderr, "%s: --html: %s: write error: %s\n", who, path,
            strerror(errno));
    goto out_unlink;
  }
  if (rename(tmp, path) != 0) {
    fprintf(stderr, "%s: --html: %s: %s\n", who, path, strerror(errno));
    goto out_unlink;
  }
  free(tmp);
  return 0;
out_unlink:
  unlink(tmp);
  free(tmp);
  return -1;
}
