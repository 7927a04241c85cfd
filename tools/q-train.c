/* q-train: learns the dueling Q network from transitions — offline (pretrain, then fit the heads) or online (heads only), publishing model versions. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "diag.h"
#include "hash.h"
#include "jsonx.h"
#include "model.h"
#include "qnet.h"
#include "sig.h"
#include "stats.h"
#include "toolio.h"
#include "xalloc.h"

#define MAX_HIST	10000	/* ids in a transition's hist */
#define MAX_ITEMS	10000	/* items in action or next_action */
#define NO_NEXT		UINT32_MAX
#define MAX_POS		64	/* positions with their own bias while pretraining */
#define ACC0		0.1f	/* online: the AdaGrad accumulators' starting (and, with a horizon, resting) value */

enum {
	OPT_OFFLINE = TOOL_OPT_FIRST, OPT_ONLINE, OPT_EVALUATE, OPT_EPOCHS, OPT_HEAD_EPOCHS, OPT_BATCH,
	OPT_LR, OPT_HEAD_LR, OPT_CLICK_LR, OPT_GAMMA, OPT_TARGET, OPT_TARGET_SYNC, OPT_W_CLICK, OPT_W_PAY,
	OPT_DIM, OPT_HIST_LEN, OPT_KERNELS, OPT_FILTERS, OPT_STATE_DIM, OPT_INIT_EMB, OPT_FREEZE_EMB,
	OPT_MIN_COUNT, OPT_HOLDOUT, OPT_SEED, OPT_KEEP, OPT_PUBLISH_EVERY, OPT_PUBLISH_INTERVAL,
	OPT_RESET_HEADS, OPT_WARMUP, OPT_CLICK_WEIGHT, OPT_POS_BIAS, OPT_NO_POS_BIAS, OPT_L2, OPT_EMB_LR, OPT_FEATURE_INIT,
	OPT_HEAD_ANNEAL, OPT_NO_HEAD_ANNEAL, OPT_LAMBDA, OPT_FEATURE_EMB, OPT_STEP_HORIZON
};

/* ---- Options ---- */

static struct {
	int mode;		/* 'f' offline, 'n' online, 'e' evaluate */
	const char *modeldir;
	long epochs, head_epochs, batch;
	double lr, head_lr, click_lr, gamma, lambda;	/* click_lr < 0: head_lr */
	uint32_t target;
	long target_sync;	/* 0: the mode's default */
	double w_click, w_pay, click_weight;
	struct qnet_dims dm;
	int dim_given;
	const char *init_emb;
	int freeze_emb;
	long min_count;
	double holdout;
	uint64_t seed;
	long keep, publish_every, warmup;
	long step_horizon;	/* online: the AdaGrad accumulators' horizon in pages (0: all) */
	int64_t step_horizon_ms;	/* or in event time (0: none) */
	double publish_interval;
	int reset_heads;
	int head_anneal;
	int pos_bias;
	double emb_lr;		/* Adam step of the embeddings while pretraining (< 0: --lr) */
	int feature_init;	/* new rows start from a random projection of the item's features */
	int feature_emb;	/* every item's row is its features, frozen */
	double l2;		/* L2 penalty on the embeddings and the interaction matrices while pretraining */
} O;

static struct tool_io *io;
static uint64_t *n_updates, *n_items, *n_unknown, *n_feature_rows, *n_published, *n_truncated;
static int64_t *g_version;
static double *g_click_loss, *g_click_loss_start;	/* online, with the click head learning: the averages below */
static double *g_head_step;	/* online: the heads' mean step per unit of gradient, lr/√acc */

/* ---- Transitions in memory ---- */

/* One shown item: a vocabulary id (offline) or an embedding row (online), labels, features at feat. */
struct item {
	uint32_t id;
	uint32_t feat;		/* offset into the float pool, X floats; NO_NEXT: none */
	uint32_t frow;		/* offset into the float pool of its row built from feat (see parse_ctx); NO_NEXT: row id's */
	float r;		/* w_click·click + w_pay·pay */
	uint8_t click;
	uint8_t pos;		/* position on the page, at most MAX_POS - 1 */
};

/* One transition (a page). Offsets are into the pools of its dataset. */
struct trans {
	uint64_t key;		/* hash of mdp_id: the held-out split */
	uint32_t hist, nhist, ctx;
	uint32_t act, nact;
	uint32_t hist2, nhist2, ctx2;	/* next state (ctx2 NO_NEXT: none) */
	uint32_t act2, nact2;
	uint8_t done, terminal;	/* done; done by the user leaving (no bootstrap either way) */
	uint8_t truncated;	/* done for another reason: no next state to bootstrap from, skipped by the heads */
	uint32_t seq;		/* the page's place in its episode */
	int64_t ts;		/* event time (ms), or -1 when the transition gives none */
};

struct dataset {
	struct trans *t;
	size_t n, cap;
	uint32_t *ids;		/* hist entries */
	size_t nids, capids;
	float *fl;		/* contexts and features */
	size_t nfl, capfl;
	struct item *it;
	size_t nit, capit;
	uint32_t C, X;		/* dims, fixed by the first transition or the model */
	int C_set, X_set;
};

#define GROW(p, n, cap, need) do { \
	if ((n) + (need) > (cap)) { \
		while ((n) + (need) > (cap)) (cap) = (cap) ? (cap) * 2 : 1024; \
		(p) = xreallocarray((p), (cap), sizeof *(p)); \
	} \
} while (0)

/* Maps an item id to the number stored in the dataset (a vocabulary id or an embedding row). */
typedef uint32_t (*idmap_fn)(void *arg, const char *id, size_t len);

/*
 * How transitions are read: map gives each id its number. Against a model
 * with feature rows, frow_d is its d: a shown item the map puts on the
 * unknown row (0) gets instead emb_feature_row() of its features, as
 * q-score does for a candidate the table lacks. unknown and feature_rows
 * (may be NULL) count the ids left on the unknown row and the rows built.
 */
struct parse_ctx {
	struct dataset *ds;
	idmap_fn map;
	void *arg;
	uint32_t frow_d;
	uint64_t *unknown, *feature_rows;
	char *err;
	size_t errlen;
};

static int perr(struct parse_ctx *pc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(struct parse_ctx *pc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pc->err, pc->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Reads hist into the id pool. */
static int parse_hist(struct parse_ctx *pc, json_t *st, const char *where, uint32_t *off, uint32_t *n)
{
	struct dataset *ds = pc->ds;
	json_t *h = json_object_get(st, "hist");
	if (!json_is_array(h))
		return perr(pc, "%s.hist: expected an array", where);
	size_t nh = json_array_size(h);
	if (nh > MAX_HIST)
		return perr(pc, "%s.hist: more than %d entries", where, MAX_HIST);
	GROW(ds->ids, ds->nids, ds->capids, nh);
	*off = (uint32_t)ds->nids;
	*n = (uint32_t)nh;
	for (size_t i = 0; i < nh; i++) {
		json_t *v = json_array_get(h, i);
		char buf[64];
		const char *s;
		size_t len;
		if (json_is_string(v)) {
			s = json_string_value(v);
			len = json_string_length(v);
		} else if (json_is_integer(v)) {
			len = (size_t)snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			s = buf;
		} else {
			return perr(pc, "%s.hist[%zu]: expected an id", where, i);
		}
		if (len == 0 || len > EMB_ID_MAX)
			return perr(pc, "%s.hist[%zu]: empty or too long id", where, i);
		ds->ids[ds->nids] = pc->map(pc->arg, s, len);
		if (ds->ids[ds->nids++] == 0 && pc->unknown)
			(*pc->unknown)++;
	}
	return 0;
}

/* Reads an array of numbers into the float pool; the first one read fixes its dimension *dim. */
static int parse_floats(struct parse_ctx *pc, json_t *o, const char *key, const char *where, uint32_t *dim,
    int *known, uint32_t *off)
{
	struct dataset *ds = pc->ds;
	char e[160];
	size_t n;
	GROW(ds->fl, ds->nfl, ds->capfl, QNET_MAX_DIM);
	if (jsonx_get_floats(o, key, QNET_MAX_DIM, ds->fl + ds->nfl, &n, e, sizeof e) < 0)
		return perr(pc, "%s: %s", where, e);
	if (!*known) {
		*dim = (uint32_t)n;
		*known = 1;
	} else if (n != *dim) {
		return perr(pc, "%s.%s: %zu numbers, want %u", where, key, n, *dim);
	}
	*off = (uint32_t)ds->nfl;
	ds->nfl += n;
	return 0;
}

/* Reads an action array into the item pool. labels: read click and pay. */
static int parse_items(struct parse_ctx *pc, json_t *arr, const char *where, int labels, uint32_t *off, uint32_t *n)
{
	struct dataset *ds = pc->ds;
	char e[160], id[257], w[64];
	size_t na = json_array_size(arr);
	if (na > MAX_ITEMS)
		return perr(pc, "%s: more than %d items", where, MAX_ITEMS);
	GROW(ds->it, ds->nit, ds->capit, na);
	*off = (uint32_t)ds->nit;
	*n = (uint32_t)na;
	for (size_t i = 0; i < na; i++) {
		json_t *a = json_array_get(arr, i);
		struct item *it = &ds->it[ds->nit];
		snprintf(w, sizeof w, "%s[%zu]", where, i);
		if (!json_is_object(a))
			return perr(pc, "%s: expected an object", w);
		if (jsonx_get_id(a, "item_id", id, e, sizeof e) < 0)
			return perr(pc, "%s: %s", w, e);
		if (parse_floats(pc, a, "features", w, &ds->X, &ds->X_set, &it->feat) < 0)
			return -1;
		int click = 0, pay = 0;
		if (labels) {
			if (jsonx_get_flag(a, "click", &click, e, sizeof e) < 0)
				return perr(pc, "%s: %s", w, e);
			json_t *p = json_object_get(a, "pay");
			if (p && jsonx_get_flag(a, "pay", &pay, e, sizeof e) < 0)
				return perr(pc, "%s: %s", w, e);
		}
		it->click = (uint8_t)(click || pay);
		int64_t pos = (int64_t)i;
		if (labels && json_object_get(a, "pos") &&
		    jsonx_get_int(a, "pos", 0, 1000000, &pos, e, sizeof e) < 0)
			return perr(pc, "%s: %s", w, e);
		it->pos = (uint8_t)(pos < MAX_POS ? pos : MAX_POS - 1);
		it->r = (float)(O.w_click * click + O.w_pay * pay);
		it->id = pc->map(pc->arg, id, strlen(id));
		it->frow = NO_NEXT;
		if (it->id == 0 && pc->frow_d > 0) {
			GROW(ds->fl, ds->nfl, ds->capfl, pc->frow_d);
			if (emb_feature_row(ds->fl + ds->nfl, pc->frow_d, ds->fl + it->feat, ds->X) == 0) {
				it->frow = (uint32_t)ds->nfl;
				ds->nfl += pc->frow_d;
			}
		}
		if (it->frow != NO_NEXT && pc->feature_rows)
			(*pc->feature_rows)++;
		else if (it->id == 0 && pc->unknown)
			(*pc->unknown)++;
		ds->nit++;
	}
	return 0;
}

/*
 * Parses one transition into ds. 0, or -1 with the reason in pc->err (ds
 * is left as it was).
 */
static int parse_transition(struct parse_ctx *pc, const char *buf, size_t len)
{
	struct dataset *ds = pc->ds;
	size_t s_ids = ds->nids, s_fl = ds->nfl, s_it = ds->nit;
	int s_cset = ds->C_set, s_xset = ds->X_set;
	uint32_t s_C = ds->C, s_X = ds->X;
	struct trans t;
	char e[200], mdp[257];
	memset(&t, 0, sizeof t);
	json_t *o = jsonx_parse(buf, len, e, sizeof e);
	if (!o)
		return perr(pc, "%s", e);
	int rc = -1;
	if (!json_is_object(o)) {
		perr(pc, "expected an object");
		goto out;
	}
	if (jsonx_get_id(o, "mdp_id", mdp, e, sizeof e) < 0) {
		perr(pc, "%s", e);
		goto out;
	}
	t.key = hash64(mdp, strlen(mdp), O.seed);
	{
		json_t *sq = json_object_get(o, "seq");
		t.seq = json_is_integer(sq) && json_integer_value(sq) >= 0 && json_integer_value(sq) <= UINT32_MAX ?
		    (uint32_t)json_integer_value(sq) : 0;
	}
	t.ts = -1;
	if (json_object_get(o, "ts") && jsonx_get_ts(o, "ts", &t.ts, e, sizeof e) < 0) {
		perr(pc, "%s", e);
		goto out;
	}
	json_t *st = json_object_get(o, "state");
	if (!json_is_object(st)) {
		perr(pc, "field 'state': expected an object");
		goto out;
	}
	if (parse_hist(pc, st, "state", &t.hist, &t.nhist) < 0 ||
	    parse_floats(pc, st, "context", "state", &ds->C, &ds->C_set, &t.ctx) < 0)
		goto out;
	json_t *act = json_object_get(o, "action");
	if (!json_is_array(act) || json_array_size(act) == 0) {
		perr(pc, "field 'action': expected a non-empty array");
		goto out;
	}
	if (parse_items(pc, act, "action", 1, &t.act, &t.nact) < 0)
		goto out;
	int done;
	if (jsonx_get_flag(o, "done", &done, e, sizeof e) < 0) {
		perr(pc, "%s", e);
		goto out;
	}
	t.done = (uint8_t)done;
	json_t *ns = json_object_get(o, "next_state");
	t.ctx2 = NO_NEXT;
	if (ns && json_is_object(ns)) {
		if (parse_hist(pc, ns, "next_state", &t.hist2, &t.nhist2) < 0 ||
		    parse_floats(pc, ns, "context", "next_state", &ds->C, &ds->C_set, &t.ctx2) < 0)
			goto out;
		json_t *na = json_object_get(o, "next_action");
		if (na && !json_is_array(na)) {
			perr(pc, "field 'next_action': expected an array");
			goto out;
		}
		if (na && parse_items(pc, na, "next_action", 0, &t.act2, &t.nact2) < 0)
			goto out;
	} else if (ns && !json_is_null(ns)) {
		perr(pc, "field 'next_state': expected an object or null");
		goto out;
	}
	if (done) {
		const char *end = NULL;
		json_t *je = json_object_get(o, "end");
		if (je && json_is_string(je))
			end = json_string_value(je);
		/* only a user who left ends the episode; other ends cut it short */
		if (!end || !strcmp(end, "session_gap"))
			t.terminal = 1;
		else
			t.truncated = 1;
	} else if (t.ctx2 == NO_NEXT) {
		perr(pc, "field 'next_state': missing while not done");
		goto out;
	}
	GROW(ds->t, ds->n, ds->cap, 1);
	ds->t[ds->n++] = t;
	rc = 0;
out:
	json_decref(o);
	if (rc < 0) {
		ds->nids = s_ids;
		ds->nfl = s_fl;
		ds->nit = s_it;
		ds->C_set = s_cset;
		ds->X_set = s_xset;
		ds->C = s_C;
		ds->X = s_X;
	}
	return rc;
}

static void dataset_free(struct dataset *ds)
{
	free(ds->t);
	free(ds->ids);
	free(ds->fl);
	free(ds->it);
	memset(ds, 0, sizeof *ds);
}

/* ---- Randomness (deterministic for a seed) ---- */

static uint64_t rng_state;
static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
static double rng_unif(void) { return (rng_next() >> 11) * (1.0 / 9007199254740992.0); }
static float rng_gauss(void)
{
	double u = rng_unif(), v = rng_unif();
	return (float)(sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v));
}

/* ---- Progress ---- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int progress_tty;
static double progress_last;

/* A progress line on a terminal: done of total (0: unknown) examples, the rate, the loss, the ETA. */
static void progress(const char *stage, uint64_t done, uint64_t total, double rate, double loss)
{
	double t = now_s();
	if (!progress_tty || t - progress_last < 0.25)
		return;
	progress_last = t;
	if (total && rate > 0)
		fprintf(stderr, "\r%s: %" PRIu64 "/%" PRIu64 " examples, %.0f/s, loss %.4f, ETA %.0fs   ", stage,
		    done, total, rate, loss, (double)(total - done) / rate);
	else
		fprintf(stderr, "\r%s: %" PRIu64 " examples, %.0f/s, loss %.4f   ", stage, done, rate, loss);
}

static void progress_end(void)
{
	if (progress_tty && progress_last > 0)
		fputc('\n', stderr);
	progress_last = 0;
}

/* ---- Evaluation ---- */

/* AUC of scores s against labels y among n items; -1 when one class is missing. */
static double auc(const float *s, const uint8_t *y, size_t n)
{
	double pairs = 0, good = 0;
	for (size_t i = 0; i < n; i++) {
		if (!y[i])
			continue;
		for (size_t j = 0; j < n; j++) {
			if (y[j])
				continue;
			pairs++;
			good += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
		}
	}
	return pairs ? good / pairs : -1;
}

/* ---- The learner ---- */

struct learner {
	struct qnet *net, *tgt;
	struct qnet_ws *ws;
	struct emb *emb;		/* growable (offline) or mapped (online) */
	uint32_t *rowmap;		/* offline: vocabulary id -> embedding row */
	float *g;			/* gradient, layout of p */
	float *m, *v;			/* Adam moments of p */
	float *em, *ev, *eg;		/* Adam moments and gradient of the embeddings */
	uint8_t *etouched;
	uint32_t *touched;
	size_t ntouched;
	struct qnet_adam adam, eadam;
	float *acc;			/* AdaGrad accumulators of the heads (online) */
	float *cacc;			/* and of the click head, when it learns online (else NULL) */
	float pacc[MAX_POS];		/* and of the click logit's position offsets */
	int64_t clock;			/* online, with a horizon of event time: the newest time stepped (-1: none yet) */
	uint64_t head_steps;		/* online: AdaGrad steps of the heads taken */
	double click_loss;		/* online: the click log-loss per item before each step, averaged */
	const struct qnet *base;	/* online: the version learning started from, its click head compared */
	struct qnet_ws *bws;		/* base's workspace */
	double base_click_loss;		/* its click log-loss on the same items, averaged alike */
	const float **hrow, **erow, **xrow;	/* scratch pointers */
	float *dhist, *de;
	size_t maxitems;
	uint64_t steps;
	float *zero_x;
	/* position biases of Q̄ and of the click logit, learned while pretraining only (scoring assumes position 0) */
	float pq[MAX_POS], pc[MAX_POS], gpq[MAX_POS], gpc[MAX_POS];
	float mpq[MAX_POS], vpq[MAX_POS], mpc[MAX_POS], vpc[MAX_POS];
};

static const float *row_of(struct learner *lr, uint32_t id)
{
	uint32_t r = lr->rowmap ? lr->rowmap[id] : id;
	return emb_row(lr->emb, r);
}

static uint32_t row_id(struct learner *lr, uint32_t id)
{
	return lr->rowmap ? lr->rowmap[id] : id;
}

/* The embedding row of a shown item: the one built from its features (see parse_ctx), else its table row. */
static const float *item_row(struct learner *lr, const struct dataset *ds, const struct item *it)
{
	return it->frow != NO_NEXT ? ds->fl + it->frow : row_of(lr, it->id);
}

static const float *feat_of(const struct dataset *ds, const struct item *it)
{
	return ds->X ? ds->fl + it->feat : NULL;
}

/* Runs the state network on a transition's state (next: the next state). */
static void forward_state(struct learner *lr, const struct dataset *ds, const struct trans *t, int next)
{
	uint32_t h = next ? t->hist2 : t->hist, n = next ? t->nhist2 : t->nhist;
	uint32_t ctx = next ? t->ctx2 : t->ctx;
	size_t base = n > lr->net->dm.L ? n - lr->net->dm.L : 0;
	for (size_t i = base; i < n; i++)
		lr->hrow[i - base] = row_of(lr, ds->ids[h + i]);
	qnet_state(lr->net, lr->ws, lr->hrow, n - base, ds->C ? ds->fl + ctx : NULL);
}

/*
 * The next page's value of t under the target network (0 when there is
 * none); s2 is its cached next state (H floats) or NULL to compute it.
 * Leaves ws on s'.
 */
static float next_value(struct learner *lr, const struct dataset *ds, const struct trans *t, const float *s2)
{
	if (t->done || t->ctx2 == NO_NEXT)
		return 0;
	if (s2) {
		memcpy(lr->ws->s, s2, lr->net->dm.H * sizeof(float));
		qnet_heads_refresh(lr->net, lr->ws);
	} else {
		forward_state(lr, ds, t, 1);
	}
	for (uint32_t i = 0; i < t->nact2; i++) {
		const struct item *it = &ds->it[t->act2 + i];
		lr->erow[i] = item_row(lr, ds, it);
		lr->xrow[i] = feat_of(ds, it);
	}
	return qnet_next_value(lr->net, lr->tgt, lr->ws, lr->erow, lr->xrow, t->nact2);
}

static void learner_scratch(struct learner *lr, size_t maxitems)
{
	if (maxitems <= lr->maxitems)
		return;
	lr->maxitems = maxitems;
	lr->erow = xreallocarray(lr->erow, maxitems, sizeof *lr->erow);
	lr->xrow = xreallocarray(lr->xrow, maxitems, sizeof *lr->xrow);
}

static void learner_init(struct learner *lr, struct qnet *net)
{
	lr->net = net;
	lr->ws = qnet_ws_new(&net->dm);
	lr->g = xcalloc(net->nparam, sizeof(float));
	lr->hrow = xcalloc(net->dm.L, sizeof *lr->hrow);
	lr->dhist = xcalloc((size_t)net->dm.L * net->dm.d, sizeof(float));
	lr->de = xcalloc(net->dm.d, sizeof(float));
	learner_scratch(lr, 256);
}

static void learner_free(struct learner *lr)
{
	qnet_ws_free(lr->ws);
	qnet_free(lr->tgt);
	free(lr->g); free(lr->m); free(lr->v);
	free(lr->em); free(lr->ev); free(lr->eg); free(lr->etouched); free(lr->touched);
	free(lr->acc); free(lr->cacc); qnet_ws_free(lr->bws);
	free(lr->hrow); free(lr->erow); free(lr->xrow); free(lr->dhist); free(lr->de);
}

/* Adds an embedding gradient for row r. */
static void emb_grad(struct learner *lr, uint32_t r, const float *g, float scale)
{
	size_t d = lr->net->dm.d;
	if (!lr->etouched[r]) {
		lr->etouched[r] = 1;
		lr->touched[lr->ntouched++] = r;
	}
	float *eg = lr->eg + (size_t)r * d;
	for (size_t c = 0; c < d; c++)
		eg[c] += scale * g[c];
}

/* The log-loss of a click label y against a logit. */
static double log_loss(float logit, int y)
{
	return log1p(exp(-fabs(logit))) + (logit > 0 ? logit : 0) - y * logit;
}

/*
 * Pretraining loss and gradients of one page (γ = 0): ½(Q̄ − r)² and the
 * click log-loss, each item weighted by scale. Returns the page's loss sum.
 */
static double pretrain_page(struct learner *lr, const struct dataset *ds, const struct trans *t, float scale, int learn)
{
	struct qnet *net = lr->net;
	size_t d = net->dm.d;
	double loss = 0;
	forward_state(lr, ds, t, 0);
	for (uint32_t i = 0; i < t->nact; i++) {
		const struct item *it = &ds->it[t->act + i];
		uint32_t row = row_id(lr, it->id);
		const float *e = emb_row(lr->emb, row), *x = feat_of(ds, it);
		float q = qnet_qbar(net, lr->ws, e, x), c = qnet_click_logit(net, lr->ws, e, x);
		if (O.pos_bias) {
			q += lr->pq[it->pos];
			c += lr->pc[it->pos];
		}
		float p = qnet_sigmoid(c);
		loss += 0.5 * (q - it->r) * (q - it->r);
		loss += O.click_weight * log_loss(c, it->click);
		if (!learn)
			continue;
		memset(lr->de, 0, d * sizeof(float));
		if (O.pos_bias && it->pos > 0) {
			lr->gpq[it->pos] += scale * (q - it->r);
			lr->gpc[it->pos] += scale * (float)O.click_weight * (p - it->click);
		}
		qnet_item_backward(net, lr->ws, e, x, scale * (q - it->r), scale * (float)O.click_weight * (p - it->click),
		    QNET_RANGE_HEADS | QNET_RANGE_CLICK, lr->g, O.freeze_emb ? NULL : lr->de);
		if (!O.freeze_emb)
			emb_grad(lr, row, lr->de, 1);
	}
	if (!learn)
		return loss;
	qnet_heads_backward(net, lr->ws, QNET_RANGE_HEADS | QNET_RANGE_CLICK | QNET_RANGE_STATE, lr->g);
	uint32_t n = lr->ws->nhist;
	memset(lr->dhist, 0, (size_t)n * d * sizeof(float));
	qnet_state_backward(net, lr->ws, lr->g, O.freeze_emb ? NULL : lr->dhist);
	if (!O.freeze_emb) {
		uint32_t base = t->nhist - n;
		for (uint32_t r = 0; r < n; r++)
			emb_grad(lr, row_id(lr, ds->ids[t->hist + base + r]), lr->dhist + (size_t)r * d, 1);
	}
	return loss;
}

/*
 * TD loss and head gradients of one page: per-item targets, or for SlateQ
 * targets on the clicked items only. s (H floats) is the page's cached
 * state; fut the next page's value. Returns the page's loss sum, *nterms
 * the items that had a target.
 */
static double td_page(struct learner *lr, const struct dataset *ds, const struct trans *t, const float *s,
    float fut, float scale, int learn, uint32_t *nterms)
{
	struct qnet *net = lr->net;
	double loss = 0;
	if (s != lr->ws->s)
		memcpy(lr->ws->s, s, net->dm.H * sizeof(float));
	qnet_heads_refresh(net, lr->ws);
	memset(lr->ws->ea, 0, net->dm.d * sizeof(float));
	memset(lr->ws->ec, 0, net->dm.d * sizeof(float));
	lr->ws->sdq = lr->ws->sdc = lr->ws->sdv = 0;
	*nterms = 0;
	if (net->target == QNET_TARGET_SLATE) {
		/*
		 * One term per page: V(s) + Σ_clicked A(s,i) against the clicked
		 * items' rewards plus the next page's value.
		 */
		float pred = lr->ws->v, y = 0;
		uint32_t nc = 0;
		for (uint32_t i = 0; i < t->nact; i++) {
			const struct item *it = &ds->it[t->act + i];
			if (!it->click)
				continue;
			pred += qnet_a(net, lr->ws, item_row(lr, ds, it), feat_of(ds, it));
			y += it->r;
			nc++;
		}
		y = qnet_td_target(y, (float)O.gamma, t->done, fut);
		float err = pred - y;
		*nterms = 1;
		if (learn) {
			for (uint32_t i = 0; i < t->nact; i++) {
				const struct item *it = &ds->it[t->act + i];
				if (it->click)
					qnet_item_backward(net, lr->ws, item_row(lr, ds, it), feat_of(ds, it), scale * err, 0,
					    QNET_RANGE_HEADS, lr->g, NULL);
			}
			qnet_v_backward(lr->ws, scale * err * (1.0f - (float)nc));
			qnet_heads_backward(net, lr->ws, QNET_RANGE_HEADS, lr->g);
		}
		return 0.5 * (double)err * err;
	}
	for (uint32_t i = 0; i < t->nact; i++) {
		const struct item *it = &ds->it[t->act + i];
		if (net->target == QNET_TARGET_SLATE && !it->click)
			continue;
		const float *e = item_row(lr, ds, it), *x = feat_of(ds, it);
		float y = qnet_td_target(it->r, (float)O.gamma, t->done, fut);
		float q = qnet_qbar(net, lr->ws, e, x);
		loss += 0.5 * (q - y) * (q - y);
		(*nterms)++;
		if (learn)
			qnet_item_backward(net, lr->ws, e, x, scale * (q - y), 0, QNET_RANGE_HEADS, lr->g, NULL);
	}
	if (learn)
		qnet_heads_backward(net, lr->ws, QNET_RANGE_HEADS, lr->g);
	return loss;
}

/*
 * Online: the click head's log-loss on every shown item of page t, with ws
 * on the page's state (as td_page leaves it), and its gradient added to
 * lr->g. The click logit's position offsets learn alongside (position 0 is
 * the reference, as in pretraining). Returns the page's loss sum; *base
 * gets the starting version's on the same items (with the same offsets).
 */
static double click_page(struct learner *lr, const struct dataset *ds, const struct trans *t, double *base)
{
	struct qnet *net = lr->net;
	struct qnet_ws *ws = lr->ws;
	double loss = 0;
	memcpy(lr->bws->s, ws->s, net->dm.H * sizeof(float));
	qnet_heads_refresh(lr->base, lr->bws);
	*base = 0;
	memset(ws->ec, 0, net->dm.d * sizeof(float));
	ws->sdc = 0;
	for (uint32_t i = 0; i < t->nact; i++) {
		const struct item *it = &ds->it[t->act + i];
		const float *e = item_row(lr, ds, it), *x = feat_of(ds, it);
		float c = qnet_click_logit(net, ws, e, x), b = qnet_click_logit(lr->base, lr->bws, e, x);
		if (O.pos_bias) {
			c += lr->pc[it->pos];
			b += lr->pc[it->pos];
		}
		float dc = qnet_sigmoid(c) - it->click;
		loss += log_loss(c, it->click);
		*base += log_loss(b, it->click);
		if (O.pos_bias && it->pos > 0)
			lr->gpc[it->pos] += dc;
		qnet_item_backward(net, ws, e, x, 0, dc, QNET_RANGE_CLICK, lr->g, NULL);
	}
	qnet_heads_backward(net, ws, QNET_RANGE_CLICK, lr->g);
	return loss;
}

/*
 * The accumulators' memory for the step of a page of event time ts: all of
 * it; a horizon of --step-horizon pages; or one of event time, by how far
 * the newest time seen has moved (pages without a time, or older than one
 * seen, move it not at all).
 */
static float step_keep(struct learner *lr, int64_t ts)
{
	if (O.step_horizon > 0)
		return (float)(1 - 1.0 / O.step_horizon);
	if (O.step_horizon_ms <= 0 || ts < 0)
		return 1;
	if (lr->clock < 0 || ts <= lr->clock) {
		lr->clock = lr->clock < 0 ? ts : lr->clock;
		return 1;
	}
	double dt = (double)(ts - lr->clock);
	lr->clock = ts;
	return (float)exp(-dt / (double)O.step_horizon_ms);
}

/*
 * Online: one AdaGrad step of the heads, and of the click head and its
 * position offsets when they learn, from lr->g (then cleared); ts is the
 * page's event time.
 */
static void online_step(struct learner *lr, int64_t ts)
{
	size_t lo, hi;
	qnet_range(lr->net, QNET_RANGE_HEADS, &lo, &hi);
	float keep = step_keep(lr, ts);
	qnet_adagrad_update(lr->net->p + lo, lr->acc, lr->g + lo, hi - lo, (float)O.head_lr, keep, ACC0, 1e-8f);
	memset(lr->g + lo, 0, (hi - lo) * sizeof(float));
	if (lr->head_steps++ % 1024 == 0) {
		/* what the operator watches for a learner whose steps have died out */
		double sum = 0;
		for (size_t i = 0; i < hi - lo; i++)
			sum += 1 / sqrt((double)lr->acc[i] + 1e-8);
		*g_head_step = O.head_lr * sum / (double)(hi - lo);
	}
	if (!lr->cacc)
		return;
	qnet_range(lr->net, QNET_RANGE_CLICK, &lo, &hi);
	qnet_adagrad_update(lr->net->p + lo, lr->cacc, lr->g + lo, hi - lo, (float)O.click_lr, keep, ACC0, 1e-8f);
	memset(lr->g + lo, 0, (hi - lo) * sizeof(float));
	qnet_adagrad_update(lr->pc + 1, lr->pacc + 1, lr->gpc + 1, MAX_POS - 1, (float)O.click_lr, keep, ACC0, 1e-8f);
	memset(lr->gpc, 0, sizeof lr->gpc);
}

/*
 * Online: learns page t, ws on its state, fut its future: the heads' TD
 * step and the click head's. Returns the TD loss per term (every page has
 * one: SlateQ's V(s) term, or the item target's per item), -1 if none
 * (the heads' gradient is then zero and their step changes nothing).
 */
static double online_page(struct learner *lr, const struct dataset *ds, const struct trans *t, float fut)
{
	uint32_t nt;
	double l = td_page(lr, ds, t, lr->ws->s, fut, 1, 1, &nt);
	if (lr->cacc && t->nact > 0) {
		double b, c = click_page(lr, ds, t, &b) / t->nact;
		b /= t->nact;
		int first = lr->click_loss == 0;
		lr->click_loss = first ? c : 0.999 * lr->click_loss + 0.001 * c;
		lr->base_click_loss = first ? b : 0.999 * lr->base_click_loss + 0.001 * b;
		*g_click_loss = lr->click_loss;
		*g_click_loss_start = lr->base_click_loss;
	}
	online_step(lr, t->ts);
	return nt ? l / nt : -1;
}

/* Within-request ranking of page t by qnet_q (ws must hold the page's state): its AUC or -1. */
static double page_auc(struct learner *lr, const struct dataset *ds, const struct trans *t, float *sc, uint8_t *y)
{
	for (uint32_t i = 0; i < t->nact; i++) {
		const struct item *it = &ds->it[t->act + i];
		sc[i] = qnet_q(lr->net, lr->ws, item_row(lr, ds, it), feat_of(ds, it));
		y[i] = it->r > 0;
	}
	return auc(sc, y, t->nact);
}

/* Sparse Adam step on the embedding rows touched in this minibatch. */
static void emb_step(struct learner *lr)
{
	size_t d = lr->net->dm.d;
	for (size_t k = 0; k < lr->ntouched; k++) {
		uint32_t r = lr->touched[k];
		size_t o = (size_t)r * d;
		float *e = emb_row_mut(lr->emb, r);
		if (O.l2 > 0)
			for (size_t c = 0; c < d; c++)
				lr->eg[o + c] += (float)O.l2 * e[c];
		qnet_adam_update(&lr->eadam, e, lr->em + o, lr->ev + o, lr->eg + o, d);
		memset(lr->eg + o, 0, d * sizeof(float));
		lr->etouched[r] = 0;
	}
	lr->ntouched = 0;
}

static void param_step(struct learner *lr, int ranges)
{
	qnet_adam_begin(&lr->adam);
	if (O.l2 > 0 && (ranges & QNET_RANGE_STATE)) {
		/* pretraining: the interactions are penalised like the embeddings they multiply */
		static const enum qnet_tensor pen[] = { QNET_C_W, QNET_A_W };
		for (size_t j = 0; j < sizeof pen / sizeof *pen; j++) {
			const float *w = qnet_at(lr->net, lr->net->p, pen[j]);
			float *g = qnet_at(lr->net, lr->g, pen[j]);
			for (size_t i = 0; i < qnet_tensor_size(&lr->net->dm, pen[j]); i++)
				g[i] += (float)O.l2 * w[i];
		}
	}
	for (int r = QNET_RANGE_STATE; r <= QNET_RANGE_HEADS; r <<= 1) {
		size_t lo, hi;
		qnet_range(lr->net, r, &lo, &hi);
		if (ranges & r)
			qnet_adam_update(&lr->adam, lr->net->p + lo, lr->m + lo, lr->v + lo, lr->g + lo, hi - lo);
		memset(lr->g + lo, 0, (hi - lo) * sizeof(float));
	}
}

/* ---- Offline ---- */

/* Pages in episode order: by mdp_id's hash, then seq (qsort has no argument: the dataset is here). */
static const struct dataset *ep_ds;
static int ep_cmp(const void *a, const void *b)
{
	const struct trans *x = &ep_ds->t[*(const size_t *)a], *y = &ep_ds->t[*(const size_t *)b];
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : *(const size_t *)a > *(const size_t *)b;
}

struct vocab {
	struct emb *dict;	/* id -> vocabulary id (rows unused) */
	uint32_t *count;
	size_t cap;
};

static uint32_t vocab_map(void *arg, const char *id, size_t len)
{
	struct vocab *v = arg;
	uint32_t r = emb_add(v->dict, id, len);
	if (r >= v->cap) {
		size_t old = v->cap;
		v->cap = v->cap ? v->cap * 2 : 1024;
		while (r >= v->cap)
			v->cap *= 2;
		v->count = xreallocarray(v->count, v->cap, sizeof *v->count);
		memset(v->count + old, 0, (v->cap - old) * sizeof *v->count);
	}
	return r;
}

static int is_holdout(const struct trans *t)
{
	return O.holdout > 0 && (double)(t->key % 100000) < O.holdout * 100000;
}

/* Reads the --init-embeddings file into emb (adding its ids). 0 or -1 after a diagnostic. */
static int load_init_embeddings(struct emb *e, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		diag_warn("%s:", path);
		return -1;
	}
	char *line = NULL;
	size_t cap = 0, lineno = 0, d = emb_dim(e), loaded = 0;
	ssize_t len;
	int st = 0;
	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (len == 0 || line[0] == '#')
			continue;
		char *colon = strrchr(line, ':');
		if (!colon || colon == line || colon - line > EMB_ID_MAX) {
			diag_warn("%s:%zu: expected item_id:v1 v2 ...", path, lineno);
			st = -1;
			break;
		}
		float tmp[QNET_MAX_DIM];
		size_t n = 0;
		char *p = colon + 1, *end;
		while (n < QNET_MAX_DIM) {
			float v = strtof(p, &end);
			if (end == p)
				break;
			tmp[n++] = v;
			p = end;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p || n != d || !isfinite(tmp[0])) {
			diag_warn("%s:%zu: expected %zu numbers after the id", path, lineno, d);
			st = -1;
			break;
		}
		uint32_t r = emb_add(e, line, (size_t)(colon - line));
		memcpy(emb_row_mut(e, r), tmp, d * sizeof(float));
		loaded++;
	}
	free(line);
	fclose(f);
	if (st == 0)
		diag_info(2, "%s: %zu embeddings", path, loaded);
	return st;
}

/* Emits one JSON line of metrics to the output. */
static void report(const char *stage, long epoch, double train_loss, double ho_loss, double gauc, double pop, double rate)
{
	json_t *o = json_object();
	json_object_set_new(o, "stage", json_string(stage));
	json_object_set_new(o, "epoch", json_integer(epoch));
	json_object_set_new(o, "train_loss", json_real(round(train_loss * 1e6) / 1e6));
	json_object_set_new(o, "holdout_loss", json_real(round(ho_loss * 1e6) / 1e6));
	json_object_set_new(o, "gauc", gauc >= 0 ? json_real(round(gauc * 1e4) / 1e4) : json_null());
	json_object_set_new(o, "popularity_gauc", pop >= 0 ? json_real(round(pop * 1e4) / 1e4) : json_null());
	json_object_set_new(o, "examples_per_s", json_real(round(rate)));
	tool_io_emit(io, NULL, o);
	json_decref(o);
	diag_info(1, "%s epoch %ld: train loss %.4f, held-out loss %.4f, GAUC %.4f (popularity %.4f), %.0f examples/s",
	    stage, epoch, train_loss, ho_loss, gauc, pop, rate);
}

/* Builds the warm-up requests from a few transitions. malloc'd, *len set. */
static char *build_warmup(const struct dataset *ds, struct emb *dict, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap);
	size_t step = ds->n / (size_t)(O.warmup ? O.warmup : 1) + 1;
	long made = 0;
	for (size_t k = 0; k < ds->n && made < O.warmup; k += step, made++) {
		const struct trans *t = &ds->t[k];
		json_t *o = json_object(), *h = json_array(), *cands = json_array();
		char rid[32];
		snprintf(rid, sizeof rid, "warmup-%ld", made);
		json_object_set_new(o, "request_id", json_string(rid));
		json_object_set_new(o, "user_id", json_string("warmup"));
		for (uint32_t i = 0; i < t->nhist; i++) {
			size_t l;
			const char *id = emb_id(dict, ds->ids[t->hist + i], &l);
			json_array_append_new(h, json_stringn(id, l));
		}
		json_object_set_new(o, "hist", h);
		json_object_set_new(o, "context", jsonx_floats(ds->fl + t->ctx, ds->C));
		for (uint32_t i = 0; i < t->nact; i++) {
			const struct item *it = &ds->it[t->act + i];
			json_t *c = json_object();
			size_t l;
			const char *id = emb_id(dict, it->id, &l);
			json_object_set_new(c, "item_id", json_stringn(id, l));
			json_object_set_new(c, "features", jsonx_floats(ds->X ? ds->fl + it->feat : NULL, ds->X));
			json_array_append_new(cands, c);
		}
		json_object_set_new(o, "candidates", cands);
		json_object_set_new(o, "k", json_integer(t->nact));
		size_t l;
		char *s = jsonx_dump(o, &l);
		json_decref(o);
		while (n + l + 2 > cap)
			cap *= 2;
		buf = xrealloc(buf, cap);
		memcpy(buf + n, s, l);
		n += l;
		buf[n++] = '\n';
		free(s);
	}
	*len = n;
	return buf;
}

static int run_offline(void)
{
	struct dataset ds;
	struct vocab voc = { 0 };
	struct line ln;
	char err[512];
	int rv;
	/* A store that cannot take the version fails now, not after the training. */
	if (model_store_check(O.modeldir, err, sizeof err) < 0) {
		diag_warn("%s", err);
		return 1;
	}
	memset(&ds, 0, sizeof ds);
	voc.dict = emb_new(1);
	struct parse_ctx pc = { .ds = &ds, .map = vocab_map, .arg = &voc, .err = err, .errlen = sizeof err };

	double t0 = now_s();
	while ((rv = tool_io_next(io, &ln)) != 0) {
		if (rv != 1)
			continue;
		if (ln.too_long) {
			tool_io_reject(io, &ln, "line longer than %zu bytes", ln.len);
			continue;
		}
		if (parse_transition(&pc, ln.buf, ln.len) < 0)
			tool_io_reject(io, &ln, "%s", err);
		tool_io_done(io, &ln);
		if ((ds.n & 1023) == 0)
			progress("reading", ds.n, 0, ds.n / (now_s() - t0 + 1e-9), 0);
	}
	progress_end();
	if (sig_stop) {
		dataset_free(&ds);
		emb_free(voc.dict);
		free(voc.count);
		return 1;
	}
	if (ds.n == 0) {
		diag_warn("no transitions to learn from");
		dataset_free(&ds);
		emb_free(voc.dict);
		free(voc.count);
		return 1;
	}

	/* split; vocabulary counts over the training part */
	size_t *train = xcalloc(ds.n, sizeof *train), *hold = xcalloc(ds.n, sizeof *hold), ntr = 0, nho = 0;
	uint32_t maxn = 0;
	for (size_t k = 0; k < ds.n; k++) {
		struct trans *t = &ds.t[k];
		if (is_holdout(t)) {
			hold[nho++] = k;
		} else {
			train[ntr++] = k;
			for (uint32_t i = 0; i < t->nhist; i++)
				voc.count[ds.ids[t->hist + i]]++;
			for (uint32_t i = 0; i < t->nact; i++)
				voc.count[ds.it[t->act + i].id]++;
		}
		maxn = t->nact > maxn ? t->nact : maxn;
		maxn = t->nact2 > maxn ? t->nact2 : maxn;
	}
	if (ntr == 0) {
		train[ntr++] = hold[--nho];
		diag_warn("too few episodes for a held-out split: training on all");
	}

	struct qnet_dims dm = O.dm;
	dm.C = ds.C;
	dm.X = ds.X;
	if (O.feature_emb) {
		if (ds.X == 0)
			diag_fatal(2, "--feature-embeddings: the items have no features");
		dm.d = ds.X;
		O.freeze_emb = 1;
	}
	if (qnet_dims_check(&dm, err, sizeof err) < 0)
		diag_fatal(1, "%s", err);
	struct qnet *net = qnet_new(&dm);
	qnet_init(net, O.seed);
	net->target = QNET_TARGET_ITEM;	/* while pretraining, rank by Q̄ */

	/* embeddings: --init-embeddings first, then every item seen --min-count times */
	rng_state = O.seed * 0x2545f4914f6cdd1dULL + 1;
	struct emb *emb = emb_new(dm.d);
	if (O.init_emb && load_init_embeddings(emb, O.init_emb) < 0)
		diag_fatal(1, "%s: unusable embeddings", O.init_emb);
	/* the manifest says where the rows came from */
	const char *rows = O.feature_emb ? (emb_rows(emb) > 1 ? MODEL_ROWS_INIT_FEATURES : MODEL_ROWS_FEATURES) :
	    O.init_emb && O.freeze_emb ? MODEL_ROWS_INIT : MODEL_ROWS_LEARNED;
	uint32_t nvoc = emb_rows(voc.dict);
	uint32_t *rowmap = xcalloc(nvoc, sizeof *rowmap);
	uint64_t rare = 0;
	/* each item's features as first seen, and a fixed random projection of them into the rows */
	uint32_t *vfeat = xcalloc(nvoc, sizeof *vfeat);
	float *proj = NULL;
	if ((O.feature_init || O.feature_emb) && ds.X > 0) {
		for (uint32_t v = 0; v < nvoc; v++)
			vfeat[v] = NO_NEXT;
		for (size_t k = 0; k < ds.nit; k++)
			if (vfeat[ds.it[k].id] == NO_NEXT)
				vfeat[ds.it[k].id] = ds.it[k].feat;
	}
	if (O.feature_init && !O.feature_emb && ds.X > 0) {
		proj = xcalloc((size_t)dm.d * ds.X, sizeof *proj);
		for (size_t i = 0; i < (size_t)dm.d * ds.X; i++)
			proj[i] = 0.25f * rng_gauss();
	}
	for (uint32_t v = 1; v < nvoc; v++) {
		size_t l;
		const char *id = emb_id(voc.dict, v, &l);
		int64_t r = emb_find(emb, id, l);
		if (O.feature_emb) {
			/* the row is the item's features, whatever its count; an item never shown has none */
			if (r < 0 && vfeat[v] != NO_NEXT) {
				r = emb_add(emb, id, l);
				emb_feature_row(emb_row_mut(emb, (uint32_t)r), dm.d, ds.fl + vfeat[v], ds.X);
			}
		} else if (r < 0 && voc.count[v] >= (uint32_t)O.min_count) {
			r = emb_add(emb, id, l);
			float *row = emb_row_mut(emb, (uint32_t)r);
			for (uint32_t c = 0; c < dm.d; c++)
				row[c] = (proj ? 0.05f : 0.1f) * rng_gauss();
			if (proj && vfeat[v] != NO_NEXT) {
				const float *x = ds.fl + vfeat[v];
				for (uint32_t c = 0; c < dm.d; c++)
					for (uint32_t j = 0; j < ds.X; j++)
						row[c] += proj[(size_t)c * ds.X + j] * x[j];
			}
		}
		if (r < 0)
			rare++;
		rowmap[v] = r < 0 ? 0 : (uint32_t)r;
	}
	free(vfeat);
	free(proj);
	*n_unknown = rare;
	diag_info(1, "%zu transitions (%zu training, %zu held out), %u items (%" PRIu64 " rarer than --min-count share the unknown row), C %u, X %u",
	    ds.n, ntr, nho, nvoc - 1, rare, dm.C, dm.X);

	struct learner lr;
	memset(&lr, 0, sizeof lr);
	learner_init(&lr, net);
	learner_scratch(&lr, maxn);
	lr.emb = emb;
	lr.rowmap = rowmap;
	lr.m = xcalloc(net->nparam, sizeof(float));
	lr.v = xcalloc(net->nparam, sizeof(float));
	uint32_t nrows = emb_rows(emb);
	lr.em = xcalloc((size_t)nrows * dm.d, sizeof(float));
	lr.ev = xcalloc((size_t)nrows * dm.d, sizeof(float));
	lr.eg = xcalloc((size_t)nrows * dm.d, sizeof(float));
	lr.etouched = xcalloc(nrows, 1);
	lr.touched = xcalloc(nrows, sizeof *lr.touched);
	qnet_adam_init(&lr.adam, (float)O.lr);
	qnet_adam_init(&lr.eadam, (float)(O.emb_lr > 0 ? O.emb_lr : O.lr));
	float *sc = xcalloc(maxn + 1, sizeof *sc);
	uint8_t *yl = xcalloc(maxn + 1, 1);

	/* popularity baseline on the held-out pages: clicks in the training part */
	double pop_gauc = -1;
	{
		float *clicks = xcalloc(nvoc, sizeof *clicks);
		for (size_t k = 0; k < ntr; k++) {
			const struct trans *t = &ds.t[train[k]];
			for (uint32_t i = 0; i < t->nact; i++)
				clicks[ds.it[t->act + i].id] += ds.it[t->act + i].click;
		}
		double sum = 0;
		size_t np = 0;
		for (size_t k = 0; k < nho; k++) {
			const struct trans *t = &ds.t[hold[k]];
			for (uint32_t i = 0; i < t->nact; i++) {
				sc[i] = clicks[ds.it[t->act + i].id];
				yl[i] = ds.it[t->act + i].r > 0;
			}
			double a = auc(sc, yl, t->nact);
			if (a >= 0) {
				sum += a;
				np++;
			}
		}
		pop_gauc = np ? sum / (double)np : -1;
		free(clicks);
	}

	/* stage 1: pretrain everything on the immediate reward */
	uint64_t items_total = 0;
	for (size_t k = 0; k < ntr; k++)
		items_total += ds.t[train[k]].nact;
	size_t *order = xcalloc(ntr, sizeof *order);
	for (size_t k = 0; k < ntr; k++)
		order[k] = train[k];
	/* early stopping: the parameters of the epoch with the best held-out loss are kept */
	float *best_p = xcalloc(net->nparam, sizeof(float));
	float *best_e = xcalloc((size_t)nrows * dm.d, sizeof(float));
	double best_loss = INFINITY;
	long best_ep = 0;
	for (long ep = 1; ep <= O.epochs && !sig_stop; ep++) {
		for (size_t k = ntr; k > 1; k--) {
			size_t j = rng_next() % k, tmp = order[k - 1];
			order[k - 1] = order[j];
			order[j] = tmp;
		}
		double tl = 0, t1 = now_s();
		uint64_t done_items = 0;
		for (size_t b = 0; b < ntr && !sig_stop; b += (size_t)O.batch) {
			size_t e = b + (size_t)O.batch < ntr ? b + (size_t)O.batch : ntr;
			uint32_t nitems = 0;
			for (size_t k = b; k < e; k++)
				nitems += ds.t[order[k]].nact;
			float scale = 1.0f / (float)(nitems ? nitems : 1);
			for (size_t k = b; k < e; k++)
				tl += pretrain_page(&lr, &ds, &ds.t[order[k]], scale, 1);
			param_step(&lr, QNET_RANGE_STATE | QNET_RANGE_CLICK | QNET_RANGE_HEADS);
			if (O.pos_bias) {
				qnet_adam_update(&lr.adam, lr.pq, lr.mpq, lr.vpq, lr.gpq, MAX_POS);
				qnet_adam_update(&lr.adam, lr.pc, lr.mpc, lr.vpc, lr.gpc, MAX_POS);
				memset(lr.gpq, 0, sizeof lr.gpq);
				memset(lr.gpc, 0, sizeof lr.gpc);
			}
			lr.eadam.t = lr.adam.t;
			lr.eadam.c1 = lr.adam.c1;
			lr.eadam.c2 = lr.adam.c2;
			emb_step(&lr);
			done_items += nitems;
			(*n_updates)++;
			*n_items += nitems;
			stats_tick(io->st);
			progress("pretrain", (uint64_t)e, ntr, (double)e / (now_s() - t1 + 1e-9), tl / (double)(done_items ? done_items : 1));
		}
		double rate = (double)ntr / (now_s() - t1 + 1e-9);
		progress_end();
		double hl = 0, gs = 0;
		size_t hi = 0, np = 0;
		for (size_t k = 0; k < nho; k++) {
			const struct trans *t = &ds.t[hold[k]];
			hl += pretrain_page(&lr, &ds, t, 0, 0);
			hi += t->nact;
			double a = page_auc(&lr, &ds, t, sc, yl);
			if (a >= 0) {
				gs += a;
				np++;
			}
		}
		report("pretrain", ep, tl / (double)(items_total ? items_total : 1), hi ? hl / (double)hi : 0,
		    np ? gs / (double)np : -1, pop_gauc, rate);
		if (nho == 0 || hl < best_loss) {
			best_loss = hl;
			best_ep = ep;
			memcpy(best_p, net->p, net->nparam * sizeof(float));
			memcpy(best_e, emb_row(emb, 0), (size_t)nrows * dm.d * sizeof(float));
		}
	}
	if (best_ep > 0 && best_ep < O.epochs && !sig_stop) {
		diag_info(1, "pretrain: keeping epoch %ld, the best on held-out loss", best_ep);
		memcpy(net->p, best_p, net->nparam * sizeof(float));
		memcpy(emb_row_mut(emb, 0), best_e, (size_t)nrows * dm.d * sizeof(float));
	}
	free(best_e);

	/* stage 2: the heads on TD targets, state network, embeddings and click head frozen */
	net->target = O.target;
	int fit_heads = O.head_epochs > 0 && (O.gamma > 0 || O.target == QNET_TARGET_SLATE);
	if (fit_heads && !sig_stop) {
		size_t H = dm.H;
		/* the state network is frozen: every state and next state is computed once */
		float *S = xcalloc(ds.n * H, sizeof(float)), *S2 = xcalloc(ds.n * H, sizeof(float));
		float *fut = xcalloc(ds.n, sizeof(float));
		for (size_t k = 0; k < ds.n; k++) {
			forward_state(&lr, &ds, &ds.t[k], 0);
			memcpy(S + k * H, lr.ws->s, H * sizeof(float));
			if (!ds.t[k].done && ds.t[k].ctx2 != NO_NEXT) {
				forward_state(&lr, &ds, &ds.t[k], 1);
				memcpy(S2 + k * H, lr.ws->s, H * sizeof(float));
			}
		}
		/* the heads start again from the pretrained values with fresh Adam moments */
		memset(lr.m, 0, net->nparam * sizeof(float));
		memset(lr.v, 0, net->nparam * sizeof(float));
		qnet_adam_init(&lr.adam, (float)O.lr);
		lr.tgt = qnet_clone(net);
		long sync = O.target_sync ? O.target_sync : 20;
		size_t nfit = 0;
		for (size_t k = 0; k < ntr; k++)
			if (!ds.t[order[k]].truncated)
				order[nfit++] = order[k];
		/*
		 * λ-returns: each page's future mixes the next page's value under the
		 * target heads with the return actually observed after it, episode by
		 * episode (pages in seq order): F_t = (1−λ)·value(s_{t+1}) +
		 * λ·(R_{t+1} + γ·F_{t+1}). The state network sees only part of what
		 * drives the user (satisfaction is hidden), so a bootstrapped value
		 * misses the long-term effects that the observed returns carry.
		 */
		size_t *eporder = NULL, *nextk = NULL;
		float *lfut = NULL;
		if (O.lambda > 0) {
			eporder = xcalloc(ds.n, sizeof *eporder);
			nextk = xcalloc(ds.n, sizeof *nextk);
			lfut = xcalloc(ds.n, sizeof *lfut);
			for (size_t k = 0; k < ds.n; k++)
				eporder[k] = k;
			ep_ds = &ds;
			qsort(eporder, ds.n, sizeof *eporder, ep_cmp);
			for (size_t k = 0; k < ds.n; k++) {
				const struct trans *a = &ds.t[eporder[k]];
				const struct trans *b = k + 1 < ds.n ? &ds.t[eporder[k + 1]] : NULL;
				nextk[eporder[k]] = b && b->key == a->key && b->seq == a->seq + 1 ? eporder[k + 1] : SIZE_MAX;
			}
		}
		for (long ep = 1; ep <= O.head_epochs && !sig_stop; ep++) {
			if (O.lambda > 0) {
				/* backwards through each episode: G_t = R_t + γ·F_t */
				float *G = fut;
				for (size_t j = ds.n; j-- > 0;) {
					size_t k = eporder[j];
					const struct trans *t = &ds.t[k];
					float R = 0, F = 0;
					for (uint32_t i = 0; i < t->nact; i++)
						R += ds.it[t->act + i].r;
					if (!t->done && t->ctx2 != NO_NEXT) {
						float nv = next_value(&lr, &ds, t, S2 + k * H);
						F = nextk[k] != SIZE_MAX ? (float)((1 - O.lambda) * nv + O.lambda * G[nextk[k]]) : nv;
					}
					lfut[k] = F;
					G[k] = R + (float)O.gamma * F;
				}
			}
			for (size_t k = nfit; k > 1; k--) {
				size_t j = rng_next() % k, tmp = order[k - 1];
				order[k - 1] = order[j];
				order[j] = tmp;
			}
			double tl = 0, t1 = now_s();
			uint64_t nt = 0;
			for (size_t b = 0; b < nfit && !sig_stop; b += (size_t)O.batch) {
				size_t e = b + (size_t)O.batch < nfit ? b + (size_t)O.batch : nfit;
				uint32_t nterms = 0, nitems = 0;
				/* the futures first (they move the workspace), then the page terms */
				for (size_t k = b; k < e; k++) {
					fut[order[k]] = lfut ? lfut[order[k]] : next_value(&lr, &ds, &ds.t[order[k]], S2 + order[k] * H);
					nitems += ds.t[order[k]].nact;
				}
				for (size_t k = b; k < e; k++) {
					const struct trans *t = &ds.t[order[k]];
					nterms += net->target == QNET_TARGET_SLATE ? 1 : t->nact;
				}
				float scale = 1.0f / (float)(nterms ? nterms : 1);
				for (size_t k = b; k < e; k++) {
					uint32_t n;
					tl += td_page(&lr, &ds, &ds.t[order[k]], S + order[k] * H, fut[order[k]], scale, 1, &n);
				}
				nt += nterms;
				/*
				 * The step falls linearly to zero over the stage: TD targets are
				 * noisy (a session's future), and at a constant step the heads
				 * wander around their fit instead of settling on it.
				 */
				if (O.head_anneal)
					lr.adam.lr = (float)(O.lr * (1.0 - ((double)(ep - 1) * (double)nfit + (double)b) /
					    ((double)O.head_epochs * (double)nfit)));
				param_step(&lr, QNET_RANGE_HEADS);
				(*n_updates)++;
				*n_items += nitems;
				if (++lr.steps % (uint64_t)sync == 0)
					qnet_copy_params(lr.tgt, net, QNET_RANGE_HEADS);
				stats_tick(io->st);
				progress("heads", (uint64_t)e, nfit, (double)e / (now_s() - t1 + 1e-9), tl / (double)(nt ? nt : 1));
			}
			double rate = (double)nfit / (now_s() - t1 + 1e-9);
			progress_end();
			double hl = 0, gs = 0;
			size_t np = 0;
			uint64_t hn = 0;
			for (size_t k = 0; k < nho; k++) {
				const struct trans *t = &ds.t[hold[k]];
				if (t->truncated)
					continue;
				float f = next_value(&lr, &ds, t, S2 + hold[k] * H);
				uint32_t n;
				hl += td_page(&lr, &ds, t, S + hold[k] * H, f, 0, 0, &n);
				hn += n;
				memcpy(lr.ws->s, S + hold[k] * H, H * sizeof(float));
				qnet_heads_refresh(net, lr.ws);
				double a = page_auc(&lr, &ds, t, sc, yl);
				if (a >= 0) {
					gs += a;
					np++;
				}
			}
			report("heads", ep, tl / (double)(nt ? nt : 1), hn ? hl / (double)hn : 0, np ? gs / (double)np : -1,
			    pop_gauc, rate);
		}
		free(S);
		free(S2);
		free(fut);
		free(eporder);
		free(nextk);
		free(lfut);
	}

	int st = 0;
	if (!sig_stop) {
		size_t wl;
		char *warm = build_warmup(&ds, voc.dict, &wl);
		struct model_publication pub = { .net = net, .emb = emb, .warmup = warm, .warmup_len = wl,
			.keep = (unsigned)O.keep };
		strcpy(pub.info.mode, "offline");
		strcpy(pub.info.target, O.target == QNET_TARGET_SLATE ? "slateq" : "item");
		strcpy(pub.info.rows, rows);
		pub.info.gamma = O.gamma;
		pub.info.w_click = O.w_click;
		pub.info.w_pay = O.w_pay;
		pub.info.transitions = ntr;
		pub.info.items = *n_items;
		pub.info.unknown = rare;
		pub.info.updates = *n_updates;
		uint32_t v;
		if (model_publish(O.modeldir, &pub, &v, err, sizeof err) < 0) {
			diag_warn("%s", err);
			st = 1;
		} else {
			*g_version = v;
			(*n_published)++;
			diag_info(1, "published version %u in %s", v, O.modeldir);
			json_t *o = json_object();
			json_object_set_new(o, "published", json_integer(v));
			json_object_set_new(o, "model_dir", json_string(O.modeldir));
			tool_io_emit(io, NULL, o);
			json_decref(o);
		}
		free(warm);
	} else {
		st = 1;
	}
	free(best_p);
	free(sc);
	free(yl);
	free(order);
	free(train);
	free(hold);
	learner_free(&lr);
	qnet_free(net);
	emb_free(emb);
	free(rowmap);
	emb_free(voc.dict);
	free(voc.count);
	dataset_free(&ds);
	return st;
}

/* ---- Online ---- */

/* Maps an id to its row of the frozen table, 0 (the unknown row) when absent. */
static uint32_t model_map(void *arg, const char *id, size_t len)
{
	int64_t r = emb_find(arg, id, len);
	return r < 0 ? 0 : (uint32_t)r;
}

/* How the online learner and the evaluation read transitions against model m, counting in the statistics. */
static struct parse_ctx model_parse_ctx(struct dataset *ds, const struct model *m, char *err, size_t errlen)
{
	return (struct parse_ctx){ .ds = ds, .map = model_map, .arg = m->emb, .frow_d = m->feature_rows ? m->net->dm.d : 0,
		.unknown = n_unknown, .feature_rows = n_feature_rows, .err = err, .errlen = errlen };
}

/*
 * The Kafka input positions the learner has got through: the next offset of
 * each topic and partition read (topic names owned).
 */
struct positions {
	struct model_input_pos *p;
	size_t n;
};

/* Notes that every record of topic/partition before next was learned (or rejected). */
static void positions_note(struct positions *ps, const char *topic, int32_t partition, int64_t next)
{
	size_t i;
	for (i = 0; i < ps->n; i++)
		if (ps->p[i].partition == partition && strcmp(ps->p[i].topic, topic) == 0)
			break;
	if (i == ps->n) {
		ps->p = xreallocarray(ps->p, ps->n + 1, sizeof *ps->p);
		ps->p[ps->n++] = (struct model_input_pos){ .topic = xstrdup(topic), .partition = partition };
	}
	ps->p[i].offset = next;
}

static void positions_free(struct positions *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		free((char *)ps->p[i].topic);
	free(ps->p);
	ps->p = NULL;
	ps->n = 0;
}

/* A deep copy of src into dst (which holds none). */
static void positions_copy(struct positions *dst, const struct positions *src)
{
	dst->n = 0;
	dst->p = src->n ? xreallocarray(NULL, src->n, sizeof *dst->p) : NULL;
	for (size_t i = 0; i < src->n; i++) {
		dst->p[i] = src->p[i];
		dst->p[i].topic = xstrdup(src->p[i].topic);
		dst->n++;
	}
}

/*
 * Online λ-returns (--lambda > 0): the pages of an episode are kept (as
 * their lines) until the episode ends, then learned in seq order with the
 * futures of the offline heads stage. An open-addressing table by the
 * mdp_id's hash, linear probing, deleted by backward shift.
 */
struct episode {
	uint64_t key;		/* 0: a free slot */
	char **lines;
	size_t *lens;
	struct model_input_pos *at;	/* each line's Kafka position (topic NULL for files; topic owned by the positions) */
	uint32_t n, cap;
};

struct episodes {
	struct episode *slot;
	size_t cap, n;		/* cap a power of two */
	size_t pages;		/* pages held */
};

#define EP_MAX_PAGES 1000	/* an episode this long is learned so far and started again */

static struct episode *ep_find(struct episodes *es, uint64_t key, int add)
{
	if (key == 0)
		key = 1;
	if (add && 2 * (es->n + 1) > es->cap) {
		struct episodes ne = { xcalloc(es->cap ? 2 * es->cap : 64, sizeof *ne.slot), es->cap ? 2 * es->cap : 64, 0, es->pages };
		for (size_t i = 0; i < es->cap; i++)
			if (es->slot[i].key) {
				size_t j = es->slot[i].key & (ne.cap - 1);
				while (ne.slot[j].key)
					j = (j + 1) & (ne.cap - 1);
				ne.slot[j] = es->slot[i];
				ne.n++;
			}
		free(es->slot);
		*es = ne;
	}
	if (es->cap == 0)
		return NULL;
	size_t j = key & (es->cap - 1);
	while (es->slot[j].key && es->slot[j].key != key)
		j = (j + 1) & (es->cap - 1);
	if (es->slot[j].key == key)
		return &es->slot[j];
	if (!add)
		return NULL;
	memset(&es->slot[j], 0, sizeof es->slot[j]);
	es->slot[j].key = key;
	es->n++;
	return &es->slot[j];
}

static void ep_remove(struct episodes *es, struct episode *e)
{
	for (uint32_t i = 0; i < e->n; i++)
		free(e->lines[i]);
	es->pages -= e->n;
	free(e->lines);
	free(e->lens);
	free(e->at);
	size_t i = (size_t)(e - es->slot), j = i;
	memset(e, 0, sizeof *e);
	es->n--;
	for (;;) {
		j = (j + 1) & (es->cap - 1);
		if (!es->slot[j].key)
			return;
		size_t h = es->slot[j].key & (es->cap - 1);
		/* the entry at j may move to the hole at i when its home h is not in (i, j] */
		if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
			es->slot[i] = es->slot[j];
			memset(&es->slot[j], 0, sizeof es->slot[j]);
			i = j;
		}
	}
}

static void ep_push(struct episodes *es, struct episode *e, const struct line *ln, const struct positions *ps)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 8;
		e->lines = xreallocarray(e->lines, e->cap, sizeof *e->lines);
		e->lens = xreallocarray(e->lens, e->cap, sizeof *e->lens);
		e->at = xreallocarray(e->at, e->cap, sizeof *e->at);
	}
	e->lines[e->n] = xmalloc(ln->len + 1);
	memcpy(e->lines[e->n], ln->buf, ln->len);
	e->lines[e->n][ln->len] = 0;
	e->lens[e->n] = ln->len;
	e->at[e->n] = (struct model_input_pos){ .topic = NULL, .partition = ln->partition, .offset = ln->offset };
	for (size_t i = 0; ln->topic && i < ps->n; i++)
		if (ps->p[i].partition == ln->partition && strcmp(ps->p[i].topic, ln->topic) == 0)
			e->at[e->n].topic = ps->p[i].topic;
	e->n++;
	es->pages++;
}

/*
 * The input a version covers while pages are kept: for each partition, the
 * position read so far, or the first kept page's when one is kept (a restart
 * reads the kept pages again; the learned ones after them are learned twice,
 * none is skipped).
 */
static void positions_kept(struct positions *dst, const struct positions *read, const struct episodes *es)
{
	positions_copy(dst, read);
	for (size_t k = 0; k < es->cap; k++)
		for (uint32_t j = 0; j < es->slot[k].n; j++) {
			const struct model_input_pos *a = &es->slot[k].at[j];
			for (size_t i = 0; a->topic && i < dst->n; i++)
				if (dst->p[i].partition == a->partition && strcmp(dst->p[i].topic, a->topic) == 0 &&
				    a->offset < dst->p[i].offset)
					dst->p[i].offset = a->offset;
		}
}

/*
 * Learns the buffered pages of e (then dropped from es): reads them again
 * into ds, orders them by seq, computes each page's future backwards (the
 * target heads' value of the next page mixed with the return observed after
 * it; the last page's future is bootstrapped unless it is done) and takes
 * one AdaGrad step per page, in order. Returns the pages learned; *loss
 * gets their loss sum.
 */
static size_t ep_learn(struct learner *lr, struct parse_ctx *pc, struct episodes *es, struct episode *e,
    long sync, double *loss)
{
	struct dataset *ds = pc->ds;
	size_t n = 0;
	ds->n = ds->nids = ds->nfl = ds->nit = 0;
	/* counted when first read */
	struct parse_ctx again = *pc;
	again.unknown = again.feature_rows = NULL;
	for (uint32_t i = 0; i < e->n; i++)
		(void)parse_transition(&again, e->lines[i], e->lens[i]);
	ep_remove(es, e);
	if (ds->n == 0)
		return 0;
	size_t *ord = xcalloc(ds->n, sizeof *ord), maxact = 0;
	float *F = xcalloc(ds->n, sizeof *F);
	for (size_t k = 0; k < ds->n; k++) {
		ord[k] = k;
		if (ds->t[k].nact > maxact)
			maxact = ds->t[k].nact;
		if (ds->t[k].nact2 > maxact)
			maxact = ds->t[k].nact2;
	}
	learner_scratch(lr, maxact);
	ep_ds = ds;
	qsort(ord, ds->n, sizeof *ord, ep_cmp);
	float G = 0;
	for (size_t j = ds->n; j-- > 0;) {
		const struct trans *t = &ds->t[ord[j]];
		float f = 0, R = 0;
		if (!t->done && t->ctx2 != NO_NEXT) {
			f = next_value(lr, ds, t, NULL);
			if (j + 1 < ds->n && ds->t[ord[j + 1]].seq == t->seq + 1 && !ds->t[ord[j + 1]].truncated)
				f = (float)((1 - O.lambda) * f + O.lambda * G);
		}
		F[ord[j]] = f;
		for (uint32_t i = 0; i < t->nact; i++)
			R += ds->it[t->act + i].r;
		G = R + (float)O.gamma * f;
	}
	*loss = 0;
	for (size_t j = 0; j < ds->n; j++) {
		const struct trans *t = &ds->t[ord[j]];
		if (t->truncated)
			continue;
		forward_state(lr, ds, t, 0);
		double l = online_page(lr, ds, t, F[ord[j]]);
		if (l >= 0) {
			*loss += l;
			n++;
		}
		(*n_updates)++;
		if (++lr->steps % (uint64_t)sync == 0)
			qnet_copy_params(lr->tgt, lr->net, QNET_RANGE_HEADS);
	}
	free(ord);
	free(F);
	return n;
}

/*
 * The publisher thread: writes the newest snapshot handed to it; the learner
 * never waits for it. A snapshot carries the input positions it covers; once
 * its version is durably in the store they become the positions to commit.
 */
struct publisher {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct qnet *pending;	/* owned */
	struct positions pending_pos;	/* the input pending covers */
	struct positions published_pos;	/* the input read that the newest published version covers, */
	int published_new;		/* ... not yet handed to the learner for commit */
	struct positions covers;	/* all the input the newest version covers: its manifest's "input" */
	struct model_info info;
	int stop, failed;
	char *emb_link;		/* the newest published embedding file */
	uint32_t last;
	char *warmup;
	size_t warmup_len;
};

static void *publisher_main(void *arg)
{
	struct publisher *pb = arg;
	char err[512];
	pthread_mutex_lock(&pb->mu);
	for (;;) {
		while (!pb->pending && !pb->stop)
			pthread_cond_wait(&pb->cv, &pb->mu);
		if (!pb->pending)
			break;
		struct qnet *net = pb->pending;
		struct model_info info = pb->info;
		struct positions pos = pb->pending_pos;
		pb->pending = NULL;
		pb->pending_pos = (struct positions){ 0 };
		char *link = xstrdup(pb->emb_link);
		pthread_mutex_unlock(&pb->mu);

		/*
		 * A version learned what its parent did: a partition this process
		 * has not read (not assigned to it, or nothing new in it) keeps the
		 * parent's position in the manifest.
		 */
		struct positions covers;
		positions_copy(&covers, &pb->covers);
		for (size_t i = 0; i < pos.n; i++)
			positions_note(&covers, pos.p[i].topic, pos.p[i].partition, pos.p[i].offset);
		struct model_publication pub = { .net = net, .emb_link = link, .info = info, .warmup = pb->warmup,
			.warmup_len = pb->warmup_len, .keep = (unsigned)O.keep, .input = covers.p, .ninput = covers.n };
		uint32_t v = 0;
		int r = model_publish(O.modeldir, &pub, &v, err, sizeof err);
		if (r < 0)
			diag_warn("publish: %s", err);
		else
			diag_info(2, "published version %u", v);
		qnet_free(net);
		free(link);

		pthread_mutex_lock(&pb->mu);
		if (r < 0) {
			pb->failed = 1;
			positions_free(&pos);
			positions_free(&covers);
		} else {
			positions_free(&pb->covers);
			pb->covers = covers;
			positions_free(&pb->published_pos);
			pb->published_pos = pos;
			__atomic_store_n(&pb->published_new, 1, __ATOMIC_RELEASE);
			char *dir = model_version_dir(O.modeldir, v);
			free(pb->emb_link);
			pb->emb_link = xasprintf("%s/%s", dir, MODEL_EMB_FILE);
			free(dir);
			pb->last = v;
			pb->info.parent = v;
			__atomic_store_n(g_version, (int64_t)v, __ATOMIC_RELAXED);
			__atomic_add_fetch(n_published, 1, __ATOMIC_RELAXED);
		}
	}
	pthread_mutex_unlock(&pb->mu);
	return NULL;
}

/* Hands a snapshot of net, covering the input up to pos, to the publisher, replacing one it has not started on. */
static void publish_snapshot(struct publisher *pb, const struct qnet *net, const struct model_info *info,
    const struct positions *pos)
{
	struct qnet *snap = qnet_clone(net);
	struct positions snappos;
	positions_copy(&snappos, pos);
	pthread_mutex_lock(&pb->mu);
	qnet_free(pb->pending);
	positions_free(&pb->pending_pos);
	pb->pending = snap;
	pb->pending_pos = snappos;
	uint32_t parent = pb->info.parent;
	pb->info = *info;
	pb->info.parent = parent;
	pthread_cond_signal(&pb->cv);
	pthread_mutex_unlock(&pb->mu);
}

/*
 * Commits the input positions of the newest version published since the last
 * call: the heads learned from the input before them are in the store, so a
 * restart loads that version and reads on from there.
 */
static void commit_published(struct publisher *pb)
{
	struct positions pos;
	if (!__atomic_load_n(&pb->published_new, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&pb->mu);
	pos = pb->published_pos;
	pb->published_pos = (struct positions){ 0 };
	__atomic_store_n(&pb->published_new, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&pb->mu);
	for (size_t i = 0; i < pos.n; i++)
		line_reader_store(io->in, pos.p[i].topic, pos.p[i].partition, pos.p[i].offset);
	tool_io_checkpoint(io);
	positions_free(&pos);
}

static char *read_small_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	*len = 0;
	if (!f)
		return NULL;
	size_t cap = 0;
	char tmp[8192];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
		buf = xrealloc(buf, cap + n);
		memcpy(buf + cap, tmp, n);
		cap += n;
	}
	fclose(f);
	*len = cap;
	return buf;
}

/* The newest version in the store, or NULL after a diagnostic that says what to do when there is none. */
static struct model *load_newest(void)
{
	char err[512];
	uint32_t v;
	int r = model_latest(O.modeldir, &v, err, sizeof err);
	struct model *m = r > 0 ? model_load(O.modeldir, v, err, sizeof err) : NULL;
	if (r == 0)
		diag_warn("%s: no model version to start from (q-train --offline publishes a first one)",
		    O.modeldir);
	else if (!m)
		diag_warn("%s", err);
	return m;
}

static int run_online(void)
{
	char err[512];
	struct model *m = load_newest();
	if (!m)
		return 1;
	/* the input the version covers, taken over from the model */
	struct positions covers = { m->input, m->ninput };
	m->input = NULL;
	m->ninput = 0;
	struct qnet *net = qnet_clone(m->net);
	size_t lo, hi;
	qnet_range(net, QNET_RANGE_HEADS, &lo, &hi);
	if (O.reset_heads)
		memset(net->p + lo, 0, (hi - lo) * sizeof(float));
	*g_version = m->version;
	diag_info(1, "learning the heads of version %u (%s target, gamma %g)", m->version,
	    net->target == QNET_TARGET_SLATE ? "slateq" : "item", O.gamma);
	if (O.step_horizon > 0)
		diag_info(1, "with a step horizon of %ld pages", O.step_horizon);
	else if (O.step_horizon_ms > 0)
		diag_info(1, "with a step horizon of %g h of event time", (double)O.step_horizon_ms / 3600e3);

	struct learner lr;
	memset(&lr, 0, sizeof lr);
	learner_init(&lr, net);
	lr.emb = m->emb;
	lr.tgt = qnet_clone(net);
	lr.acc = xcalloc(hi - lo, sizeof(float));
	for (size_t i = 0; i < hi - lo; i++)
		lr.acc[i] = ACC0;
	lr.clock = -1;
	g_head_step = stats_real(io->st, "head_step");
	if (O.click_lr > 0 && net->target == QNET_TARGET_SLATE) {	/* only the slate target scores with it */
		size_t clo, chi;
		qnet_range(net, QNET_RANGE_CLICK, &clo, &chi);
		lr.cacc = xcalloc(chi - clo, sizeof(float));
		for (size_t i = 0; i < chi - clo; i++)
			lr.cacc[i] = ACC0;
		for (size_t i = 0; i < MAX_POS; i++)
			lr.pacc[i] = ACC0;
		diag_info(1, "and its click head (--click-lr %g)", O.click_lr);
		lr.base = m->net;
		lr.bws = qnet_ws_new(&net->dm);
		g_click_loss = stats_real(io->st, "click_logloss");
		g_click_loss_start = stats_real(io->st, "click_logloss_start");
	}
	long sync = O.target_sync ? O.target_sync : 1000;

	struct publisher pb;
	memset(&pb, 0, sizeof pb);
	pthread_mutex_init(&pb.mu, NULL);
	pthread_cond_init(&pb.cv, NULL);
	pb.emb_link = xasprintf("%s/%s", m->dir, MODEL_EMB_FILE);
	pb.info = m->info;
	pb.info.parent = m->version;
	pb.covers = covers;
	{
		char *wp = xasprintf("%s/%s", m->dir, MODEL_WARMUP_FILE);
		pb.warmup = read_small_file(wp, &pb.warmup_len);
		free(wp);
	}
	if (pthread_create(&pb.th, NULL, publisher_main, &pb) != 0)
		diag_fatal(1, "pthread_create:");

	struct dataset ds;
	memset(&ds, 0, sizeof ds);
	ds.C = net->dm.C;
	ds.X = net->dm.X;
	ds.C_set = ds.X_set = 1;
	struct parse_ctx pc = model_parse_ctx(&ds, m, err, sizeof err);
	struct model_info info = m->info;
	strcpy(info.mode, "online");
	info.gamma = O.gamma;
	info.w_click = O.w_click;
	info.w_pay = O.w_pay;
	info.unknown = 0;

	/*
	 * Kafka input positions are committed only once a version covering
	 * them is in the store (commit_published), not as records are read:
	 * what the heads learned since the last version lives in memory only.
	 */
	struct positions pos = { 0 };
	io->manual_commit = 1;

	struct episodes eps;
	memset(&eps, 0, sizeof eps);
	struct line ln;
	int rv;
	uint64_t since = 0, n = 0;
	double t0 = now_s(), last_pub = t0, loss_avg = 0;
	while ((rv = tool_io_next(io, &ln)) != 0) {
		double t = now_s();
		commit_published(&pb);
		if (rv == 1) {
			ds.n = ds.nids = ds.nfl = ds.nit = 0;
			if (ln.topic)
				positions_note(&pos, ln.topic, ln.partition, ln.offset + 1);
			if (ln.too_long) {
				tool_io_reject(io, &ln, "line longer than %zu bytes", ln.len);
				continue;
			}
			if (parse_transition(&pc, ln.buf, ln.len) < 0) {
				tool_io_reject(io, &ln, "%s", err);
				continue;
			}
			const struct trans *tr = &ds.t[0];
			uint32_t nact = tr->nact;	/* tr does not outlive an episode's learning */
			learner_scratch(&lr, tr->nact > tr->nact2 ? tr->nact : tr->nact2);
			if (O.lambda > 0) {
				/* kept with its episode until the episode ends (a cut-short page ends it too) */
				struct episode *e = ep_find(&eps, tr->key, 1);
				int end = tr->done || tr->truncated;
				if (tr->truncated)
					(*n_truncated)++;
				else
					ep_push(&eps, e, &ln, &pos);
				if (end || e->n >= EP_MAX_PAGES) {
					double l;
					if (ep_learn(&lr, &pc, &eps, e, sync, &l) > 0)
						loss_avg = 0.99 * loss_avg + 0.01 * l;
				}
			} else if (tr->truncated) {
				(*n_truncated)++;
			} else {
				float f = next_value(&lr, &ds, tr, NULL);
				forward_state(&lr, &ds, tr, 0);
				double l = online_page(&lr, &ds, tr, f);
				if (l >= 0)
					loss_avg = 0.999 * loss_avg + 0.001 * l;
				(*n_updates)++;
				if (++lr.steps % (uint64_t)sync == 0)
					qnet_copy_params(lr.tgt, net, QNET_RANGE_HEADS);
			}
			*n_items += nact;
			n++;
			since++;
			info.transitions++;
			info.items += nact;
			info.updates++;
			progress("online", n, 0, (double)n / (t - t0 + 1e-9), loss_avg);
		}
		if ((O.publish_every && since >= (uint64_t)O.publish_every) ||
		    (O.publish_interval > 0 && since > 0 && t - last_pub >= O.publish_interval)) {
			info.unknown = *n_unknown;
			struct positions cover;
			positions_kept(&cover, &pos, &eps);
			publish_snapshot(&pb, net, &info, &cover);
			positions_free(&cover);
			since = 0;
			last_pub = t;
		}
	}
	progress_end();
	/* episodes still open: learned as far as they go, their last pages bootstrapped (a new version) */
	if (eps.n > 0)
		since++;
	for (size_t i = 0; i < eps.cap; i++)
		while (eps.slot[i].key) {
			double l;
			ep_learn(&lr, &pc, &eps, &eps.slot[i], sync, &l);
		}
	free(eps.slot);
	/* the last version, on EOF or SIGTERM */
	info.unknown = *n_unknown;
	int last = since > 0 || *n_published == 0;
	if (last)
		publish_snapshot(&pb, net, &info, &pos);
	pthread_mutex_lock(&pb.mu);
	pb.stop = 1;
	pthread_cond_signal(&pb.cv);
	pthread_mutex_unlock(&pb.mu);
	pthread_join(pb.th, NULL);
	int st = pb.failed ? 1 : 0;
	/*
	 * The input is committed up to the last version written. When nothing
	 * was learned since the last snapshot, the records read after it were
	 * all rejected: that version covers them too.
	 */
	if (!last && !pb.failed)
		for (size_t i = 0; i < pos.n; i++)
			line_reader_store(io->in, pos.p[i].topic, pos.p[i].partition, pos.p[i].offset);
	commit_published(&pb);
	positions_free(&pos);
	positions_free(&pb.pending_pos);
	positions_free(&pb.published_pos);
	positions_free(&pb.covers);
	if (pb.last) {
		json_t *o = json_object();
		json_object_set_new(o, "published", json_integer(pb.last));
		json_object_set_new(o, "model_dir", json_string(O.modeldir));
		json_object_set_new(o, "transitions", json_integer((json_int_t)n));
		tool_io_emit(io, NULL, o);
		json_decref(o);
	}
	diag_info(1, "%" PRIu64 " transitions, last version %u", n, pb.last);
	if (lr.cacc)
		diag_info(1, "click log-loss per shown item before its step: %.4f; version %u's: %.4f (recent averages)",
		    lr.click_loss, m->version, lr.base_click_loss);
	free(pb.emb_link);
	free(pb.warmup);
	pthread_mutex_destroy(&pb.mu);
	pthread_cond_destroy(&pb.cv);
	dataset_free(&ds);
	learner_free(&lr);
	qnet_free(net);
	model_free(m);
	return st;
}

/* ---- Evaluate ---- */

static int run_evaluate(void)
{
	char err[512];
	struct model *m = load_newest();
	if (!m)
		return 1;
	struct learner lr;
	memset(&lr, 0, sizeof lr);
	learner_init(&lr, m->net);
	lr.emb = m->emb;
	struct dataset ds;
	memset(&ds, 0, sizeof ds);
	ds.C = m->net->dm.C;
	ds.X = m->net->dm.X;
	ds.C_set = ds.X_set = 1;
	struct parse_ctx pc = model_parse_ctx(&ds, m, err, sizeof err);
	struct line ln;
	int rv;
	double gs = 0;
	uint64_t np = 0, n = 0;
	float *sc = NULL;
	uint8_t *yl = NULL;
	while ((rv = tool_io_next(io, &ln)) != 0) {
		if (rv != 1)
			continue;
		ds.n = ds.nids = ds.nfl = ds.nit = 0;
		if (ln.too_long || parse_transition(&pc, ln.buf, ln.len) < 0) {
			tool_io_reject(io, &ln, "%s", ln.too_long ? "line too long" : err);
			continue;
		}
		const struct trans *t = &ds.t[0];
		sc = xreallocarray(sc, t->nact, sizeof *sc);
		yl = xreallocarray(yl, t->nact, 1);
		forward_state(&lr, &ds, t, 0);
		double a = page_auc(&lr, &ds, t, sc, yl);
		if (a >= 0) {
			gs += a;
			np++;
		}
		n++;
		tool_io_done(io, &ln);
	}
	json_t *o = json_object();
	json_object_set_new(o, "model_version", json_integer(m->version));
	json_object_set_new(o, "transitions", json_integer((json_int_t)n));
	json_object_set_new(o, "gauc", np ? json_real(round(gs / (double)np * 1e4) / 1e4) : json_null());
	json_object_set_new(o, "unknown", json_integer((json_int_t)*n_unknown));
	tool_io_emit(io, NULL, o);
	json_decref(o);
	free(sc);
	free(yl);
	lr.net = NULL;
	learner_free(&lr);
	dataset_free(&ds);
	model_free(m);
	return 0;
}

/* ---- main ---- */

static void usage(int st)
{
	fprintf(st ? stderr : stdout,
	    "usage: q-train --offline -m modeldir [-i transitions]... [--epochs n] [--head-epochs n]\n"
	    "               [--batch n] [--lr rate] [--gamma g] [--target slateq|item] [--target-sync n]\n"
	    "               [--w-click w] [--w-pay w] [--click-weight w] [--dim d] [--history-len L]\n"
	    "               [--kernels w,w] [--filters F] [--state-dim H] [--init-embeddings file]\n"
	    "               [--freeze-embeddings] [--min-count n] [--holdout frac]\n"
	    "               [--position-bias | --no-position-bias] [--l2 lambda] [--emb-lr rate]\n"
	    "               [--feature-init 0|1] [--feature-embeddings] [--lambda l] [--no-head-anneal]\n"
	    "               [--seed n] [--keep n] [--warmup n]\n"
	    "       q-train --online -m modeldir [-i kafka:topic|-] [--head-lr rate] [--click-lr rate]\n"
	    "               [--step-horizon pages|duration] [--gamma g] [--target-sync n]\n"
	    "               [--publish-every n] [--publish-interval s] [--reset-heads] [--lambda l]\n"
	    "               [--keep n]\n"
	    "       q-train --evaluate -m modeldir [-i transitions]...\n"
	    "       common: [-hqVv] [-o output] [-b brokers] [-G group] [-X key=value] [--dead-letter spec]\n"
	    "               [--stats spec] [--stats-interval s] [--metrics file] [--max-line bytes] [--strict]\n");
	exit(st);
}

static long num_opt(const char *name, const char *arg, long lo, long hi)
{
	char opt[64];
	long v;
	snprintf(opt, sizeof opt, "--%s", name);
	if (tool_opt_count(opt, arg, lo, hi, &v) != 0)
		exit(2);
	return v;
}

static double real_opt(const char *name, const char *arg, double lo, double hi)
{
	char opt[64];
	double v;
	snprintf(opt, sizeof opt, "--%s", name);
	if (tool_opt_real(opt, arg, lo, hi, &v) != 0)
		exit(2);
	return v;
}

int main(int argc, char *argv[])
{
	static struct option longopts[] = {
		TOOL_LONGOPTS,
		{ "offline", no_argument, NULL, OPT_OFFLINE },
		{ "online", no_argument, NULL, OPT_ONLINE },
		{ "evaluate", no_argument, NULL, OPT_EVALUATE },
		{ "model-dir", required_argument, NULL, 'm' },
		{ "epochs", required_argument, NULL, OPT_EPOCHS },
		{ "head-epochs", required_argument, NULL, OPT_HEAD_EPOCHS },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "lr", required_argument, NULL, OPT_LR },
		{ "head-lr", required_argument, NULL, OPT_HEAD_LR },
		{ "click-lr", required_argument, NULL, OPT_CLICK_LR },
		{ "step-horizon", required_argument, NULL, OPT_STEP_HORIZON },
		{ "gamma", required_argument, NULL, OPT_GAMMA },
		{ "target", required_argument, NULL, OPT_TARGET },
		{ "target-sync", required_argument, NULL, OPT_TARGET_SYNC },
		{ "w-click", required_argument, NULL, OPT_W_CLICK },
		{ "w-pay", required_argument, NULL, OPT_W_PAY },
		{ "click-weight", required_argument, NULL, OPT_CLICK_WEIGHT },
		{ "dim", required_argument, NULL, OPT_DIM },
		{ "history-len", required_argument, NULL, OPT_HIST_LEN },
		{ "hist-len", required_argument, NULL, OPT_HIST_LEN },
		{ "kernels", required_argument, NULL, OPT_KERNELS },
		{ "filters", required_argument, NULL, OPT_FILTERS },
		{ "state-dim", required_argument, NULL, OPT_STATE_DIM },
		{ "init-embeddings", required_argument, NULL, OPT_INIT_EMB },
		{ "freeze-embeddings", no_argument, NULL, OPT_FREEZE_EMB },
		{ "min-count", required_argument, NULL, OPT_MIN_COUNT },
		{ "holdout", required_argument, NULL, OPT_HOLDOUT },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "keep", required_argument, NULL, OPT_KEEP },
		{ "publish-every", required_argument, NULL, OPT_PUBLISH_EVERY },
		{ "publish-interval", required_argument, NULL, OPT_PUBLISH_INTERVAL },
		{ "reset-heads", no_argument, NULL, OPT_RESET_HEADS },
		{ "head-anneal", no_argument, NULL, OPT_HEAD_ANNEAL },
		{ "lambda", required_argument, NULL, OPT_LAMBDA },
		{ "feature-embeddings", no_argument, NULL, OPT_FEATURE_EMB },
		{ "no-head-anneal", no_argument, NULL, OPT_NO_HEAD_ANNEAL },
		{ "warmup", required_argument, NULL, OPT_WARMUP },
		{ "position-bias", no_argument, NULL, OPT_POS_BIAS },
		{ "no-position-bias", no_argument, NULL, OPT_NO_POS_BIAS },
		{ "l2", required_argument, NULL, OPT_L2 },
		{ "emb-lr", required_argument, NULL, OPT_EMB_LR },
		{ "feature-init", required_argument, NULL, OPT_FEATURE_INIT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct tool_opts opts;
	int ch, r;

	diag_init(argv[0]);
	memset(&opts, 0, sizeof opts);
	qnet_dims_default(&O.dm, 0, 0);
	O.epochs = 8;
	O.head_epochs = -1;
	O.batch = 32;
	O.lr = 0.005;
	O.head_lr = 0.02;
	O.click_lr = -1;
	O.head_anneal = 1;
	O.gamma = 0.9;
	O.target = QNET_TARGET_SLATE;
	O.w_click = 1;
	O.w_pay = 1;
	O.click_weight = 1;
	O.min_count = 2;
	O.holdout = 0.1;
	O.seed = 1;
	O.keep = 10;
	O.warmup = 16;
	O.publish_every = 10000;
	O.publish_interval = 60;
	O.pos_bias = 1;
	O.l2 = 0;
	O.emb_lr = -1;
	O.feature_init = 0;
	while ((ch = getopt_long(argc, argv, TOOL_SHORTOPTS "hm:", longopts, NULL)) != -1) {
		if ((r = tool_opts_handle(&opts, ch, optarg)) == 1)
			continue;
		if (r < 0)
			usage(2);
		switch (ch) {
		case OPT_OFFLINE: O.mode = 'f'; break;
		case OPT_ONLINE: O.mode = 'n'; break;
		case OPT_EVALUATE: O.mode = 'e'; break;
		case 'm': O.modeldir = optarg; break;
		case OPT_EPOCHS: O.epochs = num_opt("epochs", optarg, 0, 1000000); break;
		case OPT_HEAD_EPOCHS: O.head_epochs = num_opt("head-epochs", optarg, 0, 1000000); break;
		case OPT_BATCH: O.batch = num_opt("batch", optarg, 1, 1 << 20); break;
		case OPT_LR: O.lr = real_opt("lr", optarg, 1e-9, 10); break;
		case OPT_FEATURE_EMB: O.feature_emb = 1; break;
		case OPT_LAMBDA: O.lambda = real_opt("lambda", optarg, 0, 1); break;
		case OPT_HEAD_LR: O.head_lr = real_opt("head-lr", optarg, 1e-9, 10); break;
		case OPT_CLICK_LR: O.click_lr = real_opt("click-lr", optarg, 0, 10); break;
		case OPT_STEP_HORIZON:
			/* a count of pages, or a duration of event time */
			O.step_horizon = 0;
			O.step_horizon_ms = 0;
			if (optarg[strspn(optarg, "0123456789")] == '\0')
				O.step_horizon = num_opt("step-horizon", optarg, 0, 1000000000);
			else if ((O.step_horizon_ms = parse_duration_ms(optarg)) <= 0)
				diag_fatal(2, "--step-horizon %s: expected a count of pages or a duration (such as 6h)",
				    optarg);
			break;
		case OPT_GAMMA: O.gamma = real_opt("gamma", optarg, 0, 1); break;
		case OPT_TARGET:
			if (!strcmp(optarg, "slateq"))
				O.target = QNET_TARGET_SLATE;
			else if (!strcmp(optarg, "item"))
				O.target = QNET_TARGET_ITEM;
			else
				diag_fatal(2, "--target %s: expected slateq or item", optarg);
			break;
		case OPT_TARGET_SYNC: O.target_sync = num_opt("target-sync", optarg, 1, 1L << 40); break;
		case OPT_W_CLICK: O.w_click = real_opt("w-click", optarg, -1e9, 1e9); break;
		case OPT_W_PAY: O.w_pay = real_opt("w-pay", optarg, -1e9, 1e9); break;
		case OPT_CLICK_WEIGHT: O.click_weight = real_opt("click-weight", optarg, 0, 1e6); break;
		case OPT_DIM: O.dm.d = (uint32_t)num_opt("dim", optarg, 1, QNET_MAX_DIM); O.dim_given = 1; break;
		case OPT_HIST_LEN: O.dm.L = (uint32_t)num_opt("history-len", optarg, 1, QNET_MAX_DIM); break;
		case OPT_KERNELS: {
			char *p = optarg, *end;
			memset(O.dm.kw, 0, sizeof O.dm.kw);
			O.dm.nkern = 0;
			for (;;) {
				long w = strtol(p, &end, 10);
				if (end == p || w < 1 || w > QNET_MAX_DIM || O.dm.nkern == QNET_MAX_KERNELS)
					diag_fatal(2, "--kernels %s: expected up to %d widths, e.g. 2,3", optarg, QNET_MAX_KERNELS);
				O.dm.kw[O.dm.nkern++] = (uint32_t)w;
				if (*end == 0)
					break;
				if (*end != ',')
					diag_fatal(2, "--kernels %s: expected widths separated by commas", optarg);
				p = end + 1;
			}
			break;
		}
		case OPT_FILTERS: O.dm.F = (uint32_t)num_opt("filters", optarg, 1, QNET_MAX_DIM); break;
		case OPT_STATE_DIM: O.dm.H = (uint32_t)num_opt("state-dim", optarg, 1, QNET_MAX_DIM); break;
		case OPT_INIT_EMB: O.init_emb = optarg; break;
		case OPT_FREEZE_EMB: O.freeze_emb = 1; break;
		case OPT_MIN_COUNT: O.min_count = num_opt("min-count", optarg, 1, 1L << 31); break;
		case OPT_HOLDOUT: O.holdout = real_opt("holdout", optarg, 0, 0.9); break;
		case OPT_SEED: O.seed = (uint64_t)num_opt("seed", optarg, 0, LONG_MAX); break;
		case OPT_KEEP: O.keep = num_opt("keep", optarg, 0, 1L << 31); break;
		case OPT_PUBLISH_EVERY: O.publish_every = num_opt("publish-every", optarg, 0, 1L << 40); break;
		case OPT_PUBLISH_INTERVAL: {
			int64_t ms = parse_duration_ms(optarg);
			if (ms < 0)
				diag_fatal(2, "--publish-interval %s: expected a duration", optarg);
			O.publish_interval = (double)ms / 1000;
			break;
		}
		case OPT_RESET_HEADS: O.reset_heads = 1; break;
		case OPT_HEAD_ANNEAL: O.head_anneal = 1; break;
		case OPT_NO_HEAD_ANNEAL: O.head_anneal = 0; break;
		case OPT_WARMUP: O.warmup = num_opt("warmup", optarg, 0, 100000); break;
		case OPT_POS_BIAS: O.pos_bias = 1; break;
		case OPT_NO_POS_BIAS: O.pos_bias = 0; break;
		case OPT_L2: O.l2 = real_opt("l2", optarg, 0, 1e6); break;
		case OPT_EMB_LR: O.emb_lr = real_opt("emb-lr", optarg, 1e-9, 10); break;
		case OPT_FEATURE_INIT: O.feature_init = (int)num_opt("feature-init", optarg, 0, 1); break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0 || !O.mode || !O.modeldir)
		usage(2);
	if (O.head_epochs < 0)
		O.head_epochs = 30;
	if (O.click_lr < 0)
		O.click_lr = O.head_lr;
	if (O.init_emb && !O.dim_given) {
		/* the embedding file decides d */
		FILE *f = fopen(O.init_emb, "r");
		char *line = NULL;
		size_t cap = 0;
		if (f && getline(&line, &cap, f) > 0 && strrchr(line, ':')) {
			uint32_t n = 0;
			char *p = strrchr(line, ':') + 1, *end;
			while (strtof(p, &end), end != p) {
				n++;
				p = end;
			}
			if (n > 0)
				O.dm.d = n;
		}
		free(line);
		if (f)
			fclose(f);
	}
	{
		char e[200];
		if (qnet_dims_check(&O.dm, e, sizeof e) < 0)
			diag_fatal(2, "%s", e);
	}
	progress_tty = isatty(2) && diag_verbosity > 0;

	io = tool_io_open(&opts, "q-train");
	if (!io) {
		tool_opts_free(&opts);
		return 1;
	}
	n_updates = stats_counter(io->st, "updates");
	n_items = stats_counter(io->st, "items");
	n_unknown = stats_counter(io->st, "unknown_items");
	n_feature_rows = stats_counter(io->st, "feature_row_items");
	n_published = stats_counter(io->st, "published");
	n_truncated = stats_counter(io->st, "truncated");
	g_version = stats_gauge(io->st, "model_version");
	int st = O.mode == 'f' ? run_offline() : O.mode == 'n' ? run_online() : run_evaluate();
	int cst = tool_io_close(io);
	tool_opts_free(&opts);
	return st ? st : cst;
}
