/* archive.h: online-join's offline archive — hourly event-time partitions of gzip NDJSON, completed atomically. */
#ifndef ARCHIVE_H
#define ARCHIVE_H
#include <stddef.h>
#include <stdint.h>

struct archive;

/*
 * Writes under dir: dir/dt=YYYY-MM-DD/hour=HH/part-<host>-<pid>-<start>-<n>.ndjson.gz,
 * by the UTC hour of each record's event time. A part is written as
 * ".part-….ndjson.gz.tmp" in the same directory (readers skip names starting
 * with '.') and renamed when complete: when the watermark passes its hour's
 * end plus hold_ms (unless the part was opened after that: late samples),
 * when it holds max_bytes of uncompressed data, when it is roll_ms old (wall
 * clock; 0 never), or at archive_close(). level is the gzip level. Returns NULL after a diagnostic when dir cannot be created.
 */
struct archive *archive_open(const char *dir, int64_t hold_ms, uint64_t max_bytes, int64_t roll_ms,
    int level);

/*
 * Appends one record (buf without its newline) of event time ts, derived from
 * input offset of partition (-1: not Kafka). 0, or -1 when it could not be
 * written: the first failure of the archive is said, the later ones counted
 * and said by archive_close().
 */
int archive_put(struct archive *a, int64_t ts, const char *buf, size_t len, int32_t partition,
    int64_t offset);

/* Completes the parts that are done as of watermark wm (see archive_open). 0, or -1 after a diagnostic. */
int archive_advance(struct archive *a, int64_t wm);

/* The oldest input offset of partition in a part not yet complete; -1 when none. */
int64_t archive_oldest_offset(const struct archive *a, int32_t partition);

/* Parts completed so far. */
uint64_t archive_parts(const struct archive *a);

/* Completes every part and frees a. Returns 0 when every write succeeded. NULL is a no-op returning 0. */
int archive_close(struct archive *a);

#endif
