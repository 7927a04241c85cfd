/* test_qeval_est.c: q-eval's estimators on synthetic logs with a known truth — bias, bootstrap coverage over many seeds, the logged policy's self-check, the pseudo-inverse weight and the Thompson table. */
/* test-links: q-eval */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "est.h"
#include "eval.h"
#include "log.h"
#include "policy.h"
#include "rank.h"
#include "rmodel.h"

/* ---- a target that is a fixed softmax over scores by item number, or a fixed distribution ---- */

struct fixed {
	const double *score;		/* by item number */
	double temp;
	struct rank_ws ws;
	double q[16];
};

/* Exact position marginals of a softmax ranking of n <= 6 candidates, k slots, by enumeration of the lists. */
static void
exact_marginals(const double *q, size_t n, size_t k, double temp, double *marg)
{
	int idx[6], used[6] = { 0 };
	size_t depth = 0;
	double prob[7] = { 1 };

	memset(marg, 0, k * n * sizeof *marg);
	/* An explicit depth-first walk over the lists, carrying each prefix's probability. */
	idx[0] = -1;
	while (1) {
		int c = ++idx[depth];
		double tot = 0, w;
		size_t i;

		if (c >= (int)n) {
			if (depth == 0)
				break;
			depth--;
			used[idx[depth]] = 0;
			continue;
		}
		if (used[c])
			continue;
		for (i = 0; i < n; i++)
			if (!used[i])
				tot += exp(q[i] / temp);
		w = exp(q[c] / temp) / tot;
		marg[depth * n + (size_t)c] += prob[depth] * w;
		if (depth + 1 < k) {
			used[c] = 1;
			prob[depth + 1] = prob[depth] * w;
			depth++;
			idx[depth] = -1;
		}
	}
}

static enum qe_verdict
fixed_judge(struct qe_policy *p, const struct qe_view *v, struct qe_dist *d)
{
	struct fixed *f = p->state;
	struct rank_explore ex = { RANK_SOFTMAX, f->temp, 0 };
	uint32_t above[QE_MAX_ITEMS];
	double m[6 * 6];
	size_t i, j, n = v->ncand, k = v->page->n;

	for (i = 0; i < n; i++)
		f->q[i] = f->score[v->cand[i]];
	for (j = 0; j + 1 < k; j++)
		above[j] = v->lidx[j];
	if (v->contiguous)
		rank_cond(&ex, f->q, n, above, k, &f->ws, d->cond);
	else
		d->cond = NULL;
	exact_marginals(f->q, n, v->depth, f->temp, m);
	for (j = 0; j < k; j++)
		memcpy(d->marg + j * n, m + v->items[j].pos * n, n * sizeof *m);
	d->qhat = NULL;
	return QE_JUDGED;
}

static void
fixed_free(struct qe_policy *p)
{
	rank_ws_free(&((struct fixed *)p->state)->ws);
}

static const struct qe_policy_ops fixed_ops = { fixed_judge, fixed_free };

/* ---- the bandit: 5 items, pages of 2 slots, uniform logging without replacement ---- */

#define NI 5
#define K 2
static const double rho[NI][K] = {
	{ 0.30, 0.20 }, { 0.10, 0.08 }, { 0.50, 0.35 }, { 0.05, 0.04 }, { 0.20, 0.15 }
};
static const double tscore[NI] = { 1.0, -0.5, 2.0, -1.0, 0.3 };
#define TEMP 0.7

static void
item_name(int a, char *buf)
{
	snprintf(buf, 8, "i%d", a);
}

/* A log of n one-page sessions (or, with conditional 0, marginal propensities 1/5). */
static struct qe_log *
bandit_log(uint64_t seed, size_t n, int conditional)
{
	struct qe_log_opts lo = { { QE_LOG_UNIFORM, 0, !conditional }, 1, 1, 0 };
	struct qe_log *log = qe_log_new(&lo);
	struct rng rng;
	struct qe_record rec;
	struct qe_ritem it[K];
	char names[K][8], sess[32], err[256];
	size_t s;
	int j, a, used[NI];

	for (a = 0; a < NI; a++) {
		struct qe_str st;

		item_name(a, names[0]);
		st.p = names[0];
		st.len = strlen(names[0]);
		qe_log_add_action(log, &st, err, sizeof err);
	}
	rng_seed(&rng, seed);
	for (s = 0; s < n; s++) {
		memset(used, 0, sizeof used);
		for (j = 0; j < K; j++) {
			int pick = (int)(rng_uniform(&rng) * (NI - j));

			for (a = 0; a < NI; a++)
				if (!used[a] && pick-- == 0)
					break;
			used[a] = 1;
			item_name(a, names[j]);
			it[j].item.p = names[j];
			it[j].item.len = strlen(names[j]);
			it[j].pos = (uint32_t)j;
			it[j].prop = conditional ? 1.0 / (NI - j) : 1.0 / NI;
			it[j].click = rng_uniform(&rng) < rho[a][j];
			it[j].pay = 0;
		}
		snprintf(sess, sizeof sess, "s%zu", s);
		memset(&rec, 0, sizeof rec);
		rec.kind = QE_REC_TRANSITION;
		rec.session.p = sess;
		rec.session.len = strlen(sess);
		rec.request.p = "";
		rec.ts = INT64_MIN;
		rec.items = it;
		rec.nitems = K;
		if (qe_log_add(log, &rec, NULL, err, sizeof err) != 0)
			fprintf(stderr, "bandit_log: %s\n", err);
	}
	qe_log_finish(log, NULL, NULL);
	return log;
}

/* The truths: the page's value and the item-position value given the logged item above (uniform logging). */
static void
bandit_truth(double *page, double *item)
{
	struct rank_explore ex = { RANK_SOFTMAX, TEMP, 0 };
	struct rank_ws ws = { 0 };
	double m[K * NI], cond[K * NI], s0 = 0, s1 = 0;
	uint32_t above;
	int a, j;

	exact_marginals(tscore, NI, K, TEMP, m);
	*page = 0;
	for (j = 0; j < K; j++)
		for (a = 0; a < NI; a++)
			*page += m[j * NI + a] * rho[a][j];
	for (a = 0; a < NI; a++)
		s0 += m[a] * rho[a][0];
	for (above = 0; above < NI; above++) {
		rank_cond(&ex, tscore, NI, &above, K, &ws, cond);
		for (a = 0; a < NI; a++)
			s1 += cond[NI + a] * rho[a][1] / NI;
	}
	*item = (s0 + s1) / K;
	rank_ws_free(&ws);
}

/* Scores of the log's item numbers. */
static void
log_scores(const struct qe_log *log, double *score)
{
	char name[8];
	int a;

	for (a = 0; a < NI; a++) {
		item_name(a, name);
		score[qe_ids_find(log->items, name, strlen(name))] = tscore[a];
	}
}

/* Evaluates policy p on log: point estimates and bootstrap intervals (B replicates) of every estimator. */
static void
run_estimators(struct qe_policy *p, const struct qe_log *log, const struct qe_eval_opts *o, size_t B, double gamma,
    double *est, double *lo, double *hi)
{
	struct qe_rmodel *rm = qe_rmodel_fit(log, 100);
	struct qe_judged jd;
	struct qe_sessions S;
	struct qe_boot bt;
	double *G, rep[QE_E_COUNT], reps[QE_E_COUNT][400];
	size_t nG, r;
	int e;

	G = qe_continuation(log, gamma, &nG);
	qe_eval_policy(p, log, rm, o, &jd);
	qe_sessions_build(&S, log, &jd, NULL, gamma, o->clip, G, nG);
	qe_estimate(&S, NULL, (1u << QE_E_COUNT) - 1, est, NULL);
	if (B > 0) {
		qe_boot_init(&bt, S.ns, 99);
		for (r = 0; r < B; r++) {
			qe_boot_next(&bt);
			qe_estimate(&S, bt.cnt, (1u << QE_E_COUNT) - 1, rep, NULL);
			for (e = 0; e < QE_E_COUNT; e++)
				reps[e][r] = rep[e];
		}
		for (e = 0; e < QE_E_COUNT; e++) {
			lo[e] = qe_quantile(reps[e], B, 0.025);
			hi[e] = qe_quantile(reps[e], B, 0.975);
		}
		qe_boot_free(&bt);
	}
	qe_sessions_free(&S);
	qe_judged_free(&jd);
	qe_rmodel_free(rm);
	free(G);
}

#define SEEDS 200
#define PAGES 1000
#define BOOT 200

/* Each estimator's mean over many logs against its truth, and how often its interval holds the truth. */
static void
check_bandit(void)
{
	struct qe_eval_opts o = { INFINITY, INFINITY, INFINITY, QE_NEED_COND | QE_NEED_MARG, 1 };
	double truth_page, truth_item, est[QE_E_COUNT], lo[QE_E_COUNT], hi[QE_E_COUNT], score[NI];
	double sum[QE_E_COUNT] = { 0 }, sum2[QE_E_COUNT] = { 0 }, cover[QE_E_COUNT] = { 0 }, truth[QE_E_COUNT];
	struct fixed f = { score, TEMP, { 0 }, { 0 } };
	struct qe_policy p = { &fixed_ops, "fixed", NULL, 0, &f };
	static const enum qe_est unbiased[] = { QE_E_IPS, QE_E_DR, QE_E_SWITCH, QE_E_DROS, QE_E_IIPS, QE_E_RIPS,
	    QE_E_PI, QE_E_PDIS, QE_E_SDR };
	static const enum qe_est consistent[] = { QE_E_SNIPS, QE_E_SNDR, QE_E_WPDIS };
	size_t s, i;
	int e;

	bandit_truth(&truth_page, &truth_item);
	for (e = 0; e < QE_E_COUNT; e++)
		truth[e] = e <= QE_E_DROS ? truth_item : truth_page;
	for (s = 0; s < SEEDS; s++) {
		struct qe_log *log = bandit_log(1000 + s, PAGES, 1);

		log_scores(log, score);
		run_estimators(&p, log, &o, BOOT, 0.9, est, lo, hi);
		for (e = 0; e < QE_E_COUNT; e++) {
			sum[e] += est[e];
			sum2[e] += est[e] * est[e];
			cover[e] += lo[e] <= truth[e] && truth[e] <= hi[e];
		}
		if (s == 0) {
			CHECK(fabs(est[QE_E_DROS] - est[QE_E_DR]) < 1e-12 && fabs(est[QE_E_SWITCH] - est[QE_E_DR]) < 1e-12,
			    "Switch-DR and DRos without a threshold are DR: %g %g %g", est[QE_E_SWITCH], est[QE_E_DROS],
			    est[QE_E_DR]);
		}
		qe_log_free(log);
	}
	printf("bandit: truth item %.5f page %.5f\n", truth_item, truth_page);
	for (i = 0; i < sizeof unbiased / sizeof *unbiased; i++) {
		double m = sum[unbiased[i]] / SEEDS, sd = sqrt(sum2[unbiased[i]] / SEEDS - m * m);

		e = unbiased[i];
		printf("  %-9s mean %.5f  sd %.5f  coverage %.3f\n", qe_est_name(e), m, sd, cover[e] / SEEDS);
		CHECK(fabs(m - truth[e]) < 4 * sd / sqrt(SEEDS), "%s: mean %g over %d logs, truth %g (sd %g)",
		    qe_est_name(e), m, SEEDS, truth[e], sd);
		CHECK(cover[e] / SEEDS >= 0.85 && cover[e] / SEEDS <= 0.995, "%s: the 95%% interval held the truth in "
		    "%.0f of %d logs", qe_est_name(e), cover[e], SEEDS);
	}
	for (i = 0; i < sizeof consistent / sizeof *consistent; i++) {
		double m = sum[consistent[i]] / SEEDS;

		e = consistent[i];
		printf("  %-9s mean %.5f  coverage %.3f\n", qe_est_name(e), m, cover[e] / SEEDS);
		CHECK(fabs(m - truth[e]) < 0.01 * truth[e] + 0.002, "%s: mean %g, truth %g", qe_est_name(e), m, truth[e]);
		CHECK(cover[e] / SEEDS >= 0.85, "%s: coverage %.3f", qe_est_name(e), cover[e] / SEEDS);
	}
	rank_ws_free(&f.ws);
}

/* The logged policy estimates the logs' own mean, exactly, by every importance estimator. */
static void
check_logged(void)
{
	struct qe_eval_opts o = { INFINITY, 10, INFINITY, QE_NEED_COND | QE_NEED_MARG, 1 };
	struct qe_log *log = bandit_log(7, 3000, 1);
	struct qe_policy p = { 0 };
	struct qe_policy_env env = { log, NULL, 0, 64, 0, NULL };
	struct qe_policy *lp;
	double est[QE_E_COUNT], item = 0, page;
	char err[256];
	size_t i;
	int e;

	(void)p;
	lp = qe_policy_new("logged", &env, err, sizeof err);
	for (i = 0; i < log->nit; i++)
		item += log->it[i].r;
	page = item / (double)log->npages;
	item /= (double)log->nit;
	run_estimators(lp, log, &o, 0, 0.9, est, NULL, NULL);
	for (e = QE_E_IPS; e < QE_E_COUNT; e++)
		CHECK(fabs(est[e] - (e <= QE_E_DROS ? item : page)) < 1e-12, "logged: %s is %.15g, the logs' mean %.15g",
		    qe_est_name(e), est[e], e <= QE_E_DROS ? item : page);
	qe_policy_free(lp);
	qe_log_free(log);
}

/* ---- sessions: one slot a page, the session goes on more often after a click ---- */

#define MI 3
#define H 4
static const double mrho[MI] = { 0.6, 0.3, 0.1 };
static const double target_pi[MI] = { 0.2, 0.3, 0.5 };	/* softmax over these log-scores at T 1 */
#define C1 0.8
#define C0 0.4
#define GAMMA 0.9

static struct qe_log *
mdp_log(uint64_t seed, size_t n)
{
	struct qe_log_opts lo = { { QE_LOG_UNIFORM, 0, 0 }, 1, 1, 0 };
	struct qe_log *log = qe_log_new(&lo);
	struct qe_record rec;
	struct qe_ritem it;
	struct rng rng;
	char name[8], sess[32], err[256];
	size_t s;
	int t, a;

	for (a = 0; a < MI; a++) {
		struct qe_str st = { name, 0 };

		item_name(a, name);
		st.len = strlen(name);
		qe_log_add_action(log, &st, err, sizeof err);
	}
	rng_seed(&rng, seed);
	for (s = 0; s < n; s++) {
		snprintf(sess, sizeof sess, "s%zu", s);
		for (t = 0; t < H; t++) {
			a = (int)(rng_uniform(&rng) * MI);
			item_name(a, name);
			it.item.p = name;
			it.item.len = strlen(name);
			it.pos = 0;
			it.prop = 1.0 / MI;
			it.click = rng_uniform(&rng) < mrho[a];
			it.pay = 0;
			memset(&rec, 0, sizeof rec);
			rec.kind = QE_REC_TRANSITION;
			rec.session.p = sess;
			rec.session.len = strlen(sess);
			rec.request.p = "";
			rec.order = t;
			rec.ts = INT64_MIN;
			rec.items = &it;
			rec.nitems = 1;
			if (qe_log_add(log, &rec, NULL, err, sizeof err) != 0)
				fprintf(stderr, "mdp_log: %s\n", err);
			if (rng_uniform(&rng) >= (it.click ? C1 : C0))
				break;
		}
	}
	qe_log_finish(log, NULL, NULL);
	return log;
}

static double
mdp_truth(void)
{
	double V = 0, nv;
	int t, a;

	for (t = H - 1; t >= 0; t--) {
		nv = 0;
		for (a = 0; a < MI; a++)
			nv += target_pi[a] * (mrho[a] + GAMMA * (mrho[a] * C1 + (1 - mrho[a]) * C0) * V);
		V = nv;
	}
	return V;
}

static void
check_sessions(void)
{
	struct qe_eval_opts o = { INFINITY, INFINITY, INFINITY, QE_NEED_COND | QE_NEED_MARG, 1 };
	double score[MI], est[QE_E_COUNT], lo[QE_E_COUNT], hi[QE_E_COUNT], truth = mdp_truth();
	double sum[QE_E_COUNT] = { 0 }, sum2[QE_E_COUNT] = { 0 }, cover[QE_E_COUNT] = { 0 };
	struct fixed f = { score, 1, { 0 }, { 0 } };
	struct qe_policy p = { &fixed_ops, "fixed", NULL, 0, &f };
	static const enum qe_est ests[] = { QE_E_PDIS, QE_E_WPDIS, QE_E_SDR };
	char name[8];
	size_t s, i;
	int a, e;

	for (s = 0; s < SEEDS; s++) {
		struct qe_log *lg = mdp_log(5000 + s, 1000);

		for (a = 0; a < MI; a++) {
			item_name(a, name);
			score[qe_ids_find(lg->items, name, strlen(name))] = log(target_pi[a]);
		}
		run_estimators(&p, lg, &o, BOOT, GAMMA, est, lo, hi);
		for (i = 0; i < 3; i++) {
			e = ests[i];
			sum[e] += est[e];
			sum2[e] += est[e] * est[e];
			cover[e] += lo[e] <= truth && truth <= hi[e];
		}
		qe_log_free(lg);
	}
	printf("sessions: truth %.5f\n", truth);
	for (i = 0; i < 3; i++) {
		double m, sd;

		e = ests[i];
		m = sum[e] / SEEDS;
		sd = sqrt(sum2[e] / SEEDS - m * m);
		printf("  %-9s mean %.5f  sd %.5f  coverage %.3f\n", qe_est_name(e), m, sd, cover[e] / SEEDS);
		if (e == QE_E_WPDIS)
			CHECK(fabs(m - truth) < 0.02 * truth, "WPDIS: mean %g, truth %g", m, truth);
		else
			CHECK(fabs(m - truth) < 4 * sd / sqrt(SEEDS), "%s: mean %g, truth %g (sd %g)", qe_est_name(e), m,
			    truth, sd);
		CHECK(cover[e] / SEEDS >= 0.85 && cover[e] / SEEDS <= 0.995, "%s: coverage %.3f", qe_est_name(e),
		    cover[e] / SEEDS);
	}
	rank_ws_free(&f.ws);
}

/* ---- the pseudo-inverse weight against a numerical pseudo-inverse ---- */

/* Eigen-decomposition of a symmetric m×m matrix A (destroyed) by cyclic Jacobi: values in d, vectors in V's columns. */
static void
jacobi(double *A, size_t m, double *d, double *V)
{
	size_t i, j, p, q, sweep;

	for (i = 0; i < m; i++)
		for (j = 0; j < m; j++)
			V[i * m + j] = i == j;
	for (sweep = 0; sweep < 100; sweep++) {
		double off = 0;

		for (p = 0; p < m; p++)
			for (q = p + 1; q < m; q++)
				off += A[p * m + q] * A[p * m + q];
		if (off < 1e-30)
			break;
		for (p = 0; p < m; p++)
			for (q = p + 1; q < m; q++) {
				double apq = A[p * m + q], th, t, c, sn;

				if (fabs(apq) < 1e-300)
					continue;
				th = (A[q * m + q] - A[p * m + p]) / (2 * apq);
				t = (th >= 0 ? 1 : -1) / (fabs(th) + sqrt(th * th + 1));
				c = 1 / sqrt(t * t + 1);
				sn = t * c;
				for (i = 0; i < m; i++) {
					double aip = A[i * m + p], aiq = A[i * m + q];

					A[i * m + p] = c * aip - sn * aiq;
					A[i * m + q] = sn * aip + c * aiq;
				}
				for (i = 0; i < m; i++) {
					double api = A[p * m + i], aqi = A[q * m + i];

					A[p * m + i] = c * api - sn * aqi;
					A[q * m + i] = sn * api + c * aqi;
				}
				for (i = 0; i < m; i++) {
					double vip = V[i * m + p], viq = V[i * m + q];

					V[i * m + p] = c * vip - sn * viq;
					V[i * m + q] = sn * vip + c * viq;
				}
			}
	}
	for (i = 0; i < m; i++)
		d[i] = A[i * m + i];
}

/* Every slate of k of n (no repeats) in turn: returns 0 after the last. */
static int
next_slate(int *s, size_t n, size_t k)
{
	size_t j, i;
	int dup;

	for (;;) {
		for (j = k; j-- > 0;) {
			if (++s[j] < (int)n)
				break;
			s[j] = 0;
			if (j == 0)
				return 0;
		}
		dup = 0;
		for (j = 0; j < k; j++)
			for (i = 0; i < j; i++)
				dup |= s[i] == s[j];
		if (!dup)
			return 1;
	}
}

static void
check_pi(size_t n, size_t k)
{
	size_t m = n * k, i, j, l, nsl = 0;
	double G[64 * 64], V[64 * 64], d[64], P[64 * 64], theta[64], q[6], marg[6 * 6], wmax = 0;
	int s[6], first;

	for (i = 0; i < n; i++)
		q[i] = 0.3 * (double)i - 0.2 * (double)(i % 2);
	exact_marginals(q, n, k, 0.8, marg);
	for (j = 0; j < k; j++)
		for (i = 0; i < n; i++)
			theta[j * n + i] = marg[j * n + i];
	/* Γ = E[1_s 1_sᵀ] under uniform logging without replacement. */
	memset(G, 0, sizeof G);
	for (i = 0; i < k; i++)
		s[i] = (int)i;
	first = 1;
	while (first || next_slate(s, n, k)) {
		first = 0;
		for (j = 0; j < k; j++)
			for (l = 0; l < k; l++)
				G[(j * n + (size_t)s[j]) * m + l * n + (size_t)s[l]] += 1;
		nsl++;
	}
	for (i = 0; i < m * m; i++)
		G[i] /= (double)nsl;
	jacobi(G, m, d, V);
	for (i = 0; i < m; i++)
		for (j = 0; j < m; j++) {
			P[i * m + j] = 0;
			for (l = 0; l < m; l++)
				if (fabs(d[l]) > 1e-9)
					P[i * m + j] += V[i * m + l] * V[j * m + l] / d[l];
		}
	for (i = 0; i < k; i++)
		s[i] = (int)i;
	first = 1;
	while (first || next_slate(s, n, k)) {
		double w = 0, A = 0, B = 0;

		first = 0;
		for (i = 0; i < m; i++)
			for (j = 0; j < k; j++)
				w += theta[i] * P[i * m + j * n + (size_t)s[j]];
		for (j = 0; j < k; j++) {
			B += theta[j * n + (size_t)s[j]];
			for (l = 0; l < k; l++)
				A += theta[l * n + (size_t)s[j]];
		}
		if (fabs(w - qe_pi_weight(n, k, A, B)) > wmax)
			wmax = fabs(w - qe_pi_weight(n, k, A, B));
	}
	CHECK(wmax < 1e-8, "PI weight, n %zu k %zu: the closed form is off the pseudo-inverse by %g", n, k, wmax);
}

/* ---- the Thompson table against draws ---- */

static double
gamma_draw(struct rng *r, double a)
{
	double d, c, x, v, u;

	if (a < 1)
		return gamma_draw(r, a + 1) * pow(rng_uniform(r), 1 / a);
	d = a - 1.0 / 3;
	c = 1 / sqrt(9 * d);
	for (;;) {
		do {
			x = sqrt(-2 * log(rng_uniform(r) + 1e-300)) * cos(2 * M_PI * rng_uniform(r));
			v = 1 + c * x;
		} while (v <= 0);
		v = v * v * v;
		u = rng_uniform(r);
		if (log(u + 1e-300) < 0.5 * x * x + d - d * v + d * log(v))
			return d * v;
	}
}

static void
check_thompson(void)
{
	/* The first ten arms of the Open Bandit Dataset's "men" prior. */
	static const double al[10] = { 47, 8, 62, 142, 3, 6, 100, 48, 23, 71 };
	static const double be[10] = { 12198, 3566, 15993, 35522, 2367, 3100, 24665, 13210, 7061, 18061 };
	enum { NA = 10, KK = 3, DRAWS = 200000 };
	double tab[KK * NA], freq[KK * NA] = { 0 }, th[NA], sum, worst = 0, z;
	struct rng rng;
	int d, a, r, best[KK];

	CHECK(qe_thompson_table(al, be, NA, KK, tab) == 0, "the table");
	for (r = 0; r < KK; r++) {
		sum = 0;
		for (a = 0; a < NA; a++)
			sum += tab[r * NA + a];
		CHECK(fabs(sum - 1) < 1e-6, "rank %d: the arms' probabilities sum to %.9f", r, sum);
	}
	rng_seed(&rng, 11);
	for (d = 0; d < DRAWS; d++) {
		for (a = 0; a < NA; a++) {
			double x = gamma_draw(&rng, al[a]), y = gamma_draw(&rng, be[a]);

			th[a] = x / (x + y);
		}
		for (r = 0; r < KK; r++) {
			best[r] = -1;
			for (a = 0; a < NA; a++)
				if ((r < 1 || a != best[0]) && (r < 2 || a != best[1]) && (best[r] < 0 || th[a] > th[best[r]]))
					best[r] = a;
			freq[r * NA + best[r]] += 1.0 / DRAWS;
		}
	}
	for (a = 0; a < KK * NA; a++) {
		z = fabs(freq[a] - tab[a]) / sqrt(tab[a] * (1 - tab[a]) / DRAWS + 1e-12);
		if (z > worst)
			worst = z;
	}
	CHECK(worst < 4.5, "Thompson table against %d draws: the worst cell is %.2f standard errors off", DRAWS, worst);
	printf("thompson: worst cell %.2f standard errors from %d draws\n", worst, DRAWS);
}

int
main(void)
{
	check_pi(4, 2);
	check_pi(5, 2);
	check_pi(4, 3);
	check_pi(3, 3);
	check_pi(5, 1);
	check_logged();
	check_bandit();
	check_sessions();
	check_thompson();
	return check_done();
}
