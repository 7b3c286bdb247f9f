/*
 * Alert delivery: the JSON object describing a KPI state change, and running
 * the configured alert_command with that object on its standard input.
 *
 * Every delivery runs under a supervisor process forked for it, which runs
 * the command under /bin/sh -c in its own process group and:
 *  - captures its standard output and error and logs them on boussole's
 *    standard error, one line per line of output, each prefixed
 *    "boussole: LABEL: alert_command output: ", control characters, invalid
 *    UTF-8 and bidirectional overrides escaped (\x1b, \u202e), at most
 *    BSL_ALERT_OUTPUT_CAP bytes (the rest is counted and said in one line);
 *    so a command cannot flood the log nor forge lines in it;
 *  - gives it TIMEOUT_MS, then kills its process group;
 *  - when the command has exited (or was killed), kills whatever it left
 *    running: its process group, and on Linux every descendant, those that
 *    left the group with setsid included (the supervisor is a child
 *    subreaper, PR_SET_CHILD_SUBREAPER, so orphans are re-parented to it
 *    and found in /proc).  A command that really must hand work off has to
 *    give it to a service outside its process tree (systemd-run, at, a
 *    queue);
 *  - never raises SIGPIPE in boussole (its input is a socket written with
 *    MSG_NOSIGNAL).
 * Nothing is printed about the outcome: the caller logs and records it.
 */
#ifndef BSL_ALERT_H
#define BSL_ALERT_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes of a command's output that are logged; the rest is counted. */
#define BSL_ALERT_OUTPUT_CAP (64 * 1024)

/* What alert_command receives; doubles that are NAN are written as null,
 * strings that are NULL as null. */
typedef struct bsl_alert_event {
  const char *event; /* "raised" or "resolved" */
  const char *kpi;
  const char *state;
  const char *previous_state;
  double value;
  double target;
  double slope;
  double p_value;
  const char *since;
  const char *message;
  long long alert_id;
  const char *at; /* ISO 8601 UTC time of the evaluation */
} bsl_alert_event;

/*
 * Writes EV as one JSON object (one line, no trailing newline) into OUT.
 * Returns the length, or -1 when CAP is too small.
 */
int bsl_alert_json(const bsl_alert_event *ev, char *out, size_t cap);

/*
 * Runs COMMAND with JSON (LEN bytes) on stdin and waits for it (at most
 * TIMEOUT_MS, plus the time to clean up after it).  LABEL ("alert 12
 * raised") prefixes the logged output.  Returns 0 when the command exited
 * with status 0, -1 otherwise with the reason in err ("exited with status
 * 1: <its last line of output>", "timed out after 10000 ms, killed", ...).
 */
int bsl_alert_run(const char *command, const char *json, size_t len,
                  int timeout_ms, const char *label, char *err, size_t errlen);

/*
 * The same delivery, handed to a detached supervisor: returns at once with
 * *HANDLE, a descriptor the caller owns until bsl_alert_poll() reports the
 * end (it closes it then).  Returns 0, or -1 with err set when the process
 * cannot be created.
 */
int bsl_alert_start(const char *command, const char *json, size_t len,
                    int timeout_ms, const char *label, int *handle, char *err,
                    size_t errlen);

/*
 * Without blocking: *DONE false while the delivery started with HANDLE
 * runs (returns 0).  Once it is over *DONE is true, HANDLE is closed, and
 * the return is 0 when the command succeeded, -1 with the reason in err.
 */
int bsl_alert_poll(int handle, bool *done, char *err, size_t errlen);

#endif
