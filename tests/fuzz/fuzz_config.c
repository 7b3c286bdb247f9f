/*
 * Fuzz target for the config loader: writes the input to a file, loads it,
 * and when it loads, checks the promise `boussole check` makes - that the
 * printed settings load back and print the same.  Any crash, sanitizer report
 * or broken round trip (abort) is a finding.  Built with replay_main.c, it
 * replays tests/fuzz/corpus/config/ in every ctest run.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* open_memstream, mkstemp */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

/* One scratch file per process, rewritten for each input: creating a file
 * per input would litter /tmp when a fuzzer is killed. */
static char scratch[64];

static void remove_scratch(void) {
  unlink(scratch);
}

static int write_scratch(const void *data, size_t size) {
  if (!scratch[0]) {
    snprintf(scratch, sizeof scratch, "/tmp/fuzz_config.XXXXXX");
    int fd = mkstemp(scratch);
    if (fd < 0)
      return -1;
    close(fd);
    atexit(remove_scratch);
  }
  FILE *f = fopen(scratch, "wb");
  if (!f)
    return -1;
  size_t put = fwrite(data, 1, size, f);
  return fclose(f) == 0 && put == size ? 0 : -1;
}

/* bsl_config_print's output without its first line, which names the file. */
static char *print_body(const bsl_config *cfg) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  if (!out)
    abort();
  bsl_config_print(cfg, out);
  fclose(out);
  char *nl = strchr(text, '\n');
  if (nl)
    memmove(text, nl + 1, strlen(nl + 1) + 1);
  return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (write_scratch(data, size) != 0)
    return 0;
  bsl_config *cfg = NULL;
  char err[4096];
  if (bsl_config_load(&cfg, scratch, err, sizeof err) != 0) {
    /* Errors are one per line, each naming the file. */
    if (cfg || !*err)
      abort();
    for (const char *line = err; line;) {
      if (strncmp(line, scratch, strlen(scratch)) != 0)
        abort();
      line = strchr(line, '\n');
      if (line)
        line++;
    }
    return 0;
  }
  char *first = print_body(cfg);
  bsl_config_destroy(cfg);

  bsl_config *again = NULL;
  if (write_scratch(first, strlen(first)) != 0 ||
      bsl_config_load(&again, scratch, err, sizeof err) != 0) {
    fprintf(stderr, "printed config does not load: %s\n%s", err, first);
    abort();
  }
  char *second = print_body(again);
  bsl_config_destroy(again);
  if (strcmp(first, second) != 0) {
    fprintf(stderr, "round trip differs:\n%s---\n%s", first, second);
    abort();
  }
  free(first);
  free(second);
  return 0;
}
