/*
 * alert_command delivery (see alert.h).  The JSON writer escapes every string
 * (quotes, backslashes, control characters, and invalid UTF-8 as U+FFFD), so
 * a KPI name or note can never break the object.  The runner is written for
 * a daemon: bounded in time, immune to SIGPIPE, and - in the detached mode
 * used by `run` - never waiting on the command at all.  Code that runs in a
 * forked child before exec sticks to async-signal-safe calls: the process
 * may have other threads (libuv's pool) whose locks fork does not release.
 */
#include "alert.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* ---- running the command ---- */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Outcome of one run, reported without stdio (async-signal-safe). */
enum outcome { OK, SPAWN_FAILED, EXIT_STATUS, SIGNALED, TIMED_OUT };

static char *put_uint(char *p, unsigned long v) {
  char tmp[24];
  int n = 0;
  do
    tmp[n++] = (char)('0' + v % 10);
  while ((v /= 10) && n < (int)sizeof tmp);
  while (n)
    *p++ = tmp[--n];
  return p;
}

/* "boussole: alert_command: <reason>" into BUF (>= 128 bytes). */
static size_t describe(enum outcome oc, int code, int timeout_ms, char *buf) {
  char *p = buf;
  const char *head = "alert_command: ";
  memcpy(p, head, strlen(head)), p += strlen(head);
  const char *what = "";
  switch (oc) {
  case OK:
    what = "ok";
    break;
  case SPAWN_FAILED:
    what = "cannot start /bin/sh";
    break;
  case EXIT_STATUS:
    what = "exited with status ";
    break;
  case SIGNALED:
    what = "killed by signal ";
    break;
  case TIMED_OUT:
    what = "timed out after ";
    break;
  }
  memcpy(p, what, strlen(what)), p += strlen(what);
  if (oc == EXIT_STATUS || oc == SIGNALED)
    p = put_uint(p, (unsigned long)code);
  if (oc == TIMED_OUT) {
    p = put_uint(p, (unsigned long)timeout_ms);
    const char *tail = " ms, killed";
    memcpy(p, tail, strlen(tail)), p += strlen(tail);
  }
  *p = '\0';
  return (size_t)(p - buf);
}

/* Starts the command with SOCK as stdin; the child gets its own process
 * group so a timeout can kill everything it started.  -1 on failure. */
static pid_t spawn(const char *command, int sock) {
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    if (dup2(sock, STDIN_FILENO) < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
      _exit(126);
    execl("/bin/sh", "sh", "-c", command, (char *)NULL);
    _exit(127);
  }
  if (pid > 0)
    setpgid(pid, pid); /* also here: no race with kill(-pid) below */
  return pid;
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

/* Starts COMMAND, feeds it JSON and waits for it at most TIMEOUT_MS. */
static enum outcome deliver(const char *command, const char *json, size_t len,
                            int timeout_ms, int *code) {
  int sv[2];
  *code = 0;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return SPAWN_FAILED;
  pid_t pid = spawn(command, sv[1]);
  close(sv[1]);
  if (pid < 0) {
    close(sv[0]);
    return SPAWN_FAILED;
  }
  /* The object is far smaller than a socket buffer: this does not block on
   * a command that never reads. */
  struct timeval tv = {.tv_sec = timeout_ms / 1000,
                       .tv_usec = (timeout_ms % 1000) * 1000};
  setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  send_all(sv[0], json, len);
  shutdown(sv[0], SHUT_WR);
  close(sv[0]);

  int64_t deadline = now_ms() + timeout_ms;
  int status;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid)
      break;
    if (r < 0 && errno != EINTR)
      return SPAWN_FAILED;
    if (now_ms() >= deadline) {
      kill(-pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
      return TIMED_OUT;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  if (WIFEXITED(status)) {
    *code = WEXITSTATUS(status);
    return *code == 0 ? OK : EXIT_STATUS;
  }
  *code = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return SIGNALED;
}

int bsl_alert_run(const char *command, const char *json, size_t len,
                  int timeout_ms, bool wait, char *err, size_t errlen) {
  if (!command || !*command) {
    snprintf(err, errlen, "alert_command: not set");
    return -1;
  }
  if (timeout_ms <= 0)
    timeout_ms = 1;
  char msg[256];
  if (wait) {
    int code;
    enum outcome oc = deliver(command, json, len, timeout_ms, &code);
    if (oc == OK)
      return 0;
    describe(oc, code, timeout_ms, msg);
    snprintf(err, errlen, "%s", msg);
    fprintf(stderr, "boussole: %s\n", msg);
    return -1;
  }
  /* Detached: a short-lived child forks the supervisor and exits at once,
   * so the supervisor is adopted by init and never becomes our zombie. */
  pid_t mid = fork();
  if (mid < 0) {
    snprintf(err, errlen, "alert_command: cannot fork: %s", strerror(errno));
    return -1;
  }
  if (mid == 0) {
    pid_t sup = fork();
    if (sup != 0)
      _exit(sup < 0 ? 1 : 0);
    int code;
    enum outcome oc = deliver(command, json, len, timeout_ms, &code);
    if (oc != OK) {
      char line[256] = "boussole: ";
      size_t n = 10 + describe(oc, code, timeout_ms, line + 10);
      line[n++] = '\n';
      ssize_t w = write(STDERR_FILENO, line, n);
      (void)w;
    }
    _exit(oc == OK ? 0 : 1);
  }
  int status;
  while (waitpid(mid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    snprintf(err, errlen, "alert_command: cannot fork a supervisor");
    return -1;
  }
  return 0;
}
