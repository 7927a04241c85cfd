/* q-eval: estimate what target policies would earn from logged pages and their propensities, off-policy. */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "est.h"
#include "eval.h"
#include "gate.h"
#include "jbuf.h"
#include "jsonx.h"
#include "log.h"
#include "policy.h"
#include "rank.h"
#include "reader.h"
#include "report.h"
#include "rmodel.h"
#include "toolio.h"
#include "xalloc.h"

enum {
	OPT_COMPARE = TOOL_OPT_FIRST,
	OPT_LOGGING,
	OPT_PROPENSITIES,
	OPT_CLIP,
	OPT_SWITCH_TAU,
	OPT_DROS_LAMBDA,
	OPT_SMOOTH,
	OPT_POPULARITY,
	OPT_MC_DRAWS,
	OPT_W_CLICK,
	OPT_W_PAY,
	OPT_IDLE_EXIT,
	OPT_VERSION,
	OPT_EXPLORE,
	OPT_GATE,
	OPT_MARGIN,
	OPT_MAX_LOSS_RATIO
};

#define MAX_POLICIES 64

/* q-eval's own options. */
struct qe_opts {
	const char *policies[MAX_POLICIES];
	size_t npolicies;
	const char *compare[2];		/* NULL: no comparison */
	const char *action_set, *requests, *popularity;
	char *model_specs[MAX_POLICIES];	/* "model:DIR" of each -m */
	size_t nmodels;
	uint32_t version;		/* the model targets' version (0: the newest) */
	const char *explore;		/* and the exploration they serve under */
	unsigned estimators;		/* 1 << QE_E_* */
	long bootstrap;
	uint64_t seed;
	double gamma, smooth;
	long mc_draws;
	int table;
	int64_t idle_exit;		/* ms; 0: read to the end */
	struct qe_log_opts log;
	struct qe_eval_opts eval;
	struct qe_gate_opts gate;	/* gate.store NULL: no gate */
};

/* A policy's results. */
struct result {
	struct qe_policy *pol;
	struct qe_judged j;
	struct qe_sessions S;
	double est[QE_E_COUNT], units[QE_E_COUNT];
	double *reps;			/* bootstrap replicates: [e][r] */
};

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: q-eval [-hqtVv] -p policy [-p policy]... [-a action-set] [-b brokers] [-e estimators]\n"
	    "              [-g gamma] [-G group] [-i input]... [-m modeldir]... [-n bootstrap] [-o output]\n"
	    "              [-r requests] [-s seed] [-X key=value]... [--model-version version] [--explore policy]\n"
	    "              [--compare policy policy] [--logging kind]\n"
	    "              [--propensities conditional|marginal] [--clip weight] [--switch-tau weight]\n"
	    "              [--dros-lambda lambda] [--smooth shows] [--popularity file] [--mc-draws n]\n"
	    "              [--w-click weight] [--w-pay weight] [--idle-exit duration]\n"
	    "              [--dead-letter endpoint] [--max-line bytes] [--stats file]\n"
	    "              [--stats-interval duration] [--metrics file] [--commit-interval duration]\n"
	    "              [--strict]\n"
	    "       q-eval --gate modeldir [--margin m] [--max-loss-ratio r] [-e estimator] [-r requests]\n"
	    "              [--explore policy] [-i input]... [common options as above]\n");
	exit(status);
}

static void
bad_value(const char *opt, const char *want, const char *arg)
{
	diag_warn("%s: %s: %s", opt, want, arg);
	usage(2);
}

static void
add_policy(struct qe_opts *o, const char *spec)
{
	size_t i;

	for (i = 0; i < o->npolicies; i++)
		if (strcmp(o->policies[i], spec) == 0)
			return;
	if (o->npolicies == MAX_POLICIES)
		bad_value("--policy", "too many policies", spec);
	o->policies[o->npolicies++] = spec;
}

/* q-eval's own options (the common ones were handled before). */
static void
handle_option(struct qe_opts *o, int ch, char *arg, int argc, char **argv)
{
	char err[256];
	long l;

	switch (ch) {
	case 'a': o->action_set = arg; break;
	case 'e':
		if (qe_est_parse(arg, &o->estimators, err, sizeof err) != 0)
			bad_value("--estimators", "not an estimator", err);
		break;
	case 'g':
		if (parse_double(arg, 0, 1, &o->gamma) != 0)
			bad_value("--gamma", "expected a number from 0 to 1", arg);
		break;
	case 'n':
		if (parse_long(arg, 0, 100000, &o->bootstrap) != 0)
			bad_value("--bootstrap", "expected a count from 0 to 100000", arg);
		break;
	case 'm':
		if (o->nmodels == MAX_POLICIES)
			bad_value("--model", "too many models", arg);
		o->model_specs[o->nmodels] = xmalloc(strlen(arg) + 7);
		snprintf(o->model_specs[o->nmodels], strlen(arg) + 7, "model:%s", arg);
		add_policy(o, o->model_specs[o->nmodels++]);
		break;
	case 'p': add_policy(o, arg); break;
	case OPT_VERSION:
		if (parse_long(arg, 1, UINT32_MAX, &l) != 0)
			bad_value("--model-version", "expected a version number from 1", arg);
		o->version = (uint32_t)l;
		break;
	case OPT_EXPLORE: {
		struct rank_explore ex;

		if (rank_explore_parse(arg, &ex) != 0)
			bad_value("--explore", "expected greedy, epsilon:E (0..1), softmax:T or softmax:Tsd (T > 0)", arg);
		o->explore = arg;
		break;
	}
	case 'r': o->requests = arg; break;
	case 's':
		if (parse_long(arg, 0, LONG_MAX, &l) != 0)
			bad_value("--seed", "expected a whole number", arg);
		o->seed = (uint64_t)l;
		break;
	case 't': o->table = 1; break;
	case OPT_COMPARE:
		/* Two arguments: the second is the next word. */
		if (optind >= argc || argv[optind][0] == '-')
			bad_value("--compare", "expected two policies", arg);
		o->compare[0] = arg;
		o->compare[1] = argv[optind++];
		add_policy(o, o->compare[0]);
		add_policy(o, o->compare[1]);
		break;
	case OPT_LOGGING:
		if (qe_logging_parse(arg, &o->log.logging) != 0)
			bad_value("--logging", "expected pl, epsilon:E or uniform", arg);
		break;
	case OPT_PROPENSITIES:
		if (strcmp(arg, "conditional") != 0 && strcmp(arg, "marginal") != 0)
			bad_value("--propensities", "expected conditional or marginal", arg);
		o->log.logging.marginal = strcmp(arg, "marginal") == 0;
		break;
	case OPT_CLIP:
		if (parse_double(arg, 1e-9, INFINITY, &o->eval.clip) != 0)
			bad_value("--clip", "expected a positive weight", arg);
		break;
	case OPT_SWITCH_TAU:
		if (parse_double(arg, 0, INFINITY, &o->eval.switch_tau) != 0)
			bad_value("--switch-tau", "expected a weight of 0 or more", arg);
		break;
	case OPT_DROS_LAMBDA:
		if (parse_double(arg, 0, INFINITY, &o->eval.dros_lambda) != 0)
			bad_value("--dros-lambda", "expected a number of 0 or more", arg);
		break;
	case OPT_SMOOTH:
		if (parse_double(arg, 0, 1e12, &o->smooth) != 0)
			bad_value("--smooth", "expected a number of shows, 0 or more", arg);
		break;
	case OPT_POPULARITY: o->popularity = arg; break;
	case OPT_MC_DRAWS:
		if (parse_long(arg, 1, 1000000, &o->mc_draws) != 0)
			bad_value("--mc-draws", "expected a count from 1 to 1000000", arg);
		break;
	case OPT_W_CLICK:
		if (parse_double(arg, -1e9, 1e9, &o->log.w_click) != 0)
			bad_value("--w-click", "expected a number", arg);
		break;
	case OPT_W_PAY:
		if (parse_double(arg, -1e9, 1e9, &o->log.w_pay) != 0)
			bad_value("--w-pay", "expected a number", arg);
		break;
	case OPT_IDLE_EXIT:
		if ((o->idle_exit = parse_duration_ms(arg)) <= 0)
			bad_value("--idle-exit", "expected a positive duration", arg);
		break;
	case OPT_GATE: o->gate.store = arg; break;
	case OPT_MARGIN: {
		size_t n = strlen(arg);
		char num[64];

		/* N% is a share of the promoted version's estimate; a plain number is in the estimator's units. */
		o->gate.margin_share = n > 1 && arg[n - 1] == '%';
		snprintf(num, sizeof num, "%.*s", (int)(n - (size_t)o->gate.margin_share), arg);
		if (parse_double(num, 0, o->gate.margin_share ? 100 : INFINITY, &o->gate.margin) != 0)
			bad_value("--margin", "expected a number of 0 or more, or a percentage", arg);
		if (o->gate.margin_share)
			o->gate.margin /= 100;
		break;
	}
	case OPT_MAX_LOSS_RATIO:
		if (parse_double(arg, 1, INFINITY, &o->gate.max_loss_ratio) != 0)
			bad_value("--max-loss-ratio", "expected a ratio of 1 or more", arg);
		break;
	case 'h':
		usage(0);
	default:
		usage(2);
	}
}

/* The gate's options checked: no policies of its own, one estimator (IPS by default), an interval. */
static void
gate_options(struct qe_opts *o)
{
	unsigned e = o->estimators;

	if (o->npolicies > 0 || o->version != 0) {
		diag_warn("--gate: the versions come from the store (no -p, -m, --compare or --model-version)");
		usage(2);
	}
	if (e == (1u << QE_E_COUNT) - 1)
		e = 1u << QE_E_IPS;
	if (e == 0 || (e & (e - 1)) != 0) {
		diag_warn("--gate: one estimator decides (-e)");
		usage(2);
	}
	if (o->bootstrap == 0) {
		diag_warn("--gate: the decision needs an interval (-n from 1)");
		usage(2);
	}
	o->estimators = e;
	for (o->gate.est = 0; !(e & (1u << o->gate.est)); o->gate.est++)
		;
	o->log.request_state = 1;
}

static void
parse_options(int argc, char **argv, struct qe_opts *o, struct tool_opts *to)
{
	static const struct option longopts[] = {
		TOOL_LONGOPTS,
		{ "action-set",    required_argument, NULL, 'a' },
		{ "estimators",    required_argument, NULL, 'e' },
		{ "gamma",         required_argument, NULL, 'g' },
		{ "help",          no_argument,       NULL, 'h' },
		{ "bootstrap",     required_argument, NULL, 'n' },
		{ "model",         required_argument, NULL, 'm' },
		{ "policy",        required_argument, NULL, 'p' },
		{ "requests",      required_argument, NULL, 'r' },
		{ "seed",          required_argument, NULL, 's' },
		{ "table",         no_argument,       NULL, 't' },
		{ "compare",       required_argument, NULL, OPT_COMPARE },
		{ "logging",       required_argument, NULL, OPT_LOGGING },
		{ "propensities",  required_argument, NULL, OPT_PROPENSITIES },
		{ "clip",          required_argument, NULL, OPT_CLIP },
		{ "switch-tau",    required_argument, NULL, OPT_SWITCH_TAU },
		{ "dros-lambda",   required_argument, NULL, OPT_DROS_LAMBDA },
		{ "smooth",        required_argument, NULL, OPT_SMOOTH },
		{ "popularity",    required_argument, NULL, OPT_POPULARITY },
		{ "mc-draws",      required_argument, NULL, OPT_MC_DRAWS },
		{ "gate",          required_argument, NULL, OPT_GATE },
		{ "margin",        required_argument, NULL, OPT_MARGIN },
		{ "max-loss-ratio", required_argument, NULL, OPT_MAX_LOSS_RATIO },
		{ "w-click",       required_argument, NULL, OPT_W_CLICK },
		{ "w-pay",         required_argument, NULL, OPT_W_PAY },
		{ "idle-exit",     required_argument, NULL, OPT_IDLE_EXIT },
		{ "model-version", required_argument, NULL, OPT_VERSION },
		{ "explore",       required_argument, NULL, OPT_EXPLORE },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	/* "+": no permutation, so that --compare can take the word after its argument. */
	while ((ch = getopt_long(argc, argv, "+" TOOL_SHORTOPTS "a:e:g:hm:n:p:r:s:t", longopts, NULL)) != -1) {
		switch (tool_opts_handle(to, ch, optarg)) {
		case 1:
			continue;
		case -1:
			usage(2);
		}
		handle_option(o, ch, optarg, argc, argv);
	}
	if (optind != argc)
		usage(2);
	if (o->gate.store != NULL) {
		gate_options(o);
		return;
	}
	if (o->npolicies == 0) {
		diag_warn("no policy to evaluate (-p)");
		usage(2);
	}
	for (size_t i = 0; i < o->npolicies; i++)
		if (strncmp(o->policies[i], "model:", 6) == 0 || strncmp(o->policies[i], "recorded:", 9) == 0)
			o->log.request_state = 1;	/* the requests' history, context, features and recorded choices */
}

/* Dead-letters a line of an input or of a side file; counts it when counter is not NULL. */
static void
reject(struct tool_io *io, const struct line *ln, uint64_t *counter, const char *reason)
{
	tool_io_reject(io, ln, "%s", reason);
	if (counter != NULL)
		(*counter)++;
}

/* Reads a side file (the action set, the requests) into log. 0, or -1 when it cannot be read. */
static int
read_side(struct tool_io *io, struct qe_log *log, const char *path, int requests)
{
	struct line_reader *lr = line_reader_open((char *const *)&path, 1, NULL, io->opts->max_line);
	struct qe_reader *rd = qe_reader_new();
	uint64_t *n = stats_counter(io->st, requests ? "requests" : "action_set");
	struct qe_rrequest rq;
	struct qe_str item;
	struct line ln;
	char err[512];
	int r, st;

	while ((r = line_reader_next(lr, &ln)) == 1) {
		if (ln.too_long) {
			reject(io, &ln, NULL, "line longer than --max-line");
			continue;
		}
		if (requests)
			st = qe_read_request(rd, ln.buf, ln.len, &rq, err, sizeof err) != 0 ||
			    qe_log_add_request(log, &rq, err, sizeof err) != 0;
		else
			st = qe_read_item(rd, ln.buf, ln.len, &item, err, sizeof err) != 0 ||
			    qe_log_add_action(log, &item, err, sizeof err) != 0;
		if (st)
			reject(io, &ln, NULL, err);
		else
			(*n)++;
	}
	st = r != 0 || line_reader_failed(lr) ? -1 : 0;
	if (st != 0)
		diag_warn("%s: cannot be read", path);
	qe_reader_free(rd);
	line_reader_close(lr);
	return st;
}

/* The reading of the inputs: when a Kafka input was last assigned partitions. */
struct reading {
	struct tool_io *io;
	int64_t assigned_at;		/* 0: not yet */
};

/* Notes assignments (the idle time counts from there); a revocation checkpoints first, as by default. */
static void
on_rebalance(void *arg, int assigned, const char *topic, const int32_t *parts, size_t n)
{
	struct reading *rd = arg;

	if (assigned)
		rd->assigned_at = now_ms();
	else
		tool_io_checkpoint(rd->io);
}

/*
 * Reads every logged record of the inputs into log, dead-lettering the lines
 * that do not fit. With idle_exit, a Kafka input stops once it has had
 * partitions and no record for that long.
 */
static void
read_logs(struct tool_io *io, struct qe_log *log, int64_t idle_exit)
{
	struct qe_reader *rd = qe_reader_new();
	uint64_t *badprop = stats_counter(io->st, "bad_propensity");
	struct reading rg = { io, 0 };
	int64_t last = 0;
	struct qe_record rec;
	struct line ln;
	char err[512];
	int r, st;

	if (idle_exit > 0)
		line_reader_on_rebalance(io->in, on_rebalance, &rg);
	while ((r = tool_io_next(io, &ln)) > 0) {
		if (r == LINE_IDLE) {
			if (idle_exit > 0 && rg.assigned_at > 0 &&
			    now_ms() - (last > rg.assigned_at ? last : rg.assigned_at) >= idle_exit)
				break;
			continue;
		}
		last = now_ms();
		st = qe_read_record(rd, ln.buf, ln.len, &rec, err, sizeof err);
		if (st == 0)
			st = qe_log_add(log, &rec, ln.source, err, sizeof err);
		if (st != 0)
			reject(io, &ln, st == QE_READ_BADPROP ? badprop : NULL, err);
		else
			tool_io_done(io, &ln);
	}
	qe_reader_free(rd);
}

/* A page refused when qe_log_finish() checked it: to the dead letters with its reason. */
static void
drop_page(void *arg, const char *source, const char *raw, size_t rawlen, const char *reason)
{
	struct tool_io *io = arg;

	if (deadletter_put_raw(io->dl, source, raw, rawlen, "%s", reason) != 0 || io->opts->strict)
		io->status = 1;
	(*stats_counter(io->st, "bad_propensity"))++;
}

/* The popularity the popular policy ranks by: from --popularity's logs, else from the input's. */
static double *
popularity(struct tool_io *io, const struct qe_opts *o, struct qe_log *log, const struct qe_rmodel *rm,
    size_t *n)
{
	struct qe_log_opts lo = o->log;
	struct qe_log *plog;
	struct qe_rmodel *prm;
	struct tool_opts to = *io->opts;
	char *in[1] = { (char *)o->popularity };
	struct tool_io *pio;
	double *pop;

	*n = qe_ids_count(log->items);
	pop = xcalloc(*n + 1, sizeof *pop);
	if (o->popularity == NULL) {
		qe_rmodel_popularity(rm, log, log, pop);
		return pop;
	}
	/* Only the clicks and pays of those logs count: their propensities are not checked. */
	lo.logging.kind = QE_LOG_PL;
	lo.logging.marginal = 1;
	plog = qe_log_new(&lo);
	to.inputs = in;
	to.ninputs = 1;
	to.output = "/dev/null";
	to.stats = NULL;
	to.metrics = NULL;
	if ((pio = tool_io_open(&to, "q-eval")) == NULL)
		diag_fatal(1, "%s: cannot be read", o->popularity);
	read_logs(pio, plog, 0);
	qe_log_finish(plog, drop_page, pio);
	if (tool_io_close(pio) != 0)
		io->status = 1;
	prm = qe_rmodel_fit(plog, o->smooth);
	qe_rmodel_popularity(prm, plog, log, pop);
	qe_rmodel_free(prm);
	qe_log_free(plog);
	return pop;
}

/* What the chosen estimators need of the policies. */
static int
needs(const struct qe_opts *o)
{
	unsigned e = o->estimators;
	int need = 0;

	if (e & ((1u << QE_E_DM) | (1u << QE_E_IPS) | (1u << QE_E_SNIPS) | (1u << QE_E_DR) | (1u << QE_E_SNDR) |
	    (1u << QE_E_SWITCH) | (1u << QE_E_DROS)))
		need |= o->log.logging.marginal ? QE_NEED_MARG : QE_NEED_COND;
	if (e & ((1u << QE_E_RIPS) | (1u << QE_E_PDIS) | (1u << QE_E_WPDIS) | (1u << QE_E_SDR)))
		need |= QE_NEED_COND | (o->log.logging.marginal ? QE_NEED_MARG : 0);
	if (e & ((1u << QE_E_IIPS) | (1u << QE_E_PI) | (1u << QE_E_SDR)))
		need |= QE_NEED_MARG;
	return need;
}

/* Makes and judges every policy, then sums their terms per session. 0, or -1 after a diagnostic. */
static int
evaluate(struct tool_io *io, struct qe_opts *o, struct qe_log *log, struct result *res, const double *G, size_t nG)
{
	struct qe_rmodel *rm = qe_rmodel_fit(log, o->smooth);
	struct qe_policy_env env = { log, NULL, 0, (size_t)o->mc_draws, o->version, o->explore };
	double *pop;
	char err[512];
	size_t i;
	int st = 0;

	pop = popularity(io, o, log, rm, &env.npopularity);
	env.popularity = pop;
	o->eval.need = needs(o);
	for (i = 0; i < o->npolicies; i++) {
		if ((res[i].pol = qe_policy_new(o->policies[i], &env, err, sizeof err)) == NULL) {
			diag_warn("-p %s", err);
			st = -1;
			break;
		}
		qe_eval_policy(res[i].pol, log, rm, &o->eval, &res[i].j);
		qe_sessions_build(&res[i].S, log, &res[i].j, NULL, o->gamma, o->eval.clip, G, nG);
		qe_estimate(&res[i].S, NULL, o->estimators, res[i].est, res[i].units);
		*stats_counter(io->st, "refused") += res[i].j.refused;
	}
	free(pop);
	qe_rmodel_free(rm);
	return st;
}

/* The bootstrap: every policy and the compared pair on the same resampled sessions. */
static void
bootstrap(const struct qe_opts *o, struct result *res, size_t np, struct qe_sessions *pair, double *pair_reps,
    size_t ns)
{
	double est[QE_E_COUNT], est2[QE_E_COUNT];
	size_t B = (size_t)o->bootstrap, r, i;
	struct qe_boot bt;
	int e;

	if (B == 0)
		return;
	qe_boot_init(&bt, ns, o->seed);
	for (r = 0; r < B; r++) {
		qe_boot_next(&bt);
		for (i = 0; i < np; i++) {
			qe_estimate(&res[i].S, bt.cnt, o->estimators, est, NULL);
			for (e = 0; e < QE_E_COUNT; e++)
				res[i].reps[e * B + r] = est[e];
		}
		if (pair != NULL) {
			qe_estimate(&pair[0], bt.cnt, o->estimators, est, NULL);
			qe_estimate(&pair[1], bt.cnt, o->estimators, est2, NULL);
			for (e = 0; e < QE_E_COUNT; e++)
				pair_reps[e * B + r] = est[e] - est2[e];
		}
	}
	qe_boot_free(&bt);
}

/* The interval of replicates reps[0 .. B): 2.5% and 97.5% quantiles, and their standard deviation. */
static void
interval(double *reps, size_t B, double *lo, double *hi, double *se)
{
	double m = 0, ss = 0;
	size_t i, n = 0;

	*lo = *hi = *se = NAN;
	for (i = 0; i < B; i++)
		if (isfinite(reps[i])) {
			m += reps[i];
			n++;
		}
	if (n < 2)
		return;
	m /= (double)n;
	for (i = 0; i < B; i++)
		if (isfinite(reps[i]))
			ss += (reps[i] - m) * (reps[i] - m);
	*se = sqrt(ss / (double)(n - 1));
	*lo = qe_quantile(reps, B, 0.025);
	*hi = qe_quantile(reps, B, 0.975);
}

/* Why a policy has no estimate from e. */
static const char *
reason(const struct result *r, enum qe_est e, const struct qe_log *log)
{
	enum qe_family f = qe_est_family(e);

	if (log->npages == 0)
		return "no logged page";
	if (r->j.refused == log->npages)
		return r->j.why_refused;
	if (f != QE_FAM_COUNT && r->j.why[f] != NULL)
		return r->j.why[f];
	if (e == QE_E_SDR)
		return "the policy gives no position marginals for the direct part";
	if (r->j.why[QE_FAM_ITEM] != NULL)
		return r->j.why[QE_FAM_ITEM];
	if (log->n_noprop_pages == log->npages)
		return "no logged page has propensities";
	return "no unit to average";
}

static void
fill_weights(struct qe_row *row, const struct qe_wstat *w)
{
	row->has_w = 1;
	row->ess = w->sum2 > 0 ? w->sum * w->sum / w->sum2 : NAN;
	row->max_w = w->n > 0 ? w->max : NAN;
	row->nclipped = w->nclipped;
	row->clipped_share = w->sum + w->over > 0 ? w->over / (w->sum + w->over) : 0;
}

/* Writes one row as a JSON line or a line of the table. */
static void
emit_row(struct tool_io *io, struct jbuf *b, const struct qe_row *row, int table)
{
	jbuf_reset(b);
	if (table)
		qe_report_text(b, row);
	else
		qe_report_json(b, row);
	tool_io_emit_raw(io, NULL, b->p, b->len);
}

static void
report(struct tool_io *io, const struct qe_opts *o, const struct qe_log *log, struct result *res,
    struct qe_sessions *pair, double *pair_reps)
{
	struct jbuf b = { 0 };
	struct qe_row row;
	double est[QE_E_COUNT], est2[QE_E_COUNT], units[QE_E_COUNT];
	size_t B = (size_t)o->bootstrap, i;
	int e, table = o->table || ((io->opts->output == NULL || strcmp(io->opts->output, "-") == 0) && isatty(1));

	if (table) {
		qe_report_heading(&b);
		tool_io_emit_raw(io, NULL, b.p, b.len);
	}
	for (i = 0; i < o->npolicies; i++)
		for (e = 0; e < QE_E_COUNT; e++) {
			if (!(o->estimators & (1u << e)))
				continue;
			memset(&row, 0, sizeof row);
			row.policy = res[i].pol->name;
			row.e = (enum qe_est)e;
			row.est = res[i].est[e];
			row.lo = row.hi = row.se = NAN;
			if (B > 0)
				interval(res[i].reps + e * B, B, &row.lo, &row.hi, &row.se);
			row.units = res[i].units[e];
			row.sessions = log->nsessions;
			if (qe_est_family(row.e) != QE_FAM_COUNT)
				fill_weights(&row, &res[i].j.w[qe_est_family(row.e)]);
			else if (e >= QE_E_PDIS)
				fill_weights(&row, &res[i].S.w);
			row.refused = res[i].j.refused;
			row.dm_only = log->n_noprop_pages;
			row.reason = reason(&res[i], row.e, log);
			emit_row(io, &b, &row, table);
		}
	if (pair != NULL) {
		qe_estimate(&pair[0], NULL, o->estimators, est, units);
		qe_estimate(&pair[1], NULL, o->estimators, est2, NULL);
		for (e = 0; e < QE_E_COUNT; e++) {
			if (!(o->estimators & (1u << e)))
				continue;
			memset(&row, 0, sizeof row);
			row.a = o->compare[0];
			row.b = o->compare[1];
			row.e = (enum qe_est)e;
			row.est = est[e] - est2[e];
			row.lo = row.hi = row.se = NAN;
			if (B > 0)
				interval(pair_reps + e * B, B, &row.lo, &row.hi, &row.se);
			row.units = units[e];
			row.sessions = log->nsessions;
			row.reason = "no unit both policies can weigh";
			emit_row(io, &b, &row, table);
		}
	}
	jbuf_free(&b);
}

/* Counts of what was read, to the stats and (with -v) to standard error. */
static void
count_log(struct tool_io *io, const struct qe_log *log)
{
	*stats_counter(io->st, "pages") = log->npages;
	*stats_counter(io->st, "sessions") = log->nsessions;
	*stats_counter(io->st, "items") = log->nit;
	*stats_counter(io->st, "pages_no_propensity") = log->n_noprop_pages;
	*stats_counter(io->st, "items_no_propensity") = log->n_noprop_items;
	*stats_counter(io->st, "pages_without_request") = log->n_no_request;
	diag_info(2, "%zu pages in %zu sessions, %zu items", log->npages, log->nsessions, log->nit);
	if (log->n_noprop_pages > 0)
		diag_info(1, "%" PRIu64 " page(s) without propensities: the direct method alone uses them",
		    log->n_noprop_pages);
	if (log->n_no_request > 0)
		diag_info(1, "%" PRIu64 " page(s) without a request in --requests: no candidates", log->n_no_request);
}

static struct qe_policy *
find_policy(struct result *res, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(res[i].pol->name, name) == 0)
			return res[i].pol;
	return NULL;
}

/* Reads, evaluates and reports; the exit status. */
static int
run(struct tool_io *io, struct qe_opts *o)
{
	struct result res[MAX_POLICIES];
	struct qe_sessions pair[2];
	struct qe_log *log = qe_log_new(&o->log);
	double *G = NULL, *pair_reps = NULL;
	size_t i, nG, B = (size_t)o->bootstrap, ia = 0, ib = 0;
	int st = 1, have_pair = 0;

	memset(res, 0, sizeof res);
	if ((o->action_set != NULL && read_side(io, log, o->action_set, 0) != 0) ||
	    (o->requests != NULL && read_side(io, log, o->requests, 1) != 0))
		goto out;
	read_logs(io, log, o->idle_exit);
	qe_log_finish(log, drop_page, io);
	count_log(io, log);
	G = qe_continuation(log, o->gamma, &nG);
	if (o->gate.store != NULL) {
		o->eval.need = needs(o);
		o->gate.explore = o->explore;
		o->gate.bootstrap = (size_t)o->bootstrap;
		o->gate.seed = o->seed;
		o->gate.gamma = o->gamma;
		o->gate.smooth = o->smooth;
		o->gate.mc_draws = (size_t)o->mc_draws;
		o->gate.eval = o->eval;
		st = qe_gate_run(io, &o->gate, log, G, nG) != 0;
		goto out;
	}
	if (evaluate(io, o, log, res, G, nG) != 0)
		goto out;
	if (o->compare[0] != NULL) {
		for (i = 0; i < o->npolicies; i++) {
			if (res[i].pol == find_policy(res, o->npolicies, o->compare[0]))
				ia = i;
			if (res[i].pol == find_policy(res, o->npolicies, o->compare[1]))
				ib = i;
		}
		qe_sessions_build(&pair[0], log, &res[ia].j, &res[ib].j, o->gamma, o->eval.clip, G, nG);
		qe_sessions_build(&pair[1], log, &res[ib].j, &res[ia].j, o->gamma, o->eval.clip, G, nG);
		have_pair = 1;
		pair_reps = xcalloc(QE_E_COUNT * B + 1, sizeof *pair_reps);
	}
	for (i = 0; i < o->npolicies; i++)
		res[i].reps = xcalloc(QE_E_COUNT * B + 1, sizeof *res[i].reps);
	bootstrap(o, res, o->npolicies, have_pair ? pair : NULL, pair_reps, log->nsessions);
	report(io, o, log, res, have_pair ? pair : NULL, pair_reps);
	st = 0;
out:
	for (i = 0; i < o->npolicies; i++) {
		qe_policy_free(res[i].pol);
		qe_judged_free(&res[i].j);
		qe_sessions_free(&res[i].S);
		free(res[i].reps);
	}
	if (have_pair) {
		qe_sessions_free(&pair[0]);
		qe_sessions_free(&pair[1]);
	}
	free(pair_reps);
	free(G);
	qe_log_free(log);
	return st;
}

int
main(int argc, char *argv[])
{
	struct qe_opts o = {
		.estimators = (1u << QE_E_COUNT) - 1, .bootstrap = 200, .seed = 1, .gamma = 0.9, .smooth = 100,
		.mc_draws = 64,
		.log = { .logging = { QE_LOG_PL, 0, 0 }, .w_click = 1, .w_pay = 1 },
		.eval = { .clip = INFINITY, .switch_tau = 10, .dros_lambda = 100 },
		.gate = { .margin = 0.05, .margin_share = 1 }
	};
	struct tool_opts to = { 0 };
	struct tool_io *io;
	int status;

	diag_init(argv[0]);
	parse_options(argc, argv, &o, &to);
	o.eval.seed = o.seed;
	if ((io = tool_io_open(&to, "q-eval")) == NULL) {
		tool_opts_free(&to);
		return 1;
	}
	if (run(io, &o) != 0)
		io->status = 1;
	status = tool_io_close(io);
	tool_opts_free(&to);
	for (size_t i = 0; i < o.nmodels; i++)
		free(o.model_specs[i]);
	return status;
}
