/* qnet.c: the dueling Q network — forward and backward passes over contiguous float arrays, Adam and AdaGrad. */
#if defined(__GNUC__) && !defined(__clang__)
/* The inner loops are short dot products and axpys: let GCC vectorise them, reductions included. */
#pragma GCC optimize("O3", "associative-math", "no-signed-zeros", "no-trapping-math", "fp-contract=fast")
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qnet.h"
#include "rng.h"
#include "xalloc.h"

/*
 * The hot loops are compiled twice, for the baseline x86-64 and for
 * x86-64-v3 (AVX2, FMA), and the loader picks the one the CPU runs.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__gnu_linux__) && \
    !defined(__SANITIZE_ADDRESS__)
#define QNET_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define QNET_HOT
#endif

/* y[0..n) += a·x[0..n) */
static inline void
axpy(float *restrict y, float a, const float *restrict x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		y[i] += a * x[i];
}

static inline float
dot(const float *restrict a, const float *restrict b, size_t n)
{
	float s = 0;
	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

void
qnet_dims_default(struct qnet_dims *dm, uint32_t C, uint32_t X)
{
	memset(dm, 0, sizeof *dm);
	dm->d = 32;
	dm->L = 20;
	dm->nkern = 2;
	dm->kw[0] = 2;
	dm->kw[1] = 3;
	dm->F = 32;
	dm->C = C;
	dm->X = X;
	dm->H = 64;
}

int
qnet_dims_check(const struct qnet_dims *dm, char *err, size_t errlen)
{
	if (dm->d < 1 || dm->d > QNET_MAX_DIM)
		return snprintf(err, errlen, "embedding dimension %u out of range 1..%d", dm->d, QNET_MAX_DIM), -1;
	if (dm->L < 1 || dm->L > QNET_MAX_DIM)
		return snprintf(err, errlen, "history length %u out of range 1..%d", dm->L, QNET_MAX_DIM), -1;
	if (dm->nkern < 1 || dm->nkern > QNET_MAX_KERNELS)
		return snprintf(err, errlen, "%u convolutions, want 1..%d", dm->nkern, QNET_MAX_KERNELS), -1;
	for (uint32_t k = 0; k < QNET_MAX_KERNELS; k++) {
		if (k < dm->nkern && (dm->kw[k] < 1 || dm->kw[k] > dm->L))
			return snprintf(err, errlen, "kernel width %u out of range 1..%u", dm->kw[k], dm->L), -1;
		if (k >= dm->nkern && dm->kw[k] != 0)
			return snprintf(err, errlen, "width given for unused kernel %u", k), -1;
	}
	if (dm->F < 1 || dm->F > QNET_MAX_DIM)
		return snprintf(err, errlen, "filters %u out of range 1..%d", dm->F, QNET_MAX_DIM), -1;
	if (dm->C > QNET_MAX_DIM)
		return snprintf(err, errlen, "context dimension %u above %d", dm->C, QNET_MAX_DIM), -1;
	if (dm->X > QNET_MAX_DIM)
		return snprintf(err, errlen, "feature dimension %u above %d", dm->X, QNET_MAX_DIM), -1;
	if (dm->H < 1 || dm->H > QNET_MAX_DIM)
		return snprintf(err, errlen, "state dimension %u out of range 1..%d", dm->H, QNET_MAX_DIM), -1;
	return 0;
}

uint32_t
qnet_dims_z(const struct qnet_dims *dm)
{
	return dm->nkern * dm->F + dm->C + dm->d;
}

static const char *const tensor_names[QNET_NTENSORS] = {
	"conv0.w", "conv1.w", "conv2.w", "conv3.w",
	"conv0.b", "conv1.b", "conv2.b", "conv3.b",
	"fc.w", "fc.b",
	"c.W", "c.u", "c.b",
	"v.w", "v.b",
	"a.W", "a.u", "a.b",
};

const char *
qnet_tensor_name(enum qnet_tensor t)
{
	return (unsigned)t < QNET_NTENSORS ? tensor_names[t] : "?";
}

int
qnet_tensor_shape(const struct qnet_dims *dm, enum qnet_tensor t, uint32_t shape[3])
{
	if (t < QNET_CONV_B) {
		uint32_t k = t - QNET_CONV_W;
		shape[0] = k < dm->nkern ? dm->F : 0;
		shape[1] = k < dm->nkern ? dm->kw[k] * dm->d : 0;
		return 2;
	}
	if (t < QNET_FC_W) {
		shape[0] = t - QNET_CONV_B < dm->nkern ? dm->F : 0;
		return 1;
	}
	switch (t) {
	case QNET_FC_W: shape[0] = qnet_dims_z(dm); shape[1] = dm->H; return 2;
	case QNET_FC_B: shape[0] = dm->H; return 1;
	case QNET_C_W: case QNET_A_W: shape[0] = dm->H; shape[1] = dm->d; return 2;
	case QNET_C_U: case QNET_A_U: shape[0] = dm->X; return 1;
	case QNET_V_W: shape[0] = dm->H; return 1;
	default: shape[0] = 1; return 1;
	}
}

size_t
qnet_tensor_size(const struct qnet_dims *dm, enum qnet_tensor t)
{
	uint32_t sh[3];
	int r = qnet_tensor_shape(dm, t, sh);
	size_t n = 1;
	for (int i = 0; i < r; i++)
		n *= sh[i];
	return n;
}

void
qnet_range(const struct qnet *net, int range, size_t *lo, size_t *hi)
{
	switch (range) {
	case QNET_RANGE_STATE: *lo = 0; *hi = net->off[QNET_C_W]; break;
	case QNET_RANGE_CLICK: *lo = net->off[QNET_C_W]; *hi = net->off[QNET_V_W]; break;
	default: *lo = net->off[QNET_V_W]; *hi = net->nparam; break;
	}
}

struct qnet *
qnet_new(const struct qnet_dims *dm)
{
	struct qnet *net = xcalloc(1, sizeof *net);
	net->dm = *dm;
	size_t off = 0;
	for (int t = 0; t < QNET_NTENSORS; t++) {
		net->off[t] = off;
		off += qnet_tensor_size(dm, t);
	}
	net->off[QNET_NTENSORS] = off;
	net->nparam = off;
	net->p = xcalloc(off ? off : 1, sizeof *net->p);
	return net;
}

/* A uniform number in [-a, a) from the splitmix64 sequence of *st, the deterministic generator behind qnet_init. */
static float
uniform_pm(uint64_t *st, float a)
{
	return (float)(rng_unit(rng_splitmix64(st)) * 2.0 - 1.0) * a;
}

void
qnet_init(struct qnet *net, uint64_t seed)
{
	const struct qnet_dims *dm = &net->dm;
	uint64_t st = seed ^ 0x5152a7e1c0ffeeULL;
	memset(net->p, 0, net->nparam * sizeof *net->p);
	for (uint32_t k = 0; k < dm->nkern; k++) {
		float a = sqrtf(6.0f / (float)(dm->kw[k] * dm->d));
		float *w = qnet_at(net, net->p, QNET_CONV_W + k);
		for (size_t i = 0; i < qnet_tensor_size(dm, QNET_CONV_W + k); i++)
			w[i] = uniform_pm(&st, a);
	}
	float a = sqrtf(6.0f / (float)qnet_dims_z(dm));
	float *w = qnet_at(net, net->p, QNET_FC_W);
	for (size_t i = 0; i < qnet_tensor_size(dm, QNET_FC_W); i++)
		w[i] = uniform_pm(&st, a);
	/* small heads: the first steps then move them, not the state network */
	static const enum qnet_tensor heads[] = { QNET_C_W, QNET_C_U, QNET_V_W, QNET_A_W, QNET_A_U };
	a = 0.1f / sqrtf((float)dm->H);
	for (size_t j = 0; j < sizeof heads / sizeof *heads; j++) {
		w = qnet_at(net, net->p, heads[j]);
		for (size_t i = 0; i < qnet_tensor_size(dm, heads[j]); i++)
			w[i] = uniform_pm(&st, a);
	}
}

struct qnet *
qnet_clone(const struct qnet *net)
{
	struct qnet *c = qnet_new(&net->dm);
	c->target = net->target;
	memcpy(c->p, net->p, net->nparam * sizeof *net->p);
	return c;
}

void
qnet_copy_params(struct qnet *dst, const struct qnet *src, int ranges)
{
	for (int r = QNET_RANGE_STATE; r <= QNET_RANGE_HEADS; r <<= 1) {
		if (!(ranges & r))
			continue;
		size_t lo, hi;
		qnet_range(src, r, &lo, &hi);
		memcpy(dst->p + lo, src->p + lo, (hi - lo) * sizeof *dst->p);
	}
}

void
qnet_free(struct qnet *net)
{
	if (!net)
		return;
	free(net->p);
	free(net);
}

size_t
qnet_nonfinite(const struct qnet *net)
{
	size_t n = 0;

	for (size_t i = 0; i < net->nparam; i++)
		if (!isfinite(net->p[i]))
			n++;
	return n;
}

struct qnet_ws *
qnet_ws_new(const struct qnet_dims *dm)
{
	struct qnet_ws *ws = xcalloc(1, sizeof *ws);
	size_t Z = qnet_dims_z(dm), KF = (size_t)dm->nkern * dm->F;
	ws->dm = dm;
	ws->s = xcalloc(dm->H, sizeof(float));
	ws->sa = xcalloc(dm->d, sizeof(float));
	ws->sc = xcalloc(dm->d, sizeof(float));
	ws->x = xcalloc((size_t)dm->L * dm->d, sizeof(float));
	ws->xt = xcalloc((size_t)dm->d * QNET_XT_STRIDE(dm->L), sizeof(float));
	ws->acc = xcalloc((size_t)dm->F * QNET_XT_STRIDE(dm->L), sizeof(float));
	ws->z = xcalloc(Z, sizeof(float));
	ws->pre = xcalloc(KF, sizeof(float));
	ws->arg = xcalloc(KF, sizeof(int32_t));
	ws->ea = xcalloc(dm->d, sizeof(float));
	ws->ec = xcalloc(dm->d, sizeof(float));
	ws->ds = xcalloc(dm->H, sizeof(float));
	ws->dz = xcalloc(Z, sizeof(float));
	ws->dx = xcalloc((size_t)dm->L * dm->d, sizeof(float));
	return ws;
}

void
qnet_ws_free(struct qnet_ws *ws)
{
	if (!ws)
		return;
	free(ws->s); free(ws->sa); free(ws->sc); free(ws->x); free(ws->xt); free(ws->acc); free(ws->z);
	free(ws->pre); free(ws->arg); free(ws->ea); free(ws->ec);
	free(ws->ds); free(ws->dz); free(ws->dx);
	free(ws);
}

typedef float v8sf __attribute__((vector_size(32)));
typedef float v8sf_u __attribute__((vector_size(32), aligned(4), may_alias));	/* an unaligned load of floats */

/*
 * Positions t0..t0+8·NB-1 of filters f..f+FB-1: out[g·S + t0 + i] = W[f+g]
 * · window t0+i, the window of width w read from the transposed rows xt
 * (d rows of S floats, row c holding column c of every history row). Each
 * load of a row's 8·NB floats serves FB filters, and the FB·NB sums are
 * independent, so the multiply-adds do not wait on each other; no sum is
 * reduced across lanes.
 */
#define CONV_TBLOCK(NB, FB)							\
static inline __attribute__((always_inline)) void conv_tblock_##NB##_##FB(const float *restrict xt, size_t S, size_t t0, \
    size_t w, size_t d, const float *restrict wf, size_t wd, float *restrict out)	\
{										\
	v8sf a[FB][NB], x[NB];							\
	for (size_t g = 0; g < FB; g++)						\
		for (size_t v = 0; v < NB; v++)					\
			a[g][v] = (v8sf){ 0 };					\
	for (size_t k = 0; k < w; k++)						\
		for (size_t c = 0; c < d; c++) {				\
			const float *xr = xt + c * S + t0 + k;			\
			for (size_t v = 0; v < NB; v++)				\
				x[v] = *(const v8sf_u *)(xr + 8 * v);		\
			for (size_t g = 0; g < FB; g++) {			\
				const v8sf wv = (v8sf){ 0 } + wf[g * wd + k * d + c];	\
				for (size_t v = 0; v < NB; v++)			\
					a[g][v] += wv * x[v];			\
			}							\
		}								\
	for (size_t g = 0; g < FB; g++)						\
		for (size_t v = 0; v < NB; v++)					\
			memcpy(out + g * S + t0 + 8 * v, &a[g][v], sizeof a[g][v]);	\
}
/*
 * Positions t0..t0+8·NB-1 of all F filters into acc (F × S): FB filters at a
 * time (as many as the vector registers hold sums for), the rest one by one.
 */
#define CONV_FILTERS(NB, FB)							\
CONV_TBLOCK(NB, FB)								\
CONV_TBLOCK(NB, 1)								\
static inline __attribute__((always_inline)) void conv_filters_##NB(const float *restrict xt, size_t S, size_t t0, \
    size_t w, size_t d, size_t F, const float *restrict W, float *restrict acc)	\
{										\
	size_t f, wd = w * d;							\
	for (f = 0; f + FB <= F; f += FB)					\
		conv_tblock_##NB##_##FB(xt, S, t0, w, d, W + f * wd, wd, acc + f * S);	\
	for (; f < F; f++)							\
		conv_tblock_##NB##_1(xt, S, t0, w, d, W + f * wd, wd, acc + f * S);	\
}
CONV_FILTERS(1, 4)
CONV_FILTERS(2, 4)
CONV_FILTERS(3, 4)
CONV_FILTERS(4, 2)
#undef CONV_FILTERS
#undef CONV_TBLOCK

/*
 * One convolution, max-pooled: pre[f] = max over valid t of (b[f] + W[f] ·
 * window_t), arg[f] = that t (the first of equals; -1: none). W is F × (w·d);
 * window t is rows t..t+w-1 of the history, read from their transpose xt
 * (d × S, zero past row n; S > n + 6, as the last block of 8 positions
 * reads up to row n + 6). acc (F × S) holds the sums.
 */
QNET_HOT
static void
conv_pool(const float *restrict xt, size_t S, size_t n, size_t w, size_t d, size_t F,
    const float *restrict W, const float *restrict b, float *restrict acc, float *restrict pre,
    int32_t *restrict arg)
{
	if (n < w) {
		for (size_t f = 0; f < F; f++) {
			pre[f] = 0;
			arg[f] = -1;
		}
		return;
	}
	size_t P = n - w + 1;
	for (size_t t0 = 0; t0 < P; t0 += 32) {
		switch ((P - t0 + 7) / 8) {	/* vectors of 8 positions this block needs */
		case 1: conv_filters_1(xt, S, t0, w, d, F, W, acc); break;
		case 2: conv_filters_2(xt, S, t0, w, d, F, W, acc); break;
		case 3: conv_filters_3(xt, S, t0, w, d, F, W, acc); break;
		default: conv_filters_4(xt, S, t0, w, d, F, W, acc); break;
		}
	}
	for (size_t f = 0; f < F; f++) {
		const float *af = acc + f * S;
		float best = af[0];
		int32_t at = 0;
		for (size_t t = 1; t < P; t++)
			if (af[t] > best) {
				best = af[t];
				at = (int32_t)t;
			}
		pre[f] = best + b[f];
		arg[f] = at;
	}
}

QNET_HOT
const float *
qnet_state(const struct qnet *net, struct qnet_ws *ws,
    const float *const *hist, size_t nhist, const float *ctx)
{
	const struct qnet_dims *dm = &net->dm;
	size_t d = dm->d, F = dm->F, H = dm->H, C = dm->C;
	size_t n = nhist < dm->L ? nhist : dm->L, base = nhist - n;
	size_t KF = (size_t)dm->nkern * F, Z = qnet_dims_z(dm);
	float *z = ws->z, *s = ws->s;

	ws->nhist = (uint32_t)n;
	size_t S = QNET_XT_STRIDE(dm->L);
	for (size_t r = 0; r < n; r++) {
		const float *row = hist[base + r];
		if (row)
			memcpy(ws->x + r * d, row, d * sizeof(float));
		else
			memset(ws->x + r * d, 0, d * sizeof(float));
		for (size_t c = 0; c < d; c++)
			ws->xt[c * S + r] = ws->x[r * d + c];
	}
	for (size_t c = 0; c < d; c++)
		memset(ws->xt + c * S + n, 0, (S - n) * sizeof(float));
	for (uint32_t k = 0; k < dm->nkern; k++) {
		conv_pool(ws->xt, S, n, dm->kw[k], d, F, qnet_at(net, net->p, QNET_CONV_W + k),
		    qnet_at(net, net->p, QNET_CONV_B + k), ws->acc, ws->pre + k * F, ws->arg + k * F);
	}
	for (size_t i = 0; i < KF; i++)
		z[i] = ws->pre[i] > 0 ? ws->pre[i] : 0;
	if (ctx)
		memcpy(z + KF, ctx, C * sizeof(float));
	else
		memset(z + KF, 0, C * sizeof(float));
	float *mean = z + KF + C;
	memset(mean, 0, d * sizeof(float));
	if (n > 0) {
		for (size_t r = 0; r < n; r++)
			axpy(mean, 1.0f, ws->x + r * d, d);
		float inv = 1.0f / (float)n;
		for (size_t c = 0; c < d; c++)
			mean[c] *= inv;
	}
	const float *W = qnet_at(net, net->p, QNET_FC_W);
	memcpy(s, qnet_at(net, net->p, QNET_FC_B), H * sizeof(float));
	for (size_t i = 0; i < Z; i++)
		if (z[i] != 0)
			axpy(s, z[i], W + i * H, H);
	for (size_t h = 0; h < H; h++)
		s[h] = s[h] > 0 ? s[h] : 0;

	qnet_heads_refresh(net, ws);
	memset(ws->ea, 0, d * sizeof(float));
	memset(ws->ec, 0, d * sizeof(float));
	memset(ws->ds, 0, H * sizeof(float));
	ws->sdq = ws->sdc = ws->sdv = 0;
	return s;
}

float
qnet_v(const struct qnet *net, const float *s)
{
	return dot(qnet_at(net, net->p, QNET_V_W), s, net->dm.H) + net->p[net->off[QNET_V_B]];
}

float
qnet_a(const struct qnet *net, const struct qnet_ws *ws, const float *e, const float *x)
{
	float a = dot(ws->sa, e, net->dm.d) + net->p[net->off[QNET_A_B]];
	if (x)
		a += dot(qnet_at(net, net->p, QNET_A_U), x, net->dm.X);
	return a;
}

float
qnet_qbar(const struct qnet *net, const struct qnet_ws *ws, const float *e, const float *x)
{
	return ws->v + qnet_a(net, ws, e, x);
}

float
qnet_click_logit(const struct qnet *net, const struct qnet_ws *ws, const float *e, const float *x)
{
	float c = dot(ws->sc, e, net->dm.d) + net->p[net->off[QNET_C_B]];
	if (x)
		c += dot(qnet_at(net, net->p, QNET_C_U), x, net->dm.X);
	return c;
}

float
qnet_sigmoid(float z)
{
	if (z >= 0)
		return 1.0f / (1.0f + expf(-z));
	float e = expf(z);
	return e / (1.0f + e);
}

float
qnet_q(const struct qnet *net, const struct qnet_ws *ws, const float *e, const float *x)
{
	float a = qnet_a(net, ws, e, x);
	if (net->target == QNET_TARGET_SLATE)
		a *= qnet_sigmoid(qnet_click_logit(net, ws, e, x));
	return ws->v + a;
}

void
qnet_item_backward(const struct qnet *net, struct qnet_ws *ws, const float *e, const float *x,
    float dq, float dc, int ranges, float *g, float *de)
{
	size_t d = net->dm.d, X = net->dm.X;
	if (g && x) {
		if ((ranges & QNET_RANGE_HEADS) && dq != 0)
			axpy(qnet_at(net, g, QNET_A_U), dq, x, X);
		if ((ranges & QNET_RANGE_CLICK) && dc != 0)
			axpy(qnet_at(net, g, QNET_C_U), dc, x, X);
	}
	if (de) {
		axpy(de, dq, ws->sa, d);
		axpy(de, dc, ws->sc, d);
	}
	axpy(ws->ea, dq, e, d);
	axpy(ws->ec, dc, e, d);
	ws->sdq += dq;
	ws->sdv += dq;
	ws->sdc += dc;
}

void
qnet_v_backward(struct qnet_ws *ws, float dv)
{
	ws->sdv += dv;
}

QNET_HOT
void
qnet_heads_backward(const struct qnet *net, struct qnet_ws *ws, int ranges, float *g)
{
	size_t d = net->dm.d, H = net->dm.H;
	const float *s = ws->s;
	if (g && (ranges & QNET_RANGE_HEADS)) {
		axpy(qnet_at(net, g, QNET_V_W), ws->sdv, s, H);
		g[net->off[QNET_V_B]] += ws->sdv;
		g[net->off[QNET_A_B]] += ws->sdq;
		float *gW = qnet_at(net, g, QNET_A_W);
		for (size_t h = 0; h < H; h++)
			if (s[h] != 0)
				axpy(gW + h * d, s[h], ws->ea, d);
	}
	if (g && (ranges & QNET_RANGE_CLICK)) {
		g[net->off[QNET_C_B]] += ws->sdc;
		float *gW = qnet_at(net, g, QNET_C_W);
		for (size_t h = 0; h < H; h++)
			if (s[h] != 0)
				axpy(gW + h * d, s[h], ws->ec, d);
	}
	if (!(ranges & QNET_RANGE_STATE))
		return;
	const float *vw = qnet_at(net, net->p, QNET_V_W);
	const float *aW = qnet_at(net, net->p, QNET_A_W), *cW = qnet_at(net, net->p, QNET_C_W);
	for (size_t h = 0; h < H; h++)
		ws->ds[h] = ws->sdv * vw[h] + dot(aW + h * d, ws->ea, d) + dot(cW + h * d, ws->ec, d);
}

QNET_HOT
void
qnet_state_backward(const struct qnet *net, struct qnet_ws *ws, float *g, float *dhist)
{
	const struct qnet_dims *dm = &net->dm;
	size_t d = dm->d, F = dm->F, H = dm->H, C = dm->C, n = ws->nhist;
	size_t KF = (size_t)dm->nkern * F, Z = qnet_dims_z(dm);
	float dpre[QNET_MAX_DIM];
	const float *s = ws->s, *z = ws->z;

	for (size_t h = 0; h < H; h++)
		dpre[h] = s[h] > 0 ? ws->ds[h] : 0;
	const float *W = qnet_at(net, net->p, QNET_FC_W);
	if (g) {
		axpy(qnet_at(net, g, QNET_FC_B), 1.0f, dpre, H);
		float *gW = qnet_at(net, g, QNET_FC_W);
		for (size_t i = 0; i < Z; i++)
			if (z[i] != 0)
				axpy(gW + i * H, z[i], dpre, H);
	}
	/* dz of the pooled part and of the mean; the context takes no gradient */
	for (size_t i = 0; i < KF; i++)
		ws->dz[i] = ws->pre[i] > 0 ? dot(W + i * H, dpre, H) : 0;
	for (size_t i = KF + C; i < Z; i++)
		ws->dz[i] = dot(W + i * H, dpre, H);

	float *dx = ws->dx;
	memset(dx, 0, n * d * sizeof(float));
	for (uint32_t k = 0; k < dm->nkern; k++) {
		size_t wd = (size_t)dm->kw[k] * d;
		const float *cw = qnet_at(net, net->p, QNET_CONV_W + k);
		float *gw = g ? qnet_at(net, g, QNET_CONV_W + k) : NULL;
		float *gb = g ? qnet_at(net, g, QNET_CONV_B + k) : NULL;
		for (size_t f = 0; f < F; f++) {
			float dp = ws->dz[k * F + f];
			int32_t t = ws->arg[k * F + f];
			if (dp == 0 || t < 0)
				continue;
			const float *win = ws->x + (size_t)t * d;
			if (g) {
				gb[f] += dp;
				axpy(gw + f * wd, dp, win, wd);
			}
			axpy(dx + (size_t)t * d, dp, cw + f * wd, wd);
		}
	}
	if (n > 0) {
		float inv = 1.0f / (float)n;
		const float *dmean = ws->dz + KF + C;
		for (size_t r = 0; r < n; r++)
			axpy(dx + r * d, inv, dmean, d);
	}
	if (dhist)
		for (size_t i = 0; i < n * d; i++)
			dhist[i] += dx[i];
}

void
qnet_adam_init(struct qnet_adam *a, float lr)
{
	a->lr = lr;
	a->b1 = 0.9f;
	a->b2 = 0.999f;
	a->eps = 1e-8f;
	a->t = 0;
	a->c1 = a->c2 = 1;
}

void
qnet_adam_begin(struct qnet_adam *a)
{
	a->t++;
	a->c1 = (float)(1.0 / (1.0 - pow(a->b1, (double)a->t)));
	a->c2 = (float)(1.0 / (1.0 - pow(a->b2, (double)a->t)));
}

void
qnet_adam_follow(struct qnet_adam *a, const struct qnet_adam *src)
{
	a->t = src->t;
	a->c1 = src->c1;
	a->c2 = src->c2;
}

QNET_HOT
void
qnet_adam_update(const struct qnet_adam *a, float *restrict p, float *restrict m, float *restrict v,
    const float *restrict g, size_t n)
{
	float b1 = a->b1, b2 = a->b2, lr = a->lr, eps = a->eps, c1 = a->c1, c2 = a->c2;
	for (size_t i = 0; i < n; i++) {
		m[i] = b1 * m[i] + (1 - b1) * g[i];
		v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
		p[i] -= lr * (m[i] * c1) / (sqrtf(v[i] * c2) + eps);
	}
}

QNET_HOT
void
qnet_adagrad_update(float *restrict p, float *restrict acc, const float *restrict g, size_t n,
    float lr, float keep, float rest, float eps)
{
	for (size_t i = 0; i < n; i++) {
		acc[i] = keep == 1 ? acc[i] + g[i] * g[i] : rest + keep * (acc[i] - rest) + g[i] * g[i];
		p[i] -= lr * g[i] / sqrtf(acc[i] + eps);
	}
}

QNET_HOT
void
qnet_heads_refresh(const struct qnet *net, struct qnet_ws *ws)
{
	size_t d = net->dm.d, H = net->dm.H;
	const float *s = ws->s;
	const float *aW = qnet_at(net, net->p, QNET_A_W), *cW = qnet_at(net, net->p, QNET_C_W);
	ws->v = qnet_v(net, s);
	memset(ws->sa, 0, d * sizeof(float));
	memset(ws->sc, 0, d * sizeof(float));
	for (size_t h = 0; h < H; h++) {
		if (s[h] == 0)
			continue;
		axpy(ws->sa, s[h], aW + h * d, d);
		axpy(ws->sc, s[h], cW + h * d, d);
	}
}

float
qnet_next_value(const struct qnet *net, const struct qnet *tgt, struct qnet_ws *ws,
    const float *const *e, const float *const *x, size_t n)
{
	if (n == 0) {
		qnet_heads_refresh(tgt, ws);
		return 0;
	}
	if (net->target == QNET_TARGET_SLATE) {
		float pc[1024], *p = n <= 1024 ? pc : xmalloc(n * sizeof *p);
		for (size_t i = 0; i < n; i++)
			p[i] = qnet_sigmoid(qnet_click_logit(net, ws, e[i], x ? x[i] : NULL));
		qnet_heads_refresh(tgt, ws);
		double v = ws->v;
		for (size_t i = 0; i < n; i++)
			v += (double)p[i] * qnet_a(tgt, ws, e[i], x ? x[i] : NULL);
		if (p != pc)
			free(p);
		return (float)v;
	}
	size_t best = 0;
	float bq = qnet_qbar(net, ws, e[0], x ? x[0] : NULL);
	for (size_t i = 1; i < n; i++) {
		float q = qnet_qbar(net, ws, e[i], x ? x[i] : NULL);
		if (q > bq) {
			bq = q;
			best = i;
		}
	}
	qnet_heads_refresh(tgt, ws);
	return qnet_qbar(tgt, ws, e[best], x ? x[best] : NULL);
}

float
qnet_td_target(float r, float gamma, int done, float next_value)
{
	return done ? r : r + gamma * next_value;
}
