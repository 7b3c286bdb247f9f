/*
 * Commands of the boussole CLI that live in their own files.  Each takes
 * argv from the command name on (argv[0] is "kpi", ...) and returns the
 * process exit status (0 ok, 1 a flagged KPI, 2 an error).
 */
#ifndef BSL_COMMANDS_H
#define BSL_COMMANDS_H

int bsl_cmd_kpi(int argc, char **argv);
int bsl_cmd_adjust(int argc, char **argv);
int bsl_cmd_report(int argc, char **argv);

#endif
