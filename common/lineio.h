/* lineio.h: newline-delimited records from and to any endpoint — stdio, files (.gz), directories, globs, Kafka. */
#ifndef LINEIO_H
#define LINEIO_H
#include <stddef.h>
#include <stdint.h>

#include "kafka.h"
#include "line.h"

/*
 * An endpoint spec is "-" (stdin/stdout), "kafka:TOPIC", or a path. An input
 * path may also be a directory (every regular file under it whose name does
 * not start with '.' or '_', in sorted order) or a glob pattern. Input files
 * are decompressed when their bytes start with the gzip magic; output files
 * are gzip-compressed when their name ends in ".gz".
 */

/*
 * The default --max-line of each stage reads what the stage before it writes
 * under its own default (see pageturn(7), LINE LENGTHS): log-collect takes raw
 * lines of LINE_MAX_DEFAULT and may write events twice as long (numbers
 * reprinted, ids quoted, fields added); online-join takes LINE_MAX_EVENTS;
 * samples hold one item and stay far below LINE_MAX_DEFAULT, which
 * experience-collect keeps; a transition holds two pages, each up to an
 * event's size, and q-train takes LINE_MAX_TRANSITIONS.
 */
#define LINE_MAX_EVENTS (4 * 1024 * 1024)
#define LINE_MAX_TRANSITIONS (16 * 1024 * 1024)

/*
 * Opens the inputs, read one after another (Kafka topics last, as one
 * consumer-group subscription). An input that cannot be opened is reported
 * when reached and skipped; line_reader_failed() then says so. Never NULL.
 */
struct line_reader *line_reader_open(char *const *specs, size_t nspecs,
    const struct kafka_opts *kopts, size_t max_line);

/*
 * Next record. Returns 1 with *line filled; 0 at the end of every input;
 * LINE_IDLE when a Kafka input had nothing for a moment (call again: the
 * caller may run its timers); -1 when interrupted by a signal (EINTR) or a
 * fatal Kafka error.
 */
#define LINE_IDLE 2
int line_reader_next(struct line_reader *r, struct line *line);

/*
 * Calls fn(arg) each time the reader is about to wait for a pipe or terminal
 * that has no data yet — the moment to flush outputs, so that a pipeline
 * downstream is not kept waiting on buffered records.
 */
void line_reader_on_wait(struct line_reader *r, void (*fn)(void *), void *arg);

/* keep 1: a blank line of a file is a record of length 0 (by default it is skipped). */
void line_reader_keep_blank(struct line_reader *r, int keep);

/* Marks a Kafka position committable (no-op for files). */
void line_reader_store(struct line_reader *r, const char *topic, int32_t partition, int64_t next_offset);
/* Marks a Kafka position committable with commit metadata (see kafka_source_store_meta). */
void line_reader_store_meta(struct line_reader *r, const char *topic, int32_t partition, int64_t next_offset,
    const char *meta, size_t metalen);
/* Where an assigned Kafka partition started, with its commit metadata (see kafka_source_start); NULL when unknown. */
const char *line_reader_start(struct line_reader *r, const char *topic, int32_t partition, int64_t *offset,
    size_t *metalen);
/* Commits stored Kafka positions; 0 on success or when there is nothing to do. */
int line_reader_commit(struct line_reader *r);
/* Consumer lag summed over partitions, -1 when not Kafka or unknown. */
int64_t line_reader_lag(struct line_reader *r);
/*
 * Registers fn for the Kafka source's rebalances (see kafka.h). The source
 * opens only when the reader reaches it; fn is attached at that moment,
 * before the group is first polled, so no assignment is missed.
 */
void line_reader_on_rebalance(struct line_reader *r, kafka_rebalance_fn *fn, void *arg);
/* The Kafka source, or NULL when no input is Kafka or it is not open yet. */
struct kafka_source *line_reader_kafka(struct line_reader *r);
/* Nonzero when an input could not be opened or read. */
int line_reader_failed(const struct line_reader *r);
/*
 * How far the reader is through its inputs, in bytes as stored (compressed,
 * for .gz): 1 with *done and *total when every input is a regular file; 0
 * when the size cannot be known (standard input, a pipe, Kafka).
 */
int line_reader_size(struct line_reader *r, uint64_t *done, uint64_t *total);
/* Frees the reader; commits nothing. NULL is a no-op. */
void line_reader_close(struct line_reader *r);

/*
 * Output. Returns NULL after a diagnostic when the endpoint cannot be opened.
 * Writers to files and stdio buffer; Kafka writers produce keyed records.
 */
struct line_writer *line_writer_open(const char *spec, const struct kafka_opts *kopts);

/* Writes one record (buf without its newline; the writer adds it). 0 on success, -1 on a write error (reported once). */
int line_writer_put(struct line_writer *w, const char *key, size_t keylen, const char *buf, size_t len);
/* Pushes buffered data out (files: fflush/gzflush; Kafka: waits for every delivery). 0 or -1. */
int line_writer_flush(struct line_writer *w);
/* Reopens a file endpoint (after logrotate moved it); no-op for stdio and Kafka. 0 or -1. */
int line_writer_reopen(struct line_writer *w);
/* Records written since open. */
uint64_t line_writer_count(const struct line_writer *w);
/* The spec the writer was opened with. */
const char *line_writer_spec(const struct line_writer *w);
/* Flushes, closes and checks (stdout too). Returns 0 when every write and delivery succeeded. NULL is a no-op returning 0. */
int line_writer_close(struct line_writer *w);

#endif
