/* gate.c: the publish gate — each new version of a store against the promoted one, on logged pages it did not learn from. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "diag.h"
#include "est.h"
#include "eval.h"
#include "gate.h"
#include "jsonx.h"
#include "model.h"
#include "policy.h"
#include "promote.h"
#include "rmodel.h"
#include "stats.h"
#include "xalloc.h"

/* One decision: a version against the promoted one. */
struct decision {
	uint32_t version, against;	/* against 0: the first promotion, nothing to compare with */
	int promoted;
	double diff, lo, hi, est, est_against, units;
	double margin;			/* in the estimator's units */
	char why[512];
};

static json_t *
num(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

/* A version's manifest as JSON, or NULL when it cannot be read. */
static json_t *
manifest(const char *store, uint32_t v)
{
	char *dir = model_version_dir(store, v), *path;
	size_t n = strlen(dir) + sizeof "/manifest.json";
	json_t *m;

	path = xmalloc(n);
	snprintf(path, n, "%s/manifest.json", dir);
	m = json_load_file(path, 0, NULL);
	free(path);
	free(dir);
	if (m != NULL && !json_is_object(m)) {
		json_decref(m);
		m = NULL;
	}
	return m;
}

/*
 * The held-out loss check: 0 when version v's manifest does not say its loss
 * is worse than its parent's by more than --max-loss-ratio (or says nothing
 * of it), else -1 with the reason in why.
 */
static int
loss_check(const struct qe_gate_opts *g, uint32_t v, char *why, size_t n)
{
	json_t *m, *pm = NULL, *l, *pl;
	int st = 0;

	if (g->max_loss_ratio <= 0 || (m = manifest(g->store, v)) == NULL)
		return 0;
	l = json_object_get(m, "holdout_loss");
	pl = json_object_get(m, "parent_holdout_loss");
	if (!json_is_number(pl) && json_is_integer(json_object_get(m, "parent")) &&
	    json_integer_value(json_object_get(m, "parent")) > 0 &&
	    json_integer_value(json_object_get(m, "parent")) <= UINT32_MAX &&
	    (pm = manifest(g->store, (uint32_t)json_integer_value(json_object_get(m, "parent")))) != NULL)
		pl = json_object_get(pm, "holdout_loss");
	if (json_is_number(l) && json_is_number(pl) && json_number_value(pl) > 0 &&
	    json_number_value(l) > g->max_loss_ratio * json_number_value(pl)) {
		snprintf(why, n, "its held-out loss %.6g is %.3g times its parent's %.6g (--max-loss-ratio %g)",
		    json_number_value(l), json_number_value(l) / json_number_value(pl), json_number_value(pl),
		    g->max_loss_ratio);
		st = -1;
	}
	json_decref(pm);
	json_decref(m);
	return st;
}

/* Version v of the store as a target, judged on every page: the policy, or NULL with the reason in err. */
static struct qe_policy *
judge(const struct qe_gate_opts *g, struct qe_log *log, const struct qe_rmodel *rm, uint32_t v,
    struct qe_judged *j, char *err, size_t errlen)
{
	struct qe_policy_env env = { log, NULL, 0, g->mc_draws, v, g->explore };
	size_t n = strlen(g->store) + sizeof "model:";
	struct qe_policy *p;
	char *spec = xmalloc(n);

	snprintf(spec, n, "model:%s", g->store);
	p = qe_policy_new(spec, &env, err, errlen);
	free(spec);
	if (p != NULL)
		qe_eval_policy(p, log, rm, &g->eval, j);
	return p;
}

/* The paired difference candidate − promoted with its bootstrap interval into d. */
static void
compare(const struct qe_gate_opts *g, const struct qe_log *log, const struct qe_judged *jc,
    const struct qe_judged *jp, const double *G, size_t nG, struct decision *d)
{
	struct qe_sessions S[2];
	struct qe_boot bt;
	double ec[QE_E_COUNT], ep[QE_E_COUNT], units[QE_E_COUNT], *reps;
	unsigned mask = 1u << g->est;
	size_t r;

	qe_sessions_build(&S[0], log, jc, jp, g->gamma, g->eval.clip, G, nG);
	qe_sessions_build(&S[1], log, jp, jc, g->gamma, g->eval.clip, G, nG);
	qe_estimate(&S[0], NULL, mask, ec, units);
	qe_estimate(&S[1], NULL, mask, ep, NULL);
	d->est = ec[g->est];
	d->est_against = ep[g->est];
	d->diff = ec[g->est] - ep[g->est];
	d->units = units[g->est];
	reps = xcalloc(g->bootstrap + 1, sizeof *reps);
	qe_boot_init(&bt, log->nsessions, g->seed);
	for (r = 0; r < g->bootstrap; r++) {
		qe_boot_next(&bt);
		qe_estimate(&S[0], bt.cnt, mask, ec, NULL);
		qe_estimate(&S[1], bt.cnt, mask, ep, NULL);
		reps[r] = ec[g->est] - ep[g->est];
	}
	qe_boot_free(&bt);
	d->lo = qe_quantile(reps, g->bootstrap, 0.025);
	d->hi = qe_quantile(reps, g->bootstrap, 0.975);
	free(reps);
	qe_sessions_free(&S[0]);
	qe_sessions_free(&S[1]);
}

/* The first and last logged time of the window. */
static void
window(const struct qe_log *log, int64_t *first, int64_t *last)
{
	size_t i;

	*first = INT64_MAX;
	*last = INT64_MIN;
	for (i = 0; i < log->npages; i++) {
		if (log->pages[i].ts == INT64_MIN)
			continue;
		if (log->pages[i].ts < *first)
			*first = log->pages[i].ts;
		if (log->pages[i].ts > *last)
			*last = log->pages[i].ts;
	}
}

/* A decision as the JSON line q-eval writes and the record keeps. */
static json_t *
decision_json(const struct qe_gate_opts *g, const struct qe_log *log, const struct decision *d)
{
	json_t *o = json_object(), *w = json_object();
	int64_t first, last;

	json_object_set_new(o, "gate", json_string(d->against == 0 ? "initial" : d->promoted ? "promoted" : "refused"));
	json_object_set_new(o, "version", json_integer(d->version));
	json_object_set_new(o, "against", d->against ? json_integer(d->against) : json_null());
	json_object_set_new(o, "estimator", json_string(qe_est_name(g->est)));
	json_object_set_new(o, "level", json_string(qe_est_level(g->est)));
	json_object_set_new(o, "difference", num(d->diff));
	json_object_set_new(o, "ci_low", num(d->lo));
	json_object_set_new(o, "ci_high", num(d->hi));
	json_object_set_new(o, "margin", num(d->margin));
	if (g->margin_share)
		json_object_set_new(o, "margin_share", json_real(g->margin));
	json_object_set_new(o, "estimate", num(d->est));
	json_object_set_new(o, "estimate_against", num(d->est_against));
	json_object_set_new(o, "units", num(d->units));
	window(log, &first, &last);
	json_object_set_new(w, "sessions", json_integer((json_int_t)log->nsessions));
	json_object_set_new(w, "pages", json_integer((json_int_t)log->npages));
	json_object_set_new(w, "first_ts", first <= last ? json_integer(first) : json_null());
	json_object_set_new(w, "last_ts", first <= last ? json_integer(last) : json_null());
	json_object_set_new(o, "window", w);
	json_object_set_new(o, "bootstrap", json_integer((json_int_t)g->bootstrap));
	json_object_set_new(o, "seed", json_integer((json_int_t)g->seed));
	json_object_set_new(o, "reason", json_string(d->why));
	json_object_set_new(o, "at_ms", json_integer(now_ms()));
	return o;
}

/* The version a store without a record starts from: its newest offline version, else its oldest. */
static uint32_t
first_version(const char *store, const uint32_t *vs, size_t n)
{
	json_t *m;
	size_t i;
	int offline;

	for (i = n; i-- > 0;) {
		if ((m = manifest(store, vs[i])) == NULL)
			continue;
		offline = json_is_string(json_object_get(m, "mode")) &&
		    strcmp(json_string_value(json_object_get(m, "mode")), "offline") == 0;
		json_decref(m);
		if (offline)
			return vs[i];
	}
	return vs[0];
}

/* Writes the record and the decision's line, and counts it. 0 or -1. */
static int
record(struct tool_io *io, const struct qe_gate_opts *g, uint32_t promoted, uint32_t examined, json_t *promotion,
    json_t *dec)
{
	json_t *doc = json_object();
	char err[512];
	int st;

	json_object_set_new(doc, "format", json_integer(1));
	json_object_set_new(doc, "version", json_integer(promoted));
	json_object_set_new(doc, "examined", json_integer(examined));
	json_object_set(doc, "promotion", promotion);
	json_object_set(doc, "last", dec);
	if ((st = promote_write(g->store, doc, err, sizeof err)) != 0)
		diag_warn("%s", err);
	json_decref(doc);
	if (st == 0)
		tool_io_emit(io, NULL, dec);
	return st;
}

/* Counts and tells one decision. */
static void
tell(struct tool_io *io, const struct qe_gate_opts *g, const struct decision *d, uint32_t promoted)
{
	(*stats_counter(io->st, d->promoted ? "gate_promoted" : "gate_refused"))++;
	*stats_gauge(io->st, "gate_promoted_version") = promoted;
	*stats_gauge(io->st, "gate_examined_version") = d->version;
	*stats_real(io->st, "gate_difference") = d->diff;
	*stats_real(io->st, "gate_ci_low") = d->lo;
	*stats_real(io->st, "gate_ci_high") = d->hi;
	if (d->against == 0)
		diag_info(1, "gate: version %" PRIu32 " promoted: %s", d->version, d->why);
	else
		diag_info(1, "gate: version %" PRIu32 " %s against %" PRIu32 ": %s %+.6g [%.6g, %.6g], margin %.6g: %s",
		    d->version, d->promoted ? "promoted" : "refused", d->against, qe_est_name(g->est), d->diff,
		    d->lo, d->hi, d->margin, d->why);
}

/* Decides on version v against the promoted version, judged in jp. */
static void
decide(const struct qe_gate_opts *g, struct qe_log *log, const struct qe_rmodel *rm, const struct qe_judged *jp,
    const double *G, size_t nG, uint32_t v, uint32_t promoted, struct decision *d)
{
	struct qe_judged jc;
	struct qe_policy *pc;
	char err[448];

	memset(d, 0, sizeof *d);
	d->version = v;
	d->against = promoted;
	d->diff = d->lo = d->hi = d->est = d->est_against = d->units = d->margin = NAN;
	if (loss_check(g, v, d->why, sizeof d->why) != 0)
		return;
	memset(&jc, 0, sizeof jc);
	if ((pc = judge(g, log, rm, v, &jc, err, sizeof err)) == NULL) {
		snprintf(d->why, sizeof d->why, "it cannot be loaded: %s", err);
		return;
	}
	compare(g, log, &jc, jp, G, nG, d);
	if (!isfinite(d->diff) || !isfinite(d->lo))
		snprintf(d->why, sizeof d->why, "no estimate of the difference on this window (%s)",
		    log->npages == 0 ? "no logged page" : jc.refused == log->npages && jc.why_refused != NULL ?
		    jc.why_refused : "no unit both versions can weigh");
	else if (d->lo > -(d->margin = g->margin_share ? g->margin * fabs(d->est_against) : g->margin)) {
		d->promoted = 1;
		snprintf(d->why, sizeof d->why, "the interval's lower end is above -margin");
	} else
		snprintf(d->why, sizeof d->why, "the interval's lower end is at or below -margin");
	qe_judged_free(&jc);
	qe_policy_free(pc);
}

int
qe_gate_run(struct tool_io *io, const struct qe_gate_opts *g, struct qe_log *log, const double *G, size_t nG)
{
	struct qe_rmodel *rm = NULL;
	struct promotion pr;
	struct qe_judged jp;
	struct qe_policy *pp = NULL;
	struct decision d;
	json_t *promotion = NULL, *dec;
	uint32_t *vs = NULL, promoted, examined, judged = 0;
	char err[512];
	size_t n = 0, i;
	int r, st = -1;

	memset(&jp, 0, sizeof jp);
	if (model_versions(g->store, &vs, &n, err, sizeof err) != 0) {
		diag_warn("%s", err);
		return -1;
	}
	if (n == 0) {
		diag_warn("%s: no version to decide on", g->store);
		goto out;
	}
	if ((r = promote_read(g->store, &pr, err, sizeof err)) < 0) {
		diag_warn("%s", err);
		goto out;
	}
	if (r == 0) {
		memset(&d, 0, sizeof d);
		d.version = first_version(g->store, vs, n);
		d.promoted = 1;
		d.diff = d.lo = d.hi = d.est = d.est_against = d.units = d.margin = NAN;
		snprintf(d.why, sizeof d.why, "the store's first promoted version (its newest offline one): nothing to compare with");
		promoted = examined = d.version;
		promotion = decision_json(g, log, &d);
		if (record(io, g, promoted, examined, promotion, promotion) != 0)
			goto out;
		tell(io, g, &d, promoted);
	} else {
		promoted = pr.version;
		examined = pr.examined;
		promotion = json_incref(json_object_get(pr.doc, "promotion"));
		if (promotion == NULL)
			promotion = json_null();
		promote_free(&pr);
	}
	*stats_gauge(io->st, "gate_promoted_version") = promoted;
	if (log->npages == 0) {
		/* No window: nothing can be decided, and nothing is refused for want of pages. */
		diag_info(1, "gate: no logged page: no version decided");
		st = 0;
		goto out;
	}
	rm = qe_rmodel_fit(log, g->smooth);
	for (i = 0; i < n; i++) {
		if (vs[i] <= examined || vs[i] <= promoted)
			continue;
		if (judged != promoted) {
			qe_judged_free(&jp);
			qe_policy_free(pp);
			memset(&jp, 0, sizeof jp);
			if ((pp = judge(g, log, rm, promoted, &jp, err, sizeof err)) == NULL) {
				diag_warn("the promoted version %" PRIu32 " cannot be loaded: %s", promoted, err);
				goto out;
			}
			judged = promoted;
			if (jp.refused == log->npages) {
				/* A window the promoted version cannot weigh says nothing of any version. */
				diag_warn("the promoted version %" PRIu32 " weighs no logged page: %s", promoted,
				    jp.why_refused != NULL ? jp.why_refused : "every page refused");
				goto out;
			}
		}
		decide(g, log, rm, &jp, G, nG, vs[i], promoted, &d);
		dec = decision_json(g, log, &d);
		examined = vs[i];
		if (d.promoted) {
			promoted = vs[i];
			json_decref(promotion);
			promotion = json_incref(dec);
		}
		r = record(io, g, promoted, examined, promotion, dec);
		json_decref(dec);
		if (r != 0)
			goto out;
		tell(io, g, &d, promoted);
	}
	st = 0;
out:
	qe_judged_free(&jp);
	qe_policy_free(pp);
	qe_rmodel_free(rm);
	json_decref(promotion);
	free(vs);
	return st;
}
