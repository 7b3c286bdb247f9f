/*
 * alert_command delivery (see alert.h).  The JSON writer escapes every string
 * (quotes, backslashes, control characters, and invalid UTF-8 as U+FFFD), so
 * a KPI name or note can never break the object.  The runner is written for
 * a daemon: bounded in time and in log output, immune to SIGPIPE, leaving no
 * process behind, and - in the detached mode used by `run` - never waiting
 * on the command at all.
 */
#include "alert.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

struct out {
  char *p;
  size_t len, cap;
  bool overflow;
};

static void put(struct out *o, const char *s, size_t n) {
  if (o->len + n >= o->cap) {
    o->overflow = true;
    return;
  }
  memcpy(o->p + o->len, s, n);
  o->len += n;
  o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s) {
  put(o, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at S (N bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  unsigned min;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    len = 2, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef)
    len = 3, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4)
    len = 4, min = 0x10000;
  else
    return 0;
  if (n < len)
    return 0;
  unsigned cp = c & (0xff >> (len + 1));
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return len;
}

static void put_string(struct out *o, const char *s) {
  if (!s) {
    puts_(o, "null");
    return;
  }
  puts_(o, "\"");
  const unsigned char *u = (const unsigned char *)s;
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    unsigned char c = u[i];
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\', esc[1] = (char)c;
      put(o, esc, 2);
      i++;
    } else if (c == '\n') {
      puts_(o, "\\n"), i++;
    } else if (c == '\t') {
      puts_(o, "\\t"), i++;
    } else if (c == '\r') {
      puts_(o, "\\r"), i++;
    } else if (c < 0x20 || c == 0x7f) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      puts_(o, esc), i++;
    } else {
      size_t len = utf8_len(u + i, n - i);
      if (len == 0) {
        puts_(o, "\\ufffd");
        i++;
      } else {
        put(o, s + i, len);
        i += len;
      }
    }
  }
  puts_(o, "\"");
}

static void put_number(struct out *o, double v) {
  if (isnan(v) || isinf(v)) {
    puts_(o, "null");
    return;
  }
  char b[32];
  snprintf(b, sizeof b, "%.10g", v);
  puts_(o, b);
}

static void key(struct out *o, const char *k, bool first) {
  if (!first)
    puts_(o, ",");
  put_string(o, k);
  puts_(o, ":");
}

int bsl_alert_json(const bsl_alert_event *ev, char *out, size_t cap) {
  if (cap == 0)
    return -1;
  struct out o = {out, 0, cap, false};
  out[0] = '\0';
  puts_(&o, "{");
  key(&o, "kpi", true), put_string(&o, ev->kpi);
  key(&o, "state", false), put_string(&o, ev->state);
  key(&o, "previous_state", false), put_string(&o, ev->previous_state);
  key(&o, "value", false), put_number(&o, ev->value);
  key(&o, "target", false), put_number(&o, ev->target);
  key(&o, "slope", false), put_number(&o, ev->slope);
  key(&o, "p_value", false), put_number(&o, ev->p_value);
  key(&o, "since", false), put_string(&o, ev->since);
  key(&o, "message", false), put_string(&o, ev->message);
  key(&o, "event", false), put_string(&o, ev->event);
  key(&o, "alert_id", false), put_number(&o, (double)ev->alert_id);
  key(&o, "at", false), put_string(&o, ev->at);
  puts_(&o, "}");
  return o.overflow ? -1 : (int)o.len;
}

/* ---- running the command ----
 *
 * Everything from here runs in processes forked from boussole (the
 * supervisor and the command before exec), which may have had other
 * threads: only async-signal-safe calls, no stdio, no malloc.  The
 * supervisor reports to its parent with one struct result on a
 * SOCK_SEQPACKET socket (a message arrives whole or not at all). */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

enum outcome { OK, SPAWN_FAILED, EXIT_STATUS, SIGNALED, TIMED_OUT };

#define RESULT_MAGIC 0x62736c31u
#define LAST_LINE 160 /* raw bytes of the last output line kept for errors */

struct result {
  uint32_t magic;
  int32_t outcome;
  int32_t code; /* exit status or signal */
  int32_t timeout_ms;
  char last[4 * LAST_LINE + 8]; /* the command's last line, escaped */
};

/* Raw bytes of output per log line: escaped, a line stays under PIPE_BUF
 * (4096), so each is one atomic write even into a pipe shared with the
 * daemon's own log. */
#define LINE_RAW 900

struct logger {
  const char *label;
  char line[LINE_RAW];
  size_t n;
  size_t logged;               /* raw bytes written to the log */
  unsigned long long unlogged; /* raw bytes past the cap */
  char last[LAST_LINE];        /* the last non-empty line, raw */
  size_t last_n;
};

static char *put_uint(char *p, unsigned long long v) {
  char tmp[24];
  int n = 0;
  do
    tmp[n++] = (char)('0' + v % 10);
  while ((v /= 10) && n < (int)sizeof tmp);
  while (n)
    *p++ = tmp[--n];
  return p;
}

static char *put_str(char *p, const char *s) {
  size_t n = strlen(s);
  memcpy(p, s, n);
  return p + n;
}

static const char HEX[] = "0123456789abcdef";

/* Writes RAW (N bytes) escaped into OUT (room for 4 * N bytes): printable
 * ASCII and valid UTF-8 as they are, a backslash doubled, tab and CR as \t
 * and \r, other control bytes and invalid UTF-8 as \xNN, C1 controls, line
 * separators and bidirectional overrides as \uNNNN.  Returns the end. */
static char *escape(char *out, const char *raw, size_t n) {
  const unsigned char *s = (const unsigned char *)raw;
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    if (c == '\\') {
      *out++ = '\\', *out++ = '\\', i++;
    } else if (c == '\t') {
      *out++ = '\\', *out++ = 't', i++;
    } else if (c == '\r') {
      *out++ = '\\', *out++ = 'r', i++;
    } else if (c < 0x20 || c == 0x7f) {
      *out++ = '\\', *out++ = 'x', *out++ = HEX[c >> 4], *out++ = HEX[c & 15];
      i++;
    } else if (c < 0x80) {
      *out++ = (char)c, i++;
    } else {
      size_t len = utf8_len(s + i, n - i);
      if (len == 0) {
        *out++ = '\\', *out++ = 'x', *out++ = HEX[c >> 4], *out++ = HEX[c & 15];
        i++;
        continue;
      }
      unsigned cp = len == 2   ? (c & 0x1f) << 6 | (s[i + 1] & 0x3f)
                    : len == 3 ? (c & 0x0f) << 12 | (s[i + 1] & 0x3f) << 6 |
                                     (s[i + 2] & 0x3f)
                               : 0x10000;
      if (cp <= 0x9f || cp == 0x2028 || cp == 0x2029 ||
          (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) {
        *out++ = '\\', *out++ = 'u';
        for (int sh = 12; sh >= 0; sh -= 4)
          *out++ = HEX[(cp >> sh) & 15];
      } else {
        memcpy(out, s + i, len);
        out += len;
      }
      i += len;
    }
  }
  return out;
}

static void write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, buf, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return; /* a closed log: nothing better to do */
    buf += w;
    len -= (size_t)w;
  }
}

/* "boussole: LABEL: " into P. */
static char *log_head(char *p, const struct logger *lg) {
  p = put_str(p, "boussole: ");
  return put_str(p, lg->label);
}

/* One line of the command's output (without its newline). */
static void emit(struct logger *lg, const char *raw, size_t n) {
  if (n > 0) {
    size_t keep = n < LAST_LINE ? n : LAST_LINE;
    memcpy(lg->last, raw, keep);
    lg->last_n = keep;
  }
  size_t take = 0;
  if (lg->logged < BSL_ALERT_OUTPUT_CAP) {
    take = BSL_ALERT_OUTPUT_CAP - lg->logged;
    if (take > n)
      take = n;
  }
  lg->unlogged += n - take;
  if (lg->logged >= BSL_ALERT_OUTPUT_CAP)
    return;
  char buf[128 + 4 * LINE_RAW + 2];
  char *p = log_head(buf, lg);
  p = put_str(p, ": alert_command output: ");
  p = escape(p, raw, take);
  *p++ = '\n';
  write_all(STDERR_FILENO, buf, (size_t)(p - buf));
  lg->logged += take;
}

static void feed(struct logger *lg, const char *buf, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (buf[i] == '\n') {
      emit(lg, lg->line, lg->n);
      lg->n = 0;
      continue;
    }
    lg->line[lg->n++] = buf[i];
    if (lg->n == LINE_RAW) { /* a long line goes out in pieces */
      emit(lg, lg->line, lg->n);
      lg->n = 0;
    }
  }
}

static void logger_end(struct logger *lg) {
  if (lg->n)
    emit(lg, lg->line, lg->n);
  lg->n = 0;
  if (lg->unlogged) {
    char buf[256];
    char *p = log_head(buf, lg);
    p = put_str(p, ": ");
    p = put_uint(p, lg->unlogged);
    p = put_str(p, " more bytes of output not logged (");
    p = put_uint(p, BSL_ALERT_OUTPUT_CAP / 1024);
    p = put_str(p, " KiB logged)\n");
    write_all(STDERR_FILENO, buf, (size_t)(p - buf));
  }
}

/* Every signal back to its default and unblocked: the supervisor must not
 * run boussole's handlers (libuv's would write into the daemon's own signal
 * pipe), and the command must not inherit an ignored SIGPIPE. */
static void default_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      sigaction(sig, &sa, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Closes every descriptor but 0-2 and KEEP, which becomes 3: the daemon's
 * database, lock and sockets must not stay open in a process that may
 * outlive it by the timeout. */
static int close_others(int keep) {
  if (keep != 3) {
    if (dup2(keep, 3) < 0)
      return -1;
    keep = 3;
  }
  fcntl(3, F_SETFD, FD_CLOEXEC);
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 4u, ~0u, 0u) == 0)
    return 3;
#endif
  for (int fd = 4; fd < 4096; fd++)
    close(fd);
  return 3;
}

#if defined(__linux__) && defined(PR_SET_CHILD_SUBREAPER)
/* Kills every child of SELF (orphans re-parented to the subreaper included)
 * found in /proc; returns how many. */
static int kill_children(pid_t self) {
  int dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0)
    return 0;
  int killed = 0;
  char buf[4096];
  for (;;) {
    long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (n <= 0)
      break;
    for (long off = 0; off < n;) {
      /* struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name */
      unsigned short reclen;
      memcpy(&reclen, buf + off + 16, sizeof reclen);
      const char *name = buf + off + 19;
      off += reclen;
      long pid = 0;
      const char *c = name;
      for (; *c >= '0' && *c <= '9' && pid < 100000000; c++)
        pid = pid * 10 + (*c - '0');
      if (*c || pid <= 0 || pid == self)
        continue;
      char path[64] = "/proc/";
      char *p = put_uint(path + 6, (unsigned long long)pid);
      put_str(p, "/stat")[0] = '\0';
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        continue;
      char st[512];
      ssize_t got = read(fd, st, sizeof st - 1);
      close(fd);
      if (got <= 0)
        continue;
      st[got] = '\0';
      /* "pid (comm) S ppid ...": comm may hold anything, so from the last
       * ')' on */
      char *rp = NULL;
      for (char *q = st; *q; q++)
        if (*q == ')')
          rp = q;
      if (!rp || rp[1] != ' ' || !rp[2] || rp[3] != ' ')
        continue;
      long ppid = 0;
      for (c = rp + 4; *c >= '0' && *c <= '9'; c++)
        ppid = ppid * 10 + (*c - '0');
      if (ppid == self && kill((pid_t)pid, SIGKILL) == 0)
        killed++;
    }
  }
  close(dir);
  return killed;
}
#endif

/* Once the command is gone: kills and reaps whatever it left, within
 * DEADLINE (monotonic ms). */
static void reap_leftovers(pid_t group, int64_t deadline) {
  kill(-group, SIGKILL);
  for (;;) {
#if defined(__linux__) && defined(PR_SET_CHILD_SUBREAPER)
    kill_children(getpid());
#endif
    pid_t r = waitpid(-1, NULL, WNOHANG);
    if (r > 0)
      continue;
    if (r < 0 && errno == ECHILD)
      return;
    if (now_ms() >= deadline)
      return;
    sleep_ms(5);
  }
}

static void send_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return; /* the command closed its input: its exit status tells */
    buf += w;
    len -= (size_t)w;
  }
}

/* Reads what the command wrote so far into the logger; 1 at end of file. */
static int drain(int fd, struct logger *lg) {
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      feed(lg, buf, (size_t)n);
      continue;
    }
    if (n == 0)
      return 1;
    if (errno == EINTR)
      continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
  }
}

/* The supervisor: runs the command, logs its output, cleans up after it,
 * sends the result on REPORT and exits. */
static void supervise(const char *command, const char *json, size_t len,
                      int timeout_ms, const char *label, int report) {
  default_signals();
  signal(SIGPIPE, SIG_IGN); /* a closed log must not kill the supervisor */
  report = close_others(report);
#if defined(__linux__) && defined(PR_SET_CHILD_SUBREAPER)
  prctl(PR_SET_CHILD_SUBREAPER, 1);
#endif
  struct result res = {
      .magic = RESULT_MAGIC, .outcome = SPAWN_FAILED, .timeout_ms = timeout_ms};
  struct logger lg = {.label = label};
  int in[2], out[2] = {-1, -1};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0)
    goto out_report;
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]), close(in[1]);
    goto out_report;
  }
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    if (dup2(in[1], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0 ||
        dup2(out[1], STDERR_FILENO) < 0)
      _exit(126);
    execl("/bin/sh", "sh", "-c", command, (char *)NULL);
    _exit(127);
  }
  close(in[1]);
  close(out[1]);
  if (pid < 0) {
    close(in[0]), close(out[0]);
    goto out_report;
  }
  setpgid(pid, pid); /* also here: no race with kill(-pid) below */
  /* The object is far smaller than a socket buffer: this does not block on
   * a command that never reads. */
  struct timeval tv = {.tv_sec = timeout_ms / 1000,
                       .tv_usec = (timeout_ms % 1000) * 1000};
  setsockopt(in[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  send_all(in[0], json, len);
  shutdown(in[0], SHUT_WR);
  close(in[0]);
  fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);

  int64_t deadline = now_ms() + timeout_ms;
  int status = 0;
  bool eof = false;
  res.outcome = TIMED_OUT;
  for (;;) {
    if (!eof) {
      struct pollfd pf = {.fd = out[0], .events = POLLIN};
      poll(&pf, 1, 20);
      eof = drain(out[0], &lg);
    } else {
      sleep_ms(10);
    }
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) {
        res.code = WEXITSTATUS(status);
        res.outcome = res.code == 0 ? OK : EXIT_STATUS;
      } else {
        res.code = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        res.outcome = SIGNALED;
      }
      break;
    }
    if (r < 0 && errno != EINTR) {
      res.outcome = SPAWN_FAILED;
      break;
    }
    if (now_ms() >= deadline) {
      kill(-pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
      break;
    }
  }
  /* The command's own exit is the delivery's outcome; what it left behind
   * - background jobs, a setsid'd grandchild holding the output pipe - is
   * killed now, so nothing it started outlives the delivery. */
  reap_leftovers(pid, now_ms() + 2000);
  for (int64_t end = now_ms() + 500; !eof && now_ms() < end;) {
    struct pollfd pf = {.fd = out[0], .events = POLLIN};
    poll(&pf, 1, 20);
    eof = drain(out[0], &lg);
  }
  close(out[0]);
  logger_end(&lg);
  if (lg.last_n)
    *escape(res.last, lg.last, lg.last_n) = '\0';
out_report:
  send(report, &res, sizeof res, MSG_NOSIGNAL);
  _exit(res.outcome == OK ? 0 : 1);
}

/* The reason of a failed RES into err; 0 for a success. */
static int outcome_of(const struct result *res, char *err, size_t errlen) {
  char why[96];
  switch (res->outcome) {
  case OK:
    return 0;
  case SPAWN_FAILED:
    snprintf(why, sizeof why, "cannot start /bin/sh");
    break;
  case EXIT_STATUS:
    snprintf(why, sizeof why, "exited with status %d", res->code);
    break;
  case SIGNALED:
    snprintf(why, sizeof why, "killed by signal %d", res->code);
    break;
  case TIMED_OUT:
    snprintf(why, sizeof why, "timed out after %d ms, killed", res->timeout_ms);
    break;
  default:
    snprintf(why, sizeof why, "unknown outcome");
  }
  if (res->last[0])
    snprintf(err, errlen, "%s: %.*s", why, (int)sizeof res->last, res->last);
  else
    snprintf(err, errlen, "%s", why);
  return -1;
}

/* Checks a received message; -1 with err set when it is not a result. */
static int take_result(const struct result *res, ssize_t got, char *err,
                       size_t errlen) {
  if (got != (ssize_t)sizeof *res || res->magic != RESULT_MAGIC) {
    snprintf(err, errlen, "the delivery's supervisor ended without a result");
    return -1;
  }
  struct result copy = *res;
  copy.last[sizeof copy.last - 1] = '\0';
  return outcome_of(&copy, err, errlen);
}

int bsl_alert_run(const char *command, const char *json, size_t len,
                  int timeout_ms, const char *label, char *err, size_t errlen) {
  if (!command || !*command) {
    snprintf(err, errlen, "alert_command: not set");
    return -1;
  }
  if (timeout_ms <= 0)
    timeout_ms = 1;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    snprintf(err, errlen, "cannot create a socket: %s", strerror(errno));
    return -1;
  }
  pid_t sup = fork();
  if (sup == 0) {
    close(sv[0]);
    supervise(command, json, len, timeout_ms, label ? label : "alert", sv[1]);
  }
  close(sv[1]);
  if (sup < 0) {
    snprintf(err, errlen, "cannot fork: %s", strerror(errno));
    close(sv[0]);
    return -1;
  }
  /* the supervisor ends within the timeout plus its clean-up */
  struct result res;
  ssize_t got = -1;
  struct pollfd pf = {.fd = sv[0], .events = POLLIN};
  int64_t end = now_ms() + timeout_ms + 10000;
  while (now_ms() < end) {
    int pr = poll(&pf, 1, (int)(end - now_ms()));
    if (pr < 0 && errno == EINTR)
      continue;
    if (pr > 0)
      while ((got = recv(sv[0], &res, sizeof res, 0)) < 0 && errno == EINTR)
        ;
    break;
  }
  close(sv[0]);
  if (got < 0)
    kill(sup, SIGKILL);
  while (waitpid(sup, NULL, 0) < 0 && errno == EINTR)
    ;
  return take_result(&res, got, err, errlen);
}

int bsl_alert_start(const char *command, const char *json, size_t len,
                    int timeout_ms, const char *label, int *handle, char *err,
                    size_t errlen) {
  *handle = -1;
  if (!command || !*command) {
    snprintf(err, errlen, "alert_command: not set");
    return -1;
  }
  if (timeout_ms <= 0)
    timeout_ms = 1;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    snprintf(err, errlen, "cannot create a socket: %s", strerror(errno));
    return -1;
  }
  /* A short-lived child forks the supervisor and exits at once, so the
   * supervisor is adopted by init and never becomes our zombie. */
  pid_t mid = fork();
  if (mid < 0) {
    snprintf(err, errlen, "cannot fork: %s", strerror(errno));
    close(sv[0]), close(sv[1]);
    return -1;
  }
  if (mid == 0) {
    close(sv[0]);
    pid_t sup = fork();
    if (sup == 0)
      supervise(command, json, len, timeout_ms, label ? label : "alert", sv[1]);
    _exit(sup < 0 ? 1 : 0);
  }
  close(sv[1]);
  int status;
  while (waitpid(mid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    snprintf(err, errlen, "cannot fork a supervisor");
    close(sv[0]);
    return -1;
  }
  *handle = sv[0];
  return 0;
}

int bsl_alert_poll(int handle, bool *done, char *err, size_t errlen) {
  struct result res;
  ssize_t got;
  while ((got = recv(handle, &res, sizeof res, MSG_DONTWAIT)) < 0 &&
         errno == EINTR)
    ;
  if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    *done = false;
    return 0;
  }
  *done = true;
  close(handle);
  return take_result(&res, got, err, errlen);
}
