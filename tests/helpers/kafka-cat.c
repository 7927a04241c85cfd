/* kafka-cat.c: copies lines between any endpoints through toolio, keeping Kafka keys — the Kafka endpoints without a tool's own work, for tests and benchmarks. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "diag.h"
#include "toolio.h"

static void
usage(void)
{
	fprintf(stderr, "usage: kafka-cat [-qv] [-b brokers] [-G group] [-i input]... [-o output]\n"
	    "                 [-X key=value]... [--commit-interval seconds] [--stats file]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		TOOL_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct tool_opts opts = { 0 };
	struct tool_io *io;
	struct line ln;
	int ch, r, status;

	diag_init(argv[0]);
	while ((ch = getopt_long(argc, argv, TOOL_SHORTOPTS "h", longopts, NULL)) != -1) {
		switch (tool_opts_handle(&opts, ch, optarg)) {
		case 1:
			continue;
		case -1:
			usage();
		}
		usage();
	}
	if (optind != argc)
		usage();
	if ((io = tool_io_open(&opts, "kafka-cat")) == NULL) {
		tool_opts_free(&opts);
		return 1;
	}
	while ((r = tool_io_next(io, &ln)) > 0) {
		if (r == LINE_IDLE)
			continue;
		tool_io_emit_raw(io, ln.key, ln.buf, ln.len);
		tool_io_done(io, &ln);
	}
	status = tool_io_close(io);
	tool_opts_free(&opts);
	return status;
}
