/* online-join: label what was shown with what the user did, in event time, and archive the samples. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "diag.h"
#include "event.h"
#include "join.h"
#include "jsonx.h"
#include "toolio.h"
#include "xalloc.h"

enum {
	OPT_PAY_WINDOW = TOOL_OPT_FIRST,
	OPT_EMIT,
	OPT_IDLE_TIMEOUT,
	OPT_MAX_AHEAD,
	OPT_IDLE_CLOSE,
	OPT_ARCHIVE_SIZE,
	OPT_ARCHIVE_ROLL,
	OPT_ARCHIVE_LEVEL
};

/* One Kafka input partition this member reads. */
struct kpart {
	int32_t id;
	int64_t next;		/* one past the last offset read */
};

struct joiner {
	struct tool_io *io;
	struct join *j;
	struct jev_reader *rd;
	struct archive *ar;
	struct line_writer *late;
	char *topic;		/* the Kafka input topic (one) */
	struct kpart *kp;
	size_t nkp;
};

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: online-join [-hqVv] [-a dir] [-b brokers] [-d max-delay] [-G group] [-i input]...\n"
	    "                   [-l late] [-o output] [-w window] [-X key=value]... [--max-open n]\n"
	    "                   [--pay-window duration] [--emit early|on-close] [--idle-timeout duration]\n"
	    "                   [--max-ahead duration] [--idle-close duration]\n"
	    "                   [--archive-size bytes] [--archive-roll duration] [--archive-level n]\n"
	    "                   [--dead-letter endpoint] [--max-line bytes] [--stats file]\n"
	    "                   [--stats-interval duration] [--metrics file] [--commit-interval duration]\n"
	    "                   [--strict]\n");
	exit(status);
}

static void
on_sample(void *arg, const char *key, size_t keylen, const char *buf, size_t len, int64_t ts,
    int32_t partition, int64_t offset)
{
	struct joiner *jr = arg;

	if (line_writer_put(jr->io->out, key, keylen, buf, len) != 0)
		jr->io->status = 1;
	(*jr->io->n_out)++;
	if (jr->ar != NULL && archive_put(jr->ar, ts, buf, len, partition, offset) != 0)
		jr->io->status = 1;
}

static void
on_late(void *arg, const char *key, size_t keylen, const char *buf, size_t len)
{
	struct joiner *jr = arg;

	if (jr->late != NULL && line_writer_put(jr->late, key, keylen, buf, len) != 0)
		jr->io->status = 1;
}

static struct kpart *
kpart_get(struct joiner *jr, int32_t id)
{
	size_t i;

	for (i = 0; i < jr->nkp; i++)
		if (jr->kp[i].id == id)
			return &jr->kp[i];
	jr->kp = xreallocarray(jr->kp, jr->nkp + 1, sizeof *jr->kp);
	jr->kp[jr->nkp].id = id;
	jr->kp[jr->nkp].next = -1;
	return &jr->kp[jr->nkp++];
}

/*
 * Stores, per Kafka partition, the position to commit: the oldest offset
 * still contributing to an open window, a waiting click or pay, or an
 * archive part not yet complete; else one past the last offset read.
 */
static void
store_positions(void *arg)
{
	struct joiner *jr = arg;
	int64_t pos, o;
	size_t i;

	for (i = 0; i < jr->nkp; i++) {
		pos = jr->kp[i].next;
		if ((o = join_oldest_offset(jr->j, jr->kp[i].id)) >= 0 && (pos < 0 || o < pos))
			pos = o;
		if (jr->ar != NULL && (o = archive_oldest_offset(jr->ar, jr->kp[i].id)) >= 0 &&
		    (pos < 0 || o < pos))
			pos = o;
		if (pos >= 0)
			line_reader_store(jr->io->in, jr->topic, jr->kp[i].id, pos);
	}
}

/*
 * A revocation hands the partitions over by replay: their positions are
 * committed at the oldest event still open, and their state is dropped; the
 * new owner reads those events again and rebuilds the same windows.
 */
static void
on_rebalance(void *arg, int assigned, const char *topic, const int32_t *parts, size_t n)
{
	struct joiner *jr = arg;
	size_t i, k;

	if (assigned || jr->topic == NULL || strcmp(topic, jr->topic) != 0)
		return;
	/*
	 * Deliver, then commit. A commit refused in the middle of the rebalance
	 * costs only duplicates: the new owner reads from the previous commit.
	 */
	store_positions(jr);
	if (line_writer_flush(jr->io->out) != 0 || (jr->late != NULL && line_writer_flush(jr->late) != 0) ||
	    deadletter_flush(jr->io->dl) != 0)
		jr->io->status = 1;
	else if (line_reader_commit(jr->io->in) != 0)
		diag_info(1, "hand-over of %s: commit refused; the new owner reads from the previous commit",
		    topic);
	for (i = 0; i < n; i++) {
		join_drop_partition(jr->j, parts[i]);
		for (k = 0; k < jr->nkp; k++)
			if (jr->kp[k].id == parts[i]) {
				jr->kp[k] = jr->kp[--jr->nkp];
				break;
			}
	}
	diag_info(2, "handed over %zu partition(s) of %s", n, topic);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		TOOL_LONGOPTS,
		{ "archive",       required_argument, NULL, 'a' },
		{ "max-delay",     required_argument, NULL, 'd' },
		{ "help",          no_argument,       NULL, 'h' },
		{ "late",          required_argument, NULL, 'l' },
		{ "max-open",      required_argument, NULL, 'n' },
		{ "window",        required_argument, NULL, 'w' },
		{ "pay-window",    required_argument, NULL, OPT_PAY_WINDOW },
		{ "emit",          required_argument, NULL, OPT_EMIT },
		{ "idle-timeout",  required_argument, NULL, OPT_IDLE_TIMEOUT },
		{ "max-ahead",     required_argument, NULL, OPT_MAX_AHEAD },
		{ "idle-close",    required_argument, NULL, OPT_IDLE_CLOSE },
		{ "archive-size",  required_argument, NULL, OPT_ARCHIVE_SIZE },
		{ "archive-roll",  required_argument, NULL, OPT_ARCHIVE_ROLL },
		{ "archive-level", required_argument, NULL, OPT_ARCHIVE_LEVEL },
		{ NULL, 0, NULL, 0 }
	};
	struct join_opts jo = {
		.window = 30 * 60000, .pay_window = 2 * 3600000, .max_delay = 60000, .max_ahead = 10 * 60000,
		.idle_timeout = 30000, .idle_close = 30000, .early = 0, .max_open = 1000000
	};
	struct join_out out = { on_sample, on_late, NULL };
	struct tool_opts opts = { 0 };
	struct joiner jr = { 0 };
	const char *archive_dir = NULL, *late_spec = NULL;
	int64_t archive_size = 256LL << 20, archive_roll = 15 * 60000, n;
	long level = 1, lv;
	uint64_t lines = 0;
	char err[512];
	struct line ln;
	struct jev ev;
	json_t *obj;
	const char *why;
	int ch, r, status;

	diag_init(argv[0]);
	opts.max_line = LINE_MAX_EVENTS;
	while ((ch = getopt_long(argc, argv, TOOL_SHORTOPTS "a:d:hl:n:w:", longopts, NULL)) != -1) {
		switch (tool_opts_handle(&opts, ch, optarg)) {
		case 1:
			continue;
		case -1:
			usage(2);
		}
		switch (ch) {
		case 'a':
			archive_dir = optarg;
			break;
		case 'd':
			if ((jo.max_delay = parse_duration_ms(optarg)) < 0) {
				diag_warn("--max-delay: not a duration: %s", optarg);
				usage(2);
			}
			break;
		case 'l':
			late_spec = optarg;
			break;
		case 'n':
			if (parse_long(optarg, 1, 1000000000L, &lv) == -1) {
				diag_warn("--max-open: not a count from 1 to 1000000000: %s", optarg);
				usage(2);
			}
			jo.max_open = (size_t)lv;
			break;
		case 'w':
			if ((jo.window = parse_duration_ms(optarg)) <= 0) {
				diag_warn("--window: not a positive duration: %s", optarg);
				usage(2);
			}
			break;
		case OPT_PAY_WINDOW:
			if ((jo.pay_window = parse_duration_ms(optarg)) <= 0) {
				diag_warn("--pay-window: not a positive duration: %s", optarg);
				usage(2);
			}
			break;
		case OPT_EMIT:
			if (strcmp(optarg, "early") == 0)
				jo.early = 1;
			else if (strcmp(optarg, "on-close") == 0)
				jo.early = 0;
			else {
				diag_warn("--emit: expected early or on-close: %s", optarg);
				usage(2);
			}
			break;
		case OPT_IDLE_TIMEOUT:
			if ((jo.idle_timeout = parse_duration_ms(optarg)) < 0) {
				diag_warn("--idle-timeout: not a duration: %s", optarg);
				usage(2);
			}
			break;
		case OPT_IDLE_CLOSE:
			if ((jo.idle_close = parse_duration_ms(optarg)) < 0) {
				diag_warn("--idle-close: not a duration: %s", optarg);
				usage(2);
			}
			break;
		case OPT_MAX_AHEAD:
			if ((jo.max_ahead = parse_duration_ms(optarg)) < 0) {
				diag_warn("--max-ahead: not a duration: %s", optarg);
				usage(2);
			}
			break;
		case OPT_ARCHIVE_SIZE:
			if ((archive_size = parse_size(optarg)) <= 0) {
				diag_warn("--archive-size: not a size: %s", optarg);
				usage(2);
			}
			break;
		case OPT_ARCHIVE_ROLL:
			if ((archive_roll = parse_duration_ms(optarg)) < 0) {
				diag_warn("--archive-roll: not a duration: %s", optarg);
				usage(2);
			}
			break;
		case OPT_ARCHIVE_LEVEL:
			if (parse_long(optarg, 1, 9, &level) == -1) {
				diag_warn("--archive-level: expected 1 to 9: %s", optarg);
				usage(2);
			}
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

	if ((jr.io = tool_io_open(&opts, "online-join")) == NULL) {
		tool_opts_free(&opts);
		return 1;
	}
	jr.io->manual_commit = 1;
	status = 1;
	if (late_spec != NULL && (jr.late = tool_io_add_writer(jr.io, late_spec)) == NULL)
		goto err;
	if (archive_dir != NULL && (jr.ar = archive_open(archive_dir,
	    jo.window > jo.pay_window ? jo.window : jo.pay_window, (uint64_t)archive_size,
	    archive_roll, (int)level)) == NULL)
		goto err;
	out.arg = &jr;
	jr.j = join_new(&jo, &out, jr.io->st);
	jr.rd = jev_reader_new();
	tool_io_on_checkpoint(jr.io, store_positions, &jr);

	line_reader_on_rebalance(jr.io->in, on_rebalance, &jr);
	while ((r = tool_io_next(jr.io, &ln)) > 0) {
		if (r == LINE_IDLE || (++lines & 1023) == 0)
			join_tick(jr.j);
		if (r == LINE_IDLE) {
			join_quiet(jr.j);
			if (jr.ar != NULL && archive_advance(jr.ar, join_watermark(jr.j)) != 0)
				jr.io->status = 1;
			continue;
		}
		if (ln.topic != NULL) {
			struct kpart *kp;

			if (jr.topic == NULL)
				jr.topic = xstrdup(ln.topic);
			kp = kpart_get(&jr, ln.partition);
			if (ln.offset + 1 > kp->next)
				kp->next = ln.offset + 1;
		}
		/*
		 * The fast reader takes plain events; a line that is not valid
		 * JSON is refused with jscan's reason; the rest go through
		 * jansson, which reads them or says what is wrong.
		 */
		if (jev_parse(jr.rd, ln.buf, ln.len, &ev) == 1) {
			if (join_event(jr.j, &ev, ln.partition, ln.offset) != 0)
				tool_io_reject(jr.io, &ln, "%s", join_why(jr.j));
		} else if ((why = jev_check(jr.rd, ln.buf, ln.len)) != NULL)
			tool_io_reject(jr.io, &ln, "%s", why);
		else if ((obj = jsonx_parse(ln.buf, ln.len, err, sizeof err)) == NULL)
			tool_io_reject(jr.io, &ln, "%s", err);
		else {
			if (jev_from_json(jr.rd, obj, &ev, err, sizeof err) != 0)
				tool_io_reject(jr.io, &ln, "%s", err);
			else if (join_event(jr.j, &ev, ln.partition, ln.offset) != 0)
				tool_io_reject(jr.io, &ln, "%s", join_why(jr.j));
			json_decref(obj);
		}
		if (jr.ar != NULL && archive_advance(jr.ar, join_watermark(jr.j)) != 0)
			jr.io->status = 1;
	}
	/*
	 * Files and pipes end: every window closes. A Kafka member that stops
	 * hands its windows over instead (their positions stay uncommitted).
	 */
	if (line_reader_kafka(jr.io->in) == NULL)
		join_finish(jr.j);
	if (jr.ar != NULL && archive_advance(jr.ar, join_watermark(jr.j)) != 0)
		jr.io->status = 1;
	if (line_reader_kafka(jr.io->in) != NULL)
		store_positions(&jr);
	if (archive_close(jr.ar) != 0)
		jr.io->status = 1;
	jr.ar = NULL;
	if ((n = (int64_t)join_late(jr.j)) > 0 && late_spec == NULL)
		diag_info(1, "%" PRId64 " event(s) joined no sample (see --late)", n);
	status = 0;
err:
	if (status != 0)
		jr.io->status = 1;
	status = tool_io_close(jr.io);
	join_free(jr.j);
	jev_reader_free(jr.rd);
	free(jr.topic);
	free(jr.kp);
	tool_opts_free(&opts);
	return status;
}
