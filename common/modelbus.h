/* modelbus.h: model versions over a Kafka topic — a publisher that sends a version in checksummed chunks and a completion record, a follower that assembles versions into a cache directory with the checks of a local store. */
#ifndef MODELBUS_H
#define MODELBUS_H
#include <stddef.h>
#include <stdint.h>

struct kafka_opts;

/*
 * The topic (see pageturn-model(5)): partition 0 only, compacted. A version
 * V is, in this order,
 *
 *   key "V/FILE/N"  (V 10 digits, N 6): chunk N of FILE (qnet.bin, emb.bin,
 *                   warmup.ndjson), a JSON header line ("version", "file",
 *                   "chunk", "chunks", "offset", "size", "crc32",
 *                   "file_size", "file_crc32"), a newline, then the bytes;
 *   key "V/version": the completion record, JSON: "version", "files" (each
 *                   "name", "size", "crc32", "chunks") and "manifest".
 *
 * After publishing V the publisher writes tombstones (records without a
 * value) for every key of the versions older than the newest
 * MODELBUS_KEEP complete ones, incomplete ones included, so that a
 * compacted topic holds a bounded number of versions.
 */
#define MODELBUS_CHUNK	(512u << 10)	/* file bytes a chunk carries at most: below a broker's 1 MB message limit */
#define MODELBUS_KEEP	3		/* complete versions kept on the topic, and in a follower's cache */

/*
 * A publisher to topic: an idempotent producer (message.timeout.ms 30 s
 * and compression.codec lz4 unless -X says otherwise). It first reads the keys the topic holds (for
 * at most 10 s without a record: a topic that cannot be read is only
 * warned about), so that it can remove older versions, other writers'
 * too. NULL after a diagnostic on a refused configuration.
 */
struct modelbus_pub *modelbus_pub_open(const struct kafka_opts *opts, const char *topic);
/*
 * Sends version of the local store modeldir (its files as written there),
 * waits until every record is delivered, then removes the older versions
 * from the topic. 0, or -1 with the reason in err (the version is then not
 * complete on the topic: no completion record was delivered before a
 * failure, or the record's delivery failed).
 */
int modelbus_publish(struct modelbus_pub *p, const char *modeldir, uint32_t version, char *err, size_t errlen);
/* Flushes and frees. 0, or -1 when a delivery failed. NULL is a no-op returning 0. */
int modelbus_pub_close(struct modelbus_pub *p);

/* Told of each version refused (reason one line): incomplete, a checksum wrong, or refused by the loader's checks. */
typedef void modelbus_refuse_fn(void *arg, uint32_t version, const char *reason);

/*
 * A follower of topic assembling versions into cachedir (created when
 * missing; MODELBUS_KEEP versions kept): each chunk's checksum is checked
 * as it arrives; on a completion record every file's size and checksum,
 * then the version is loaded and checked as model_load_dir() does
 * (checksums, dimensions, finite parameters) in a temporary directory
 * renamed into place, as model_publish() does. Starting, it reads the topic
 * from its beginning and installs only the newest complete version found
 * (an older one when that is refused); then each version as it completes.
 * refuse (may be NULL: a diagnostic instead) is called from the thread
 * calling modelbus_follow_step(). NULL after a diagnostic.
 */
struct modelbus_follower *modelbus_follow_open(const struct kafka_opts *opts, const char *topic,
    const char *cachedir, modelbus_refuse_fn *refuse, void *arg);
/* Reads for up to timeout_ms and acts on what arrived. Never fails: trouble is counted. */
void modelbus_follow_step(struct modelbus_follower *f, int timeout_ms);

struct modelbus_stats {
	uint64_t records;	/* records read */
	uint64_t installed;	/* versions placed in the cache */
	uint64_t refused;	/* versions refused: incomplete, corrupt, failing the checks */
	uint64_t bad_records;	/* records that are no chunk nor completion record of this format */
	uint64_t downs;		/* times every broker was found down */
	uint32_t newest;	/* the newest version in the cache (0: none) */
	int up;			/* 0 while the brokers do not answer */
	int caught_up;		/* the start-up read reached the end of the topic */
};
/* A snapshot of the counts. Thread-safe. */
void modelbus_follow_stats(struct modelbus_follower *f, struct modelbus_stats *st);
/* NULL is a no-op. */
void modelbus_follow_close(struct modelbus_follower *f);

#endif
