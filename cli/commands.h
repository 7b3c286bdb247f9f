/*
 * The commands of the boussole CLI, one bsl_cli_cmd each (options.h) in its
 * cmd_*.c, and the exit statuses they return.  main.c dispatches argv to a
 * command, parses its options and turns a usage mistake into
 * BSL_EXIT_ERROR; a command's body returns one of these, nothing else.
 */
#ifndef BSL_COMMANDS_H
#define BSL_COMMANDS_H

#include "options.h"

#define BSL_EXIT_OK 0
#define BSL_EXIT_FLAGGED 1 /* `kpi`: at least one KPI is flagged */
#define BSL_EXIT_ERROR 2   /* usage, config, input or storage error */

extern const bsl_cli_cmd bsl_cmd_ingest;   /* cmd_ingest.c */
extern const bsl_cli_cmd bsl_cmd_run;      /* cmd_run.c */
extern const bsl_cli_cmd bsl_cmd_kpi;      /* cmd_kpi.c */
extern const bsl_cli_cmd bsl_cmd_adjust;   /* cmd_kpi.c */
extern const bsl_cli_cmd bsl_cmd_report;   /* cmd_report.c */
extern const bsl_cli_cmd bsl_cmd_diagnose; /* cmd_diagnose.c */
extern const bsl_cli_cmd bsl_cmd_check;    /* cmd_check.c */

#endif
