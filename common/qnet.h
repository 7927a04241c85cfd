/* qnet.h: the dueling Q network Q(s,a) = V(s) + A(s,a) — state network, heads, click head, gradients, optimisers. */
#ifndef QNET_H
#define QNET_H
#include <stddef.h>
#include <stdint.h>

/*
 * The network (DESIGN.md §3):
 *
 *   hist (the last n <= L clicked items, oldest first) -> n×d rows of E
 *   conv k (width w_k, F filters, valid positions only) -> max over time
 *     (masked: positions past the history do not exist; no position -> 0) -> ReLU
 *   z = [pool_0 … pool_{K-1}, context (C), mean of the n history rows (d)]   (Z = K·F + C + d)
 *   s = ReLU(fc.wᵀ z + fc.b)                                                (H)
 *   V(s)      = v.wᵀ s + v.b
 *   A(s,a)    = sᵀ a.W e_a + a.uᵀ x_a + a.b        (e_a: the item's row of E, x_a: its features, X)
 *   Q(s,a)    = V(s) + A(s,a)
 *   click(s,a)= σ(sᵀ c.W e_a + c.uᵀ x_a + c.b)    (the pretrained click model, for the slate target)
 *
 * Every parameter lives in one contiguous float array p, tensor after
 * tensor in the order of enum qnet_tensor. The order groups the parameters
 * into three ranges: the state network [0, off[QNET_C_W]), the click head
 * [off[QNET_C_W], off[QNET_V_W]) and the V/A heads [off[QNET_V_W], nparam),
 * so that an optimiser can update one range alone (frozen state network,
 * online head updates). A gradient has the same layout as p.
 *
 * Thread safety: a struct qnet is read-only during scoring and may be shared
 * by any number of threads; every per-call buffer lives in a struct qnet_ws,
 * one per thread.
 */

#define QNET_MAX_KERNELS 4
#define QNET_MAX_DIM 4096	/* bound on every dimension (sanity check of loaded files) */

struct qnet_dims {
	uint32_t d;		/* embedding dimension */
	uint32_t L;		/* history length used */
	uint32_t nkern;		/* number of convolutions, 1..QNET_MAX_KERNELS */
	uint32_t kw[QNET_MAX_KERNELS];	/* their widths (unused entries 0) */
	uint32_t F;		/* filters per convolution */
	uint32_t C;		/* context dimension */
	uint32_t X;		/* item feature dimension */
	uint32_t H;		/* state dimension */
};

/* The defaults of the design: d 32, L 20, widths 2,3, F 32, H 64; C and X as given. */
void qnet_dims_default(struct qnet_dims *dm, uint32_t C, uint32_t X);
/* 0 when the dimensions are usable, else -1 with a reason in err. */
int qnet_dims_check(const struct qnet_dims *dm, char *err, size_t errlen);
/* Z, the input width of the fully connected layer: nkern·F + C + d. */
uint32_t qnet_dims_z(const struct qnet_dims *dm);

enum qnet_tensor {
	QNET_CONV_W = 0,			/* + k: F × (kw[k]·d): element (f·kw·d + j·d + c) weighs row j, column c of the window for filter f */
	QNET_CONV_B = QNET_MAX_KERNELS,		/* + k: F */
	QNET_FC_W = 2 * QNET_MAX_KERNELS,	/* Z × H: element (i·H + h) weighs z_i for s_h */
	QNET_FC_B,				/* H */
	QNET_C_W,				/* H × d: click head interaction */
	QNET_C_U,				/* X */
	QNET_C_B,				/* 1 */
	QNET_V_W,				/* H */
	QNET_V_B,				/* 1 */
	QNET_A_W,				/* H × d: advantage interaction */
	QNET_A_U,				/* X */
	QNET_A_B,				/* 1 */
	QNET_NTENSORS
};

/* What the heads learn, and so what qnet_q() ranks by. */
#define QNET_TARGET_ITEM 0	/* per-item TD target: Q = V + A */
#define QNET_TARGET_SLATE 1	/* slate decomposition: page value V(s) + Σ_i click_i·A(s,i); Q = V + P(click)·A */

struct qnet {
	struct qnet_dims dm;
	uint32_t target;		/* QNET_TARGET_*, stored in the network file */
	size_t nparam;
	float *p;			/* nparam floats, owned */
	size_t off[QNET_NTENSORS + 1];	/* offset of each tensor in p; off[QNET_NTENSORS] == nparam */
};

/* The tensor's name as stored in the network file ("conv0.w", "fc.b", "a.W", …). */
const char *qnet_tensor_name(enum qnet_tensor t);
/* Its number of floats under dm (0 for unused kernels). */
size_t qnet_tensor_size(const struct qnet_dims *dm, enum qnet_tensor t);
/* Its shape: up to 3 extents into shape[], returns the rank (1..3). */
int qnet_tensor_shape(const struct qnet_dims *dm, enum qnet_tensor t, uint32_t shape[3]);
/* Pointer to tensor t in net->p (or in any array with the same layout, e.g. a gradient: qnet_at(net, g, t)). */
static inline float *qnet_at(const struct qnet *net, float *base, enum qnet_tensor t) { return base + net->off[t]; }

/* The parameter ranges: [lo, hi). */
#define QNET_RANGE_STATE 1	/* convolutions and FC */
#define QNET_RANGE_CLICK 2	/* click head */
#define QNET_RANGE_HEADS 4	/* V and A heads */
void qnet_range(const struct qnet *net, int range, size_t *lo, size_t *hi);

/* A network with zeroed parameters. dm must pass qnet_dims_check(). Never NULL. */
struct qnet *qnet_new(const struct qnet_dims *dm);
/* Initialises every parameter from seed (He-scaled uniform weights, zero biases); deterministic. */
void qnet_init(struct qnet *net, uint64_t seed);
/* A copy (e.g. the lagged target network). Never NULL. */
struct qnet *qnet_clone(const struct qnet *net);
/* Copies src's parameters in range (QNET_RANGE_* bits) into dst (same dims). */
void qnet_copy_params(struct qnet *dst, const struct qnet *src, int ranges);
/* NULL is a no-op. */
void qnet_free(struct qnet *net);
/* How many of net's parameters are not finite (NaN or infinite): 0 for a version fit to publish. */
size_t qnet_nonfinite(const struct qnet *net);

/*
 * Per-thread scratch and the per-page state: after qnet_state(), s holds
 * the state vector, v = V(s), sa = sᵀ a.W and sc = sᵀ c.W (d each) so that
 * an item costs O(d + X). The other members are for the backward pass.
 */
/* The row length of qnet_ws.xt: L rows, and room for the convolution's last block of 8 to run over. */
#define QNET_XT_STRIDE(L) ((((size_t)(L) + 7) & ~(size_t)7) + 8)

struct qnet_ws {
	const struct qnet_dims *dm;
	float *s;		/* H */
	float v;		/* V(s) */
	float *sa;		/* d: sᵀ a.W */
	float *sc;		/* d: sᵀ c.W */
	/* forward caches for backward */
	uint32_t nhist;		/* rows used (<= L) */
	float *x;		/* L × d: the history rows, gathered */
	float *xt;		/* d × QNET_XT_STRIDE(L): their transpose, zero past the rows used */
	float *acc;		/* F × QNET_XT_STRIDE(L): the filters' sums over the positions */
	float *z;		/* Z: FC input */
	float *pre;		/* nkern × F: pooled pre-activations */
	int32_t *arg;		/* nkern × F: argmax position, -1 when masked */
	/* backward accumulators (cleared by qnet_state) */
	float *ea;		/* d: Σ dq·e over the page's items */
	float *ec;		/* d: Σ dc·e */
	float sdq, sdc;		/* Σ dq, Σ dc */
	float sdv;		/* Σ dq plus qnet_v_backward()'s dv: dLoss/dV */
	float *ds;		/* H: dLoss/ds, set by qnet_heads_backward */
	float *dz;		/* Z */
	float *dx;		/* L × d */
};

/* A workspace for nets of dimensions dm (the pointer is kept). Never NULL. */
struct qnet_ws *qnet_ws_new(const struct qnet_dims *dm);
/* NULL is a no-op. */
void qnet_ws_free(struct qnet_ws *ws);

/*
 * Forward pass of the state network for one page: hist holds nhist row
 * pointers (d floats each, oldest first; only the last L are used; a NULL
 * pointer stands for a zero row), ctx C floats (NULL means zeros). Fills
 * ws->s, ws->v, ws->sa, ws->sc and clears ws->ds. Returns ws->s.
 */
const float *qnet_state(const struct qnet *net, struct qnet_ws *ws,
    const float *const *hist, size_t nhist, const float *ctx);

/* V(s), from a state vector s (H). */
float qnet_v(const struct qnet *net, const float *s);
/* A(s,a) for the page in ws: e the item's row (d), x its features (X; NULL means zeros). */
float qnet_a(const struct qnet *net, const struct qnet_ws *ws, const float *e, const float *x);
/* Q̄(s,a) = V(s) + A(s,a) = ws->v + qnet_a(). */
float qnet_qbar(const struct qnet *net, const struct qnet_ws *ws, const float *e, const float *x);
/*
 * The item's value to rank by: Q̄ = V + A for QNET_TARGET_ITEM; for
 * QNET_TARGET_SLATE V + P(click)·A, the page's value with the item's
 * expected contribution (A is then the item's value given a click: its
 * reward and its effect on the future).
 */
float qnet_q(const struct qnet *net, const struct qnet_ws *ws, const float *e, const float *x);
/* The click head's logit (P(click) = 1/(1+exp(-logit))). */
float qnet_click_logit(const struct qnet *net, const struct qnet_ws *ws, const float *e, const float *x);
/* The logistic function, overflow-safe. */
float qnet_sigmoid(float z);

/*
 * Backward pass, three steps per page after qnet_state():
 *
 * qnet_item_backward() for each item, given dq = dLoss/dQ̄ and dc =
 * dLoss/d(click logit) (either may be 0): adds into g (layout of p; NULL
 * skips) the gradient of the item-feature weights of the heads selected in
 * ranges (QNET_RANGE_HEADS: a.u; QNET_RANGE_CLICK: c.u), adds dLoss/de_a into
 * de (d floats; NULL skips), and accumulates the page sums in ws.
 *
 * qnet_heads_backward() once: adds the rest of the selected heads' gradients
 * into g (NULL skips) and, when ranges has QNET_RANGE_STATE (the state
 * network learns), sets ws->ds = dLoss/ds.
 *
 * qnet_state_backward() once, when the state network learns: adds the
 * gradients of the convolutions and FC into g (NULL skips) and adds
 * dLoss/d(history row) into dhist (ws->nhist rows of d floats, the rows
 * qnet_state() used — the last nhist of its input; NULL skips; the caller
 * zeroes it).
 */
void qnet_item_backward(const struct qnet *net, struct qnet_ws *ws, const float *e, const float *x,
    float dq, float dc, int ranges, float *g, float *de);
void qnet_heads_backward(const struct qnet *net, struct qnet_ws *ws, int ranges, float *g);
/* Adds dv to dLoss/dV alone (qnet_item_backward's dq counts for both V and A); call before qnet_heads_backward(). */
void qnet_v_backward(struct qnet_ws *ws, float dv);
void qnet_state_backward(const struct qnet *net, struct qnet_ws *ws, float *g, float *dhist);

/*
 * Recomputes the page quantities that depend on the heads (ws->v, sa, sc)
 * from ws->s for net, a network sharing the state network of the one that
 * ran qnet_state() (e.g. its lagged target copy).
 */
void qnet_heads_refresh(const struct qnet *net, struct qnet_ws *ws);

/*
 * The value of the next page for a TD target, with ws holding
 * qnet_state(net, s') and e, x the n items of the next page (x[i] may be
 * NULL; x itself may be NULL). By net->target:
 *   QNET_TARGET_ITEM:  Q̄_tgt(s', a*), a* = argmax_a Q̄_net(s', a) (double DQN)
 *   QNET_TARGET_SLATE: V_tgt(s') + Σ_a P(click a | s') · A_tgt(s', a)
 * 0 when n is 0. Leaves ws refreshed for tgt.
 */
float qnet_next_value(const struct qnet *net, const struct qnet *tgt, struct qnet_ws *ws,
    const float *const *e, const float *const *x, size_t n);
/* The TD target r + γ·(1 − done)·next_value. */
float qnet_td_target(float r, float gamma, int done, float next_value);

/* Adam (Kingma & Ba) over n coordinates of one tensor range; m and v are the moment estimates (zeroed at start). */
struct qnet_adam {
	float lr, b1, b2, eps;
	uint64_t t;		/* step count; increment once per minibatch before the updates */
	float c1, c2;		/* bias corrections of step t (set by qnet_adam_begin) */
};
void qnet_adam_init(struct qnet_adam *a, float lr);
/* Starts a minibatch step: t++, bias corrections. */
void qnet_adam_begin(struct qnet_adam *a);
/* Puts a at the step of src (step count and bias corrections), its own step size kept: two optimisers in step. */
void qnet_adam_follow(struct qnet_adam *a, const struct qnet_adam *src);
/* p -= lr·m̂/(√v̂+eps) over n coordinates, after updating m and v with gradient g. */
void qnet_adam_update(const struct qnet_adam *a, float *p, float *m, float *v, const float *g, size_t n);

/*
 * AdaGrad per coordinate, over n coordinates: acc = rest + keep·(acc −
 * rest) + g², p -= lr·g/√(acc+eps). keep 1 is AdaGrad, whose steps shrink
 * as 1/√t; keep 1 − 1/N forgets the gradients with a horizon of N steps, so
 * that the steps stop shrinking after about N, and a coordinate whose
 * gradients stop returns to rest (the accumulators' starting value) rather
 * than to 0.
 */
void qnet_adagrad_update(float *p, float *acc, const float *g, size_t n, float lr, float keep, float rest,
    float eps);

#endif
