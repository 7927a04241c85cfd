/* kafka.c: Kafka endpoints over librdkafka — a consumer-group source with explicit commits and a keyed, idempotent sink. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "diag.h"
#include "kafka.h"
#include "line.h"
#include "sig.h"
#include "xalloc.h"

struct kafka_source {
	rd_kafka_t *rk;
	size_t max_line;
	int start_metadata;		/* fetch the committed offsets and metadata of an assignment */
	kafka_rebalance_fn *on_rebalance;
	void *rebalance_arg;
	char *buf;			/* the current line, NUL-terminated */
	size_t bufcap;
	char *key;
	size_t keycap;
	char *topic;			/* the current line's topic */
	char *source;			/* "kafka:TOPIC/PARTITION/OFFSET" */
	size_t sourcecap;
	rd_kafka_resp_err_t last_err;	/* the last consumer error reported, to report each once in a row */
	rd_kafka_topic_partition_list_t *committed;	/* of the assignment, for the lag; NULL when to fetch */
	rd_kafka_topic_partition_list_t *pending;	/* positions stored with metadata, not yet committed */
	rd_kafka_topic_partition_list_t *tostore;	/* positions to store in librdkafka, one a partition */
	int last_store;			/* tostore's element stored to last */
	rd_kafka_topic_partition_list_t *start;	/* where assigned partitions started, with their metadata */
	uint64_t commits_deferred;	/* commits the group refused while it moved, or timed out */
};

struct kafka_sink {
	rd_kafka_t *rk;			/* its own, or the transactional producer's */
	rd_kafka_topic_t *rkt;
	struct kafka_txn *txn;		/* NULL: not transactional */
	char *topic;
	uint64_t delivered;
	uint64_t failures;
	int fatal;
};

struct kafka_txn {
	rd_kafka_t *rk;
	char *id;
	uint64_t produced;		/* records put in the open transaction */
	rd_kafka_topic_partition_list_t *sent;	/* the positions last committed, or NULL */
	uint64_t commits, aborts;
	int fatal;
};

int
kafka_opts_add(struct kafka_opts *opts, char *keyval)
{
	const char *eq = strchr(keyval, '=');
	rd_kafka_conf_t *conf;
	char errstr[512], *key;
	rd_kafka_conf_res_t res;

	if (eq == NULL || eq == keyval) {
		diag_warn("-X %s: expected key=value", keyval);
		return -1;
	}
	/* Tried on a configuration of its own, so that a misspelt property is a usage error. */
	conf = rd_kafka_conf_new();
	key = xstrndup(keyval, (size_t)(eq - keyval));
	res = rd_kafka_conf_set(conf, key, eq + 1, errstr, sizeof errstr);
	free(key);
	rd_kafka_conf_destroy(conf);
	if (res != RD_KAFKA_CONF_OK) {	/* the key alone: a value may be a secret */
		diag_warn("-X %.*s: %s", (int)(eq - keyval), keyval, errstr);
		return -1;
	}
	opts->conf = xreallocarray(opts->conf, opts->nconf + 1, sizeof *opts->conf);
	opts->conf[opts->nconf++] = keyval;
	return 0;
}

/* librdkafka's own log lines, shown with -v; called from librdkafka's threads (one fprintf each). */
static void
kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)level;
	diag_info(2, "kafka %s: %s: %s", rd_kafka_name(rk), fac, buf);
}

/*
 * Client-level errors (brokers down, authentication, fatal idempotence errors).
 * Transient ones are retried by librdkafka and shown with -v; all brokers down
 * by default; fatal ones always.
 */
static void
kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	char why[256];

	(void)opaque;
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, why, sizeof why);
		diag_warn("kafka: fatal error: %s", why);
	} else if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		diag_info(1, "kafka: %s", reason);
	else
		diag_info(2, "kafka: %s", reason);
}

/* Sets one property; 0, or -1 after a diagnostic. */
static int
kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *val)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, key, val, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
		diag_warn("kafka: %s", errstr);
		return -1;
	}
	return 0;
}

/* Applies the -b and -X options over the defaults already in conf. 0, or -1 after a diagnostic. */
static int
kafka_conf_apply(rd_kafka_conf_t *conf, const struct kafka_opts *opts)
{
	size_t i;

	if (opts == NULL)
		return 0;
	if (opts->brokers && kafka_conf_set(conf, "bootstrap.servers", opts->brokers) != 0)
		return -1;
	for (i = 0; i < opts->nconf; i++) {
		const char *kv = opts->conf[i], *eq = strchr(kv, '=');
		char *key;
		int rc;

		if (eq == NULL || eq == kv) {
			diag_warn("kafka: -X %s: expected key=value", kv);
			return -1;
		}
		key = xstrndup(kv, (size_t)(eq - kv));
		rc = kafka_conf_set(conf, key, eq + 1);
		free(key);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* Refuses a configuration without brokers, which could only time out. 0, or -1 after a diagnostic. */
static int
kafka_conf_check(rd_kafka_conf_t *conf)
{
	size_t n = 0;

	if (rd_kafka_conf_get(conf, "bootstrap.servers", NULL, &n) == RD_KAFKA_CONF_OK && n > 1)
		return 0;
	diag_warn("kafka: no brokers: use -b BROKERS (or -X bootstrap.servers=...)");
	return -1;
}

/* A configuration with pageturn's common settings. */
static rd_kafka_conf_t *
kafka_conf_new(void)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
	rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
	kafka_conf_set(conf, "client.id", diag_progname());
	return conf;
}

/* ---- source ---- */

/* Drops the cached committed offsets (the assignment changed). */
static void
kafka_source_forget_committed(struct kafka_source *src)
{
	if (src->committed)
		rd_kafka_topic_partition_list_destroy(src->committed);
	src->committed = NULL;
}

/* Calls the registered function once per topic of parts (which it sorts). */
static void
kafka_source_notify(struct kafka_source *src, int assigned, rd_kafka_topic_partition_list_t *parts)
{
	int32_t *pids;
	int i, j;

	if (src->on_rebalance == NULL || parts->cnt == 0)
		return;
	rd_kafka_topic_partition_list_sort(parts, NULL, NULL);
	pids = xreallocarray(NULL, (size_t)parts->cnt, sizeof *pids);
	for (i = 0; i < parts->cnt; i = j) {
		for (j = i; j < parts->cnt && strcmp(parts->elems[j].topic, parts->elems[i].topic) == 0; j++)
			pids[j - i] = parts->elems[j].partition;
		src->on_rebalance(src->rebalance_arg, assigned, parts->elems[i].topic, pids, (size_t)(j - i));
	}
	free(pids);
}

/* Makes a copy of the len bytes at meta the metadata of tp, in place of any it had. */
static void
kafka_set_metadata(rd_kafka_topic_partition_t *tp, const void *meta, size_t len)
{
	free(tp->metadata);
	tp->metadata = NULL;
	tp->metadata_size = 0;
	if (len > 0) {
		tp->metadata = xmalloc(len);
		memcpy(tp->metadata, meta, len);
		tp->metadata_size = len;
	}
}

/* Removes the elements of list that are in parts (all of them when parts is NULL). */
static void
kafka_list_remove(rd_kafka_topic_partition_list_t *list, const rd_kafka_topic_partition_list_t *parts)
{
	int i;

	if (list == NULL)
		return;
	if (parts == NULL) {
		while (list->cnt > 0)
			rd_kafka_topic_partition_list_del_by_idx(list, list->cnt - 1);
		return;
	}
	for (i = 0; i < parts->cnt; i++)
		rd_kafka_topic_partition_list_del(list, parts->elems[i].topic, parts->elems[i].partition);
}

/* Forgets the stored positions and start metadata of partitions taken away (NULL: all). */
static void
kafka_source_drop(struct kafka_source *src, const rd_kafka_topic_partition_list_t *parts)
{
	kafka_list_remove(src->pending, parts);
	kafka_list_remove(src->start, parts);
}

/*
 * Before parts are assigned: fetches their committed offsets with their
 * metadata, and starts each partition exactly there, so that the metadata
 * read describes the position the reading starts from. When the fetch
 * fails, the partitions start from their committed offsets as librdkafka
 * finds them, and no metadata is known.
 */
static void
kafka_source_fetch_start(struct kafka_source *src, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_copy(parts);
	rd_kafka_topic_partition_t *tp, *e;
	rd_kafka_resp_err_t err;
	int i;

	if (src->start == NULL)
		src->start = rd_kafka_topic_partition_list_new(parts->cnt);
	kafka_list_remove(src->start, parts);
	if ((err = rd_kafka_committed(rk, c, 10000)) != 0) {
		diag_info(1, "kafka: committed offsets of the assignment: %s", rd_kafka_err2str(err));
		rd_kafka_topic_partition_list_destroy(c);
		return;
	}
	for (i = 0; i < c->cnt; i++) {
		tp = &c->elems[i];
		if (tp->err != 0)
			diag_info(1, "kafka: committed offset of %s/%" PRId32 ": %s", tp->topic, tp->partition,
			    rd_kafka_err2str(tp->err));
		if (tp->err != 0 || tp->offset < 0)
			continue;
		parts->elems[i].offset = tp->offset;
		e = rd_kafka_topic_partition_list_add(src->start, tp->topic, tp->partition);
		e->offset = tp->offset;
		kafka_set_metadata(e, tp->metadata, tp->metadata_size);
	}
	rd_kafka_topic_partition_list_destroy(c);
}

/* Reports a failed (incremental) assign or unassign. */
static void
kafka_assign_error(const char *what, rd_kafka_error_t *error, rd_kafka_resp_err_t err)
{
	if (error) {
		diag_warn("kafka: %s: %s", what, rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	} else if (err)
		diag_warn("kafka: %s: %s", what, rd_kafka_err2str(err));
}

static void kafka_source_store_flush(struct kafka_source *src);

/*
 * The group's rebalances, served from rd_kafka_consumer_poll(): under the
 * eager protocol the whole assignment changes, under the cooperative one only
 * the partitions listed. The caller hears of a revocation while it still owns
 * the partitions (so it can flush and commit), and of an assignment after it.
 */
static void
kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct kafka_source *src = opaque;
	/* NULL when the member is no longer in a group (e.g. while it closes). */
	const char *protocol = rd_kafka_rebalance_protocol(rk);
	int cooperative = protocol != NULL && strcmp(protocol, "COOPERATIVE") == 0;

	kafka_source_forget_committed(src);
	kafka_source_store_flush(src);
	switch (err) {
	case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
		diag_info(2, "kafka: %d partition(s) assigned%s", parts->cnt,
		    cooperative ? " (incremental)" : "");
		if (src->start_metadata)
			kafka_source_fetch_start(src, rk, parts);
		if (cooperative)
			kafka_assign_error("assign", rd_kafka_incremental_assign(rk, parts), 0);
		else
			kafka_assign_error("assign", NULL, rd_kafka_assign(rk, parts));
		kafka_source_notify(src, 1, parts);
		break;
	case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
		diag_info(2, "kafka: %d partition(s) %s", parts->cnt,
		    rd_kafka_assignment_lost(rk) ? "lost" : "revoked");
		kafka_source_notify(src, 0, parts);
		kafka_source_drop(src, parts);
		if (cooperative)
			kafka_assign_error("unassign", rd_kafka_incremental_unassign(rk, parts), 0);
		else
			kafka_assign_error("unassign", NULL, rd_kafka_assign(rk, NULL));
		break;
	default:
		diag_warn("kafka: rebalance: %s", rd_kafka_err2str(err));
		kafka_source_drop(src, NULL);
		kafka_assign_error("unassign", NULL, rd_kafka_assign(rk, NULL));
		break;
	}
}

struct kafka_source *
kafka_source_open(const struct kafka_opts *opts, char *const *topics, size_t ntopics,
    size_t max_line)
{
	rd_kafka_topic_partition_list_t *subs = NULL;
	struct kafka_source *src;
	rd_kafka_conf_t *conf;
	rd_kafka_resp_err_t err;
	char errstr[512], *group = NULL;
	size_t i;

	for (i = 0; i < ntopics; i++)
		if (topics[i][0] == '\0') {
			diag_warn("kafka: an input without a topic name (expected kafka:TOPIC)");
			return NULL;
		}
	src = xcalloc(1, sizeof *src);
	src->max_line = max_line ? max_line : LINE_MAX_DEFAULT;
	src->start_metadata = opts != NULL && opts->start_metadata;
	conf = kafka_conf_new();
	if (opts && opts->group)
		group = xstrdup(opts->group);
	else
		group = xasprintf("pageturn-%s", diag_progname());
	if (kafka_conf_set(conf, "group.id", group) != 0 ||
	    kafka_conf_set(conf, "enable.auto.commit", "false") != 0 ||
	    kafka_conf_set(conf, "enable.auto.offset.store", "false") != 0 ||
	    kafka_conf_set(conf, "auto.offset.reset", "earliest") != 0 ||
	    kafka_conf_apply(conf, opts) != 0 || kafka_conf_check(conf) != 0)
		goto err;
	rd_kafka_conf_set_rebalance_cb(conf, kafka_rebalance_cb);
	rd_kafka_conf_set_opaque(conf, src);
	if ((src->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr)) == NULL) {
		diag_warn("kafka: %s", errstr);
		goto err;
	}
	conf = NULL;
	rd_kafka_poll_set_consumer(src->rk);

	subs = rd_kafka_topic_partition_list_new((int)ntopics);
	for (i = 0; i < ntopics; i++)
		rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
	if ((err = rd_kafka_subscribe(src->rk, subs)) != 0) {
		diag_warn("kafka: subscribe: %s", rd_kafka_err2str(err));
		goto err;
	}
	rd_kafka_topic_partition_list_destroy(subs);
	diag_info(2, "kafka: consumer in group %s", group);
	free(group);
	return src;
err:
	if (conf)
		rd_kafka_conf_destroy(conf);
	if (subs)
		rd_kafka_topic_partition_list_destroy(subs);
	if (src->rk)
		rd_kafka_destroy(src->rk);
	free(group);
	free(src);
	return NULL;
}

/* Grows *buf to hold at least need bytes. */
static void
kafka_reserve(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return;
	*cap = need < 256 ? 256 : need;
	*buf = xrealloc(*buf, *cap);
}

/* Copies a message into the source's buffers and fills line. */
static void
kafka_source_fill(struct kafka_source *src, const rd_kafka_message_t *m, struct line *line)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	size_t len = m->payload ? m->len : 0, keep;
	int n;

	if (len > 0 && ((const char *)m->payload)[len - 1] == '\n')
		len--;
	keep = len > src->max_line ? src->max_line : len;
	kafka_reserve(&src->buf, &src->bufcap, keep + 1);
	if (keep)
		memcpy(src->buf, m->payload, keep);
	src->buf[keep] = '\0';

	if (src->topic == NULL || strcmp(src->topic, topic) != 0) {
		free(src->topic);
		src->topic = xstrdup(topic);
	}
	for (;;) {
		n = snprintf(src->source, src->sourcecap, "kafka:%s/%" PRId32 "/%" PRId64,
		    topic, m->partition, m->offset);
		if (n >= 0 && (size_t)n < src->sourcecap)
			break;
		kafka_reserve(&src->source, &src->sourcecap, (size_t)n + 1);
	}

	memset(line, 0, sizeof *line);
	line->buf = src->buf;
	line->len = keep;
	line->too_long = len > src->max_line;
	line->full_len = len;
	line->source = src->source;
	line->topic = src->topic;
	line->partition = m->partition;
	line->offset = m->offset;
	if (m->key) {
		kafka_reserve(&src->key, &src->keycap, m->key_len + 1);
		memcpy(src->key, m->key, m->key_len);
		src->key[m->key_len] = '\0';
		line->key = src->key;
		line->keylen = m->key_len;
	}
}

int
kafka_source_next(struct kafka_source *src, struct line *line, int timeout_ms)
{
	rd_kafka_message_t *m;
	rd_kafka_resp_err_t err;
	char why[512];

	if ((m = rd_kafka_consumer_poll(src->rk, timeout_ms)) == NULL)
		return 0;
	if ((err = m->err) == 0) {
		kafka_source_fill(src, m, line);
		rd_kafka_message_destroy(m);
		src->last_err = 0;
		return 1;
	}
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(src->rk, why, sizeof why);
		diag_warn("kafka: consumer: %s", why);
		rd_kafka_message_destroy(m);
		return -1;
	}
	if (err != RD_KAFKA_RESP_ERR__PARTITION_EOF && err != src->last_err) {
		/* Transient (an unknown topic, a broker away): librdkafka retries. */
		diag_warn("kafka: consumer: %s", rd_kafka_message_errstr(m));
		src->last_err = err;
	}
	rd_kafka_message_destroy(m);
	return 0;
}

/*
 * Stores the positions kept by kafka_source_store() in librdkafka, where a
 * commit, a revocation and the close find them.
 */
static void
kafka_source_store_flush(struct kafka_source *src)
{
	rd_kafka_topic_partition_list_t *parts = src->tostore;
	rd_kafka_resp_err_t err;
	int i;

	if (parts == NULL)
		return;
	/*
	 * A fresh list each time: librdkafka caches a partition reference in a
	 * list element, so a reused element would point at the old partition,
	 * and a list outliving the handle would keep it from being destroyed.
	 */
	src->tostore = NULL;
	/* A partition revoked meanwhile refuses the store: its new owner reads it again. */
	err = rd_kafka_offsets_store(src->rk, parts);
	for (i = 0; i < parts->cnt; i++)
		if (err != 0 || parts->elems[i].err != 0)
			diag_info(2, "kafka: store %s/%" PRId32 "@%" PRId64 ": %s", parts->elems[i].topic,
			    parts->elems[i].partition, parts->elems[i].offset,
			    rd_kafka_err2str(err ? err : parts->elems[i].err));
	rd_kafka_topic_partition_list_destroy(parts);
}

/*
 * Keeps the position of a partition until the next commit, revocation or
 * close: storing it in librdkafka record by record cost a list and a lookup
 * under its lock each time.
 */
void
kafka_source_store(struct kafka_source *src, const char *topic, int32_t partition,
    int64_t next_offset)
{
	rd_kafka_topic_partition_list_t *parts;
	rd_kafka_topic_partition_t *tp;

	if (src->tostore == NULL) {
		src->tostore = rd_kafka_topic_partition_list_new(16);
		src->last_store = -1;
	}
	parts = src->tostore;
	if (src->last_store >= 0 && src->last_store < parts->cnt &&
	    parts->elems[src->last_store].partition == partition &&
	    strcmp(parts->elems[src->last_store].topic, topic) == 0)
		tp = &parts->elems[src->last_store];
	else {
		if ((tp = rd_kafka_topic_partition_list_find(parts, topic, partition)) == NULL)
			tp = rd_kafka_topic_partition_list_add(parts, topic, partition);
		src->last_store = (int)(tp - parts->elems);
	}
	tp->offset = next_offset;
}

/* 1 when a commit refused with err may succeed if tried again (nothing is lost meanwhile). */
static int
kafka_commit_retriable(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
	case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
	case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
	case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
	case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
	case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
	case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
	case RD_KAFKA_RESP_ERR__TRANSPORT:
	case RD_KAFKA_RESP_ERR__TIMED_OUT:
	case RD_KAFKA_RESP_ERR__WAIT_COORD:
	case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
	case RD_KAFKA_RESP_ERR__IN_PROGRESS:
		return 1;
	default:
		return 0;
	}
}

/* Retries of a final commit refused with a retriable error, and the pause between them. */
#define FINAL_TRIES	10
#define FINAL_PAUSE_MS	300

void
kafka_source_store_meta(struct kafka_source *src, const char *topic, int32_t partition,
    int64_t next_offset, const char *meta, size_t metalen)
{
	rd_kafka_topic_partition_t *tp;

	if (src->pending == NULL)
		src->pending = rd_kafka_topic_partition_list_new(4);
	if ((tp = rd_kafka_topic_partition_list_find(src->pending, topic, partition)) == NULL)
		tp = rd_kafka_topic_partition_list_add(src->pending, topic, partition);
	tp->offset = next_offset;
	kafka_set_metadata(tp, meta, metalen);
}

const char *
kafka_source_started(struct kafka_source *src, const char *topic, int32_t partition,
    int64_t *offset, size_t *metalen)
{
	rd_kafka_topic_partition_t *tp;

	if (src->start == NULL ||
	    (tp = rd_kafka_topic_partition_list_find(src->start, topic, partition)) == NULL)
		return NULL;
	*offset = tp->offset;
	*metalen = tp->metadata_size;
	return tp->metadata_size > 0 ? tp->metadata : "";
}

/* Commits list (NULL: the positions stored in librdkafka), as kafka_source_commit() says. */
static int
kafka_commit_list(struct kafka_source *src, rd_kafka_topic_partition_list_t *list)
{
	rd_kafka_resp_err_t err;
	int tries = 0;

	for (;;) {
		err = rd_kafka_commit(src->rk, list, 0);
		switch (err) {
		case RD_KAFKA_RESP_ERR_NO_ERROR:
		case RD_KAFKA_RESP_ERR__NO_OFFSET:
			return 0;
		case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
		case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
		case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
		case RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST:
			/* The group is moving: the positions stay stored for the next commit, or go to the next owner. */
			diag_info(1, "kafka: commit deferred: %s", rd_kafka_err2str(err));
			src->commits_deferred++;
			return 1;
		default:
			break;
		}
		if (!kafka_commit_retriable(err)) {
			diag_warn("kafka: commit: %s", rd_kafka_err2str(err));
			return -1;
		}
		/* While running, the next commit carries the positions: nothing is lost. */
		if (!sig_stop) {
			diag_info(1, "kafka: commit deferred: %s", rd_kafka_err2str(err));
			src->commits_deferred++;
			return 1;
		}
		/* The last commit before leaving: try a while, then say it failed. */
		if (++tries == FINAL_TRIES) {
			diag_warn("kafka: final commit: %s after %d tries; the next owner reads again "
			    "from the last commit", rd_kafka_err2str(err), tries);
			return -1;
		}
		diag_info(1, "kafka: final commit: %s, trying again", rd_kafka_err2str(err));
		nanosleep(&(struct timespec){ 0, FINAL_PAUSE_MS * 1000000L }, NULL);
	}
}

int
kafka_source_commit(struct kafka_source *src)
{
	int rv = 0, r;

	kafka_source_store_flush(src);
	if (src->pending != NULL && src->pending->cnt > 0) {
		r = kafka_commit_list(src, src->pending);
		if (r == 0)
			kafka_list_remove(src->pending, NULL);
		if (r < 0)
			rv = -1;
	}
	if (kafka_commit_list(src, NULL) < 0)
		rv = -1;
	return rv;
}

/*
 * Where a partition's reading starts when nothing was consumed from it yet:
 * its committed offset, else (auto.offset.reset=earliest) the low watermark.
 * -1 when unknown.
 */
static int64_t
kafka_source_start(struct kafka_source *src, const rd_kafka_topic_partition_t *tp, int64_t lo)
{
	rd_kafka_topic_partition_t *c;

	if (src->committed == NULL)
		return -1;
	c = rd_kafka_topic_partition_list_find(src->committed, tp->topic, tp->partition);
	if (c == NULL || c->err)
		return -1;
	if (c->offset >= 0)
		return c->offset;
	return lo >= 0 ? lo : -1;
}

uint64_t
kafka_source_commits_deferred(const struct kafka_source *src)
{
	return src->commits_deferred;
}

int64_t
kafka_source_lag(struct kafka_source *src)
{
	rd_kafka_topic_partition_list_t *parts = NULL;
	int64_t lag = 0, lo, hi, pos;
	int i, known = 0;

	if (rd_kafka_assignment(src->rk, &parts) != 0)
		return -1;
	if (parts->cnt == 0) {
		rd_kafka_topic_partition_list_destroy(parts);
		return 0;
	}
	if (src->committed == NULL) {
		/*
		 * Once per assignment: one round trip to the group coordinator. When
		 * it fails (a coordinator away), an empty list: no retry before the
		 * next assignment, so the main loop is not held up again and again.
		 */
		src->committed = rd_kafka_topic_partition_list_copy(parts);
		if (rd_kafka_committed(src->rk, src->committed, 500) != 0) {
			rd_kafka_topic_partition_list_destroy(src->committed);
			src->committed = rd_kafka_topic_partition_list_new(0);
		}
	}
	rd_kafka_position(src->rk, parts);
	for (i = 0; i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &parts->elems[i];

		if (rd_kafka_get_watermark_offsets(src->rk, tp->topic, tp->partition, &lo, &hi) != 0 ||
		    hi < 0)
			continue;
		pos = tp->offset >= 0 ? tp->offset : kafka_source_start(src, tp, lo);
		if (pos < 0)
			continue;
		lag += hi > pos ? hi - pos : 0;
		known++;
	}
	rd_kafka_topic_partition_list_destroy(parts);
	return known ? lag : -1;
}

void
kafka_source_on_rebalance(struct kafka_source *src, kafka_rebalance_fn *fn, void *arg)
{
	src->on_rebalance = fn;
	src->rebalance_arg = arg;
}

void
kafka_source_close(struct kafka_source *src)
{
	rd_kafka_resp_err_t err;

	if (src == NULL)
		return;
	/* The caller's state may be gone already: the final revocation is not reported. */
	src->on_rebalance = NULL;
	kafka_source_forget_committed(src);
	kafka_source_store_flush(src);
	if ((err = rd_kafka_consumer_close(src->rk)) != 0)
		diag_info(1, "kafka: leaving the group: %s", rd_kafka_err2str(err));
	if (src->pending)
		rd_kafka_topic_partition_list_destroy(src->pending);
	if (src->start)
		rd_kafka_topic_partition_list_destroy(src->start);
	rd_kafka_destroy(src->rk);
	free(src->buf);
	free(src->key);
	free(src->topic);
	free(src->source);
	free(src);
}

/* ---- sink ---- */

/* Counts a failed record; the first failures are told, the rest only counted. */
static void
kafka_sink_failed(struct kafka_sink *snk, const char *what, rd_kafka_resp_err_t err)
{
	if (snk->failures < 5)
		diag_warn("kafka: %s %s failed: %s", what, snk->topic, rd_kafka_err2str(err));
	else if (snk->failures == 5)
		diag_warn("kafka: more records to %s failed", snk->topic);
	snk->failures++;
}

/*
 * Counts each delivery report (of the sink given as the record's opaque). In
 * a transaction a failure is not counted: it makes the commit abort, and the
 * records are produced again; records purged by an abort are not told.
 */
static void
kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka_sink *snk = m->_private;

	(void)rk;
	(void)opaque;
	if (m->err == 0)
		snk->delivered++;
	else if (snk->txn == NULL)
		kafka_sink_failed(snk, "delivery to", m->err);
	else if (m->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE && m->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
		diag_info(2, "kafka: delivery to %s failed, the transaction will abort: %s", snk->topic,
		    rd_kafka_err2str(m->err));
}

struct kafka_sink *
kafka_sink_open(const struct kafka_opts *opts, const char *topic)
{
	struct kafka_sink *snk;
	rd_kafka_conf_t *conf;
	char errstr[512];

	if (topic[0] == '\0') {
		diag_warn("kafka: an output without a topic name (expected kafka:TOPIC)");
		return NULL;
	}
	snk = xcalloc(1, sizeof *snk);
	snk->topic = xstrdup(topic);
	if (opts && opts->txn) {
		snk->txn = opts->txn;
		snk->rk = snk->txn->rk;
		if ((snk->rkt = rd_kafka_topic_new(snk->rk, topic, NULL)) == NULL) {
			diag_warn("kafka: %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
			free(snk->topic);
			free(snk);
			return NULL;
		}
		return snk;
	}
	conf = kafka_conf_new();
	if (kafka_conf_set(conf, "enable.idempotence", "true") != 0 ||
	    kafka_conf_apply(conf, opts) != 0 || kafka_conf_check(conf) != 0)
		goto err;
	rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr_cb);
	rd_kafka_conf_set_opaque(conf, snk);
	if ((snk->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr)) == NULL) {
		diag_warn("kafka: %s", errstr);
		goto err;
	}
	conf = NULL;
	if ((snk->rkt = rd_kafka_topic_new(snk->rk, topic, NULL)) == NULL) {
		diag_warn("kafka: %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
		goto err;
	}
	return snk;
err:
	if (conf)
		rd_kafka_conf_destroy(conf);
	if (snk->rk)
		rd_kafka_destroy(snk->rk);
	free(snk->topic);
	free(snk);
	return NULL;
}

/* Notes a fatal producer error once; returns -1. */
static int
kafka_sink_fatal(struct kafka_sink *snk)
{
	char why[512];

	if (!snk->fatal) {
		rd_kafka_fatal_error(snk->rk, why, sizeof why);
		diag_warn("kafka: producer to %s: %s", snk->topic, why);
		snk->fatal = 1;
	}
	return -1;
}

int
kafka_sink_put(struct kafka_sink *snk, const char *key, size_t keylen, const char *buf, size_t len)
{
	return kafka_sink_put_at(snk, RD_KAFKA_PARTITION_UA, key, keylen, buf, len);
}

int
kafka_sink_put_at(struct kafka_sink *snk, int32_t partition, const char *key, size_t keylen,
    const char *buf, size_t len)
{
	rd_kafka_resp_err_t err;

	if (snk->fatal)
		return -1;
	for (;;) {
		if (rd_kafka_produce(snk->rkt, partition, RD_KAFKA_MSG_F_COPY,
		    (void *)buf, buf ? len : 0, key, key ? keylen : 0, snk) == 0)
			break;
		err = rd_kafka_last_error();
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			rd_kafka_poll(snk->rk, 100);
			continue;
		}
		if (err == RD_KAFKA_RESP_ERR__FATAL)
			return kafka_sink_fatal(snk);
		if (snk->txn && err == RD_KAFKA_RESP_ERR__STATE) {
			/* The transaction failed and must abort: the record is produced again after it. */
			snk->txn->produced++;
			return 0;
		}
		kafka_sink_failed(snk, "producing to", err);
		return -1;
	}
	if (snk->txn)
		snk->txn->produced++;
	rd_kafka_poll(snk->rk, 0);
	return 0;
}

void
kafka_sink_poll(struct kafka_sink *snk)
{
	rd_kafka_poll(snk->rk, 0);
}

int
kafka_sink_flush(struct kafka_sink *snk)
{
	char why[512];

	while (rd_kafka_outq_len(snk->rk) > 0) {
		rd_kafka_flush(snk->rk, 1000);
		if (rd_kafka_fatal_error(snk->rk, why, sizeof why) != 0) {
			kafka_sink_fatal(snk);
			/* Fatal: what is still queued can only fail; serve its reports. */
			rd_kafka_purge(snk->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
			rd_kafka_poll(snk->rk, 0);
			break;
		}
		if (rd_kafka_outq_len(snk->rk) > 0)
			diag_info(2, "kafka: %d record(s) to %s still in flight", rd_kafka_outq_len(snk->rk),
			    snk->topic);
	}
	rd_kafka_poll(snk->rk, 0);
	return snk->failures || snk->fatal ? -1 : 0;
}

uint64_t
kafka_sink_failures(const struct kafka_sink *snk)
{
	return snk->failures;
}

int
kafka_sink_close(struct kafka_sink *snk)
{
	int rc;

	if (snk == NULL)
		return 0;
	rc = kafka_sink_flush(snk);
	diag_info(2, "kafka: %" PRIu64 " record(s) delivered to %s, %" PRIu64 " failed",
	    snk->delivered, snk->topic, snk->failures);
	rd_kafka_topic_destroy(snk->rkt);
	if (snk->txn == NULL)
		rd_kafka_destroy(snk->rk);
	free(snk->topic);
	free(snk);
	return rc;
}

/* ---- transactions ---- */

/* Tries of a retriable transactional call, the time each may take, and the pause between them. */
#define TXN_TRIES	10
#define TXN_TIMEOUT_MS	10000
#define TXN_PAUSE_MS	300

/*
 * Reports a failed transactional call and says what follows: 1 when it may
 * be tried again (and tries are left), 0 when the transaction must be
 * aborted, -1 when fatal (noted in txn). Destroys error.
 */
static int
kafka_txn_failed(struct kafka_txn *txn, const char *what, rd_kafka_error_t *error, int try)
{
	int rv;

	if (rd_kafka_error_is_fatal(error)) {
		diag_warn("kafka: transaction %s: %s: fatal: %s", txn->id, what, rd_kafka_error_string(error));
		txn->fatal = 1;
		rv = -1;
	} else if (rd_kafka_error_txn_requires_abort(error)) {
		diag_info(1, "kafka: transaction %s: %s: %s; aborting", txn->id, what,
		    rd_kafka_error_string(error));
		rv = 0;
	} else if (rd_kafka_error_is_retriable(error) && try < TXN_TRIES) {
		diag_info(1, "kafka: transaction %s: %s: %s; trying again", txn->id, what,
		    rd_kafka_error_string(error));
		nanosleep(&(struct timespec){ 0, TXN_PAUSE_MS * 1000000L }, NULL);
		rv = 1;
	} else {
		diag_warn("kafka: transaction %s: %s: %s", txn->id, what, rd_kafka_error_string(error));
		txn->fatal = 1;
		rv = -1;
	}
	rd_kafka_error_destroy(error);
	return rv;
}

/* Begins a transaction. 0, or -1 (fatal). */
static int
kafka_txn_begin(struct kafka_txn *txn)
{
	rd_kafka_error_t *error;

	if ((error = rd_kafka_begin_transaction(txn->rk)) == NULL)
		return 0;
	diag_warn("kafka: transaction %s: begin: %s", txn->id, rd_kafka_error_string(error));
	rd_kafka_error_destroy(error);
	txn->fatal = 1;
	return -1;
}

struct kafka_txn *
kafka_txn_open(const struct kafka_opts *opts, const char *transactional_id)
{
	struct kafka_txn *txn = xcalloc(1, sizeof *txn);
	rd_kafka_conf_t *conf = kafka_conf_new();
	rd_kafka_error_t *error;
	char errstr[512];
	int try = 0, r;

	txn->id = xstrdup(transactional_id);
	if (kafka_conf_set(conf, "transactional.id", transactional_id) != 0 ||
	    kafka_conf_apply(conf, opts) != 0 || kafka_conf_check(conf) != 0)
		goto err;
	rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr_cb);
	if ((txn->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr)) == NULL) {
		diag_warn("kafka: %s", errstr);
		goto err;
	}
	conf = NULL;
	/* Fences an older producer with this id and aborts what it left open. */
	while ((error = rd_kafka_init_transactions(txn->rk, TXN_TIMEOUT_MS)) != NULL)
		if ((r = kafka_txn_failed(txn, "init", error, ++try)) != 1)
			goto err;
	if (kafka_txn_begin(txn) != 0)
		goto err;
	diag_info(2, "kafka: transactional producer %s", txn->id);
	return txn;
err:
	if (conf)
		rd_kafka_conf_destroy(conf);
	if (txn->rk)
		rd_kafka_destroy(txn->rk);
	free(txn->id);
	free(txn);
	return NULL;
}

/* The positions of src's assignment (the next offset to read of each partition read from), or NULL for none. */
static rd_kafka_topic_partition_list_t *
kafka_txn_positions(struct kafka_source *src)
{
	rd_kafka_topic_partition_list_t *parts = NULL, *pos;
	int i;

	if (src == NULL || rd_kafka_assignment(src->rk, &parts) != 0)
		return NULL;
	rd_kafka_position(src->rk, parts);
	pos = rd_kafka_topic_partition_list_new(parts->cnt);
	for (i = 0; i < parts->cnt; i++)
		if (parts->elems[i].offset >= 0)
			rd_kafka_topic_partition_list_add(pos, parts->elems[i].topic,
			    parts->elems[i].partition)->offset = parts->elems[i].offset;
	rd_kafka_topic_partition_list_destroy(parts);
	if (pos->cnt == 0) {
		rd_kafka_topic_partition_list_destroy(pos);
		return NULL;
	}
	return pos;
}

/* Sets src's positions back to its committed offsets (the start, for a partition without one). */
static void
kafka_txn_rewind(struct kafka_source *src)
{
	rd_kafka_topic_partition_list_t *parts = NULL;
	rd_kafka_error_t *error;
	rd_kafka_resp_err_t err;
	int i;

	if (src == NULL || rd_kafka_assignment(src->rk, &parts) != 0)
		return;
	if (parts->cnt > 0 && (err = rd_kafka_committed(src->rk, parts, TXN_TIMEOUT_MS)) != 0) {
		/* Then the positions are unknown: leaving the group hands them to a member that can read them. */
		diag_warn("kafka: rewinding after an abort: committed offsets: %s; leaving",
		    rd_kafka_err2str(err));
		sig_stop = 1;
	} else if (parts->cnt > 0) {
		for (i = 0; i < parts->cnt; i++)
			if (parts->elems[i].offset < 0)
				parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
		if ((error = rd_kafka_seek_partitions(src->rk, parts, TXN_TIMEOUT_MS)) != NULL) {
			diag_warn("kafka: rewinding after an abort: %s; leaving", rd_kafka_error_string(error));
			rd_kafka_error_destroy(error);
			sig_stop = 1;
		}
	}
	rd_kafka_topic_partition_list_destroy(parts);
}

/* 1 when positions a and b (either may be NULL) are the same. */
static int
kafka_txn_same(const rd_kafka_topic_partition_list_t *a, const rd_kafka_topic_partition_list_t *b)
{
	int i;

	if (a == NULL || b == NULL || a->cnt != b->cnt)
		return a == b;
	for (i = 0; i < a->cnt; i++)
		if (a->elems[i].partition != b->elems[i].partition || a->elems[i].offset != b->elems[i].offset ||
		    strcmp(a->elems[i].topic, b->elems[i].topic) != 0)
			return 0;
	return 1;
}

int
kafka_txn_commit(struct kafka_txn *txn, struct kafka_source *src)
{
	rd_kafka_topic_partition_list_t *pos;
	rd_kafka_consumer_group_metadata_t *cgmd;
	rd_kafka_error_t *error;
	int try = 0, r = 0;

	if (txn->fatal)
		return -1;
	pos = kafka_txn_positions(src);
	if (pos != NULL)
		rd_kafka_topic_partition_list_sort(pos, NULL, NULL);
	if (txn->produced == 0 && kafka_txn_same(pos, txn->sent)) {
		/* Nothing read or produced since the last commit. */
		if (pos != NULL)
			rd_kafka_topic_partition_list_destroy(pos);
		return 0;
	}
	if (pos != NULL) {
		cgmd = rd_kafka_consumer_group_metadata(src->rk);
		while ((error = rd_kafka_send_offsets_to_transaction(txn->rk, pos, cgmd, TXN_TIMEOUT_MS)) != NULL)
			if ((r = kafka_txn_failed(txn, "sending offsets", error, ++try)) != 1)
				break;
		rd_kafka_consumer_group_metadata_destroy(cgmd);
		if (error != NULL)
			goto failed;
	}
	try = 0;
	while ((error = rd_kafka_commit_transaction(txn->rk, TXN_TIMEOUT_MS)) != NULL)
		if ((r = kafka_txn_failed(txn, "commit", error, ++try)) != 1)
			goto failed;
	txn->commits++;
	txn->produced = 0;
	if (txn->sent != NULL)
		rd_kafka_topic_partition_list_destroy(txn->sent);
	txn->sent = pos;
	return kafka_txn_begin(txn);
failed:
	if (pos != NULL)
		rd_kafka_topic_partition_list_destroy(pos);
	if (r < 0)
		return -1;
	try = 0;
	while ((error = rd_kafka_abort_transaction(txn->rk, TXN_TIMEOUT_MS)) != NULL)
		if (kafka_txn_failed(txn, "abort", error, ++try) != 1)
			return -1;
	txn->aborts++;
	txn->produced = 0;
	if (txn->sent != NULL)
		rd_kafka_topic_partition_list_destroy(txn->sent);
	txn->sent = NULL;
	kafka_txn_rewind(src);
	return kafka_txn_begin(txn) == 0 ? 1 : -1;
}

uint64_t
kafka_txn_commits(const struct kafka_txn *txn)
{
	return txn->commits;
}

uint64_t
kafka_txn_aborts(const struct kafka_txn *txn)
{
	return txn->aborts;
}

void
kafka_txn_close(struct kafka_txn *txn)
{
	rd_kafka_error_t *error;

	if (txn == NULL)
		return;
	if (!txn->fatal && (error = rd_kafka_abort_transaction(txn->rk, TXN_TIMEOUT_MS)) != NULL) {
		diag_info(1, "kafka: transaction %s: abort at close: %s", txn->id, rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	}
	diag_info(2, "kafka: transaction %s: %" PRIu64 " committed, %" PRIu64 " aborted", txn->id,
	    txn->commits, txn->aborts);
	if (txn->sent != NULL)
		rd_kafka_topic_partition_list_destroy(txn->sent);
	rd_kafka_destroy(txn->rk);
	free(txn->id);
	free(txn);
}

/* ---- a partition reader outside any group ---- */

struct kafka_reader {
	rd_kafka_t *rk;
	char *topic;
	int32_t partition;
	_Atomic int up;			/* 0 after "all brokers down", until an answer */
	_Atomic uint64_t downs;
	int64_t last_check_ms;
	rd_kafka_message_t *cur;	/* the record handed out last */
};

/* Notes when every broker is down (from librdkafka's thread), besides the usual reports. */
static void
kafka_reader_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka_reader *r = opaque;

	kafka_error_cb(rk, err, reason, NULL);
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && atomic_exchange(&r->up, 0))
		atomic_fetch_add(&r->downs, 1);
}

static int64_t
kafka_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct kafka_reader *
kafka_reader_open(const struct kafka_opts *opts, const char *topic, int32_t partition, int64_t start)
{
	struct kafka_reader *r;
	rd_kafka_topic_partition_list_t *parts;
	rd_kafka_conf_t *conf;
	rd_kafka_resp_err_t err;
	char errstr[512], *gid;
	int rc;

	if (topic[0] == '\0') {
		diag_warn("kafka: an input without a topic name (expected kafka:TOPIC)");
		return NULL;
	}
	r = xcalloc(1, sizeof *r);
	r->topic = xstrdup(topic);
	r->partition = partition;
	atomic_store(&r->up, 1);
	conf = kafka_conf_new();
	rd_kafka_conf_set_error_cb(conf, kafka_reader_error_cb);
	rd_kafka_conf_set_opaque(conf, r);
	/* assign() wants a group id; no group is joined and nothing is committed under it */
	gid = xasprintf("pageturn-reader-%s-%ld", diag_progname(), (long)getpid());
	rc = kafka_conf_set(conf, "group.id", gid);
	free(gid);
	if (rc != 0 || kafka_conf_set(conf, "enable.auto.commit", "false") != 0 ||
	    kafka_conf_set(conf, "enable.auto.offset.store", "false") != 0 ||
	    kafka_conf_set(conf, "enable.partition.eof", "true") != 0 ||
	    kafka_conf_set(conf, "auto.offset.reset", "earliest") != 0 ||
	    kafka_conf_apply(conf, opts) != 0 || kafka_conf_check(conf) != 0)
		goto err;
	if ((r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr)) == NULL) {
		diag_warn("kafka: %s", errstr);
		goto err;
	}
	conf = NULL;
	rd_kafka_poll_set_consumer(r->rk);	/* the error callback is served by kafka_reader_next() */
	parts = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(parts, topic, partition)->offset =
	    start == KAFKA_READER_BEGINNING ? RD_KAFKA_OFFSET_BEGINNING : start;
	err = rd_kafka_assign(r->rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	if (err) {
		diag_warn("kafka: %s: %s", topic, rd_kafka_err2str(err));
		goto err;
	}
	return r;
err:
	if (conf)
		rd_kafka_conf_destroy(conf);
	kafka_reader_close(r);
	return NULL;
}

int
kafka_reader_next(struct kafka_reader *r, struct kafka_record *rec, int timeout_ms)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_message_t *m;
	int64_t now;

	if (r->cur) {
		rd_kafka_message_destroy(r->cur);
		r->cur = NULL;
	}
	m = rd_kafka_consumer_poll(r->rk, timeout_ms);
	if (m == NULL) {
		/* while down, ask a broker now and then: an answer means they are back */
		now = kafka_mono_ms();
		if (!atomic_load(&r->up) && now - r->last_check_ms >= 1000) {
			r->last_check_ms = now;
			if (rd_kafka_metadata(r->rk, 0, NULL, &md, 500) == RD_KAFKA_RESP_ERR_NO_ERROR) {
				rd_kafka_metadata_destroy(md);
				atomic_store(&r->up, 1);
			}
		}
		return 0;
	}
	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		rd_kafka_message_destroy(m);
		atomic_store(&r->up, 1);
		return 2;
	}
	if (m->err) {
		diag_info(1, "kafka: %s/%d: %s", r->topic, (int)r->partition, rd_kafka_message_errstr(m));
		rd_kafka_message_destroy(m);
		return -1;
	}
	atomic_store(&r->up, 1);
	r->cur = m;
	rec->key = m->key;
	rec->keylen = m->key ? m->key_len : 0;
	rec->value = m->payload;
	rec->len = m->payload ? m->len : 0;
	rec->offset = m->offset;
	return 1;
}

int
kafka_reader_up(struct kafka_reader *r, uint64_t *downs)
{
	if (downs)
		*downs = atomic_load(&r->downs);
	return atomic_load(&r->up);
}

void
kafka_reader_close(struct kafka_reader *r)
{
	if (r == NULL)
		return;
	if (r->cur)
		rd_kafka_message_destroy(r->cur);
	if (r->rk) {
		rd_kafka_consumer_close(r->rk);
		rd_kafka_destroy(r->rk);
	}
	free(r->topic);
	free(r);
}
