/* join.h: online-join's state — open impressions and waiting feedback per input partition, joined in event time. */
#ifndef JOIN_H
#define JOIN_H
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "stats.h"

struct join_opts {
	int64_t window;		/* ms a click may follow its impression */
	int64_t pay_window;	/* ms a pay may follow its impression */
	int64_t max_delay;	/* allowed out-of-orderness, ms */
	int64_t max_ahead;	/* an event further ahead of its partition does not move it (0: no bound) */
	int64_t idle_timeout;	/* wall-clock ms after which a silent partition is idle; 0 never */
	int64_t idle_close;	/* wall-clock ms of silence of every partition that closes every window; 0 never */
	int early;		/* emit a sample once its labels are final, not at window close */
	size_t max_open;	/* buffered impressions (and, apart, waiting feedback events) */
};

/*
 * Where the join's records go. sample() receives one serialised sample (no
 * newline), its key (user_id), the impression's event time, and the input
 * position it derives from (partition, oldest contributing offset, -1 when
 * unknown). late() receives one correction record and its key. Both may be
 * NULL; buffers are valid only during the call.
 */
struct join_out {
	void (*sample)(void *arg, const char *key, size_t keylen, const char *buf, size_t len,
	    int64_t ts, int32_t partition, int64_t offset);
	void (*late)(void *arg, const char *key, size_t keylen, const char *buf, size_t len);
	void *arg;
};

struct join;

/* A join with its counters in st (may be NULL). Never NULL. */
struct join *join_new(const struct join_opts *o, const struct join_out *out, struct stats *st);

/*
 * Takes one event (read by jev_parse() or jev_from_json(); borrowed) of
 * partition (-1 for files and pipes) at offset (-1 when not Kafka): joins
 * it, moves that partition's watermark, and closes the windows it passes.
 * Returns 0, or -1 when the event is refused (an impression that conflicts
 * with the open one of its request_id): it is counted, changes nothing,
 * and join_why() says why, for the caller to dead-letter it.
 */
int join_event(struct join *j, const struct jev *ev, int32_t partition, int64_t offset);

/* Why join_event() last refused an event; valid until the next call. */
const char *join_why(const struct join *j);

/*
 * Runs the timers without an event: partitions idle for --idle-timeout close
 * their windows by the watermark of the others. Cheap to call often.
 */
void join_tick(struct join *j);

/*
 * Called while the input has nothing to give (a Kafka poll that came back
 * empty): once no partition has had an event for --idle-close, every open
 * window closes (its samples written) and the waiting clicks and pays become
 * late, the watermark staying where it is. Cheap to call often.
 */
void join_quiet(struct join *j);

/*
 * The watermark over every partition (min over the non-idle ones), for
 * decisions that concern all of them (closing archive hours); WATERMARK_NONE
 * before any event.
 */
int64_t join_watermark(struct join *j);

/* End of input: closes every window (emitting its samples) and reports waiting feedback as late. */
void join_finish(struct join *j);

/* Forgets a partition (revoked in a rebalance): its open state is dropped without output. */
void join_drop_partition(struct join *j, int32_t partition);

/* The oldest input offset of partition still contributing to open state; -1 when none. */
int64_t join_oldest_offset(struct join *j, int32_t partition);

/* Open impressions, waiting feedback events. */
size_t join_open(const struct join *j);
size_t join_waiting(const struct join *j);
/* Late feedback events so far (sent to out->late or only counted). */
uint64_t join_late(const struct join *j);

/* NULL is a no-op. Open state is dropped without output; the stats given to join_new() are not touched. */
void join_free(struct join *j);

#endif
