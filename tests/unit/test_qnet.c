/* test_qnet.c: the Q network — gradients against central finite differences, TD targets by hand, the SlateQ value. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "qnet.h"

#define NI 3		/* items on the test page */
#define MAXH 8		/* history rows */

static uint64_t rng = 12345;
static float frand(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (float)((rng >> 40) / 16777216.0) * 2 - 1;
}

/* The test problem: one page, its history rows, items, labels. */
struct page {
	float hist[MAXH][16];
	size_t nhist;
	float ctx[4];
	float e[NI][16];
	float x[NI][4];
	float y[NI];		/* regression targets of Q̄ */
	float click[NI];	/* click labels */
	float yv;		/* regression target of V alone */
};

/* Loss of the page: Σ ½(Q̄ − y)² + Σ logloss(click); accumulated in double. */
static double page_loss(const struct qnet *net, struct qnet_ws *ws, const struct page *pg)
{
	const float *h[MAXH];
	for (size_t r = 0; r < pg->nhist; r++)
		h[r] = pg->hist[r];
	qnet_state(net, ws, h, pg->nhist, pg->ctx);
	double loss = 0.5 * (ws->v - pg->yv) * (ws->v - pg->yv);
	for (int i = 0; i < NI; i++) {
		double q = qnet_qbar(net, ws, pg->e[i], pg->x[i]);
		double c = qnet_click_logit(net, ws, pg->e[i], pg->x[i]);
		loss += 0.5 * (q - pg->y[i]) * (q - pg->y[i]);
		loss += log1p(exp(-fabs(c))) + (c > 0 ? c : 0) - pg->click[i] * c;
	}
	return loss;
}

/* Analytic gradients of page_loss into g (params), dh (history rows), de (items). */
static void page_grad(const struct qnet *net, struct qnet_ws *ws, const struct page *pg,
    float *g, float *dh, float *de)
{
	const float *h[MAXH];
	for (size_t r = 0; r < pg->nhist; r++)
		h[r] = pg->hist[r];
	qnet_state(net, ws, h, pg->nhist, pg->ctx);
	for (int i = 0; i < NI; i++) {
		float q = qnet_qbar(net, ws, pg->e[i], pg->x[i]);
		float c = qnet_click_logit(net, ws, pg->e[i], pg->x[i]);
		qnet_item_backward(net, ws, pg->e[i], pg->x[i], q - pg->y[i], qnet_sigmoid(c) - pg->click[i],
		    QNET_RANGE_HEADS | QNET_RANGE_CLICK, g, de + i * net->dm.d);
	}
	qnet_v_backward(ws, ws->v - pg->yv);
	qnet_heads_backward(net, ws, QNET_RANGE_HEADS | QNET_RANGE_CLICK | QNET_RANGE_STATE, g);
	qnet_state_backward(net, ws, g, dh);
}

static int close_enough(double a, double n)
{
	return fabs(a - n) <= 1e-3 * fmax(fabs(a), fabs(n)) + 2e-4;
}

static int nkinks;	/* coordinates skipped because a ReLU or max switched within ±eps */

/*
 * Compares analytic gradient a of coordinate *v with central differences.
 * Returns 1 when they agree, 0 when not; a kink (the one-sided slopes
 * disagree) is skipped and counted as agreeing.
 */
static int numcheck(const struct qnet *net, struct qnet_ws *ws, const struct page *pg, float *v, float a,
    double *numeric)
{
	const float eps = 1e-2f;
	float keep = *v;
	double l0 = page_loss(net, ws, pg);
	*v = keep + eps;
	double lp = page_loss(net, ws, pg);
	*v = keep - eps;
	double lm = page_loss(net, ws, pg);
	*v = keep;
	double sp = (lp - l0) / eps, sm = (l0 - lm) / eps;
	*numeric = (lp - lm) / (2 * eps);
	if (fabs(sp - sm) > 0.05 * (fabs(sp) + fabs(sm)) + 5e-3) {
		nkinks++;
		return 1;
	}
	return close_enough(a, *numeric);
}

/* Checks every parameter of every tensor and every input row against central differences. */
static void gradcheck(const struct qnet_dims *dm, size_t nhist, const char *what)
{
	struct qnet *net = qnet_new(dm);
	qnet_init(net, 7);
	/* make the heads and biases large enough that every path carries gradient */
	for (size_t i = net->off[QNET_C_W]; i < net->nparam; i++)
		net->p[i] = frand() * 0.5f;
	for (int k = 0; k < (int)dm->nkern; k++)
		for (size_t i = 0; i < qnet_tensor_size(dm, QNET_CONV_B + k); i++)
			qnet_at(net, net->p, QNET_CONV_B + k)[i] = frand() * 0.1f;
	for (size_t i = 0; i < dm->H; i++)
		qnet_at(net, net->p, QNET_FC_B)[i] = 0.2f + 0.1f * frand();
	struct qnet_ws *ws = qnet_ws_new(dm);
	struct page pg;
	memset(&pg, 0, sizeof pg);
	pg.nhist = nhist;
	pg.yv = 0.7f;
	for (size_t r = 0; r < MAXH; r++)
		for (size_t c = 0; c < dm->d; c++)
			pg.hist[r][c] = frand();
	for (size_t c = 0; c < dm->C; c++)
		pg.ctx[c] = frand();
	for (int i = 0; i < NI; i++) {
		for (size_t c = 0; c < dm->d; c++)
			pg.e[i][c] = frand();
		for (size_t c = 0; c < dm->X; c++)
			pg.x[i][c] = frand();
		pg.y[i] = frand() * 2;
		pg.click[i] = i == 1;
	}
	float *g = calloc(net->nparam, sizeof *g);
	float *dh = calloc(MAXH * 16, sizeof *dh), *de = calloc(NI * 16, sizeof *de);
	page_grad(net, ws, &pg, g, dh, de);

	int kinks0 = nkinks;
	size_t ncoord = 0;
	int bad[QNET_NTENSORS] = { 0 };
	size_t nz[QNET_NTENSORS] = { 0 };
	for (int t = 0; t < QNET_NTENSORS; t++) {
		for (size_t i = net->off[t]; i < net->off[t + 1]; i++) {
			double num;
			ncoord++;
			if (!numcheck(net, ws, &pg, &net->p[i], g[i], &num)) {
				if (bad[t]++ == 0)
					fprintf(stderr, "%s: %s[%zu]: analytic %g, numeric %g\n", what,
					    qnet_tensor_name(t), i - net->off[t], g[i], num);
			}
			nz[t] += g[i] != 0;
		}
		if (net->off[t + 1] > net->off[t]) {
			CHECK(bad[t] == 0, "%s: tensor %s: %d of %zu gradients off", what, qnet_tensor_name(t),
			    bad[t], net->off[t + 1] - net->off[t]);
			/* a tensor that never gets a gradient would pass vacuously */
			if (t != QNET_CONV_W + 1 && t != QNET_CONV_B + 1)
				CHECK(nz[t] > 0 || nhist == 0, "%s: tensor %s has no gradient", what, qnet_tensor_name(t));
		}
	}
	/* inputs: the history rows (the last L of them) and the item rows */
	size_t n = nhist < dm->L ? nhist : dm->L, base = nhist - n;
	int badh = 0, bade = 0;
	for (size_t r = 0; r < n; r++) {
		for (size_t c = 0; c < dm->d; c++) {
			double num;
			ncoord++;
			if (!numcheck(net, ws, &pg, &pg.hist[base + r][c], dh[r * dm->d + c], &num))
				badh++;
		}
	}
	CHECK(badh == 0, "%s: %d history-row gradients off", what, badh);
	for (int i = 0; i < NI; i++) {
		for (size_t c = 0; c < dm->d; c++) {
			double num;
			ncoord++;
			if (!numcheck(net, ws, &pg, &pg.e[i][c], de[i * dm->d + c], &num))
				bade++;
		}
	}
	CHECK(bade == 0, "%s: %d item-row gradients off", what, bade);
	/* skipping kinks must not hide the check */
	CHECK((size_t)(nkinks - kinks0) * 20 < ncoord, "%s: %d of %zu coordinates at a kink", what,
	    nkinks - kinks0, ncoord);
	free(g);
	free(dh);
	free(de);
	qnet_ws_free(ws);
	qnet_free(net);
}

/*
 * A network whose state is fixed: convolutions and FC weights zero, so
 * s = ReLU(fc.b) whatever the history. Heads set by hand.
 */
static struct qnet *fixed_net(uint32_t target)
{
	struct qnet_dims dm;
	qnet_dims_default(&dm, 0, 1);
	dm.d = 2;
	dm.L = 4;
	dm.F = 2;
	dm.H = 2;
	struct qnet *net = qnet_new(&dm);
	net->target = target;
	float *fb = qnet_at(net, net->p, QNET_FC_B);
	fb[0] = 1;
	fb[1] = 2;			/* s = (1, 2) */
	float *vw = qnet_at(net, net->p, QNET_V_W);
	vw[0] = 0.5f;
	vw[1] = 0.25f;			/* V = 0.5 + 0.5 + b_v */
	net->p[net->off[QNET_V_B]] = 0.5f;	/* V = 1.5 */
	float *aW = qnet_at(net, net->p, QNET_A_W);
	aW[0] = 1; aW[1] = 0;		/* row h=0 */
	aW[2] = 0; aW[3] = 1;		/* row h=1: sᵀW = (1, 2) */
	qnet_at(net, net->p, QNET_A_U)[0] = 1;
	net->p[net->off[QNET_A_B]] = 0;
	/* click logit = sᵀ c.W e: c.W = identity/2 → (0.5, 1)·e */
	float *cW = qnet_at(net, net->p, QNET_C_W);
	cW[0] = 0.5f; cW[3] = 0.5f;
	return net;
}

static void td_targets(void)
{
	struct qnet *net = fixed_net(QNET_TARGET_ITEM);
	struct qnet *tgt = qnet_clone(net);
	/* the target copy lags: its V is 1.0 instead of 1.5 */
	tgt->p[tgt->off[QNET_V_B]] = 0;
	struct qnet_ws *ws = qnet_ws_new(&net->dm);
	/* items: e and one feature */
	float e1[2] = { 1, 0 }, e2[2] = { 0, 1 }, e3[2] = { 1, 1 };
	float x1[1] = { 0 }, x2[1] = { 0.5f }, x3[1] = { -2 };
	/*
	 * Session: page 0 shows e1 (clicked) and e2; page 1 shows e2 and e3, then
	 * the session ends (done). Q̄(s, e) = V + sᵀW e + x:
	 *   online: V = 1.5: Q̄(e2) = 1.5 + 2 + 0.5 = 4.0, Q̄(e3) = 1.5 + 3 − 2 = 2.5
	 *   target: V = 1.0: Q̄(e2) = 3.5, Q̄(e3) = 2.0
	 * Page 0's future (double DQN): argmax online = e2, valued by the target: 3.5.
	 * γ = 0.9, w_click = 1: y(e1) = 1 + 0.9·3.5 = 4.15, y(e2) = 0 + 3.15 = 3.15.
	 * Page 1 is done: y = r.
	 */
	const float *h1[1] = { e1 };
	const float *ne[2] = { e2, e3 }, *nx[2] = { x2, x3 };
	qnet_state(net, ws, h1, 1, NULL);
	CHECK(fabsf(qnet_qbar(net, ws, e2, x2) - 4.0f) < 1e-5f, "online Q̄(e2) = %g", qnet_qbar(net, ws, e2, x2));
	float fut = qnet_next_value(net, tgt, ws, ne, nx, 2);
	CHECK(fabsf(fut - 3.5f) < 1e-5f, "next value %g, want 3.5", fut);
	float y1 = qnet_td_target(1, 0.9f, 0, fut), y2 = qnet_td_target(0, 0.9f, 0, fut);
	CHECK(fabsf(y1 - 4.15f) < 1e-5f, "y(e1) = %g, want 4.15", y1);
	CHECK(fabsf(y2 - 3.15f) < 1e-5f, "y(e2) = %g, want 3.15", y2);
	CHECK(qnet_td_target(1, 0.9f, 1, fut) == 1.0f, "done page: target is the reward");
	CHECK(qnet_td_target(0, 0.9f, 1, fut) == 0.0f, "done page, no click: target 0");
	CHECK(qnet_next_value(net, tgt, ws, ne, nx, 0) == 0.0f, "no next page: no future");
	(void)x1;

	/*
	 * Slate: the future is V_tgt(s') + Σ P(click a') A_tgt(s', a'):
	 *   logits: (0.5, 1)·e2 = 1, (0.5, 1)·e3 = 1.5
	 *   A_tgt(e2) = 3.5 − 1 = 2.5, A_tgt(e3) = 2.0 − 1 = 1.0
	 *   1.0 + 2.5·σ(1) + 1.0·σ(1.5)
	 */
	net->target = tgt->target = QNET_TARGET_SLATE;
	qnet_state(net, ws, h1, 1, NULL);
	fut = qnet_next_value(net, tgt, ws, ne, nx, 2);
	double want = 1.0 + 2.5 / (1 + exp(-1.0)) + 1.0 / (1 + exp(-1.5));
	CHECK(fabs(fut - want) < 1e-5, "slate next value %g, want %g", fut, want);
	qnet_state(net, ws, h1, 1, NULL);
	float q = qnet_q(net, ws, e2, x2);
	CHECK(fabs(q - (1.5 + 2.5 / (1 + exp(-1.0)))) < 1e-5, "slate ranking value %g", q);

	qnet_ws_free(ws);
	qnet_free(tgt);
	qnet_free(net);
}

/* The state is computed from the last L rows, and a short history masks the wider kernel. */
static void masking(void)
{
	struct qnet_dims dm;
	qnet_dims_default(&dm, 1, 1);
	dm.d = 3; dm.L = 3; dm.F = 2; dm.H = 4;
	struct qnet *net = qnet_new(&dm);
	qnet_init(net, 1);
	struct qnet_ws *ws = qnet_ws_new(&dm);
	float r[5][3];
	for (int i = 0; i < 5; i++)
		for (int c = 0; c < 3; c++)
			r[i][c] = frand();
	const float *all[5] = { r[0], r[1], r[2], r[3], r[4] };
	float s1[4], s2[4];
	memcpy(s1, qnet_state(net, ws, all, 5, NULL), sizeof s1);
	memcpy(s2, qnet_state(net, ws, all + 2, 3, NULL), sizeof s2);
	CHECK(memcmp(s1, s2, sizeof s1) == 0, "only the last L rows count");
	qnet_state(net, ws, all, 1, NULL);
	CHECK(ws->arg[0] == -1 && ws->arg[2] == -1 && ws->z[0] == 0, "one row: both kernels masked");
	qnet_state(net, ws, all, 2, NULL);
	CHECK(ws->arg[0] == 0 && ws->arg[2] == -1, "two rows: width 3 masked, width 2 not");
	qnet_state(net, ws, all, 0, NULL);
	CHECK(ws->nhist == 0, "empty history");
	qnet_ws_free(ws);
	qnet_free(net);
}

/*
 * The convolutions against their definition, computed here in double: the
 * pooled maximum over the positions of W[f] · window + b[f], and where it
 * is, for history lengths up to L (a block of 32 positions and a part one),
 * filter counts not a multiple of 4, and several widths.
 */
static void conv_reference(void)
{
	static const struct { uint32_t d, L, F, nkern, kw[3]; } cases[] = {
		{ 5, 6, 4, 2, { 2, 3 } }, { 8, 40, 6, 3, { 1, 2, 5 } }, { 3, 33, 7, 1, { 2 } },
		{ 16, 20, 32, 2, { 2, 3 } }, { 4, 9, 1, 1, { 9 } },
	};
	int bad = 0, badarg = 0, runs = 0;
	for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
		struct qnet_dims dm;
		qnet_dims_default(&dm, 0, 0);
		dm.d = cases[ci].d; dm.L = cases[ci].L; dm.F = cases[ci].F; dm.H = 4;
		dm.nkern = cases[ci].nkern;
		for (uint32_t k = 0; k < QNET_MAX_KERNELS; k++)
			dm.kw[k] = k < dm.nkern ? cases[ci].kw[k] : 0;
		struct qnet *net = qnet_new(&dm);
		qnet_init(net, 7 + ci);
		for (uint32_t k = 0; k < dm.nkern; k++)
			for (size_t i = 0; i < dm.F; i++)
				qnet_at(net, net->p, QNET_CONV_B + k)[i] = frand();
		struct qnet_ws *ws = qnet_ws_new(&dm);
		float *rows = calloc((size_t)dm.L * dm.d, sizeof *rows);
		const float **h = calloc(dm.L, sizeof *h);
		for (size_t i = 0; i < (size_t)dm.L * dm.d; i++)
			rows[i] = frand();
		for (size_t r = 0; r < dm.L; r++)
			h[r] = rows + r * dm.d;
		for (size_t n = 0; n <= dm.L; n++) {
			qnet_state(net, ws, h, n, NULL);
			runs++;
			for (uint32_t k = 0; k < dm.nkern; k++) {
				const float *W = qnet_at(net, net->p, QNET_CONV_W + k), *b = qnet_at(net, net->p, QNET_CONV_B + k);
				size_t w = dm.kw[k];
				for (size_t f = 0; f < dm.F; f++) {
					double best = 0;
					int at = -1;
					for (size_t t = 0; t + w <= n; t++) {
						double sum = b[f];
						for (size_t j = 0; j < w * dm.d; j++)
							sum += (double)W[f * w * dm.d + j] * rows[t * dm.d + j];
						if (at < 0 || sum > best) {
							best = sum;
							at = (int)t;
						}
					}
					float got = ws->pre[k * dm.F + f];
					int gotat = ws->arg[k * dm.F + f];
					if (at < 0 ? got != 0 || gotat != -1 : fabs(got - best) > 1e-4 * (1 + fabs(best)))
						bad++;
					/* a near tie may go either way in float */
					else if (at >= 0 && gotat != at) {
						double other = b[f];
						for (size_t j = 0; gotat >= 0 && j < w * dm.d; j++)
							other += (double)W[f * w * dm.d + j] * rows[(size_t)gotat * dm.d + j];
						badarg += gotat < 0 || fabs(other - best) > 1e-4 * (1 + fabs(best));
					}
				}
			}
		}
		free(h);
		free(rows);
		qnet_ws_free(ws);
		qnet_free(net);
	}
	CHECK(bad == 0, "convolutions: %d pooled values differ from the definition (%d histories)", bad, runs);
	CHECK(badarg == 0, "convolutions: %d maxima at the wrong position", badarg);
}

/* AdaGrad: keep 1 sums the squared gradients; a horizon forgets them toward the resting value. */
static void adagrad(void)
{
	float p[2] = { 1, 1 }, acc[2] = { 0.1f, 0.1f }, g[2] = { 0.5f, 0 };
	qnet_adagrad_update(p, acc, g, 2, 0.1f, 1, 0.1f, 0);
	CHECK(fabsf(acc[0] - 0.35f) < 1e-6f && acc[1] == 0.1f, "keep 1: acc += g² (%g %g)", acc[0], acc[1]);
	CHECK(fabsf(p[0] - (1 - 0.1f * 0.5f / sqrtf(0.35f))) < 1e-6f && p[1] == 1, "keep 1: the step (%g)", p[0]);
	/* 0.35 with keep 0.5 and rest 0.1: 0.1 + 0.5·0.25 + 0.25 */
	qnet_adagrad_update(p, acc, g, 2, 0.1f, 0.5f, 0.1f, 0);
	CHECK(fabsf(acc[0] - 0.475f) < 1e-6f, "keep 0.5: acc = rest + keep·(acc − rest) + g² (%g)", acc[0]);
	g[0] = 0;
	for (int i = 0; i < 60; i++)
		qnet_adagrad_update(p, acc, g, 2, 0.1f, 0.5f, 0.1f, 0);
	CHECK(fabsf(acc[0] - 0.1f) < 1e-6f && acc[1] == 0.1f, "with no gradient, acc returns to rest (%g)", acc[0]);
	/* with a constant gradient, the accumulator settles at rest + g²/(1 − keep): the steps stop shrinking */
	g[0] = 1;
	for (int i = 0; i < 2000; i++)
		qnet_adagrad_update(p, acc, g, 1, 0.1f, 0.99f, 0.1f, 0);
	CHECK(fabsf(acc[0] - 100.1f) < 0.01f, "a constant gradient: acc settles at rest + g²/(1 − keep) (%g)", acc[0]);
}

int main(void)
{
	struct qnet_dims dm;
	qnet_dims_default(&dm, 3, 2);
	dm.d = 5; dm.L = 6; dm.F = 4; dm.H = 7;
	char err[256];
	CHECK(qnet_dims_check(&dm, err, sizeof err) == 0, "dims ok: %s", err);
	gradcheck(&dm, 6, "full history");
	gradcheck(&dm, 8, "history longer than L");
	gradcheck(&dm, 2, "short history");
	dm.X = 0;
	dm.C = 0;
	gradcheck(&dm, 4, "no context, no features");
	struct qnet_dims bad = dm;
	bad.kw[0] = 99;
	CHECK(qnet_dims_check(&bad, err, sizeof err) == -1 && strstr(err, "width"), "bad width refused: %s", err);
	td_targets();
	masking();
	conv_reference();
	adagrad();
	return check_done();
}
