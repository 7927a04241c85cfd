/* est.c: the estimators' values from per-session sums, the session estimators' terms, and the bootstrap over sessions. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "est.h"
#include "xalloc.h"

static const struct {
	const char *name, *level;
	enum qe_family fam;
} est_info[QE_E_COUNT] = {
	[QE_E_DM] = { "DM", "item", QE_FAM_COUNT },
	[QE_E_IPS] = { "IPS", "item", QE_FAM_ITEM },
	[QE_E_SNIPS] = { "SNIPS", "item", QE_FAM_ITEM },
	[QE_E_DR] = { "DR", "item", QE_FAM_ITEM },
	[QE_E_SNDR] = { "SNDR", "item", QE_FAM_ITEM },
	[QE_E_SWITCH] = { "Switch-DR", "item", QE_FAM_ITEM },
	[QE_E_DROS] = { "DRos", "item", QE_FAM_ITEM },
	[QE_E_IIPS] = { "IIPS", "page", QE_FAM_IIPS },
	[QE_E_RIPS] = { "RIPS", "page", QE_FAM_RIPS },
	[QE_E_PI] = { "PI", "page", QE_FAM_PI },
	[QE_E_PDIS] = { "PDIS", "session", QE_FAM_COUNT },
	[QE_E_WPDIS] = { "WPDIS", "session", QE_FAM_COUNT },
	[QE_E_SDR] = { "SDR", "session", QE_FAM_COUNT },
};

const char *
qe_est_name(enum qe_est e)
{
	return est_info[e].name;
}

const char *
qe_est_level(enum qe_est e)
{
	return est_info[e].level;
}

enum qe_family
qe_est_family(enum qe_est e)
{
	return est_info[e].fam;
}

int
qe_est_parse(const char *s, unsigned *mask, char *err, size_t errlen)
{
	char *copy = xstrdup(s), *tok, *save = NULL;
	int e, st = 0;

	*mask = 0;
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (strcasecmp(tok, "all") == 0) {
			*mask |= (1u << QE_E_COUNT) - 1;
			continue;
		}
		for (e = 0; e < QE_E_COUNT; e++)
			if (strcasecmp(tok, est_info[e].name) == 0 || strcasecmp(tok, est_info[e].level) == 0)
				*mask |= 1u << e;
		for (e = 0; e < QE_E_COUNT; e++)
			if (strcasecmp(tok, est_info[e].name) == 0 || strcasecmp(tok, est_info[e].level) == 0)
				break;
		if (e == QE_E_COUNT) {
			snprintf(err, errlen, "%s", tok);
			st = -1;
			break;
		}
	}
	if (st == 0 && *mask == 0) {
		snprintf(err, errlen, "%s", s);
		st = -1;
	}
	free(copy);
	return st;
}

double *
qe_continuation(const struct qe_log *log, double gamma, size_t *n)
{
	size_t s, t, T, tmax = 0;
	double *G, *cnt, *R, g;

	for (s = 0; s < log->nsessions; s++)
		if (log->sessions[s].n > tmax)
			tmax = log->sessions[s].n;
	G = xcalloc(tmax + 2, sizeof *G);
	cnt = xcalloc(tmax + 2, sizeof *cnt);
	R = xcalloc(tmax + 2, sizeof *R);
	for (s = 0; s < log->nsessions; s++) {
		const struct qe_session *se = &log->sessions[s];

		T = se->n;
		for (t = 0; t < T; t++) {
			const struct qe_page *p = &log->pages[se->first + t];
			size_t i;

			R[t] = 0;
			for (i = 0; i < p->n; i++)
				R[t] += log->it[p->first + i].r;
		}
		/* The return from t on, for t = T down to 1; the session reached page t − 1. */
		g = 0;
		for (t = T + 1; t-- > 1;) {
			if (t < T)
				g = R[t] + gamma * g;
			G[t] += g;
			cnt[t]++;
		}
	}
	for (t = 1; t <= tmax; t++)
		G[t] = cnt[t] > 0 ? G[t] / cnt[t] : 0;
	G[0] = 0;
	free(cnt);
	free(R);
	*n = tmax + 1;
	return G;
}

/* The session terms of one session whose pages all have ratios: PDIS, sequential DR, the WPDIS rows. */
static void
session_terms(struct qe_sessions *S, size_t s, const struct qe_log *log, const struct qe_pterm *pa, int sdr,
    double gamma, double clip, const double *G, size_t nG)
{
	const struct qe_session *se = &log->sessions[s];
	double *v = S->v + s * QE_SV_COUNT, P = 1, Pc, Pprev = 1, disc = 1, g, Q, V;
	size_t t, T = se->n;

	v[QE_SV_SESS] = 1;
	v[QE_SV_SDR_N] = sdr;
	for (t = 0; t < T; t++) {
		const struct qe_pterm *pt = &pa[se->first + t];

		P *= pt->rho;
		Pc = P > clip ? clip : P;
		v[QE_SV_PDIS] += disc * Pc * pt->R;
		if (sdr) {
			/* the reward model's values need the logs' continuation; a policy's own values hold it */
			g = pt->flags & QE_PF_OWNQ ? 0 : t + 1 < nG ? G[t + 1] : 0;
			Q = pt->qhat + gamma * g;
			V = pt->vhat + gamma * g;
			v[QE_SV_SDR] += disc * (Pc * (pt->R - Q) + Pprev * V);
		}
		S->cw[S->off[s] + t] = Pc;
		S->gr[S->off[s] + t] = disc * pt->R;
		Pprev = Pc;
		disc *= gamma;
		S->w.n++;
		if (P > S->w.max || S->w.n == 1)
			S->w.max = P;
		if (P > clip) {
			S->w.over += P - clip;
			S->w.nclipped++;
		}
		S->w.sum += Pc;
		S->w.sum2 += Pc * Pc;
	}
	S->len[s] = (uint32_t)T;
	if (T > S->tmax)
		S->tmax = T;
}

/* Which page families count for terms t (by the flag that carries them). */
static uint32_t
term_flag(int t)
{
	switch (t) {
	case QE_T_DM_N: case QE_T_DM:
		return QE_PF_DM;
	case QE_T_IIPS_N: case QE_T_IIPS:
		return QE_PF_IIPS;
	case QE_T_RIPS_N: case QE_T_RIPS:
		return QE_PF_RIPS;
	case QE_T_PI_N: case QE_T_PI:
		return QE_PF_PI;
	default:
		return QE_PF_ITEM;
	}
}

void
qe_sessions_build(struct qe_sessions *S, const struct qe_log *log, const struct qe_judged *a,
    const struct qe_judged *b, double gamma, double clip, const double *G, size_t nG)
{
	size_t s, t, i, np = 0;
	uint32_t f, need;
	int ok, sdr;

	memset(S, 0, sizeof *S);
	S->ns = log->nsessions;
	S->v = xcalloc(S->ns * QE_SV_COUNT + 1, sizeof *S->v);
	S->off = xmalloc((S->ns + 1) * sizeof *S->off);
	S->len = xcalloc(S->ns + 1, sizeof *S->len);
	S->cw = xmalloc((log->npages + 1) * sizeof *S->cw);
	S->gr = xmalloc((log->npages + 1) * sizeof *S->gr);
	for (s = 0; s < S->ns; s++) {
		const struct qe_session *se = &log->sessions[s];
		double *v = S->v + s * QE_SV_COUNT;

		S->off[s] = np;
		np += se->n;
		ok = sdr = 1;
		for (t = 0; t < se->n; t++) {
			i = se->first + t;
			f = a->pages[i].flags & (b != NULL ? b->pages[i].flags : ~0u);
			for (int k = 0; k < QE_T_COUNT; k++)
				if (f & term_flag(k))
					v[k] += a->pages[i].t[k];
			need = QE_PF_JUDGED | QE_PF_RHO;
			ok &= (f & need) == need;
			sdr &= (f & QE_PF_VHAT) != 0;
		}
		if (ok)
			session_terms(S, s, log, a->pages, sdr, gamma, clip, G, nG);
	}
}

void
qe_sessions_free(struct qe_sessions *S)
{
	free(S->v);
	free(S->off);
	free(S->len);
	free(S->cw);
	free(S->gr);
	memset(S, 0, sizeof *S);
}

static double
ratio(double a, double b)
{
	return b != 0 ? a / b : NAN;
}

/* Weighted per-decision importance sampling over the sessions, counted cnt[s] times. */
static double
wpdis(const struct qe_sessions *S, const double *cnt)
{
	double *num = xcalloc(S->tmax + 1, sizeof *num), *den = xcalloc(S->tmax + 1, sizeof *den);
	double *carry = xcalloc(S->tmax + 2, sizeof *carry), c, run = 0, v = 0;
	size_t s, t, L;
	int any = 0;

	for (s = 0; s < S->ns; s++) {
		if ((L = S->len[s]) == 0 || (c = cnt != NULL ? cnt[s] : 1) == 0)
			continue;
		for (t = 0; t < L; t++) {
			num[t] += c * S->cw[S->off[s] + t] * S->gr[S->off[s] + t];
			den[t] += c * S->cw[S->off[s] + t];
		}
		carry[L] += c * S->cw[S->off[s] + L - 1];	/* an ended session keeps its weight in later steps */
		any = 1;
	}
	for (t = 0; t < S->tmax; t++) {
		run += carry[t];
		if (den[t] + run > 0)
			v += num[t] / (den[t] + run);
	}
	free(num);
	free(den);
	free(carry);
	return any ? v : NAN;
}

void
qe_estimate(const struct qe_sessions *S, const double *cnt, unsigned mask, double *est, double *units)
{
	double A[QE_SV_COUNT] = { 0 }, c, n;
	size_t s;
	int k, e;

	for (s = 0; s < S->ns; s++) {
		if ((c = cnt != NULL ? cnt[s] : 1) == 0)
			continue;
		for (k = 0; k < QE_SV_COUNT; k++)
			A[k] += c * S->v[s * QE_SV_COUNT + k];
	}
	n = A[QE_T_N];
	for (e = 0; e < QE_E_COUNT; e++)
		est[e] = NAN;
	if (mask & (1u << QE_E_DM))
		est[QE_E_DM] = ratio(A[QE_T_DM], A[QE_T_DM_N]);
	if (mask & (1u << QE_E_IPS))
		est[QE_E_IPS] = ratio(A[QE_T_WR], n);
	if (mask & (1u << QE_E_SNIPS))
		est[QE_E_SNIPS] = ratio(A[QE_T_WR], A[QE_T_W]);
	if (mask & (1u << QE_E_DR))
		est[QE_E_DR] = ratio(A[QE_T_DMIS] + A[QE_T_WR] - A[QE_T_WQ], n);
	if (mask & (1u << QE_E_SNDR))
		est[QE_E_SNDR] = ratio(A[QE_T_DMIS], n) + ratio(A[QE_T_WR] - A[QE_T_WQ], A[QE_T_W]);
	if (mask & (1u << QE_E_SWITCH))
		est[QE_E_SWITCH] = ratio(A[QE_T_DMIS] + A[QE_T_SW], n);
	if (mask & (1u << QE_E_DROS))
		est[QE_E_DROS] = ratio(A[QE_T_DMIS] + A[QE_T_OS], n);
	if (mask & (1u << QE_E_IIPS))
		est[QE_E_IIPS] = ratio(A[QE_T_IIPS], A[QE_T_IIPS_N]);
	if (mask & (1u << QE_E_RIPS))
		est[QE_E_RIPS] = ratio(A[QE_T_RIPS], A[QE_T_RIPS_N]);
	if (mask & (1u << QE_E_PI))
		est[QE_E_PI] = ratio(A[QE_T_PI], A[QE_T_PI_N]);
	if (mask & (1u << QE_E_PDIS))
		est[QE_E_PDIS] = ratio(A[QE_SV_PDIS], A[QE_SV_SESS]);
	if (mask & (1u << QE_E_WPDIS))
		est[QE_E_WPDIS] = wpdis(S, cnt);
	if (mask & (1u << QE_E_SDR))
		est[QE_E_SDR] = ratio(A[QE_SV_SDR], A[QE_SV_SDR_N]);
	if (units != NULL) {
		units[QE_E_DM] = A[QE_T_DM_N];
		for (e = QE_E_IPS; e <= QE_E_DROS; e++)
			units[e] = n;
		units[QE_E_IIPS] = A[QE_T_IIPS_N];
		units[QE_E_RIPS] = A[QE_T_RIPS_N];
		units[QE_E_PI] = A[QE_T_PI_N];
		units[QE_E_PDIS] = units[QE_E_WPDIS] = A[QE_SV_SESS];
		units[QE_E_SDR] = A[QE_SV_SDR_N];
	}
}

void
qe_boot_init(struct qe_boot *b, size_t ns, uint64_t seed)
{
	b->ns = ns;
	b->cnt = xcalloc(ns + 1, sizeof *b->cnt);
	rng_seed(&b->rng, seed);
}

void
qe_boot_next(struct qe_boot *b)
{
	size_t i;

	memset(b->cnt, 0, b->ns * sizeof *b->cnt);
	for (i = 0; i < b->ns; i++)
		b->cnt[(size_t)(rng_uniform(&b->rng) * (double)b->ns)]++;
}

void
qe_boot_free(struct qe_boot *b)
{
	free(b->cnt);
	b->cnt = NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double
qe_quantile(double *x, size_t n, double q)
{
	size_t i, m = 0;
	double pos, frac;

	for (i = 0; i < n; i++)
		if (isfinite(x[i]))
			x[m++] = x[i];
	if (m == 0)
		return NAN;
	qsort(x, m, sizeof *x, cmp_double);
	pos = q * (double)(m - 1);
	i = (size_t)pos;
	frac = pos - (double)i;
	return i + 1 < m ? x[i] * (1 - frac) + x[i + 1] * frac : x[m - 1];
}
