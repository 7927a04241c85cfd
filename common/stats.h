/* stats.h: counters of a running tool, written as JSON lines (--stats) and as a Prometheus textfile (--metrics). */
#ifndef STATS_H
#define STATS_H
#include <stdint.h>

struct stats;

/*
 * Opens the stats sinks: path is a file, "-" for stderr, or NULL for none;
 * metrics is a Prometheus textfile path (rewritten atomically) or NULL.
 * interval is in seconds. Never NULL.
 */
struct stats *stats_new(const char *tool, const char *path, const char *metrics, double interval);

/*
 * A null sink: counters and gauges count into private slots and are never
 * written anywhere, for a module whose caller configured no stats. Free it
 * with stats_free(). Never NULL.
 */
struct stats *stats_null(void);

/*
 * A named counter (created at 0 on first use); the pointer stays valid until
 * stats_free(). Increment it directly. Names are snake_case; "in", "out" and
 * "rejected" exist from the start.
 */
uint64_t *stats_counter(struct stats *st, const char *name);
/* A named gauge (a value that goes up and down, e.g. open windows, lag). */
int64_t *stats_gauge(struct stats *st, const char *name);
/* A named real-valued gauge (e.g. a loss), NaN until set: written as null in JSON, NaN in Prometheus. */
double *stats_real(struct stats *st, const char *name);

/* Writes a report whenever the interval has passed since the last one, and the metrics textfile at the first call too. Cheap to call often. */
void stats_tick(struct stats *st);
/* Writes a report now (used at exit). */
void stats_report(struct stats *st);
/* NULL is a no-op. */
void stats_free(struct stats *st);

#endif
