/* test_kafka.c: unit tests of the Kafka source and sink against an in-process mock cluster. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "check.h"
#include "diag.h"
#include "kafka.h"
#include "lineio.h"
#include "sig.h"
#include "xalloc.h"

#define NREC 200

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* What the rebalance callback saw; with src set, it commits on a revocation as a tool's checkpoint would. */
struct seen {
	int assigned, revoked;
	char topic[64];
	struct kafka_source *src;
};

static void
on_rebalance(void *arg, int assigned, const char *topic, const int32_t *partitions, size_t n)
{
	struct seen *s = arg;
	size_t i;

	for (i = 1; i < n; i++)
		CHECK(partitions[i - 1] < partitions[i], "partitions sorted");
	if (assigned)
		s->assigned += (int)n;
	else
		s->revoked += (int)n;
	snprintf(s->topic, sizeof s->topic, "%s", topic);
	if (!assigned && s->src)
		CHECK(kafka_source_commit(s->src) == 0, "commit on revocation");
}

/* Reads until want records arrived or timeout seconds passed; stores and counts each record's payload. */
static int
drain(struct kafka_source *src, int *counts, int want, double timeout, int store)
{
	double end = now() + timeout;
	struct line ln;
	int got = 0, n;

	while (got < want && now() < end) {
		if (kafka_source_next(src, &ln, 100) != 1)
			continue;
		if (sscanf(ln.buf, "{\"n\":%d}", &n) == 1 && n >= 0 && n < NREC)
			counts[n]++;
		if (store)
			kafka_source_store(src, ln.topic, ln.partition, ln.offset + 1);
		got++;
	}
	return got;
}

/* Waits up to timeout seconds for anything more; returns how many records came. */
static int
quiet(struct kafka_source *src, double timeout)
{
	double end = now() + timeout;
	struct line ln;
	int got = 0;

	while (now() < end)
		if (kafka_source_next(src, &ln, 100) == 1)
			got++;
	return got;
}

/* Waits up to timeout seconds until the members hold want partitions in all. */
static int
wait_assigned(struct kafka_source **srcs, struct seen **seen, int n, int want, double timeout)
{
	double end = now() + timeout;
	int i, held = 0;

	while (now() < end) {
		for (i = 0, held = 0; i < n; i++)
			held += seen[i]->assigned - seen[i]->revoked;
		if (held == want)
			return 1;
		for (i = 0; i < n; i++)
			quiet(srcs[i], 0.05);
	}
	return 0;
}

static void
put_records(struct kafka_opts *o, const char *topic, int from, int to)
{
	struct kafka_sink *snk = kafka_sink_open(o, topic);
	char buf[32], key[16];
	int i, rc = 0;

	CHECK(snk != NULL, "sink opens");
	if (snk == NULL)
		return;
	for (i = from; i < to; i++)
		rc |= kafka_sink_put(snk, key, (size_t)snprintf(key, sizeof key, "u%d", i % 7),
		    buf, (size_t)snprintf(buf, sizeof buf, "{\"n\":%d}", i));
	CHECK(rc == 0, "every put queued");
	CHECK(kafka_sink_flush(snk) == 0, "flush: every record to %s delivered", topic);
	CHECK(kafka_sink_failures(snk) == 0, "no failures");
	CHECK(kafka_sink_close(snk) == 0, "close: delivered");
}

/*
 * Records through a sink and back through a source: every field of a line, a
 * line too long, and positions committed only when stored and committed.
 */
static void
test_sink_source(const char *brokers)
{
	char *conf[] = { "session.timeout.ms=3000", "heartbeat.interval.ms=500" };
	struct kafka_opts o = { .brokers = brokers, .group = "g1", .conf = conf, .nconf = 2 };
	char *topics[] = { "t1", "t2" };
	struct kafka_source *src;
	struct kafka_sink *snk;
	struct seen seen = { 0 }, *seenp = &seen;
	int counts[NREC] = { 0 }, i, ok, rc, got, longs = 0;
	char buf[64];
	struct line ln;
	double end;

	put_records(&o, "t1", 0, NREC);
	snk = kafka_sink_open(&o, "t2");
	memset(buf, 'x', sizeof buf);
	CHECK(kafka_sink_put(snk, "key9", 4, buf, 40) == 0, "put a long record");
	CHECK(kafka_sink_put(snk, NULL, 0, "{\"n\":7}\n", 8) == 0, "an unkeyed record ending in a newline");
	CHECK(kafka_sink_close(snk) == 0, "delivered");

	/* First pass: read without storing anything. */
	src = kafka_source_open(&o, topics, 2, 16);
	CHECK(src != NULL, "source opens");
	if (src == NULL)
		return;
	kafka_source_on_rebalance(src, on_rebalance, &seen);
	for (end = now() + 20, got = 0; got < NREC + 2 && now() < end;) {
		if ((rc = kafka_source_next(src, &ln, 100)) != 1)
			continue;
		got++;
		if (ln.too_long) {
			char want[64];

			longs++;
			CHECK(ln.len == 16 && ln.full_len == 40 && strlen(ln.buf) == 16,
			    "too_long: len %zu full_len %zu", ln.len, ln.full_len);
			CHECK(ln.keylen == 4 && memcmp(ln.key, "key9", 4) == 0, "key");
			snprintf(want, sizeof want, "kafka:t2/%" PRId32 "/%" PRId64, ln.partition, ln.offset);
			CHECK(strcmp(ln.source, want) == 0 && strcmp(ln.topic, "t2") == 0, "source %s", ln.source);
		} else if (strcmp(ln.topic, "t2") == 0) {
			CHECK(ln.key == NULL && ln.len == 7 && strcmp(ln.buf, "{\"n\":7}") == 0,
			    "unkeyed, newline dropped: %s", ln.buf);
		} else if (sscanf(ln.buf, "{\"n\":%d}", &i) == 1 && i >= 0 && i < NREC) {
			char key[16];

			counts[i]++;
			snprintf(key, sizeof key, "u%d", i % 7);
			CHECK(ln.keylen == strlen(key) && memcmp(ln.key, key, ln.keylen) == 0, "key of %d", i);
			CHECK(ln.buf[ln.len] == '\0' && ln.full_len == ln.len, "NUL-terminated");
		}
	}
	CHECK(got == NREC + 2 && longs == 1, "every record read (%d)", got);
	for (i = 0, ok = 1; i < NREC; i++)
		ok &= counts[i] == 1;
	CHECK(ok, "each record exactly once");
	CHECK(seen.assigned == 5, "5 partitions assigned (%d)", seen.assigned);
	CHECK(kafka_source_lag(src) == 0, "lag 0 after reading everything (%" PRId64 ")",
	    kafka_source_lag(src));
	CHECK(kafka_source_commit(src) == 0, "commit with nothing stored is no error");
	kafka_source_close(src);

	/* Nothing was stored: the same group reads everything again, this time storing and committing. */
	memset(counts, 0, sizeof counts);
	topics[0] = "t1";
	src = kafka_source_open(&o, topics, 1, 1024);
	CHECK(drain(src, counts, NREC, 20, 1) == NREC, "uncommitted records read again");
	CHECK(kafka_source_commit(src) == 0, "commit");
	kafka_source_close(src);

	/* A restart reads only what came after the commit. */
	put_records(&o, "t1", 5, 6);
	memset(counts, 0, sizeof counts);
	memset(&seen, 0, sizeof seen);
	src = kafka_source_open(&o, topics, 1, 1024);
	kafka_source_on_rebalance(src, on_rebalance, &seen);
	CHECK(drain(src, counts, 1, 20, 1) == 1 && counts[5] == 1, "after the commit only the new record");
	CHECK(quiet(src, 0.5) == 0, "and nothing else");
	CHECK(kafka_source_lag(src) == 0, "lag 0");
	CHECK(kafka_source_commit(src) == 0, "commit");
	kafka_source_close(src);
	(void)seenp;
}

/*
 * A member joins mid-stream: under the cooperative protocol the owner gives up
 * half its partitions, committing on the revocation (as a tool's checkpoint
 * does), and the newcomer reads on from there — no record read twice, even on
 * the test broker, which refuses commits while a group is joining (so the
 * eager protocol would hand over from the previous commit). After both commit,
 * a new member reads nothing.
 */
static void
test_handover(const char *brokers, const char *topic)
{
	char *conf[] = { "session.timeout.ms=3000", "heartbeat.interval.ms=300",
	    "partition.assignment.strategy=cooperative-sticky" };
	struct kafka_opts o = { .brokers = brokers, .group = topic, .conf = conf, .nconf = 3 };
	char *topics[] = { (char *)topic };
	struct kafka_source *src[2];
	struct seen sa = { 0 }, sb = { 0 }, *seen[2] = { &sa, &sb };
	int counts[NREC] = { 0 }, i, ok, got, twice, deferred;
	double end;

	src[0] = kafka_source_open(&o, topics, 1, 1024);
	CHECK(src[0] != NULL, "a member opens");
	if (src[0] == NULL)
		return;
	sa.src = src[0];
	kafka_source_on_rebalance(src[0], on_rebalance, &sa);
	CHECK(wait_assigned(src, seen, 1, 4, 20), "the first member holds 4 partitions");
	put_records(&o, topic, 0, NREC);
	got = drain(src[0], counts, NREC / 2, 20, 1);
	CHECK(got == NREC / 2, "the first member reads half (%d)", got);

	src[1] = kafka_source_open(&o, topics, 1, 1024);
	sb.src = src[1];
	kafka_source_on_rebalance(src[1], on_rebalance, &sb);
	/* Both keep polling (rebalances are served by polls) until B holds its share and all is read. */
	for (end = now() + 30; now() < end && (got < NREC || sb.assigned == 0);) {
		got += drain(src[0], counts, NREC + 1 - got, 0.05, 1);
		got += drain(src[1], counts, NREC + 1 - got, 0.05, 1);
	}
	got += quiet(src[0], 0.3) + quiet(src[1], 0.3);
	/*
	 * Exactly once holds when the commit on the revocation went through. On a
	 * loaded machine the test broker may still be joining when it comes and
	 * refuse it (deferred, counted): then the newcomer reads the tail again —
	 * at least once, as the guarantee allows — and the check says so.
	 */
	deferred = kafka_source_commits_deferred(src[0]) + kafka_source_commits_deferred(src[1]);
	for (i = 0, ok = 1, twice = 0; i < NREC; i++) {
		ok &= counts[i] >= 1 && (counts[i] == 1 || deferred > 0);
		twice += counts[i] > 1;
	}
	CHECK(ok && (deferred > 0 || got == NREC),
	    "handed over mid-stream, each record read once (%d reads, %d twice, %d commits deferred)",
	    got, twice, deferred);
	if (deferred > 0)
		fprintf(stderr, "test_kafka: hand-over: %d commits deferred by the broker, %d records read twice\n",
		    deferred, twice);
	CHECK(sa.revoked == 2 && sb.assigned == 2 && sb.revoked == 0,
	    "2 partitions move, incrementally (%d revoked, %d assigned)", sa.revoked, sb.assigned);
	CHECK(kafka_source_commit(src[0]) == 0 && kafka_source_commit(src[1]) == 0, "both commit");
	deferred = kafka_source_commits_deferred(src[0]) + kafka_source_commits_deferred(src[1]);
	sa.src = sb.src = NULL;
	kafka_source_close(src[0]);
	kafka_source_close(src[1]);

	memset(&sa, 0, sizeof sa);
	src[0] = kafka_source_open(&o, topics, 1, 1024);
	kafka_source_on_rebalance(src[0], on_rebalance, &sa);
	CHECK(wait_assigned(src, seen, 1, 4, 20), "a new member holds 4 partitions");
	got = quiet(src[0], 1);
	CHECK(got == 0 || deferred > 0, "a new member finds everything committed (%d; %d commits deferred)",
	    got, deferred);
	kafka_source_close(src[0]);
}

/* A broker that stays down longer than message.timeout.ms: the deliveries fail and flush says so. */
static void
test_failed_delivery(rd_kafka_mock_cluster_t *mc, const char *brokers)
{
	char *conf[] = { "message.timeout.ms=500" };
	struct kafka_opts o = { .brokers = brokers, .conf = conf, .nconf = 1 };
	struct kafka_sink *snk;
	double t0;

	snk = kafka_sink_open(&o, "t4");
	CHECK(kafka_sink_put(snk, "k", 1, "{}", 2) == 0, "put");
	CHECK(kafka_sink_flush(snk) == 0, "delivered while the broker is up");
	rd_kafka_mock_broker_set_down(mc, 1);
	CHECK(kafka_sink_put(snk, "k", 1, "{}", 2) == 0, "put while down");
	t0 = now();
	CHECK(kafka_sink_flush(snk) == -1, "flush reports the failure");
	CHECK(now() - t0 < 10, "within the message timeout");
	CHECK(kafka_sink_failures(snk) == 1, "one failure counted (%" PRIu64 ")", kafka_sink_failures(snk));
	CHECK(kafka_sink_close(snk) == -1, "close still reports the failure");
	rd_kafka_mock_broker_set_up(mc, 1);
}

static void
test_bad_conf(const char *brokers)
{
	char *bad1[] = { "no.such.property=1" };
	char *bad2[] = { "novalue" };
	char *topics[] = { "t1" };
	struct kafka_opts o = { .brokers = brokers, .conf = bad1, .nconf = 1 };

	CHECK(kafka_sink_open(&o, "t1") == NULL, "unknown property refused (sink)");
	CHECK(kafka_source_open(&o, topics, 1, 0) == NULL, "unknown property refused (source)");
	o.conf = bad2;
	CHECK(kafka_sink_open(&o, "t1") == NULL, "-X without '=' refused");
	o.conf = NULL;
	o.nconf = 0;
	kafka_opts_add(&o, "acks=all");
	kafka_opts_add(&o, "linger.ms=1");
	CHECK(o.nconf == 2 && strcmp(o.conf[1], "linger.ms=1") == 0, "kafka_opts_add appends");
	free(o.conf);
	o.brokers = NULL;
	o.conf = NULL;
	o.nconf = 0;
	CHECK(kafka_sink_open(&o, "t1") == NULL, "no brokers refused (sink)");
	CHECK(kafka_source_open(&o, topics, 1, 0) == NULL, "no brokers refused (source)");
	{
		char *bs = xasprintf("bootstrap.servers=%s", brokers);
		struct kafka_sink *snk;

		o.conf = &bs;
		o.nconf = 1;
		snk = kafka_sink_open(&o, "t1");
		CHECK(snk != NULL, "brokers from -X bootstrap.servers");
		CHECK(kafka_sink_close(snk) == 0, "closes");
		free(bs);
	}
	CHECK(kafka_sink_close(NULL) == 0, "closing NULL");
	kafka_source_close(NULL);
}

/* The Kafka protocol's ApiKey of OffsetCommit (the mock's API takes it as an int). */
#define API_OFFSET_COMMIT 8

/*
 * Commits refused by retriable errors: deferred while running (the positions
 * stay stored and go out with the next commit), reported by the last commit
 * before leaving (sig_stop set) only when the refusals outlast its retries.
 */
static void
test_commit_errors(rd_kafka_mock_cluster_t *mc, const char *brokers)
{
	char *conf[] = { "session.timeout.ms=3000", "heartbeat.interval.ms=500" };
	struct kafka_opts o = { .brokers = brokers, .group = "g6", .conf = conf, .nconf = 2 };
	char *topics[] = { "t6" };
	struct kafka_source *src;
	int counts[NREC] = { 0 };

	put_records(&o, "t6", 0, 4);
	src = kafka_source_open(&o, topics, 1, 1024);
	CHECK(drain(src, counts, 4, 20, 1) == 4, "4 records read");
	rd_kafka_mock_push_request_errors(mc, API_OFFSET_COMMIT, 2,
	    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
	CHECK(kafka_source_commit(src) == 0, "a timed-out commit is deferred, not a failure");
	CHECK(kafka_source_commit(src) == 0, "the next commit goes out");
	rd_kafka_mock_push_request_errors(mc, API_OFFSET_COMMIT, 1, RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
	CHECK(kafka_source_commit(src) == 0, "NOT_COORDINATOR deferred");
	kafka_source_close(src);
	/* Nothing read again: the deferred positions were committed. */
	put_records(&o, "t6", 4, 5);
	memset(counts, 0, sizeof counts);
	src = kafka_source_open(&o, topics, 1, 1024);
	CHECK(drain(src, counts, 1, 20, 1) == 1 && counts[4] == 1, "after the deferred commit only the new record");
	CHECK(quiet(src, 0.5) == 0, "and nothing else");
	sig_stop = 1;
	rd_kafka_mock_push_request_errors(mc, API_OFFSET_COMMIT, 2,
	    RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
	CHECK(kafka_source_commit(src) == 0, "the last commit rides out two refusals");
	put_records(&o, "t6", 5, 6);
	CHECK(drain(src, counts, 1, 20, 1) == 1, "one more record");
	{
		rd_kafka_resp_err_t e[40];
		size_t i;

		for (i = 0; i < 40; i++)
			e[i] = RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT;
		rd_kafka_mock_push_request_errors_array(mc, API_OFFSET_COMMIT, 40, e);
	}
	CHECK(kafka_source_commit(src) == -1, "a last commit refused throughout is reported");
	rd_kafka_mock_clear_request_errors(mc, API_OFFSET_COMMIT);
	sig_stop = 0;
	kafka_source_close(src);
}

int
main(int argc, char *argv[])
{
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_conf_t *conf;
	char errstr[256], *brokers;
	rd_kafka_t *rk;
	double t0;

	(void)argc;
	diag_init(argv[0]);
	diag_verbosity = getenv("KAFKA_TEST_VERBOSE") ? atoi(getenv("KAFKA_TEST_VERBOSE")) : 0;
	conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	CHECK(rk != NULL, "%s", errstr);
	mc = rd_kafka_mock_cluster_new(rk, 1);
	CHECK(mc != NULL, "mock cluster");
	if (rk == NULL || mc == NULL)
		return check_done();
	brokers = strdup(rd_kafka_mock_cluster_bootstraps(mc));
	rd_kafka_mock_topic_create(mc, "t1", 4, 1);
	rd_kafka_mock_topic_create(mc, "t2", 1, 1);
	rd_kafka_mock_topic_create(mc, "t4", 1, 1);
	rd_kafka_mock_topic_create(mc, "t5", 4, 1);
	rd_kafka_mock_topic_create(mc, "t6", 1, 1);

	t0 = now();
	test_bad_conf(brokers);
	test_sink_source(brokers);
	diag_info(2, "sink and source: %.1fs", now() - t0);
	/* Two members under the eager protocol: tests/t-kafka.sh, with log-collect workers. */
	test_handover(brokers, "t5");
	diag_info(2, "hand-over: %.1fs", now() - t0);
	test_failed_delivery(mc, brokers);
	diag_info(2, "failed delivery: %.1fs", now() - t0);
	test_commit_errors(mc, brokers);
	diag_info(2, "commit errors: %.1fs", now() - t0);

	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	free(brokers);
	return check_done();
}
