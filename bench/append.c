/*
 * bench-append: appends the lines of a pre-generated log to a live log at a
 * steady rate, as cheaply as a web server would, for bench/live_rate.sh.
 *
 * A Python appender topped out at about 830k lines/s on a 2-core VM and took
 * the core `run` needed; this one has the kernel copy slices of SOURCE to
 * OUT (copy_file_range), so its cost is the page cache's.  The pace is a token
 * bucket in bytes (the rate in lines/s times SOURCE's mean line length): every
 * TICK it writes what is owed, cut anywhere, so a partial line waits for its
 * newline as it does with nginx's buffered writes.  The phase ends on a whole
 * line.
 *
 * OUT must hold a prefix of SOURCE (empty, or what earlier phases appended):
 * appending resumes in SOURCE at OUT's size.  On stdout, one "TIME BYTES"
 * line per write (Unix time in seconds, OUT's size after it), for the lag;
 * on stderr the rate reached and the appender's own CPU.
 *
 * usage: bench-append SOURCE OUT LINES_PER_SECOND SECONDS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROG "bench-append"
#define TICK_NS 5000000L /* 5 ms: 200 writes a second */
#define MEAN_SAMPLE (64u << 20)

typedef struct mark {
  double when;
  uint64_t bytes;
} mark;

static double seconds(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t count_lines(const char *p, size_t n) {
  size_t lines = 0;
  for (const char *end = p + n; (p = memchr(p, '\n', (size_t)(end - p))); p++)
    lines++;
  return lines;
}

/* Copies bytes [FROM, TO) of IN to the end of OUT (at FROM: OUT holds
 * IN's prefix) in the kernel, page cache to page cache: no copy through
 * user space, no page faults on the mapping. */
static int append_range(int in, int out, size_t from, size_t to) {
  loff_t off_in = (loff_t)from, off_out = (loff_t)from;
  while (off_in < (loff_t)to) {
    ssize_t w =
        copy_file_range(in, &off_in, out, &off_out, to - (size_t)off_in, 0);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: " PROG " SOURCE OUT LINES_PER_SECOND SECONDS\n");
    return 2;
  }
  double rate = atof(argv[3]), secs = atof(argv[4]);
  int in = open(argv[1], O_RDONLY);
  struct stat sb;
  if (in < 0 || fstat(in, &sb) != 0 || sb.st_size == 0) {
    fprintf(stderr, PROG ": %s: %s\n", argv[1],
            in < 0 ? strerror(errno) : "empty");
    return 1;
  }
  size_t size = (size_t)sb.st_size;
  const char *src = mmap(NULL, size, PROT_READ, MAP_PRIVATE, in, 0);
  if (src == MAP_FAILED) {
    fprintf(stderr, PROG ": %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  int out = open(argv[2], O_WRONLY | O_CREAT, 0644);
  struct stat ob;
  if (out < 0 || fstat(out, &ob) != 0) {
    fprintf(stderr, PROG ": %s: %s\n", argv[2], strerror(errno));
    return 1;
  }
  size_t pos = (size_t)ob.st_size, start = pos;
  if (pos >= size) {
    fprintf(stderr, PROG ": %s already holds all of %s\n", argv[2], argv[1]);
    return 1;
  }
  size_t sample = size < MEAN_SAMPLE ? size : MEAN_SAMPLE;
  size_t sample_lines = count_lines(src, sample);
  double mean = (double)sample / (double)(sample_lines ? sample_lines : 1);
  double bytes_per_s = rate * mean;

  size_t cap = (size_t)(secs * 1e9 / TICK_NS) + 16, n_marks = 0;
  mark *marks = malloc(cap * sizeof *marks);
  if (!marks) {
    fprintf(stderr, PROG ": out of memory\n");
    return 1;
  }
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  double t0 = seconds(CLOCK_MONOTONIC);
  for (;;) {
    double elapsed = seconds(CLOCK_MONOTONIC) - t0;
    bool last = elapsed >= secs;
    size_t owed = start + (size_t)(bytes_per_s * (last ? secs : elapsed));
    if (owed > size)
      owed = size, last = true;
    if (last) { /* end on a whole line */
      const char *nl =
          owed > pos ? memchr(src + owed - 1, '\n', size - owed + 1) : NULL;
      owed = nl ? (size_t)(nl - src) + 1 : owed > pos ? size : pos;
    }
    if (owed > pos) {
      if (append_range(in, out, pos, owed) != 0) {
        fprintf(stderr, PROG ": %s: %s\n", argv[2], strerror(errno));
        return 1;
      }
      pos = owed;
      if (n_marks < cap)
        marks[n_marks++] = (mark){seconds(CLOCK_REALTIME), pos};
    }
    if (last)
      break;
    next.tv_nsec += TICK_NS;
    if (next.tv_nsec >= 1000000000L)
      next.tv_sec++, next.tv_nsec -= 1000000000L;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) ==
           EINTR)
      ;
  }
  double took = seconds(CLOCK_MONOTONIC) - t0;
  struct rusage ru; /* before counting the lines, which reads the mapping */
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  size_t lines = count_lines(src + start, pos - start);
  for (size_t i = 0; i < n_marks; i++)
    printf("%.6f %llu\n", marks[i].when, (unsigned long long)marks[i].bytes);
  fprintf(stderr, "appended %zu lines in %.2f s: %.0f lines/s, CPU %.0f%%\n",
          lines, took, (double)lines / took, 100.0 * cpu / took);
  free(marks);
  return fclose(stdout) == 0 ? 0 : 1;
}
