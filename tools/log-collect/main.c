/* log-collect: raw events in, canonical events out — validates, normalises, deduplicates, dead-letters the rest. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect.h"
#include "dedup.h"
#include "diag.h"
#include "jsonx.h"
#include "toolio.h"

#define DEDUP_DEFAULT	262144

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: log-collect [-hqVv] [-b brokers] [-G group] [-i input]... [-o output]\n"
	    "                   [-X key=value]... [--dead-letter endpoint] [--dedup-window events]\n"
	    "                   [--ingest-ts now|ms] [--max-future duration] [--max-line bytes]\n"
	    "                   [--stats file] [--stats-interval seconds] [--metrics file]\n"
	    "                   [--commit-interval seconds] [--commit-records n]\n"
	    "                   [--transactional-id id] [--strict]\n");
	exit(status);
}

int
main(int argc, char *argv[])
{
	enum { OPT_DEDUP_WINDOW = TOOL_OPT_FIRST, OPT_INGEST_TS, OPT_MAX_FUTURE };
	static const struct option longopts[] = {
		TOOL_LONGOPTS,
		TOOL_TXN_LONGOPTS,
		{ "dedup-window", required_argument, NULL, OPT_DEDUP_WINDOW },
		{ "ingest-ts",    required_argument, NULL, OPT_INGEST_TS },
		{ "max-future",   required_argument, NULL, OPT_MAX_FUTURE },
		{ "help",         no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct tool_opts opts = { 0 };
	struct collector c = { .ingest_ts = -1, .max_future_ms = 10 * 60000 };
	struct tool_io *io;
	uint64_t *n_dup, *n_blank, *n_type[3];
	long window = DEDUP_DEFAULT, fixed;
	struct line ln;
	char user[257];
	int ch, r, status;

	diag_init(argv[0]);
	while ((ch = getopt_long(argc, argv, TOOL_SHORTOPTS "h", longopts, NULL)) != -1) {
		switch (tool_opts_handle(&opts, ch, optarg)) {
		case 1:
			continue;
		case -1:
			usage(2);
		}
		switch (ch) {
		case OPT_DEDUP_WINDOW:
			if (parse_long(optarg, 0, 100000000L, &window) == -1) {
				diag_warn("--dedup-window: not a count from 0 to 100000000: %s", optarg);
				usage(2);
			}
			break;
		case OPT_INGEST_TS:
			if (strcmp(optarg, "now") == 0)
				c.ingest_ts = -1;
			else if (parse_long(optarg, TS_MIN, 4102444800000L, &fixed) == 0)
				c.ingest_ts = fixed;
			else {
				diag_warn("--ingest-ts: expected now or ms since the epoch: %s", optarg);
				usage(2);
			}
			break;
		case OPT_MAX_FUTURE:
			if ((c.max_future_ms = parse_duration_ms(optarg)) < 0) {
				diag_warn("--max-future: not a duration: %s", optarg);
				usage(2);
			}
			if (c.max_future_ms > MAX_FUTURE_MS)
				c.max_future_ms = MAX_FUTURE_MS;
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0)
		usage(2);

	if ((io = tool_io_open(&opts, "log-collect")) == NULL) {
		tool_opts_free(&opts);
		return 1;
	}
	n_dup = stats_counter(io->st, "duplicates");
	n_blank = stats_counter(io->st, "blank");
	if (window > 0) {
		c.dd = dedup_new((size_t)window);
		tool_io_on_abort(io, dedup_forget, c.dd);
	}
	n_type[0] = stats_counter(io->st, "impressions");
	n_type[1] = stats_counter(io->st, "clicks");
	n_type[2] = stats_counter(io->st, "pays");
	while ((r = tool_io_next(io, &ln)) > 0) {
		if (r == LINE_IDLE)
			continue;
		switch (collect_line(&c, &ln, now_ms(), user)) {
		case COLLECT_EVENT:
			(*n_type[c.type])++;
			tool_io_emit_raw(io, user, c.line.p, c.line.len);
			break;
		case COLLECT_REJECT:
			tool_io_reject(io, &ln, "%s", c.err);
			break;
		case COLLECT_DUP:
			(*n_dup)++;
			diag_info(2, "%s: duplicate of event %s dropped", ln.source, c.event_id);
			break;
		case COLLECT_BLANK:
			(*n_blank)++;
			break;
		}
		tool_io_done(io, &ln);
	}
	status = tool_io_close(io);
	dedup_free(c.dd);
	collect_free(&c);
	tool_opts_free(&opts);
	return status;
}
