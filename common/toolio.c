/* toolio.c: what every stream tool shares — common options, inputs, output, dead letters, stats, signals, commits. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "jsonx.h"
#include "sig.h"
#include "toolio.h"
#include "xalloc.h"

#define MAX_EXTRA 8
#define MAX_HOOKS 4

/* The parts of a tool_io that tools need not see. */
struct tool_io_priv {
	struct tool_io io;
	struct line_writer *extra[MAX_EXTRA];
	int nextra;
	void (*hook[MAX_HOOKS])(void *);
	void *hook_arg[MAX_HOOKS];
	int nhooks;
	void (*abort_hook[MAX_HOOKS])(void *);
	void *abort_arg[MAX_HOOKS];
	int naborthooks;
	double last_commit;
	long since_commit;		/* input records since the last checkpoint */
	int64_t *lag;
	struct kafka_txn *txn;		/* --transactional-id */
	uint64_t *n_txn_commits, *n_txn_aborts;
};

int64_t
parse_size(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || v < 0)
		return -1;
	switch (tolower((unsigned char)*end)) {
	case '\0': break;
	case 'k': v *= 1024; end++; break;
	case 'm': v *= 1024 * 1024; end++; break;
	case 'g': v *= 1024.0 * 1024 * 1024; end++; break;
	default: return -1;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end != '\0' || v > 9e18)
		return -1;
	return (int64_t)v;
}

int64_t
parse_duration_ms(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || v < 0 || !isfinite(v))
		return -1;
	if (strcmp(end, "ms") == 0)
		;
	else if (*end == '\0' || strcmp(end, "s") == 0)
		v *= 1000;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		v *= 60e3;
	else if (strcmp(end, "h") == 0)
		v *= 3600e3;
	else if (strcmp(end, "d") == 0)
		v *= 86400e3;
	else
		return -1;
	if (v > 9e18)
		return -1;
	return (int64_t)llround(v);
}

int
parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !isfinite(v) || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int
parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int
tool_kafka_conf_file(struct kafka_opts *k, const char *path)
{
	FILE *fp;
	char *line = NULL, *s, *e, *eq, *kv;
	size_t cap = 0;
	long lineno = 0;
	int rv = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		diag_warn("-F %s:", path);
		return -1;
	}
	while (rv == 0 && getline(&line, &cap, fp) > 0) {
		lineno++;
		for (s = line; *s == ' ' || *s == '\t'; s++)
			;
		for (e = s + strlen(s); e > s && strchr(" \t\r\n", e[-1]) != NULL; e--)
			;
		*e = '\0';
		if (*s == '\0' || *s == '#')
			continue;
		if ((eq = strchr(s, '=')) == NULL || eq == s) {
			diag_warn("-F %s: line %ld: expected key=value", path, lineno);
			rv = -1;
			break;
		}
		for (e = eq; e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		for (eq++; *eq == ' ' || *eq == '\t'; eq++)
			;
		kv = xasprintf("%.*s=%s", (int)(e - s), s, eq);
		if (kafka_opts_add(k, kv) != 0) {
			diag_warn("-F %s: line %ld: refused (see above)", path, lineno);
			free(kv);
			rv = -1;
		}
	}
	if (rv == 0 && ferror(fp)) {
		diag_warn("-F %s:", path);
		rv = -1;
	}
	free(line);
	fclose(fp);
	return rv;
}

int
tool_opts_handle(struct tool_opts *o, int ch, const char *arg)
{
	int64_t n;

	switch (ch) {
	case 'b':
		o->kafka.brokers = arg;
		return 1;
	case 'G':
		o->kafka.group = arg;
		return 1;
	case 'i':
		o->inputs = xreallocarray(o->inputs, o->ninputs + 1, sizeof *o->inputs);
		o->inputs[o->ninputs++] = (char *)arg;
		return 1;
	case 'o':
		o->output = arg;
		return 1;
	case 'q':
		diag_verbosity = 0;
		return 1;
	case 'v':
		diag_verbosity++;
		return 1;
	case 'V':
		tool_version(diag_progname());
	case 'X':
		if (kafka_opts_add(&o->kafka, (char *)arg) != 0)
			return -1;
		return 1;
	case 'F':
		return tool_kafka_conf_file(&o->kafka, arg) == 0 ? 1 : -1;
	case OPT_DEAD_LETTER:
		o->dead_letter = arg;
		return 1;
	case OPT_STATS:
		o->stats = arg;
		return 1;
	case OPT_STATS_INTERVAL:
		if (tool_opt_duration("--stats-interval", arg, 1, INT64_MAX, &n) != 0)
			return -1;
		o->stats_interval = n / 1000.0;
		return 1;
	case OPT_COMMIT_INTERVAL:
		if (tool_opt_duration("--commit-interval", arg, 1, INT64_MAX, &n) != 0)
			return -1;
		o->commit_interval = n / 1000.0;
		return 1;
	case OPT_COMMIT_RECORDS:
		if (tool_opt_size("--commit-records", arg, 1, 1000000000, &n) != 0)
			return -1;
		o->commit_records = (long)n;
		return 1;
	case OPT_TRANSACTIONAL_ID:
		if (*arg == '\0') {
			diag_warn("--transactional-id: expected a non-empty id");
			return -1;
		}
		o->transactional_id = arg;
		return 1;
	case OPT_METRICS:
		o->metrics = arg;
		return 1;
	case OPT_MAX_LINE:
		if (tool_opt_size("--max-line", arg, 16, (int64_t)1 << 31, &n) != 0)
			return -1;
		o->max_line = (size_t)n;
		return 1;
	case OPT_STRICT:
	case OPT_NO_STRICT:
		o->strict = ch == OPT_STRICT;
		return 1;
	}
	return 0;
}

void
tool_opts_free(struct tool_opts *o)
{
	free(o->inputs);
	free(o->kafka.conf);
	o->inputs = NULL;
	o->kafka.conf = NULL;
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
flush_on_wait(void *arg)
{
	struct tool_io_priv *p = arg;
	int i;

	if (line_writer_flush(p->io.out) != 0)
		p->io.status = 1;
	for (i = 0; i < p->nextra; i++)
		if (line_writer_flush(p->extra[i]) != 0)
			p->io.status = 1;
	if (deadletter_flush(p->io.dl) != 0)
		p->io.status = 1;
}

/*
 * The default rebalance hook: before partitions are taken away, deliver
 * every output and commit, so that the next owner starts where this one
 * stopped. A stateful tool registers its own hook instead.
 */
static void
checkpoint_on_revoke(void *arg, int assigned, const char *topic, const int32_t *partitions, size_t n)
{
	if (!assigned)
		tool_io_checkpoint(arg);
}

struct tool_io *
tool_io_open(struct tool_opts *o, const char *tool)
{
	struct tool_io_priv *p = xcalloc(1, sizeof *p);
	struct tool_io *io = &p->io;

	sig_install();
	io->opts = o;
	io->st = stats_new(tool, o->stats, o->metrics, o->stats_interval);
	io->n_in = stats_counter(io->st, "in");
	io->n_out = stats_counter(io->st, "out");
	io->n_rejected = stats_counter(io->st, "rejected");
	p->lag = stats_gauge(io->st, "lag");
	*p->lag = -1;
	if (o->transactional_id != NULL) {
		/* Only Kafka outputs can be in a transaction; a file would get the aborted records too. */
		if (o->output == NULL || strncmp(o->output, "kafka:", 6) != 0 ||
		    (o->dead_letter != NULL && strncmp(o->dead_letter, "kafka:", 6) != 0)) {
			diag_warn("--transactional-id: the output and the dead letters must be kafka:TOPIC");
			goto err;
		}
		if ((p->txn = kafka_txn_open(&o->kafka, o->transactional_id)) == NULL)
			goto err;
		o->kafka.txn = p->txn;
		p->n_txn_commits = stats_counter(io->st, "txn_commits");
		p->n_txn_aborts = stats_counter(io->st, "txn_aborts");
	}
	if ((io->out = line_writer_open(o->output ? o->output : "-", &o->kafka)) == NULL)
		goto err;
	if ((io->dl = deadletter_open(o->dead_letter, &o->kafka, io->st)) == NULL)
		goto err;
	io->in = line_reader_open(o->inputs, o->ninputs, &o->kafka, o->max_line);
	line_reader_on_wait(io->in, flush_on_wait, p);
	line_reader_on_rebalance(io->in, checkpoint_on_revoke, io);
	p->last_commit = mono();
	return io;
err:
	line_writer_close(io->out);
	kafka_txn_close(p->txn);
	o->kafka.txn = NULL;
	stats_free(io->st);
	free(p);
	return NULL;
}

int
tool_io_checkpoint(struct tool_io *io)
{
	struct tool_io_priv *p = (struct tool_io_priv *)io;
	int i, rv = 0;

	for (i = 0; i < p->nhooks; i++)
		p->hook[i](p->hook_arg[i]);
	if (line_writer_flush(io->out) != 0)
		rv = -1;
	for (i = 0; i < p->nextra; i++)
		if (line_writer_flush(p->extra[i]) != 0)
			rv = -1;
	if (deadletter_flush(io->dl) != 0)
		rv = -1;
	if (p->txn != NULL) {
		/* The outputs and the positions of every record read, together. */
		switch (kafka_txn_commit(p->txn, line_reader_kafka(io->in))) {
		case 0:
			break;
		case 1:
			for (i = 0; i < p->naborthooks; i++)
				p->abort_hook[i](p->abort_arg[i]);
			break;
		default:
			sig_stop = 1;
			rv = -1;
			break;
		}
		*p->n_txn_commits = kafka_txn_commits(p->txn);
		*p->n_txn_aborts = kafka_txn_aborts(p->txn);
	} else if (rv == 0 && line_reader_commit(io->in) != 0)	/* only when everything derived is out */
		rv = -1;
	if (rv != 0)
		io->status = 1;
	p->last_commit = mono();
	p->since_commit = 0;
	return rv;
}

static void
chores(struct tool_io_priv *p)
{
	struct tool_io *io = &p->io;
	double interval = io->opts->commit_interval > 0 ? io->opts->commit_interval : 1.0;
	int i;

	if (sig_hup) {
		sig_hup = 0;
		diag_info(2, "SIGHUP: reopening outputs");
		if (line_writer_reopen(io->out) != 0)
			io->status = 1;
		for (i = 0; i < p->nextra; i++)
			if (line_writer_reopen(p->extra[i]) != 0)
				io->status = 1;
		if (deadletter_reopen(io->dl) != 0)
			io->status = 1;
	}
	if (line_reader_kafka(io->in) != NULL && (mono() - p->last_commit >= interval ||
	    (io->opts->commit_records > 0 && p->since_commit >= io->opts->commit_records))) {
		tool_io_checkpoint(io);
		*p->lag = line_reader_lag(io->in);
	}
	stats_tick(io->st);
}

int
tool_io_next(struct tool_io *io, struct line *ln)
{
	struct tool_io_priv *p = (struct tool_io_priv *)io;
	int rv;

	for (;;) {
		chores(p);
		if (sig_stop)
			return 0;
		line_reader_keep_blank(io->in, io->every_line);
		rv = line_reader_next(io->in, ln);
		if (rv == LINE_IDLE)
			return LINE_IDLE;
		if (rv <= 0)
			return 0;
		(*io->n_in)++;
		p->since_commit++;
		if (ln->too_long && !io->every_line) {
			tool_io_reject(io, ln, "line of %zu bytes is longer than --max-line (%zu)",
			    ln->full_len, io->opts->max_line ? io->opts->max_line : (size_t)LINE_MAX_DEFAULT);
			continue;
		}
		return 1;
	}
}

void
tool_io_done(struct tool_io *io, const struct line *ln)
{
	if (ln->topic != NULL)
		line_reader_store(io->in, ln->topic, ln->partition, ln->offset + 1);
}

int
tool_io_emit_raw(struct tool_io *io, const char *key, const char *buf, size_t len)
{
	if (line_writer_put(io->out, key, key ? strlen(key) : 0, buf, len) != 0) {
		io->status = 1;
		return -1;
	}
	(*io->n_out)++;
	return 0;
}

int
tool_io_emit(struct tool_io *io, const char *key, const json_t *obj)
{
	size_t len;
	char *s = jsonx_dump(obj, &len);
	int rv;

	if (s == NULL) {
		diag_warn("cannot serialise a record");
		io->status = 1;
		return -1;
	}
	rv = tool_io_emit_raw(io, key, s, len);
	free(s);
	return rv;
}

void
tool_io_reject(struct tool_io *io, const struct line *ln, const char *fmt, ...)
{
	char reason[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	if (deadletter_put(io->dl, ln, "%s", reason) != 0)
		io->status = 1;
	if (io->opts->strict)
		io->status = 1;
	if (!io->manual_commit)
		tool_io_done(io, ln);
}

struct line_writer *
tool_io_add_writer(struct tool_io *io, const char *spec)
{
	struct tool_io_priv *p = (struct tool_io_priv *)io;
	struct line_writer *w;

	if (p->nextra == MAX_EXTRA)
		diag_fatal(1, "too many outputs");
	if ((w = line_writer_open(spec, &io->opts->kafka)) == NULL)
		return NULL;
	p->extra[p->nextra++] = w;
	return w;
}

void
tool_io_on_checkpoint(struct tool_io *io, void (*fn)(void *), void *arg)
{
	struct tool_io_priv *p = (struct tool_io_priv *)io;

	if (p->nhooks == MAX_HOOKS)
		diag_fatal(1, "too many checkpoint hooks");
	p->hook[p->nhooks] = fn;
	p->hook_arg[p->nhooks++] = arg;
}

void
tool_io_on_abort(struct tool_io *io, void (*fn)(void *), void *arg)
{
	struct tool_io_priv *p = (struct tool_io_priv *)io;

	if (p->naborthooks == MAX_HOOKS)
		diag_fatal(1, "too many abort hooks");
	p->abort_hook[p->naborthooks] = fn;
	p->abort_arg[p->naborthooks++] = arg;
}

int
tool_io_close(struct tool_io *io)
{
	struct tool_io_priv *p = (struct tool_io_priv *)io;
	int i, status;

	tool_io_checkpoint(io);
	if (line_reader_failed(io->in))
		io->status = 1;
	line_reader_close(io->in);
	if (line_writer_close(io->out) != 0)
		io->status = 1;
	for (i = 0; i < p->nextra; i++)
		if (line_writer_close(p->extra[i]) != 0)
			io->status = 1;
	if (deadletter_close(io->dl) != 0)
		io->status = 1;
	/* With -v, what the run did, even when every line went to the dead letters. */
	diag_info(2, "%llu line(s) in, %llu out, %llu rejected%s%s",
	    (unsigned long long)*io->n_in, (unsigned long long)*io->n_out,
	    (unsigned long long)*io->n_rejected, io->opts->dead_letter ? " to " : "",
	    io->opts->dead_letter ? io->opts->dead_letter : "");
	kafka_txn_close(p->txn);
	io->opts->kafka.txn = NULL;
	if (io->opts->stats != NULL || io->opts->metrics != NULL)
		stats_report(io->st);
	stats_free(io->st);
	status = io->status;
	free(p);
	return status;
}
