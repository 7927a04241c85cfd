/* learner.c: q-train's learner — the losses and gradients of a page, and the optimiser steps, offline and online. */
#include <errno.h>
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
#include "qtrain.h"

static const float *
row_of(struct learner *lr, uint32_t id)
{
	uint32_t r = lr->rowmap ? lr->rowmap[id] : id;
	return emb_row(lr->emb, r);
}

static uint32_t
row_id(struct learner *lr, uint32_t id)
{
	return lr->rowmap ? lr->rowmap[id] : id;
}

/* The embedding row of a shown item: the one built from its features (see parse_ctx), else its table row. */
static const float *
item_row(struct learner *lr, const struct dataset *ds, const struct item *it)
{
	return it->frow != NO_NEXT ? ds->fl + it->frow : row_of(lr, it->id);
}

static const float *
feat_of(const struct dataset *ds, const struct item *it)
{
	return ds->X ? ds->fl + it->feat : NULL;
}

/* Runs the state network on a transition's state (next: the next state). */
void
forward_state(struct learner *lr, const struct dataset *ds, const struct trans *t, int next)
{
	uint32_t h = next ? t->hist2 : t->hist, n = next ? t->nhist2 : t->nhist;
	uint32_t ctx = next ? t->ctx2 : t->ctx;
	size_t base = n > lr->net->dm.L ? n - lr->net->dm.L : 0;
	for (size_t i = base; i < n; i++)
		lr->tmp.hrow[i - base] = row_of(lr, ds->ids[h + i]);
	qnet_state(lr->net, lr->ws, lr->tmp.hrow, n - base, ds->C ? ds->fl + ctx : NULL);
}

/*
 * The next page's value of t under the target network (0 when there is
 * none); s2 is its cached next state (H floats) or NULL to compute it.
 * Leaves ws on s'.
 */
float
next_value(struct learner *lr, const struct dataset *ds, const struct trans *t, const float *s2)
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
		lr->tmp.erow[i] = item_row(lr, ds, it);
		lr->tmp.xrow[i] = feat_of(ds, it);
	}
	return qnet_next_value(lr->net, lr->tgt, lr->ws, lr->tmp.erow, lr->tmp.xrow, t->nact2);
}

void
learner_scratch(struct learner *lr, size_t maxitems)
{
	if (maxitems <= lr->tmp.maxitems)
		return;
	lr->tmp.maxitems = maxitems;
	lr->tmp.erow = xreallocarray(lr->tmp.erow, maxitems, sizeof *lr->tmp.erow);
	lr->tmp.xrow = xreallocarray(lr->tmp.xrow, maxitems, sizeof *lr->tmp.xrow);
}

void
learner_init(struct learner *lr, struct qnet *net, const struct qt_opts *o)
{
	lr->net = net;
	lr->o = o;
	lr->ws = qnet_ws_new(&net->dm);
	lr->g = xcalloc(net->nparam, sizeof(float));
	lr->tmp.hrow = xcalloc(net->dm.L, sizeof *lr->tmp.hrow);
	lr->tmp.dhist = xcalloc((size_t)net->dm.L * net->dm.d, sizeof(float));
	lr->tmp.de = xcalloc(net->dm.d, sizeof(float));
	learner_scratch(lr, 256);
}

void
learner_free(struct learner *lr)
{
	qnet_ws_free(lr->ws);
	qnet_free(lr->tgt);
	free(lr->g); free(lr->off.m); free(lr->off.v);
	free(lr->off.em); free(lr->off.ev); free(lr->off.eg); free(lr->off.etouched); free(lr->off.touched);
	free(lr->on.acc); free(lr->on.cacc); qnet_ws_free(lr->on.bws);
	free(lr->tmp.hrow); free(lr->tmp.erow); free(lr->tmp.xrow); free(lr->tmp.dhist); free(lr->tmp.de);
}

/* Adds an embedding gradient for row r. */
static void
emb_grad(struct learner *lr, uint32_t r, const float *g, float scale)
{
	size_t d = lr->net->dm.d;
	if (!lr->off.etouched[r]) {
		lr->off.etouched[r] = 1;
		lr->off.touched[lr->off.ntouched++] = r;
	}
	float *eg = lr->off.eg + (size_t)r * d;
	for (size_t c = 0; c < d; c++)
		eg[c] += scale * g[c];
}

/* The log-loss of a click label y against a logit. */
static double
log_loss(float logit, int y)
{
	return log1p(exp(-fabs(logit))) + (logit > 0 ? logit : 0) - y * logit;
}

/*
 * Pretraining loss and gradients of one page (γ = 0): ½(Q̄ − r)² and the
 * click log-loss, each item weighted by scale. Returns the page's loss sum.
 */
double
pretrain_page(struct learner *lr, const struct dataset *ds, const struct trans *t, float scale, int learn)
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
		if (lr->o->pos_bias) {
			q += lr->off.pq[it->pos];
			c += lr->off.pc[it->pos];
		}
		float p = qnet_sigmoid(c);
		loss += 0.5 * (q - it->r) * (q - it->r);
		loss += lr->o->click_weight * log_loss(c, it->click);
		if (!learn)
			continue;
		memset(lr->tmp.de, 0, d * sizeof(float));
		if (lr->o->pos_bias && it->pos > 0) {
			lr->off.gpq[it->pos] += scale * (q - it->r);
			lr->off.gpc[it->pos] += scale * (float)lr->o->click_weight * (p - it->click);
		}
		qnet_item_backward(net, lr->ws, e, x, scale * (q - it->r), scale * (float)lr->o->click_weight * (p - it->click),
		    QNET_RANGE_HEADS | QNET_RANGE_CLICK, lr->g, lr->o->freeze_emb ? NULL : lr->tmp.de);
		if (!lr->o->freeze_emb)
			emb_grad(lr, row, lr->tmp.de, 1);
	}
	if (!learn)
		return loss;
	qnet_heads_backward(net, lr->ws, QNET_RANGE_HEADS | QNET_RANGE_CLICK | QNET_RANGE_STATE, lr->g);
	uint32_t n = lr->ws->nhist;
	memset(lr->tmp.dhist, 0, (size_t)n * d * sizeof(float));
	qnet_state_backward(net, lr->ws, lr->g, lr->o->freeze_emb ? NULL : lr->tmp.dhist);
	if (!lr->o->freeze_emb) {
		uint32_t base = t->nhist - n;
		for (uint32_t r = 0; r < n; r++)
			emb_grad(lr, row_id(lr, ds->ids[t->hist + base + r]), lr->tmp.dhist + (size_t)r * d, 1);
	}
	return loss;
}

/*
 * TD loss and head gradients of one page: per-item targets, or for SlateQ
 * targets on the clicked items only. s (H floats) is the page's cached
 * state; fut the next page's value. Returns the page's loss sum, *nterms
 * the items that had a target.
 */
double
td_page(struct learner *lr, const struct dataset *ds, const struct trans *t, const float *s,
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
		y = qnet_td_target(y, (float)lr->o->gamma, t->done, fut);
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
		const float *e = item_row(lr, ds, it), *x = feat_of(ds, it);
		float y = qnet_td_target(it->r, (float)lr->o->gamma, t->done, fut);
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
static double
click_page(struct learner *lr, const struct dataset *ds, const struct trans *t, double *base)
{
	struct qnet *net = lr->net;
	struct qnet_ws *ws = lr->ws;
	double loss = 0;
	memcpy(lr->on.bws->s, ws->s, net->dm.H * sizeof(float));
	qnet_heads_refresh(lr->on.base, lr->on.bws);
	*base = 0;
	memset(ws->ec, 0, net->dm.d * sizeof(float));
	ws->sdc = 0;
	for (uint32_t i = 0; i < t->nact; i++) {
		const struct item *it = &ds->it[t->act + i];
		const float *e = item_row(lr, ds, it), *x = feat_of(ds, it);
		float c = qnet_click_logit(net, ws, e, x), b = qnet_click_logit(lr->on.base, lr->on.bws, e, x);
		if (lr->o->pos_bias) {
			c += lr->off.pc[it->pos];
			b += lr->off.pc[it->pos];
		}
		float dc = qnet_sigmoid(c) - it->click;
		loss += log_loss(c, it->click);
		*base += log_loss(b, it->click);
		if (lr->o->pos_bias && it->pos > 0)
			lr->off.gpc[it->pos] += dc;
		qnet_item_backward(net, ws, e, x, 0, dc, QNET_RANGE_CLICK, lr->g, NULL);
	}
	qnet_heads_backward(net, ws, QNET_RANGE_CLICK, lr->g);
	return loss;
}

/*
 * The accumulators' memory for the step of a page of event time ts: all of
 * it; a horizon of --step-horizon pages; or one of event time, by how far
 * the newest time seen has moved (pages without a time, or older than one
 * seen, move it not at all; a page ahead of the event clock moves it only
 * as far as the event clock).
 */
static float
step_keep(struct learner *lr, int64_t ts)
{
	if (lr->o->step_horizon > 0)
		return (float)(1 - 1.0 / lr->o->step_horizon);
	if (lr->o->step_horizon_ms <= 0 || ts < 0)
		return 1;
	if (lr->on.now >= 0 && ts > lr->on.now)
		ts = lr->on.now;
	if (lr->on.clock < 0 || ts <= lr->on.clock) {
		lr->on.clock = lr->on.clock < 0 ? ts : lr->on.clock;
		return 1;
	}
	double dt = (double)(ts - lr->on.clock);
	lr->on.clock = ts;
	return (float)exp(-dt / (double)lr->o->step_horizon_ms);
}

/*
 * Online: one AdaGrad step of the heads, and of the click head and its
 * position offsets when they learn, from lr->g (then cleared); ts is the
 * page's event time.
 */
static void
online_step(struct learner *lr, int64_t ts)
{
	size_t lo, hi;
	qnet_range(lr->net, QNET_RANGE_HEADS, &lo, &hi);
	float keep = step_keep(lr, ts);
	qnet_adagrad_update(lr->net->p + lo, lr->on.acc, lr->g + lo, hi - lo, (float)lr->o->head_lr, keep, ACC0, 1e-8f);
	memset(lr->g + lo, 0, (hi - lo) * sizeof(float));
	if (lr->on.head_steps++ % 1024 == 0) {
		/* what the operator watches for a learner whose steps have died out */
		double sum = 0;
		for (size_t i = 0; i < hi - lo; i++)
			sum += 1 / sqrt((double)lr->on.acc[i] + 1e-8);
		*g_head_step = lr->o->head_lr * sum / (double)(hi - lo);
	}
	if (!lr->on.cacc)
		return;
	qnet_range(lr->net, QNET_RANGE_CLICK, &lo, &hi);
	qnet_adagrad_update(lr->net->p + lo, lr->on.cacc, lr->g + lo, hi - lo, (float)lr->o->click_lr, keep, ACC0, 1e-8f);
	memset(lr->g + lo, 0, (hi - lo) * sizeof(float));
	qnet_adagrad_update(lr->off.pc + 1, lr->on.pacc + 1, lr->off.gpc + 1, MAX_POS - 1, (float)lr->o->click_lr, keep, ACC0, 1e-8f);
	memset(lr->off.gpc, 0, sizeof lr->off.gpc);
}

/*
 * Online: learns page t, ws on its state, fut its future: the heads' TD
 * step and the click head's. Returns the TD loss per term (every page has
 * one: SlateQ's V(s) term, or the item target's per item), -1 if none
 * (the heads' gradient is then zero and their step changes nothing).
 */
double
online_page(struct learner *lr, const struct dataset *ds, const struct trans *t, float fut)
{
	uint32_t nt;
	double l = td_page(lr, ds, t, lr->ws->s, fut, 1, 1, &nt);
	if (lr->on.cacc && t->nact > 0) {
		double b, c = click_page(lr, ds, t, &b) / t->nact;
		b /= t->nact;
		int first = lr->on.click_loss == 0;
		lr->on.click_loss = first ? c : 0.999 * lr->on.click_loss + 0.001 * c;
		lr->on.base_click_loss = first ? b : 0.999 * lr->on.base_click_loss + 0.001 * b;
		*g_click_loss = lr->on.click_loss;
		*g_click_loss_start = lr->on.base_click_loss;
	}
	online_step(lr, t->ts);
	return nt ? l / nt : -1;
}

/* Within-request ranking of page t by qnet_q (ws must hold the page's state): its AUC or -1. */
double
page_auc(struct learner *lr, const struct dataset *ds, const struct trans *t, float *sc, uint8_t *y)
{
	for (uint32_t i = 0; i < t->nact; i++) {
		const struct item *it = &ds->it[t->act + i];
		sc[i] = qnet_q(lr->net, lr->ws, item_row(lr, ds, it), feat_of(ds, it));
		y[i] = it->r > 0;
	}
	return auc(sc, y, t->nact);
}

/* Sparse Adam step on the embedding rows touched in this minibatch. */
void
emb_step(struct learner *lr)
{
	size_t d = lr->net->dm.d;
	for (size_t k = 0; k < lr->off.ntouched; k++) {
		uint32_t r = lr->off.touched[k];
		size_t o = (size_t)r * d;
		float *e = emb_row_mut(lr->emb, r);
		if (lr->o->l2 > 0)
			for (size_t c = 0; c < d; c++)
				lr->off.eg[o + c] += (float)lr->o->l2 * e[c];
		qnet_adam_update(&lr->off.eadam, e, lr->off.em + o, lr->off.ev + o, lr->off.eg + o, d);
		memset(lr->off.eg + o, 0, d * sizeof(float));
		lr->off.etouched[r] = 0;
	}
	lr->off.ntouched = 0;
}

void
param_step(struct learner *lr, int ranges)
{
	qnet_adam_begin(&lr->off.adam);
	if (lr->o->l2 > 0 && (ranges & QNET_RANGE_STATE)) {
		/* pretraining: the interactions are penalised like the embeddings they multiply */
		static const enum qnet_tensor pen[] = { QNET_C_W, QNET_A_W };
		for (size_t j = 0; j < sizeof pen / sizeof *pen; j++) {
			const float *w = qnet_at(lr->net, lr->net->p, pen[j]);
			float *g = qnet_at(lr->net, lr->g, pen[j]);
			for (size_t i = 0; i < qnet_tensor_size(&lr->net->dm, pen[j]); i++)
				g[i] += (float)lr->o->l2 * w[i];
		}
	}
	for (int r = QNET_RANGE_STATE; r <= QNET_RANGE_HEADS; r <<= 1) {
		size_t lo, hi;
		qnet_range(lr->net, r, &lo, &hi);
		if (ranges & r)
			qnet_adam_update(&lr->off.adam, lr->net->p + lo, lr->off.m + lo, lr->off.v + lo, lr->g + lo, hi - lo);
		memset(lr->g + lo, 0, (hi - lo) * sizeof(float));
	}
}
