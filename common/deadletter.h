/* deadletter.h: rejected lines, with their reason and source, to a dead-letter endpoint or to stderr. */
#ifndef DEADLETTER_H
#define DEADLETTER_H
#include <stdint.h>

struct line;
struct kafka_opts;
struct stats;

/*
 * spec is an output endpoint or NULL. Without one, reasons go to stderr,
 * rate-limited (a few a second, then a count of those suppressed). Every
 * rejection increments the stats counter "rejected". Returns NULL after a
 * diagnostic when spec cannot be opened.
 */
struct deadletter *deadletter_open(const char *spec, const struct kafka_opts *kopts, struct stats *st);

/*
 * Rejects a line: writes {"reason","source","raw","tool","ts"} (raw: the line
 * as a JSON string; invalid UTF-8 is replaced by U+FFFD and the exact bytes are
 * kept in "raw_base64"; a too-long line keeps a prefix, with "raw_len").
 * Returns 0, or -1 when the dead-letter output failed (the caller's exit status should say so).
 */
int deadletter_put(struct deadletter *d, const struct line *ln, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Rejects a record that has no line of its own (e.g. a record built from state); raw may be NULL. */
int deadletter_put_raw(struct deadletter *d, const char *source, const char *raw, size_t rawlen,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

uint64_t deadletter_count(const struct deadletter *d);
int deadletter_flush(struct deadletter *d);
int deadletter_reopen(struct deadletter *d);
/* Returns 0 when every write succeeded. NULL is a no-op returning 0. */
int deadletter_close(struct deadletter *d);

#endif
