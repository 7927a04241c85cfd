/* experience-collect: chains the pages of each user's session, rebuilt from labelled samples, into reinforcement-learning transitions. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "diag.h"
#include "lineio.h"
#include "stats.h"
#include "toolio.h"
#include "watermark.h"

#include "chain.h"
#include "ec.h"
#include "handover.h"
#include "sample.h"

static void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: experience-collect [-hqVv] [-b brokers] [-d max-delay] [-G group] [-i input]...\n"
	    "                          [-o output] [-X key=value]... [--dead-letter endpoint]\n"
	    "                          [--grace duration] [--history-len n] [--idle-close duration]\n"
	    "                          [--idle-timeout duration] [--max-ahead duration]\n"
	    "                          [--max-open sessions] [--max-pages pages] [--session-gap duration]\n"
	    "                          [--w-click weight] [--w-pay weight] [--max-line bytes]\n"
	    "                          [--stats file] [--stats-interval seconds] [--metrics file]\n"
	    "                          [--commit-interval seconds] [--strict]\n");
	exit(status);
}

/* How event time is kept: the watermark's bounds, in ms. */
struct event_time {
	int64_t max_delay;	/* --max-delay */
	int64_t idle_timeout;	/* --idle-timeout */
	int64_t max_ahead;	/* --max-ahead */
	int64_t idle_close;	/* --idle-close: Kafka input */
};

/*
 * Parses the command line into opts, the collector's options and et; exits
 * 2 on a usage error, 0 after --help.
 */
static void
parse_options(int argc, char *argv[], struct tool_opts *opts, struct event_time *et)
{
	enum {
		OPT_W_CLICK = TOOL_OPT_FIRST, OPT_W_PAY, OPT_HIST_LEN, OPT_SESSION_GAP,
		OPT_GRACE, OPT_IDLE_TIMEOUT, OPT_MAX_OPEN, OPT_MAX_PAGES, OPT_MAX_AHEAD, OPT_IDLE_CLOSE
	};
	static const struct option longopts[] = {
		TOOL_LONGOPTS,
		{ "help",         no_argument,       NULL, 'h' },
		{ "w-click",      required_argument, NULL, OPT_W_CLICK },
		{ "w-pay",        required_argument, NULL, OPT_W_PAY },
		{ "history-len",  required_argument, NULL, OPT_HIST_LEN },
		{ "hist-len",     required_argument, NULL, OPT_HIST_LEN },	/* an alias, for one release */
		{ "session-gap",  required_argument, NULL, OPT_SESSION_GAP },
		{ "max-delay",    required_argument, NULL, 'd' },
		{ "grace",        required_argument, NULL, OPT_GRACE },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
		{ "max-ahead",    required_argument, NULL, OPT_MAX_AHEAD },
		{ "idle-close",   required_argument, NULL, OPT_IDLE_CLOSE },
		{ "max-open",     required_argument, NULL, OPT_MAX_OPEN },
		{ "max-pages",    required_argument, NULL, OPT_MAX_PAGES },
		{ NULL, 0, NULL, 0 }
	};
	int64_t d;
	long n;
	int ch, r;

	C.w_click = 1.0;
	C.w_pay = 1.0;
	C.hist_len = 20;
	C.gap = 30 * 60 * 1000;
	C.grace = 0;
	C.max_open = 1000000;
	C.max_pages = 10000;
	while ((ch = getopt_long(argc, argv, TOOL_SHORTOPTS "d:h", longopts, NULL)) != -1) {
		if ((r = tool_opts_handle(opts, ch, optarg)) == 1)
			continue;
		if (r < 0)
			usage(2);
		switch (ch) {
		case 'h':
			usage(0);
			break;
		case OPT_W_CLICK:
			if (tool_opt_real("--w-click", optarg, -1e9, 1e9, &C.w_click) != 0)
				exit(2);
			break;
		case OPT_W_PAY:
			if (tool_opt_real("--w-pay", optarg, -1e9, 1e9, &C.w_pay) != 0)
				exit(2);
			break;
		case OPT_HIST_LEN:
			if (tool_opt_count("--history-len", optarg, 0, MAX_HIST, &n) != 0)
				exit(2);
			C.hist_len = (size_t)n;
			break;
		case OPT_MAX_OPEN:
			if (tool_opt_count("--max-open", optarg, 1, 1000000000L, &n) != 0)
				exit(2);
			C.max_open = (size_t)n;
			break;
		case OPT_MAX_PAGES:
			if (tool_opt_count("--max-pages", optarg, 1, 1000000000L, &n) != 0)
				exit(2);
			C.max_pages = (size_t)n;
			break;
		case OPT_SESSION_GAP:
		case 'd':
		case OPT_GRACE:
		case OPT_IDLE_TIMEOUT:
		case OPT_MAX_AHEAD:
		case OPT_IDLE_CLOSE:
			if (tool_opt_duration(ch == OPT_SESSION_GAP ? "--session-gap" : ch == 'd' ? "--max-delay" :
			    ch == OPT_GRACE ? "--grace" : ch == OPT_IDLE_TIMEOUT ? "--idle-timeout" :
			    ch == OPT_MAX_AHEAD ? "--max-ahead" : "--idle-close", optarg, 0, INT64_MAX, &d) != 0)
				exit(2);
			if (ch == OPT_SESSION_GAP)
				C.gap = d;
			else if (ch == 'd')
				et->max_delay = d;
			else if (ch == OPT_GRACE)
				C.grace = d;
			else if (ch == OPT_IDLE_TIMEOUT)
				et->idle_timeout = d;
			else if (ch == OPT_MAX_AHEAD)
				et->max_ahead = d;
			else
				et->idle_close = d;
			break;
		default:
			usage(2);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0)
		usage(2);
}

int
main(int argc, char *argv[])
{
	struct tool_opts opts = { 0 };
	struct event_time et = { .max_delay = 60 * 1000, .idle_timeout = 60 * 1000, .max_ahead = 10 * 60 * 1000,
	    .idle_close = 30 * 1000 };
	struct line ln;
	size_t i;
	int rv;

	diag_init(argv[0]);
	parse_options(argc, argv, &opts, &et);

	opts.kafka.start_metadata = 1;
	if ((C.io = tool_io_open(&opts, "experience-collect")) == NULL) {
		tool_opts_free(&opts);
		return 1;
	}
	C.io->manual_commit = 1;
	C.emit = tool_io_emit_raw;
	C.reject = tool_io_reject;
	C.wm = watermark_new(et.max_delay, et.idle_timeout);
	watermark_set_max_ahead(C.wm, et.max_ahead, WATERMARK_CONFIRM);
	C.wm_now = WATERMARK_NONE;
	collector_init(C.io->st);
	tool_io_on_checkpoint(C.io, store_positions, NULL);

	line_reader_on_rebalance(C.io->in, on_rebalance, NULL);
	while ((rv = tool_io_next(C.io, &ln)) != 0) {
		if (rv == 1)
			take_sample(&ln);
		else if (rv == LINE_IDLE)
			close_quiet(et.idle_close);
		advance();
	}
	/* A stop hands every partition over, as a revocation does. */
	for (i = 0; i < C.nparts; i++)
		C.parts[i].revoking = C.parts[i].active;
	if (C.nparts > 0)
		hand_over();
	flush_all();
	rv = tool_io_close(C.io);
	watermark_free(C.wm);
	jscan_free(&C.js);
	tool_opts_free(&opts);
	return rv;
}
