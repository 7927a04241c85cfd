/* offline.c: q-train --offline — pretrain the state network and embeddings on the immediate reward, then fit the heads; publish. */
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
#include "rng.h"
#include "sig.h"
#include "stats.h"
#include "toolio.h"
#include "xalloc.h"
#include "qtrain.h"

/* The offline run's one stream: splitmix64 from the seed (common/rng). */
static uint64_t rng_state;

static uint64_t
draw(void)
{
	return rng_splitmix64(&rng_state);
}

/* A Fisher–Yates shuffle of order[0..n) from the run's stream. */
static void
shuffle(size_t *order, size_t n)
{
	size_t k, j, tmp;

	for (k = n; k > 1; k--) {
		j = draw() % k;
		tmp = order[k - 1];
		order[k - 1] = order[j];
		order[j] = tmp;
	}
}

static double
rng_unif(void)
{
	return rng_unit(draw());
}
static float
rng_gauss(void)
{
	double u = rng_unif(), v = rng_unif();
	return (float)(sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v));
}

/*
 * Reads the --init-embeddings file, lines "item_id:v1 v2 ...": a new table of
 * the first line's width holding its rows in file order, or NULL after a
 * diagnostic.
 */
static struct emb *
load_init_embeddings(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		diag_warn("%s:", path);
		return NULL;
	}
	struct emb *e = NULL;
	char *line = NULL;
	size_t cap = 0, lineno = 0, d = 0, loaded = 0;
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
		if (e == NULL && n > 0) {
			d = n;
			e = emb_new((uint32_t)d);
		}
		if (*p || n == 0 || n != d || !isfinite(tmp[0])) {
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
	if (st == 0 && e == NULL) {
		diag_warn("%s: no embeddings", path);
		st = -1;
	}
	if (st < 0) {
		emb_free(e);
		return NULL;
	}
	diag_info(2, "%s: %zu embeddings", path, loaded);
	return e;
}

/* A figure for the JSON report: rounded to 1/scale; null when there is none (< 0) or it is not finite. */
static json_t *
figure(double v, double scale)
{
	return v >= 0 && isfinite(v) ? json_real(round(v * scale) / scale) : json_null();
}

/* A figure for the log line: "n/a" when there is none (< 0), else %.4f (which shows nan and inf as such). */
static const char *
figure_text(char *buf, size_t len, double v)
{
	if (v < 0)
		snprintf(buf, len, "n/a");
	else
		snprintf(buf, len, "%.4f", v);
	return buf;
}

/*
 * Emits one JSON line of metrics to the output, and says it. A loss or GAUC
 * below 0 means there is none (an empty held-out set): null in the JSON, n/a
 * in the log.
 */
static void
report(const char *stage, long epoch, double train_loss, double ho_loss, double gauc, double pop, double rate)
{
	json_t *o = json_object();
	char tl[32], hl[32], ga[32], po[32];

	json_object_set_new(o, "stage", json_string(stage));
	json_object_set_new(o, "epoch", json_integer(epoch));
	json_object_set_new(o, "train_loss", figure(train_loss, 1e6));
	json_object_set_new(o, "holdout_loss", figure(ho_loss, 1e6));
	json_object_set_new(o, "gauc", figure(gauc, 1e4));
	json_object_set_new(o, "popularity_gauc", figure(pop, 1e4));
	json_object_set_new(o, "examples_per_s", json_real(round(rate)));
	tool_io_emit(io, NULL, o);
	json_decref(o);
	if (isatty(1))	/* the JSON line just written says it */
		return;
	diag_info(1, "%s epoch %ld: train loss %s, held-out loss %s, GAUC %s (popularity %s), %.0f examples/s",
	    stage, epoch, figure_text(tl, sizeof tl, train_loss), figure_text(hl, sizeof hl, ho_loss),
	    figure_text(ga, sizeof ga, gauc), figure_text(po, sizeof po, pop), rate);
}

/*
 * Reads every input transition into ds and its ids into the vocabulary voc
 * (both set up by the caller); rejected lines are dead-lettered. 0, or -1
 * after a diagnostic when nothing may be learned: the input could not be read
 * in full, a signal stopped the run, or no transition was usable.
 */
static int
read_offline_input(const struct qt_opts *opt, struct dataset *ds, struct vocab *voc)
{
	char err[512];
	struct parse_ctx pc = { .ds = ds, .map = vocab_map, .arg = voc, .max_feature = opt->max_feature,
	    .w_click = opt->w_click, .w_pay = opt->w_pay, .seed = opt->seed, .err = err, .errlen = sizeof err };
	struct line ln;
	double t0 = now_s();
	uint64_t bdone, btotal;
	int rv;

	progress_reading(0, 0, 0, 0);
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
		if ((ds->n & 1023) == 0) {
			if (!line_reader_size(io->in, &bdone, &btotal))
				bdone = btotal = 0;
			progress_reading(ds->n, now_s() - t0, bdone, btotal);
		}
	}
	progress_end();
	/* A version learned from part of its input must not go live. */
	if (line_reader_failed(io->in)) {
		diag_warn("the input could not be read in full: no version published");
		return -1;
	}
	if (sig_stop)
		return -1;
	if (ds->n == 0) {
		diag_warn("no transitions to learn from");
		return -1;
	}
	return 0;
}

/*
 * Publishes the trained net and its embeddings emb as a new offline version,
 * with warm-up requests built from ds (ids in dict), and says so on the
 * output. 0, or 1 after a diagnostic: a parameter is not finite, or the store
 * refused the version.
 */
static int
publish_offline(const struct qt_opts *opt, const struct qnet *net, struct emb *emb, const struct dataset *ds,
    struct emb *dict, const char *rows, size_t ntr, uint64_t rare)
{
	struct model_publication pub = { .net = net, .emb = emb, .keep = (unsigned)opt->keep };
	char err[512], *warm;
	uint32_t v;
	int st = 0;

	if (nonfinite_params(net, emb) > 0)
		return 1;
	warm = build_warmup(ds, dict, opt->warmup, &pub.warmup_len);
	pub.warmup = warm;
	strcpy(pub.info.mode, "offline");
	strcpy(pub.info.target, opt->target == QNET_TARGET_SLATE ? "slateq" : "item");
	strcpy(pub.info.rows, rows);
	pub.info.gamma = opt->gamma;
	pub.info.w_click = opt->w_click;
	pub.info.w_pay = opt->w_pay;
	pub.info.transitions = ntr;
	pub.info.items = *n_items;
	pub.info.unknown = rare;
	pub.info.updates = *n_updates;
	if (model_publish(opt->modeldir, &pub, &v, err, sizeof err) < 0) {
		diag_warn("%s", err);
		st = 1;
	} else {
		*g_version = v;
		(*n_published)++;
		diag_info(1, "published version %u in %s", v, opt->modeldir);
		if (publish_remote(opt, v) < 0)
			st = 1;
		json_t *o = json_object();
		json_object_set_new(o, "published", json_integer(v));
		json_object_set_new(o, "model_dir", json_string(opt->modeldir));
		tool_io_emit(io, NULL, o);
		json_decref(o);
	}
	free(warm);
	return st;
}

int
run_offline(const struct qt_opts *opt)
{
	struct dataset ds;
	struct vocab voc = { 0 };
	char err[512];

	/* A store that cannot take the version fails now, not after the training. */
	if (model_store_check(opt->modeldir, err, sizeof err) < 0) {
		diag_warn("%s", err);
		return 1;
	}
	memset(&ds, 0, sizeof ds);
	voc.dict = emb_new(1);
	if (read_offline_input(opt, &ds, &voc) < 0) {
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
		if (is_holdout(t, opt->holdout)) {
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

	/* embeddings: --init-embeddings first (its width is d unless --dim says), then every item seen --min-count times */
	struct emb *emb = NULL;
	if (opt->init_emb && (emb = load_init_embeddings(opt->init_emb)) == NULL)
		diag_fatal(1, "%s: unusable embeddings", opt->init_emb);
	struct qnet_dims dm = opt->dm;
	dm.C = ds.C;
	dm.X = ds.X;
	if (emb && !opt->dim_given)
		dm.d = emb_dim(emb);
	if (opt->feature_emb) {
		if (ds.X == 0)
			diag_fatal(1, "--feature-embeddings: the items have no features");
		dm.d = ds.X;
	}
	if (emb && emb_dim(emb) != dm.d)
		diag_fatal(1, "%s: %u numbers a row, want %u", opt->init_emb, emb_dim(emb), dm.d);
	if (qnet_dims_check(&dm, err, sizeof err) < 0)
		diag_fatal(1, "%s", err);
	struct qnet *net = qnet_new(&dm);
	qnet_init(net, opt->seed);
	net->target = QNET_TARGET_ITEM;	/* while pretraining, rank by Q̄ */

	rng_state = opt->seed * 0x2545f4914f6cdd1dULL + 1;
	if (emb == NULL)
		emb = emb_new(dm.d);
	/* the manifest says where the rows came from */
	const char *rows = opt->feature_emb ? (emb_rows(emb) > 1 ? MODEL_ROWS_INIT_FEATURES : MODEL_ROWS_FEATURES) :
	    opt->init_emb && opt->freeze_emb ? MODEL_ROWS_INIT : MODEL_ROWS_LEARNED;
	uint32_t nvoc = emb_rows(voc.dict);
	uint32_t *rowmap = xcalloc(nvoc, sizeof *rowmap);
	uint64_t rare = 0;
	/* each item's features as first seen, and a fixed random projection of them into the rows */
	uint32_t *vfeat = xcalloc(nvoc, sizeof *vfeat);
	float *proj = NULL;
	if ((opt->feature_init || opt->feature_emb) && ds.X > 0) {
		for (uint32_t v = 0; v < nvoc; v++)
			vfeat[v] = NO_NEXT;
		for (size_t k = 0; k < ds.nit; k++)
			if (vfeat[ds.it[k].id] == NO_NEXT)
				vfeat[ds.it[k].id] = ds.it[k].feat;
	}
	if (opt->feature_init && !opt->feature_emb && ds.X > 0) {
		proj = xcalloc((size_t)dm.d * ds.X, sizeof *proj);
		for (size_t i = 0; i < (size_t)dm.d * ds.X; i++)
			proj[i] = 0.25f * rng_gauss();
	}
	for (uint32_t v = 1; v < nvoc; v++) {
		size_t l;
		const char *id = emb_id(voc.dict, v, &l);
		int64_t r = emb_find(emb, id, l);
		if (opt->feature_emb) {
			/* the row is the item's features, whatever its count; an item never shown has none */
			if (r < 0 && vfeat[v] != NO_NEXT) {
				r = emb_add(emb, id, l);
				emb_feature_row(emb_row_mut(emb, (uint32_t)r), dm.d, ds.fl + vfeat[v], ds.X);
			}
		} else if (r < 0 && voc.count[v] >= (uint32_t)opt->min_count) {
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
	diag_info(1, "pretraining %ld epoch(s) (--epochs), then fitting the heads %ld epoch(s) (--head-epochs)",
	    opt->epochs, opt->head_epochs);

	struct learner lr;
	memset(&lr, 0, sizeof lr);
	learner_init(&lr, net, opt);
	learner_scratch(&lr, maxn);
	lr.emb = emb;
	lr.rowmap = rowmap;
	lr.off.m = xcalloc(net->nparam, sizeof(float));
	lr.off.v = xcalloc(net->nparam, sizeof(float));
	uint32_t nrows = emb_rows(emb);
	lr.off.em = xcalloc((size_t)nrows * dm.d, sizeof(float));
	lr.off.ev = xcalloc((size_t)nrows * dm.d, sizeof(float));
	lr.off.eg = xcalloc((size_t)nrows * dm.d, sizeof(float));
	lr.off.etouched = xcalloc(nrows, 1);
	lr.off.touched = xcalloc(nrows, sizeof *lr.off.touched);
	qnet_adam_init(&lr.off.adam, (float)opt->lr);
	qnet_adam_init(&lr.off.eadam, (float)(opt->emb_lr > 0 ? opt->emb_lr : opt->lr));
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
	for (long ep = 1; ep <= opt->epochs && !sig_stop; ep++) {
		shuffle(order, ntr);
		double tl = 0, t1 = now_s();
		uint64_t done_items = 0;
		for (size_t b = 0; b < ntr && !sig_stop; b += (size_t)opt->batch) {
			size_t e = b + (size_t)opt->batch < ntr ? b + (size_t)opt->batch : ntr;
			uint32_t nitems = 0;
			for (size_t k = b; k < e; k++)
				nitems += ds.t[order[k]].nact;
			float scale = 1.0f / (float)(nitems ? nitems : 1);
			for (size_t k = b; k < e; k++)
				tl += pretrain_page(&lr, &ds, &ds.t[order[k]], scale, 1);
			param_step(&lr, QNET_RANGE_STATE | QNET_RANGE_CLICK | QNET_RANGE_HEADS);
			if (opt->pos_bias) {
				qnet_adam_update(&lr.off.adam, lr.off.pq, lr.off.mpq, lr.off.vpq, lr.off.gpq, MAX_POS);
				qnet_adam_update(&lr.off.adam, lr.off.pc, lr.off.mpc, lr.off.vpc, lr.off.gpc, MAX_POS);
				memset(lr.off.gpq, 0, sizeof lr.off.gpq);
				memset(lr.off.gpc, 0, sizeof lr.off.gpc);
			}
			qnet_adam_follow(&lr.off.eadam, &lr.off.adam);
			emb_step(&lr);
			done_items += nitems;
			(*n_updates)++;
			*n_items += nitems;
			stats_tick(io->st);
			progress("pretrain", ep, opt->epochs, (uint64_t)e, ntr, (double)e / (now_s() - t1 + 1e-9),
			    tl / (double)(done_items ? done_items : 1));
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
		report("pretrain", ep, items_total ? tl / (double)items_total : -1, hi ? hl / (double)hi : -1,
		    np ? gs / (double)np : -1, pop_gauc, rate);
		if (nho == 0 || hl < best_loss) {
			best_loss = hl;
			best_ep = ep;
			memcpy(best_p, net->p, net->nparam * sizeof(float));
			memcpy(best_e, emb_row(emb, 0), (size_t)nrows * dm.d * sizeof(float));
		}
	}
	if (best_ep > 0 && best_ep < opt->epochs && !sig_stop) {
		diag_info(1, "pretrain: keeping epoch %ld, the best on held-out loss", best_ep);
		memcpy(net->p, best_p, net->nparam * sizeof(float));
		memcpy(emb_row_mut(emb, 0), best_e, (size_t)nrows * dm.d * sizeof(float));
	}
	free(best_e);

	/* stage 2: the heads on TD targets, state network, embeddings and click head frozen */
	net->target = opt->target;
	int fit_heads = opt->head_epochs > 0 && (opt->gamma > 0 || opt->target == QNET_TARGET_SLATE);
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
		memset(lr.off.m, 0, net->nparam * sizeof(float));
		memset(lr.off.v, 0, net->nparam * sizeof(float));
		qnet_adam_init(&lr.off.adam, (float)opt->lr);
		lr.tgt = qnet_clone(net);
		long sync = opt->target_sync ? opt->target_sync : 20;
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
		if (opt->lambda > 0) {
			eporder = xcalloc(ds.n, sizeof *eporder);
			nextk = xcalloc(ds.n, sizeof *nextk);
			lfut = xcalloc(ds.n, sizeof *lfut);
			for (size_t k = 0; k < ds.n; k++)
				eporder[k] = k;
			episode_sort(&ds, eporder, ds.n);
			for (size_t k = 0; k < ds.n; k++) {
				const struct trans *a = &ds.t[eporder[k]];
				const struct trans *b = k + 1 < ds.n ? &ds.t[eporder[k + 1]] : NULL;
				nextk[eporder[k]] = b && b->key == a->key && b->seq == a->seq + 1 ? eporder[k + 1] : SIZE_MAX;
			}
		}
		for (long ep = 1; ep <= opt->head_epochs && !sig_stop; ep++) {
			if (opt->lambda > 0) {
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
						F = nextk[k] != SIZE_MAX ? (float)((1 - opt->lambda) * nv + opt->lambda * G[nextk[k]]) : nv;
					}
					lfut[k] = F;
					G[k] = R + (float)opt->gamma * F;
				}
			}
			shuffle(order, nfit);
			double tl = 0, t1 = now_s();
			uint64_t nt = 0;
			for (size_t b = 0; b < nfit && !sig_stop; b += (size_t)opt->batch) {
				size_t e = b + (size_t)opt->batch < nfit ? b + (size_t)opt->batch : nfit;
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
				if (opt->head_anneal)
					lr.off.adam.lr = (float)(opt->lr * (1.0 - ((double)(ep - 1) * (double)nfit + (double)b) /
					    ((double)opt->head_epochs * (double)nfit)));
				param_step(&lr, QNET_RANGE_HEADS);
				(*n_updates)++;
				*n_items += nitems;
				if (++lr.steps % (uint64_t)sync == 0)
					qnet_copy_params(lr.tgt, net, QNET_RANGE_HEADS);
				stats_tick(io->st);
				progress("heads", ep, opt->head_epochs, (uint64_t)e, nfit, (double)e / (now_s() - t1 + 1e-9),
				    tl / (double)(nt ? nt : 1));
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
			report("heads", ep, nt ? tl / (double)nt : -1, hn ? hl / (double)hn : -1, np ? gs / (double)np : -1,
			    pop_gauc, rate);
		}
		free(S);
		free(S2);
		free(fut);
		free(eporder);
		free(nextk);
		free(lfut);
	}

	int st = sig_stop ? 1 : publish_offline(opt, net, emb, &ds, voc.dict, rows, ntr, rare);
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
