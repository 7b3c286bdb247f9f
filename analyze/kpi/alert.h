/*
 * Alert delivery: the JSON object describing a KPI state change, and running
 * the configured alert_command with that object on its standard input.
 *
 * The command runs under /bin/sh -c in its own process group, with its
 * standard output sent to boussole's standard error (so it never mixes with
 * `kpi --json`).  A command that fails, cannot be started or outlives its
 * timeout (then its whole process group is killed) is reported on stderr and
 * never stops or crashes boussole; writing to a command that does not read
 * its input cannot raise SIGPIPE (the input is a socket written with
 * MSG_NOSIGNAL).
 */
#ifndef BSL_ALERT_H
#define BSL_ALERT_H

#include <stdbool.h>
#include <stddef.h>

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
 * Runs COMMAND with JSON (LEN bytes) on stdin.  With WAIT the call returns
 * when the command has exited or was killed after TIMEOUT_MS: 0 when it
 * exited with status 0, -1 otherwise with the reason in err (also printed on
 * stderr).  Without WAIT the command is handed to a detached supervisor that
 * applies the same timeout and reports failures on stderr; the call returns
 * at once (0, or -1 when the process cannot be created).
 */
int bsl_alert_run(const char *command, const char *json, size_t len,
                  int timeout_ms, bool wait, char *err, size_t errlen);

#endif
