/* kafka-mock.c: a Kafka test broker on loopback, on librdkafka's mock cluster, with a control fifo to inject trouble. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "diag.h"
#include "xalloc.h"

static volatile sig_atomic_t stop;

static void
on_signal(int signo)
{
	(void)signo;
	stop = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: kafka-mock [-qv] [-c CTLFIFO] [-f PORTFILE] [-n BROKERS] "
	    "[-p PARTITIONS] [-t TOPIC]...\n");
	exit(2);
}

/* The request types a control command may name, with their Kafka ApiKey. */
static const struct { const char *name; int16_t key; } api_names[] = {
	{ "Produce", 0 }, { "Fetch", 1 }, { "ListOffsets", 2 }, { "Metadata", 3 },
	{ "OffsetCommit", 8 }, { "OffsetFetch", 9 }, { "FindCoordinator", 10 },
	{ "JoinGroup", 11 }, { "Heartbeat", 12 }, { "LeaveGroup", 13 },
	{ "SyncGroup", 14 }, { "ApiVersions", 18 }, { "InitProducerId", 22 },
	{ "AddPartitionsToTxn", 24 }, { "AddOffsetsToTxn", 25 }, { "EndTxn", 26 },
	{ "TxnOffsetCommit", 28 },
};

/* Parses a non-negative integer; -1 when s is not one. */
static long
parse_num(const char *s)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end != '\0' || v < 0)
		return -1;
	return v;
}

/* An ApiKey by name or number; -1 when unknown. */
static int
parse_apikey(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof api_names / sizeof api_names[0]; i++)
		if (strcasecmp(s, api_names[i].name) == 0)
			return api_names[i].key;
	return (int)parse_num(s);
}

/* A Kafka error by its librdkafka name (e.g. NOT_LEADER_FOR_PARTITION) or protocol number; 0 also means none. */
static int
parse_error(const char *s, rd_kafka_resp_err_t *err)
{
	const struct rd_kafka_err_desc *descs;
	size_t i, n;
	long v;

	if ((v = parse_num(s)) >= 0) {
		*err = (rd_kafka_resp_err_t)v;
		return 0;
	}
	rd_kafka_get_err_descs(&descs, &n);
	for (i = 0; i < n; i++)
		if (descs[i].name && strcasecmp(descs[i].name, s) == 0) {
			*err = descs[i].code;
			return 0;
		}
	return -1;
}

/*
 * Applies one control command and says so on stderr ("CMD: done"), so that
 * a test can wait for it. The commands:
 *   down BROKER | up BROKER | rtt BROKER MS
 *   error API ERR [COUNT]       the next COUNT requests of type API fail with ERR
 *   clear API                   forgets pending injected errors of type API
 *   topic-error TOPIC ERR       every request on TOPIC fails with ERR (0 clears)
 *   create TOPIC PARTITIONS     creates a topic
 *   leader TOPIC PARTITION BROKER
 *   coordinator group|transaction KEY BROKER
 * Returns 0, or -1 after a diagnostic.
 *
 * A limit of the mock cluster: it checks the sequence numbers of a
 * transactional producer only. When a Produce request of an idempotent
 * producer fails (an injected error) while a later one for the same
 * partition is in flight, the mock writes the later one; librdkafka takes
 * that success as proof that the earlier records were written too (a real
 * broker would refuse the later request with OUT_OF_ORDER_SEQUENCE_NUMBER)
 * and reports them delivered, so they are lost. A test that injects Produce
 * errors runs its producers with max.in.flight.requests.per.connection=1.
 */
static int
control(rd_kafka_mock_cluster_t *mc, char *cmdline)
{
	char *argv[8], *save = NULL, *tok, line[1024];
	rd_kafka_resp_err_t err = 0, inj;
	int argc = 0, api;
	long a, b;

	snprintf(line, sizeof line, "%s", cmdline);
	for (tok = strtok_r(cmdline, " \t\r", &save); tok && argc < 8; tok = strtok_r(NULL, " \t\r", &save))
		argv[argc++] = tok;
	if (argc == 0)
		return 0;
	if (strcmp(argv[0], "down") == 0 && argc == 2 && (a = parse_num(argv[1])) >= 0)
		err = rd_kafka_mock_broker_set_down(mc, (int32_t)a);
	else if (strcmp(argv[0], "up") == 0 && argc == 2 && (a = parse_num(argv[1])) >= 0)
		err = rd_kafka_mock_broker_set_up(mc, (int32_t)a);
	else if (strcmp(argv[0], "rtt") == 0 && argc == 3 && (a = parse_num(argv[1])) >= 0 &&
	    (b = parse_num(argv[2])) >= 0)
		err = rd_kafka_mock_broker_set_rtt(mc, (int32_t)a, (int)b);
	else if (strcmp(argv[0], "error") == 0 && (argc == 3 || argc == 4) &&
	    (api = parse_apikey(argv[1])) >= 0 && parse_error(argv[2], &inj) == 0) {
		rd_kafka_resp_err_t errs[64];
		long i, cnt = argc == 4 ? parse_num(argv[3]) : 1;

		if (cnt < 1 || cnt > 64)
			goto bad;
		for (i = 0; i < cnt; i++)
			errs[i] = inj;
		rd_kafka_mock_push_request_errors_array(mc, (int16_t)api, (size_t)cnt, errs);
	} else if (strcmp(argv[0], "clear") == 0 && argc == 2 && (api = parse_apikey(argv[1])) >= 0)
		rd_kafka_mock_clear_request_errors(mc, (int16_t)api);
	else if (strcmp(argv[0], "topic-error") == 0 && argc == 3 && parse_error(argv[2], &inj) == 0)
		rd_kafka_mock_topic_set_error(mc, argv[1], inj);
	else if (strcmp(argv[0], "create") == 0 && argc == 3 && (a = parse_num(argv[2])) > 0)
		err = rd_kafka_mock_topic_create(mc, argv[1], (int)a, 1);
	else if (strcmp(argv[0], "leader") == 0 && argc == 4 && (a = parse_num(argv[2])) >= 0 &&
	    (b = parse_num(argv[3])) >= 0)
		err = rd_kafka_mock_partition_set_leader(mc, argv[1], (int32_t)a, (int32_t)b);
	else if (strcmp(argv[0], "coordinator") == 0 && argc == 4 && (a = parse_num(argv[3])) >= 0)
		err = rd_kafka_mock_coordinator_set(mc, argv[1], argv[2], (int32_t)a);
	else
		goto bad;
	if (err) {
		diag_warn("%s: %s", line, rd_kafka_err2str(err));
		return -1;
	}
	diag_info(1, "%s: done", line);
	return 0;
bad:
	diag_warn("bad control command: %s", line);
	return -1;
}

/* Reads what is available on the control fifo and applies each complete line. */
static void
control_read(rd_kafka_mock_cluster_t *mc, int fd, char *buf, size_t cap, size_t *used)
{
	char *nl, *start;
	ssize_t n;

	n = read(fd, buf + *used, cap - 1 - *used);
	if (n <= 0)
		return;
	*used += (size_t)n;
	buf[*used] = '\0';
	start = buf;
	while ((nl = strchr(start, '\n')) != NULL) {
		*nl = '\0';
		control(mc, start);
		start = nl + 1;
	}
	*used -= (size_t)(start - buf);
	memmove(buf, start, *used);
	if (*used == cap - 1) {
		diag_warn("control line too long");
		*used = 0;
	}
}

/* Writes text to path atomically (a temporary file renamed over it). 0 or -1 after a diagnostic. */
static int
write_atomic(const char *path, const char *text)
{
	char *tmp = xasprintf("%s.tmp", path);
	FILE *fp;
	int rc = -1;

	if ((fp = fopen(tmp, "w")) == NULL) {
		diag_warn("%s:", tmp);
		goto err;
	}
	fprintf(fp, "%s\n", text);
	if (fclose(fp) != 0) {
		diag_warn("%s:", tmp);
		goto err;
	}
	if (rename(tmp, path) != 0) {
		diag_warn("%s:", path);
		goto err;
	}
	rc = 0;
err:
	free(tmp);
	return rc;
}

static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	diag_info(level <= 3 ? 1 : 2, "librdkafka %s: %s", fac, buf);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "control",    required_argument, NULL, 'c' },
		{ "portfile",   required_argument, NULL, 'f' },
		{ "brokers",    required_argument, NULL, 'n' },
		{ "partitions", required_argument, NULL, 'p' },
		{ "quiet",      no_argument,       NULL, 'q' },
		{ "topic",      required_argument, NULL, 't' },
		{ "verbose",    no_argument,       NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	const char *ctlpath = NULL, *portfile = NULL, *bootstraps;
	char **topics = NULL, errstr[256], ctlbuf[1024];
	size_t ntopics = 0, i, ctlused = 0;
	long nbrokers = 1, npart = 4;
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_conf_t *conf;
	struct sigaction sa;
	rd_kafka_t *rk;
	int ch, ctlfd = -1, status = 1;

	diag_init(argv[0]);
	while ((ch = getopt_long(argc, argv, "c:f:n:p:qt:v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			ctlpath = optarg;
			break;
		case 'f':
			portfile = optarg;
			break;
		case 'n':
			if ((nbrokers = parse_num(optarg)) < 1 || nbrokers > 32)
				usage();
			break;
		case 'p':
			if ((npart = parse_num(optarg)) < 1 || npart > 1024)
				usage();
			break;
		case 'q':
			diag_verbosity = 0;
			break;
		case 't':
			topics = xreallocarray(topics, ntopics + 1, sizeof *topics);
			topics[ntopics++] = optarg;
			break;
		case 'v':
			diag_verbosity++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, log_cb);
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr)) == NULL) {
		diag_warn("%s", errstr);
		free(topics);
		return 1;
	}
	if ((mc = rd_kafka_mock_cluster_new(rk, (int)nbrokers)) == NULL) {
		diag_warn("cannot start the mock cluster");
		goto err;
	}
	for (i = 0; i < ntopics; i++) {
		rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, topics[i], (int)npart,
		    nbrokers < 3 ? (int)nbrokers : 3);
		if (e) {
			diag_warn("%s: %s", topics[i], rd_kafka_err2str(e));
			goto err;
		}
	}
	if (ctlpath) {
		if (mkfifo(ctlpath, 0600) != 0 && errno != EEXIST) {
			diag_warn("%s:", ctlpath);
			goto err;
		}
		/* Opened read-write so that writers never block and the fifo never reads EOF. */
		if ((ctlfd = open(ctlpath, O_RDWR | O_NONBLOCK | O_CLOEXEC)) == -1) {
			diag_warn("%s:", ctlpath);
			goto err;
		}
	}
	bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
	if (printf("%s\n", bootstraps) < 0 || fflush(stdout) != 0) {
		diag_warn("stdout:");
		goto err;
	}
	if (portfile && write_atomic(portfile, bootstraps) != 0)
		goto err;
	diag_info(2, "%ld broker(s) at %s", nbrokers, bootstraps);

	while (!stop) {
		struct pollfd pfd = { .fd = ctlfd, .events = POLLIN };

		if (poll(&pfd, 1, 200) > 0 && (pfd.revents & POLLIN))
			control_read(mc, ctlfd, ctlbuf, sizeof ctlbuf, &ctlused);
	}
	status = 0;
	if (portfile)
		unlink(portfile);
err:
	if (ctlfd != -1) {
		close(ctlfd);
		unlink(ctlpath);
	}
	if (mc)
		rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	free(topics);
	return status;
}
