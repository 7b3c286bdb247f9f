/*
 * The syslog listener of a source with `listen = HOST:PORT`: nginx's
 * `access_log syslog:server=...` sends each access-log line as one UDP
 * datagram behind an RFC 3164 header.  The listener strips the header and
 * hands the line to a callback on the event loop's thread.  UDP may drop
 * datagrams under load; nothing here can tell.
 *
 * A listener owns its UDP handle (embedded) and its datagram buffer; it is
 * freed from the handle's close callback, after bsl_syslog_close().
 */
#ifndef BSL_SYSLOG_H
#define BSL_SYSLOG_H

#include <stddef.h>
#include <uv.h>

#include "config.h"
#include "reader.h"

typedef struct bsl_syslog bsl_syslog;

/* One line from a datagram, header stripped (offsets 0: a stream has
 * none).  LINE is valid during the call only. */
typedef void (*bsl_syslog_line_cb)(void *ctx, const bsl_line *line);

/*
 * Listens on SRC->listen ("HOST:PORT", "[V6]:PORT") on LOOP; LINE_CB gets
 * every line, with CTX.  Returns 0, or a negative code with a message
 * naming the source in err (not an address, the port is taken, ...).
 */
int bsl_syslog_start(bsl_syslog **out, uv_loop_t *loop,
                     const bsl_source_conf *src, bsl_syslog_line_cb line_cb,
                     void *ctx, char *err, size_t errlen);

/*
 * Stops listening; no callback comes after it.  S is freed once the loop
 * has run its handle's close callback.  NULL is a no-op.
 */
void bsl_syslog_close(bsl_syslog *s);

/*
 * The port S listens on (the one the system chose for port 0), or a
 * negative code.
 */
int bsl_syslog_port(const bsl_syslog *s);

/*
 * Strips an RFC 3164 header ("<PRI>Mmm dd hh:mm:ss host tag: ") and the
 * line end from the LEN bytes at P: returns where the access-log line
 * starts, *LEN its length.  Whatever part of the header is missing is not
 * looked for; a datagram without one comes back whole.
 */
const char *bsl_syslog_strip(const char *p, size_t *len);

#endif
