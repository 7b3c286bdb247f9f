/*
 * Commands of the boussole CLI that live in their own files.  Each takes
 * argv from the command name on (argv[0] is "kpi", ...) and returns the
 * process exit status (0 ok, 1 a flagged KPI, 2 an error).
 */
#ifndef BSL_COMMANDS_H
#define BSL_COMMANDS_H

/* Prints MSG on stderr, each of its lines prefixed "WHO: " (a config load
 * reports every error of the file, one per line).  In main.c. */
void bsl_cli_error(const char *who, const char *msg);

/* Room for every error of a configuration file. */
#define BSL_CLI_ERR_MAX 8192

int bsl_cmd_kpi(int argc, char **argv);
int bsl_cmd_adjust(int argc, char **argv);
int bsl_cmd_report(int argc, char **argv);

#endif
