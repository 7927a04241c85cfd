/* toolio.h: what every stream tool shares — common options, inputs, output, dead letters, stats, signals, commits. */
#ifndef TOOLIO_H
#define TOOLIO_H
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "deadletter.h"
#include "kafka.h"
#include "lineio.h"
#include "stats.h"
#include "toolopt.h"

/* Long-only option codes of the common options; a tool numbers its own from TOOL_OPT_FIRST. */
enum {
	OPT_DEAD_LETTER = 0x100,
	OPT_STATS,
	OPT_STATS_INTERVAL,
	OPT_METRICS,
	OPT_MAX_LINE,
	OPT_STRICT,
	OPT_COMMIT_INTERVAL,
	OPT_TRANSACTIONAL_ID,
	OPT_COMMIT_RECORDS,
	OPT_NO_STRICT,
	TOOL_OPT_FIRST = 0x140
};

/* Short letters of the common options, to put in a tool's getopt string. */
#define TOOL_SHORTOPTS "b:F:G:i:o:qVvX:"

/* Entries for a tool's struct option table (then its own, then {0}). */
#define TOOL_LONGOPTS \
	{ "brokers",         required_argument, NULL, 'b' }, \
	{ "group",           required_argument, NULL, 'G' }, \
	{ "input",           required_argument, NULL, 'i' }, \
	{ "output",          required_argument, NULL, 'o' }, \
	{ "quiet",           no_argument,       NULL, 'q' }, \
	{ "verbose",         no_argument,       NULL, 'v' }, \
	{ "version",         no_argument,       NULL, 'V' }, \
	{ "kafka-conf",      required_argument, NULL, 'X' }, \
	{ "kafka-conf-file", required_argument, NULL, 'F' }, \
	{ "dead-letter",     required_argument, NULL, OPT_DEAD_LETTER }, \
	{ "stats",           required_argument, NULL, OPT_STATS }, \
	{ "stats-interval",  required_argument, NULL, OPT_STATS_INTERVAL }, \
	{ "metrics",         required_argument, NULL, OPT_METRICS }, \
	{ "max-line",        required_argument, NULL, OPT_MAX_LINE }, \
	{ "strict",          no_argument,       NULL, OPT_STRICT }, \
	{ "no-strict",       no_argument,       NULL, OPT_NO_STRICT }, \
	{ "commit-interval", required_argument, NULL, OPT_COMMIT_INTERVAL }

/*
 * The options of a stateless tool that can run exactly-once: its struct
 * option entries go after TOOL_LONGOPTS. --transactional-id ID makes every
 * Kafka output of the tool (output, dead letters) one transaction per
 * checkpoint with the input positions (consume-transform-produce);
 * --commit-records N checkpoints after N input records as well as every
 * --commit-interval.
 */
#define TOOL_TXN_LONGOPTS \
	{ "transactional-id", required_argument, NULL, OPT_TRANSACTIONAL_ID }, \
	{ "commit-records",   required_argument, NULL, OPT_COMMIT_RECORDS }

/* The common options as parsed. Zero-initialise, then feed every getopt result to tool_opts_handle(). */
struct tool_opts {
	char **inputs;		/* -i, in order; none means "-" */
	size_t ninputs;
	const char *output;	/* -o; NULL means "-" */
	const char *dead_letter;
	const char *stats;
	double stats_interval;	/* seconds; 0 means the default (10) */
	const char *metrics;
	size_t max_line;	/* 0 means LINE_MAX_DEFAULT */
	int strict;
	double commit_interval;	/* seconds between Kafka commits; 0 means the default (1) */
	long commit_records;	/* input records between Kafka commits; 0: by time only */
	const char *transactional_id;	/* NULL: at-least-once; else exactly-once with Kafka transactions */
	struct kafka_opts kafka;
};

/*
 * Handles one getopt_long result. Returns 1 when ch was a common option, 0
 * when it is not one (the tool handles it), -1 after a diagnostic when its
 * argument is invalid (a usage error: exit 2).
 */
int tool_opts_handle(struct tool_opts *o, int ch, const char *arg);
/*
 * -F FILE, as kcat's: librdkafka properties from FILE, one key=value a line
 * (blank lines and lines starting with # skipped, spaces around key and value
 * trimmed), each added as -X would add it. Returns 0, or -1 after a diagnostic
 * naming the file and line but not the value (a usage error). The strings are
 * kept for the life of the process.
 */
int tool_kafka_conf_file(struct kafka_opts *k, const char *path);
/* Frees what tool_opts_handle() allocated. */
void tool_opts_free(struct tool_opts *o);

/* Parses a size such as "1048576", "64k", "1M", "2G". -1 when invalid. */
int64_t parse_size(const char *s);
/* Parses a duration such as "250ms", "30s", "30m", "2h", "1d", or a bare number of seconds, into milliseconds. -1 when invalid. */
int64_t parse_duration_ms(const char *s);
/* Parses a number in [lo, hi]. 0 on success, -1 when invalid. */
int parse_double(const char *s, double lo, double hi, double *out);
int parse_long(const char *s, long lo, long hi, long *out);

/* The running tool's endpoints. */
struct tool_io {
	struct tool_opts *opts;
	struct line_reader *in;
	struct line_writer *out;
	struct deadletter *dl;
	struct stats *st;
	uint64_t *n_in, *n_out, *n_rejected;
	int status;		/* the exit status so far (0 or 1) */
	/*
	 * 0 (default): tool_io_reject() and rejected too-long lines make their
	 * Kafka position committable. A stateful tool sets 1 and stores
	 * positions itself (line_reader_store), holding back those whose
	 * records still live in its open state.
	 */
	int manual_commit;
	/*
	 * 0 (default): blank lines are skipped and too-long lines rejected
	 * here. 1: both come to the tool (len 0, or too_long set), for a
	 * filter that answers every line in order.
	 */
	int every_line;
};

/*
 * Installs signal handlers, opens inputs, output, dead letters and stats.
 * A Kafka input revoked in a rebalance is checkpointed first (outputs
 * delivered, positions committed); line_reader_on_rebalance() replaces that.
 * Returns NULL after a diagnostic when an output cannot be opened (exit 1).
 */
struct tool_io *tool_io_open(struct tool_opts *o, const char *tool);

/*
 * Next input line, running the chores between lines: stats, SIGHUP reopening,
 * and for Kafka input the periodic checkpoint (flush outputs, then commit
 * stored offsets). Returns 1 with a line, LINE_IDLE when Kafka input paused
 * (the tool may run its timers), 0 at the end of input or on SIGINT/SIGTERM.
 */
int tool_io_next(struct tool_io *io, struct line *ln);

/* Marks a line fully processed: its Kafka position may be committed after the outputs are delivered. */
void tool_io_done(struct tool_io *io, const struct line *ln);

/*
 * Writes one JSON object (compact, keys in insertion order) to the output,
 * keyed by key (may be NULL). Does not take the reference. 0 or -1 (a write
 * error, remembered in status).
 */
int tool_io_emit(struct tool_io *io, const char *key, const json_t *obj);
/* Writes an already serialised record. 0 or -1. */
int tool_io_emit_raw(struct tool_io *io, const char *key, const char *buf, size_t len);

/* Rejects ln to the dead letters with a reason. Under --strict the exit status becomes 1. */
void tool_io_reject(struct tool_io *io, const struct line *ln, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Extra outputs that take part in checkpoints (flushed before each commit)
 * and SIGHUP reopening; owned by io, closed by tool_io_close().
 */
struct line_writer *tool_io_add_writer(struct tool_io *io, const char *spec);

/* A hook run at each checkpoint before outputs are flushed (e.g. to emit or snapshot state). */
void tool_io_on_checkpoint(struct tool_io *io, void (*fn)(void *), void *arg);

/*
 * A hook run when a transaction was aborted and the input rewound to the
 * last commit (--transactional-id): the records since are read again, so
 * state derived from them must be forgotten.
 */
void tool_io_on_abort(struct tool_io *io, void (*fn)(void *), void *arg);

/*
 * Flushes every output and commits the stored Kafka positions now (with
 * --transactional-id: commits the transaction of the outputs and the
 * positions of every record read). 0 or -1 (status 1; a fatal transaction
 * error also stops the tool, as SIGTERM does).
 */
int tool_io_checkpoint(struct tool_io *io);

/*
 * Final checkpoint, closes everything, writes the final stats. Returns the
 * exit status: 0, or 1 after any write error, failed delivery, unreadable
 * input, or (with --strict) rejected line.
 */
int tool_io_close(struct tool_io *io);

#endif
