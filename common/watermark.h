/* watermark.h: event-time progress over input partitions — max ts seen minus the allowed delay, min over partitions. */
#ifndef WATERMARK_H
#define WATERMARK_H
#include <stdint.h>

#define WATERMARK_NONE INT64_MIN

struct watermark;

/*
 * max_delay_ms: allowed out-of-orderness. idle_timeout_ms: a partition that
 * has seen no record for that long (wall clock) stops holding the watermark
 * back; 0 disables. Never NULL.
 */
struct watermark *watermark_new(int64_t max_delay_ms, int64_t idle_timeout_ms);

/*
 * Outliers ahead: an event of a partition more than max_ahead_ms past the
 * largest event time that partition has shown (a device whose clock runs
 * fast) does not move its progress; only a run of confirm such events in a row
 * (the whole stream moved on, after a gap) does, to the earliest of them.
 * 0 (the default of watermark_new) turns the bound off. One event far ahead
 * therefore never makes the rest of the stream late.
 */
void watermark_set_max_ahead(struct watermark *wm, int64_t max_ahead_ms, unsigned confirm);

#define WATERMARK_AHEAD 1
/* The run of outliers that the stream tools take as the stream moving on. */
#define WATERMARK_CONFIRM 32

/*
 * Records an event of partition (-1 for files and pipes) with event time
 * ts_ms. Returns 0, or WATERMARK_AHEAD when the event is an outlier ahead
 * (see watermark_set_max_ahead) held from the partition's progress: the
 * caller counts it, and may refuse or keep it.
 */
int watermark_observe(struct watermark *wm, int32_t partition, int64_t ts_ms);

/* Processing-time ms since the last event of any partition (monotonic clock); -1 before any. */
int64_t watermark_quiet_ms(const struct watermark *wm);

/*
 * The current watermark: min over non-idle partitions of (max ts - delay);
 * WATERMARK_NONE before any event. Never decreases.
 */
int64_t watermark_get(struct watermark *wm);

/*
 * The progress of one partition: its largest event time minus the delay
 * (WATERMARK_NONE before it delivers); once it is idle, at least
 * watermark_get(). Not monotonic by itself.
 */
int64_t watermark_get_part(struct watermark *wm, int32_t partition);

/* Forgets a partition (revoked in a rebalance). */
void watermark_forget(struct watermark *wm, int32_t partition);

/* NULL is a no-op. */
void watermark_free(struct watermark *wm);

#endif
