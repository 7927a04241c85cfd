/* main.c: q-score — ranks candidate items by Q of the newest model, as a filter or an HTTP server, hot-swapping model versions. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "jsonx.h"
#include "qscore.h"
#include "sdnotify.h"
#include "sig.h"
#include "toolio.h"
#include "xalloc.h"

enum {
	OPT_LISTEN = TOOL_OPT_FIRST,
	OPT_EVENTS,
	OPT_EXPLORE,
	OPT_SEED,
	OPT_PIN,
	OPT_WARMUP,
	OPT_WARMUP_MAX,
	OPT_THREADS,
	OPT_MAX_BODY,
	OPT_MAX_HEADER,
	OPT_MAX_CONNS,
	OPT_MAX_BATCH,
	OPT_MAX_CANDS,
	OPT_HIST_USERS,
	OPT_HIST_LEN,
	OPT_POLL,
	OPT_PORT_FILE,
	OPT_TIMEOUT,
	OPT_READ_TIMEOUT,
	OPT_DRAIN_TIMEOUT,
	OPT_DIVERSITY,
	OPT_MODEL_CACHE,
	OPT_HISTORY,
	OPT_HIST_TTL,
	OPT_HIST_TIMEOUT
};

static const struct option longopts[] = {
	TOOL_LONGOPTS,
	{ "help",            no_argument,       NULL, 'h' },
	{ "top-k",           required_argument, NULL, 'k' },
	{ "model-dir",       required_argument, NULL, 'm' },
	{ "listen",          required_argument, NULL, OPT_LISTEN },
	{ "events",          required_argument, NULL, OPT_EVENTS },
	{ "explore",         required_argument, NULL, OPT_EXPLORE },
	{ "seed",            required_argument, NULL, OPT_SEED },
	{ "pin",             required_argument, NULL, OPT_PIN },
	{ "warmup",          required_argument, NULL, OPT_WARMUP },
	{ "warmup-max",      required_argument, NULL, OPT_WARMUP_MAX },
	{ "threads",         required_argument, NULL, OPT_THREADS },
	{ "max-body",        required_argument, NULL, OPT_MAX_BODY },
	{ "max-header",      required_argument, NULL, OPT_MAX_HEADER },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONNS },
	{ "max-batch",       required_argument, NULL, OPT_MAX_BATCH },
	{ "max-candidates",  required_argument, NULL, OPT_MAX_CANDS },
	{ "history-users",   required_argument, NULL, OPT_HIST_USERS },
	{ "history-len",     required_argument, NULL, OPT_HIST_LEN },
	{ "history",         required_argument, NULL, OPT_HISTORY },
	{ "history-ttl",     required_argument, NULL, OPT_HIST_TTL },
	{ "history-timeout", required_argument, NULL, OPT_HIST_TIMEOUT },
	{ "poll-interval",   required_argument, NULL, OPT_POLL },
	{ "port-file",       required_argument, NULL, OPT_PORT_FILE },
	{ "timeout",         required_argument, NULL, OPT_TIMEOUT },
	{ "read-timeout",    required_argument, NULL, OPT_READ_TIMEOUT },
	{ "drain-timeout",   required_argument, NULL, OPT_DRAIN_TIMEOUT },
	{ "diversity",       required_argument, NULL, OPT_DIVERSITY },
	{ "model-cache",     required_argument, NULL, OPT_MODEL_CACHE },
	{ NULL, 0, NULL, 0 }
};

/* Bounds of the size options: a body is held whole, the header memory is cleared after every request. */
#define MAX_BODY_MAX	((int64_t)256 << 20)
#define MAX_HEADER_MIN	((int64_t)1 << 10)
#define MAX_HEADER_MAX	((int64_t)1 << 20)
/* Descriptors kept for the model files, the event input and the outputs, besides the connections. */
#define FD_SPARE	64

static struct qs_models *g_models;

/*
 * Makes room for n connections in the open-file limit, raising the soft
 * limit up to the hard one if needed. 0, or -1 when the hard limit is lower.
 */
static int
fd_room(rlim_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= n + FD_SPARE)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < n + FD_SPARE)
		return -1;
	rl.rlim_cur = n + FD_SPARE;
	return setrlimit(RLIMIT_NOFILE, &rl);
}

/* A duration of 0.1 ms to 10 s ("5ms", "0.5ms", "1s") in microseconds: 0, or -1. */
static int
parse_duration_us(const char *s, int64_t *us)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || !isfinite(v))
		return -1;
	if (strcmp(end, "ms") == 0)
		v *= 1e3;
	else if (*end == '\0' || strcmp(end, "s") == 0)
		v *= 1e6;
	else if (strcmp(end, "us") == 0)
		;
	else
		return -1;
	if (v < 100 || v > 10e6)
		return -1;
	*us = (int64_t)llround(v);
	return 0;
}

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: q-score -m modeldir|kafka:topic [-hqVv] [-i input] [-o output] [-k n] [--explore policy] [--diversity w]\n"
	    "               [--seed n] [--events endpoint] [--pin version] [--warmup file] [--dead-letter endpoint]\n"
	    "               [--history url] [--history-ttl duration] [--history-timeout duration]\n"
	    "               [--strict] [--model-cache dir]\n"
	    "       q-score -m modeldir --listen host:port [--threads n] [--max-body size] [--max-header size]\n"
	    "               [--max-connections n] [--max-batch n] [--timeout s] [--read-timeout s]\n"
	    "               [--drain-timeout s] [--port-file file] [options]\n");
	exit(status);
}

/* SIGHUP: the tool's outputs reopen (sig_hup) and the loader checks MODELDIR now. */
static void
on_hup(int signo)
{
	sig_hup = 1;
	if (g_models != NULL)
		qs_models_poke(g_models);
}

static void
install_signals(void)
{
	struct sigaction sa;

	sig_install();
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_hup;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
}

static void
block_signals(int block)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

/* Answers every request line in order: a response or an error line each. Returns the exit status. */
static int
run_filter(struct tool_opts *topt, const struct qs_config *cf)
{
	struct tool_io *io;
	struct qs_worker *w;
	struct jbuf out = { 0 };
	struct line ln;
	char err[320], id[257];
	uint64_t *n_err, *n_unknown, *n_feature, *n_unknown_hist;
	struct qs_model *qm;
	struct stat sb;
	int rc, interactive;

	io = tool_io_open(topt, "q-score");
	if (io == NULL)
		return 1;
	io->every_line = 1;	/* one answer a line, bad ones included: a coprocess waits for each */
	/* As a coprocess (requests on a pipe or terminal) each answer goes out at once. */
	interactive = (topt->ninputs == 0 || (topt->ninputs == 1 && strcmp(topt->inputs[0], "-") == 0)) &&
	    fstat(0, &sb) == 0 && !S_ISREG(sb.st_mode);
	install_signals();
	n_err = stats_counter(io->st, "errors");
	n_unknown = stats_counter(io->st, "unknown_items");
	n_feature = stats_counter(io->st, "feature_row_items");
	n_unknown_hist = stats_counter(io->st, "unknown_history_items");
	w = qs_worker_new(cf->seed, 0);
	while ((rc = tool_io_next(io, &ln)) != 0) {
		if (rc == LINE_IDLE)
			continue;
		out.len = 0;
		atomic_fetch_add(&cf->counters->requests, 1);
		id[0] = '\0';
		if (ln.too_long) {
			snprintf(err, sizeof err, "line of %zu bytes is longer than --max-line (%zu)", ln.full_len,
			    topt->max_line ? topt->max_line : (size_t)LINE_MAX_DEFAULT);
			rc = -1;
		} else if (ln.len == 0) {
			snprintf(err, sizeof err, "empty line");
			rc = -1;
		} else {
			qm = qs_model_acquire(g_models);
			rc = qs_score_text(w, cf, qm ? qm->m : NULL, ln.buf, ln.len, &out, id, err, sizeof err);
			qs_model_release(g_models, qm);
		}
		if (rc != 0) {
			out.len = 0;
			qs_error_response(&out, id, err);
			atomic_fetch_add(&cf->counters->errors, 1);
			(*n_err)++;
			tool_io_reject(io, &ln, "%s", err);
		}
		*n_unknown = atomic_load(&cf->counters->unknown_items);
		*n_feature = atomic_load(&cf->counters->feature_rows);
		*n_unknown_hist = atomic_load(&cf->counters->unknown_hist);
		tool_io_emit_raw(io, NULL, out.p, out.len);
		if (interactive && line_writer_flush(io->out) != 0)
			break;
		tool_io_done(io, &ln);
	}
	jbuf_free(&out);
	qs_worker_free(w);
	return tool_io_close(io);
}

int
main(int argc, char *argv[])
{
	struct tool_opts topt = { 0 };
	struct qs_counters counters = { 0 };
	struct qs_config cf = { 0 };
	struct qs_models_opts mo = { 0 };
	struct qs_server_opts so = { 0 };
	struct qs_events *ev = NULL;
	struct qs_server *srv = NULL;
	const char *events = NULL, *cache = NULL, *history = NULL;
	size_t hist_users = 100000, hist_len = 50;
	int64_t hist_ttl_ms = 30 * 60 * 1000, hist_timeout_us = 5000;
	struct stat sb;
	int ch, r, status = 0;
	long l;
	int64_t sz;
	double d;

	diag_init(argv[0]);
	cf.explore.policy = RANK_GREEDY;
	cf.seed = 1;
	cf.max_candidates = 10000;
	cf.counters = &counters;
	mo.warmup_max = 1000;
	mo.poll_ms = 1000;
	mo.cf = &cf;
	so.threads = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	so.max_body = 1 << 20;
	so.max_header = 16 << 10;	/* libmicrohttpd zeroes this much after each request: no more than needed */
	so.max_conns = 1024;
	so.max_batch = 1000;
	so.timeout_s = 30;
	so.read_timeout_s = 10;
	so.drain_s = 10;
	so.cf = &cf;

	while ((ch = getopt_long(argc, argv, TOOL_SHORTOPTS "hk:m:", longopts, NULL)) != -1) {
		if ((r = tool_opts_handle(&topt, ch, optarg)) == 1)
			continue;
		if (r < 0)
			usage(2);
		switch (ch) {
		case 'k':
			if (tool_opt_count("--top-k", optarg, 0, 1000000000, &l) != 0)
				exit(2);
			cf.default_k = (size_t)l;
			break;
		case 'm':
			if (strncmp(optarg, "kafka:", 6) == 0)
				mo.topic = optarg + 6;
			else
				mo.dir = optarg;
			break;
		case OPT_LISTEN: {
			struct sockaddr_storage a;
			if (qs_parse_listen(optarg, &a) != 0)
				exit(2);
			so.listen = optarg;
			break;
		}
		case OPT_EVENTS:
			events = optarg;
			break;
		case OPT_EXPLORE:
			if (rank_explore_parse(optarg, &cf.explore) != 0) {
				tool_opt_bad("--explore", optarg, "one of greedy, epsilon:E (0..1), softmax:T or softmax:Tsd (T > 0)");
				exit(2);
			}
			break;
		case OPT_MODEL_CACHE:
			cache = optarg;
			break;
		case OPT_DIVERSITY:
			if (tool_opt_real("--diversity", optarg, 0, 1e6, &d) != 0)
				exit(2);
			cf.diversity = d;
			break;
		case OPT_SEED:
			if (tool_opt_real("--seed", optarg, 0, 1.8e19, &d) != 0)
				exit(2);
			cf.seed = (uint64_t)d;
			break;
		case OPT_PIN:
			if (tool_opt_count("--pin", optarg, 1, 4294967295L, &l) != 0)
				exit(2);
			mo.pin = (uint32_t)l;
			break;
		case OPT_WARMUP:
			mo.warmup = optarg;
			break;
		case OPT_WARMUP_MAX:
			if (tool_opt_count("--warmup-max", optarg, 0, 1000000, &l) != 0)
				exit(2);
			mo.warmup_max = (size_t)l;
			break;
		case OPT_THREADS:
			if (tool_opt_count("--threads", optarg, 1, 1024, &l) != 0)
				exit(2);
			so.threads = (unsigned)l;
			break;
		case OPT_MAX_BODY:
			if (tool_opt_size("--max-body", optarg, 16, MAX_BODY_MAX, &sz) != 0)
				exit(2);
			so.max_body = (size_t)sz;
			break;
		case OPT_MAX_HEADER:
			if (tool_opt_size("--max-header", optarg, MAX_HEADER_MIN, MAX_HEADER_MAX, &sz) != 0)
				exit(2);
			so.max_header = (size_t)sz;
			break;
		case OPT_MAX_CONNS:
			if (tool_opt_count("--max-connections", optarg, 1, 1000000, &l) != 0)
				exit(2);
			if (fd_room((rlim_t)l) != 0)
				diag_fatal(2, "--max-connections %s: more than the open-file limit allows (ulimit -n)", optarg);
			so.max_conns = (unsigned)l;
			break;
		case OPT_MAX_BATCH:
			if (tool_opt_count("--max-batch", optarg, 1, 1000000, &l) != 0)
				exit(2);
			so.max_batch = (size_t)l;
			break;
		case OPT_MAX_CANDS:
			if (tool_opt_count("--max-candidates", optarg, 1, 10000000, &l) != 0)
				exit(2);
			cf.max_candidates = (size_t)l;
			break;
		case OPT_HIST_USERS:
			if (tool_opt_count("--history-users", optarg, 1, 10000000, &l) != 0)
				exit(2);
			hist_users = (size_t)l;
			break;
		case OPT_HIST_LEN:
			if (tool_opt_count("--history-len", optarg, 1, 1024, &l) != 0)
				exit(2);
			hist_len = (size_t)l;
			break;
		case OPT_HISTORY: {
			char *host;
			int port, db;
			if (strcmp(optarg, "memory") != 0) {
				if (qs_hredis_parse(optarg, &host, &port, &db) != 0)
					diag_fatal(2, "--history %s: expected memory or redis://HOST:PORT[/DB]", optarg);
				free(host);
			}
			history = optarg;
			break;
		}
		case OPT_HIST_TTL:
			if ((hist_ttl_ms = parse_duration_ms(optarg)) <= 0)
				diag_fatal(2, "--history-ttl %s: expected a duration such as 30m", optarg);
			break;
		case OPT_HIST_TIMEOUT:
			if (parse_duration_us(optarg, &hist_timeout_us) != 0)
				diag_fatal(2, "--history-timeout %s: expected a duration from 0.1ms to 10s, such as 5ms", optarg);
			break;
		case OPT_POLL:
			if (tool_opt_duration("--poll-interval", optarg, 1, INT64_MAX, &mo.poll_ms) != 0)
				exit(2);
			break;
		case OPT_PORT_FILE:
			so.port_file = optarg;
			break;
		case OPT_TIMEOUT:
			if (tool_opt_count("--timeout", optarg, 1, 86400, &l) != 0)
				exit(2);
			so.timeout_s = (unsigned)l;
			break;
		case OPT_READ_TIMEOUT:
			if (tool_opt_count("--read-timeout", optarg, 1, 3600, &l) != 0)
				exit(2);
			so.read_timeout_s = (unsigned)l;
			break;
		case OPT_DRAIN_TIMEOUT:
			if (tool_opt_count("--drain-timeout", optarg, 0, 3600, &l) != 0)
				exit(2);
			so.drain_s = (unsigned)l;
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	argc -= optind;
	argv += optind;
	if (mo.topic != NULL && (mo.topic[0] == '\0' || cache == NULL))
		diag_fatal(2, "-m kafka:TOPIC: expected a topic name, and --model-cache DIR to assemble its versions in");
	if (cache != NULL && mo.topic == NULL)
		diag_fatal(2, "--model-cache %s: only with -m kafka:TOPIC", cache);
	if (mo.topic != NULL)
		mo.dir = cache;
	if (argc != 0 || mo.dir == NULL)
		usage(2);
	mo.kafka = &topt.kafka;
	if (stat(mo.dir, &sb) == 0 && !S_ISDIR(sb.st_mode))
		diag_fatal(2, "-m %s: not a directory (the model store holds one directory a version)", mo.dir);
	if (stat(mo.dir, &sb) != 0)
		diag_warn("%s: %s: waiting for a model version", mo.dir,
		    errno == ENOENT ? "no such directory yet" : strerror(errno));

	if (history != NULL && strcmp(history, "memory") != 0)
		cf.history = qs_hredis_new(history, hist_len, hist_ttl_ms, hist_timeout_us);
	else if (events != NULL)
		cf.history = qs_hstore_memory(hist_users, hist_len);
	g_models = qs_models_new(&mo);
	if (qs_models_load_now(g_models) != 0) {
		if (mo.pin)
			diag_fatal(1, "%s: version %u cannot be served", mo.dir, mo.pin);
		diag_warn("%s: no version could be loaded yet: answering \"no model loaded\" until one is", mo.dir);
	}

	install_signals();
	block_signals(1);	/* every thread started now inherits the mask: signals go to this one */
	if (qs_models_start(g_models) != 0)
		diag_fatal(1, "cannot start the model loader");
	if (events != NULL && (ev = qs_events_start(cf.history, events, &topt.kafka)) == NULL)
		diag_fatal(1, "cannot follow %s", events);
	if (so.listen != NULL) {
		so.models = g_models;
		so.events = ev;
		srv = qs_server_start(&so);
		if (srv == NULL)
			status = 1;
		else
			sdnotify_arm(0);	/* ready for systemd now, or when a first version is served */
	}
	if (so.listen == NULL) {
		block_signals(0);
		status = run_filter(&topt, &cf);
	} else if (srv != NULL) {
		sigset_t none;
		sigemptyset(&none);
		while (!sig_stop)
			sigsuspend(&none);	/* atomically unblocks and waits: no signal slips between test and wait */
		diag_info(1, "stopping: answering the requests in flight");
		qs_server_drain(srv, so.drain_s);
		qs_server_stop(srv);
	}
	if (qs_events_stop(ev))
		qs_hstore_free(cf.history);
	qs_models_free(g_models);
	tool_opts_free(&topt);
	return status;
}
