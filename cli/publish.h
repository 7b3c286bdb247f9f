/*
 * Writing a page users publish (`report --html`, `diagnose --html`): into a
 * temporary file beside PATH, then renamed over it, so that a web server
 * serving PATH never serves half a page; the file is readable like any
 * other (0666 less the umask, not mkstemp's 0600).
 */
#ifndef BSL_CLI_PUBLISH_H
#define BSL_CLI_PUBLISH_H

#include <stdio.h>

/*
 * Calls WRITE(OBJ, f) on the temporary file and renames it over PATH.
 * Returns 0, or -1 after one line on stderr, "WHO: --html: PATH: reason"
 * (the temporary file is removed).
 */
int bsl_cli_publish(const char *who, const char *path,
                    int (*write)(const void *obj, FILE *f), const void *obj);

#endif
