/* kafka.h: Kafka endpoints over librdkafka — a consumer-group source and a keyed, idempotent sink. */
#ifndef KAFKA_H
#define KAFKA_H
#include <stddef.h>
#include <stdint.h>

struct line;

/* The kcat conventions: -b brokers, -G group, -X key=value passed to librdkafka. */
struct kafka_opts {
	const char *brokers;	/* -b; NULL: -X bootstrap.servers must name them (else open fails) */
	const char *group;	/* -G; NULL: "pageturn-<program name>" */
	char **conf;		/* -X key=value strings, applied in order (not owned) */
	size_t nconf;
	struct kafka_txn *txn;	/* when set, sinks produce inside its transactions (not owned) */
	int start_metadata;	/* a source starts each assigned partition at its committed offset and keeps its metadata (kafka_source_started) */
};

/*
 * Appends one -X key=value (the string is not copied; it must outlive opts).
 * Returns 0, or -1 after a diagnostic when it is not key=value or librdkafka
 * refuses the property or its value (a usage error); opts is then unchanged.
 */
int kafka_opts_add(struct kafka_opts *opts, char *keyval);

/*
 * A member of a consumer group reading the given topics. Offsets are never
 * committed automatically: a position becomes committable only through
 * kafka_source_store(), and is committed by kafka_source_commit(). Lines
 * longer than max_line are delivered truncated to max_line with too_long set.
 * Returns NULL after a diagnostic when the configuration is refused.
 */
struct kafka_source *kafka_source_open(const struct kafka_opts *opts,
    char *const *topics, size_t ntopics, size_t max_line);

/*
 * Waits up to timeout_ms for the next message. Returns 1 with *line filled
 * (valid until the next call), 0 when nothing arrived in time, -1 on a fatal
 * consumer error (after a diagnostic). Partition EOF and transient errors are
 * not reported as lines.
 */
int kafka_source_next(struct kafka_source *src, struct line *line, int timeout_ms);

/* Makes next_offset the position to commit for partition of topic. */
void kafka_source_store(struct kafka_source *src, const char *topic,
    int32_t partition, int64_t next_offset);

/*
 * Makes next_offset the position to commit for partition of topic, with
 * metalen bytes of meta as the commit's metadata (which a broker refuses
 * beyond offset.metadata.max.bytes, 4096 by default). Such positions are
 * committed as one explicit list, and forgotten when the partition is
 * revoked.
 */
void kafka_source_store_meta(struct kafka_source *src, const char *topic,
    int32_t partition, int64_t next_offset, const char *meta, size_t metalen);
/*
 * Where an assigned partition started reading: its committed offset, with
 * the metadata committed with it (metalen bytes, not NUL-terminated; "" with
 * 0 when none). NULL when the offset was not known (nothing committed, the
 * fetch failed, or opts->start_metadata was not set). Valid until the next
 * rebalance.
 */
const char *kafka_source_started(struct kafka_source *src, const char *topic,
    int32_t partition, int64_t *offset, size_t *metalen);
/*
 * Commits the stored positions synchronously. 0 on success (or nothing to
 * commit), -1 on failure. A commit refused because the group is rebalancing,
 * or by a retriable error (request timed out, coordinator unavailable, moved
 * or loading, transport errors), is not a failure: the positions stay stored
 * and go out with the next commit while the partitions are still ours;
 * otherwise their next owner reads on from the last commit, so those records
 * are delivered again (at-least-once). Once sig_stop is set (the last commit
 * before leaving) a retriable refusal is tried again for about 3 s, then
 * reported with -1.
 */
int kafka_source_commit(struct kafka_source *src);

/* How many commits were deferred (returned 1 inside kafka_source_commit) since the open. */
uint64_t kafka_source_commits_deferred(const struct kafka_source *src);

/* Sum over assigned partitions of (high watermark - position); -1 when unknown. */
int64_t kafka_source_lag(struct kafka_source *src);

/*
 * Called on every rebalance, before a revocation takes effect and after an
 * assignment: assigned is 1 for an assignment, 0 for a revocation.
 */
typedef void kafka_rebalance_fn(void *arg, int assigned, const char *topic,
    const int32_t *partitions, size_t n);
void kafka_source_on_rebalance(struct kafka_source *src, kafka_rebalance_fn *fn, void *arg);

/* Leaves the group without committing anything more. NULL is a no-op. */
void kafka_source_close(struct kafka_source *src);

/*
 * A transactional producer for consume-transform-produce (exactly-once):
 * every sink opened with opts->txn set produces through it, and
 * kafka_txn_commit() commits what they produced together with the
 * consumer's positions. A transaction is always open between calls.
 * transactional_id must be unique to the member (a second producer with
 * the same id fences the first). NULL after a diagnostic when the
 * configuration is refused or the transactions cannot be initialised.
 */
struct kafka_txn *kafka_txn_open(const struct kafka_opts *opts, const char *transactional_id);

/*
 * Commits the open transaction: the records produced since the last commit
 * and src's positions (every record consumed so far counts as processed;
 * src may be NULL), then begins the next. Returns 0 when committed (or when
 * there was nothing to commit); 1 when an abortable error made it abort the
 * transaction instead, after rewinding src to its committed positions, so
 * that the records since are read and produced again; -1 on a fatal error
 * (after a diagnostic; e.g. fenced by a newer producer with the same id):
 * nothing more can be produced and the caller should exit 1.
 */
int kafka_txn_commit(struct kafka_txn *txn, struct kafka_source *src);

/* Transactions committed and aborted since open. */
uint64_t kafka_txn_commits(const struct kafka_txn *txn);
uint64_t kafka_txn_aborts(const struct kafka_txn *txn);

/* Aborts an open transaction (what was not committed is dropped) and destroys. Close its sinks first. NULL is a no-op. */
void kafka_txn_close(struct kafka_txn *txn);

/*
 * An idempotent producer to one topic (or, with opts->txn, the transactional one). Records are keyed by the caller
 * (pageturn keys by user_id); buf is copied. A full queue is handled by
 * polling and retrying. Returns NULL after a diagnostic on a refused config.
 */
struct kafka_sink *kafka_sink_open(const struct kafka_opts *opts, const char *topic);

/* Queues one record. 0 on success, -1 on a fatal error (after a diagnostic). */
int kafka_sink_put(struct kafka_sink *snk, const char *key, size_t keylen,
    const char *buf, size_t len);

/* Serves delivery reports without blocking. */
void kafka_sink_poll(struct kafka_sink *snk);

/*
 * Waits until every queued record is delivered or failed. Returns 0 when
 * every delivery since the sink was opened succeeded, -1 otherwise. In a
 * transaction a failed delivery aborts the transaction instead (see
 * kafka_txn_commit); only a fatal producer error returns -1.
 */
int kafka_sink_flush(struct kafka_sink *snk);

/* Number of failed deliveries since open. */
uint64_t kafka_sink_failures(const struct kafka_sink *snk);

/* Flushes and destroys. Returns 0 when every delivery succeeded, else -1. NULL is a no-op returning 0. */
int kafka_sink_close(struct kafka_sink *snk);

/*
 * A reader of one partition of one topic from a given offset, outside any
 * consumer group: nothing is committed, and every reader sees every record
 * (a replica following a topic of model versions). start is an offset or
 * KAFKA_READER_BEGINNING. NULL after a diagnostic on a refused
 * configuration.
 */
#define KAFKA_READER_BEGINNING (-2)
struct kafka_reader;
struct kafka_record {
	const char *key;		/* NULL when the record has none */
	size_t keylen;
	const char *value;		/* NULL for a tombstone (a record without a value) */
	size_t len;
	int64_t offset;
};
struct kafka_reader *kafka_reader_open(const struct kafka_opts *opts, const char *topic, int32_t partition,
    int64_t start);
/*
 * Waits up to timeout_ms for the next record. Returns 1 with *rec filled
 * (valid until the next call), 2 when the reader has reached the end of the
 * partition (once each time it catches up), 0 when nothing arrived in time,
 * -1 on an error (after a diagnostic at -v: the reader goes on by itself).
 */
int kafka_reader_next(struct kafka_reader *r, struct kafka_record *rec, int timeout_ms);
/*
 * 1 while the brokers answer, 0 after every broker was found down (until
 * a record, the end of the partition or a metadata answer comes again);
 * *downs (may be NULL) counts the times they went down.
 */
int kafka_reader_up(struct kafka_reader *r, uint64_t *downs);
/* NULL is a no-op. */
void kafka_reader_close(struct kafka_reader *r);

/*
 * Queues one record to the given partition of the sink's topic (a sink
 * outside a transaction); buf NULL queues a tombstone, which a compacted
 * topic keeps until it has removed the key's older records. 0, or -1 (after
 * a diagnostic) on a fatal error.
 */
int kafka_sink_put_at(struct kafka_sink *snk, int32_t partition, const char *key, size_t keylen,
    const char *buf, size_t len);

#endif
