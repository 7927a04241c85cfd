/* online.c: q-train --online — learns the V and A heads from the stream, one page at a time, publishing versions. */
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
#include "watermark.h"
#include "xalloc.h"
#include "qtrain.h"

/* How the online learner and the evaluation read transitions against model m, counting in the statistics. */
struct parse_ctx
model_parse_ctx(const struct qt_opts *o, struct dataset *ds, const struct model *m, char *err, size_t errlen)
{
	return (struct parse_ctx){ .ds = ds, .map = model_map, .arg = m->emb, .frow_d = m->feature_rows ? m->net->dm.d : 0,
	    .max_feature = o->max_feature, .w_click = o->w_click, .w_pay = o->w_pay, .seed = o->seed,
	    .unknown = n_unknown, .feature_rows = n_feature_rows, .err = err, .errlen = errlen };
}

/* The newest version in the store, or NULL after a diagnostic that says what to do when there is none. */
struct model *
load_newest(const char *modeldir)
{
	char err[512];
	uint32_t v;
	int r = model_latest(modeldir, &v, err, sizeof err);
	struct model *m = r > 0 ? model_load(modeldir, v, err, sizeof err) : NULL;
	if (r == 0)
		diag_warn("%s: no model version to start from (q-train --offline publishes a first one)",
		    modeldir);
	else if (!m)
		diag_warn("%s", err);
	return m;
}

/*
 * Sets up lr to learn the heads of net (a copy of m's network, which lr also
 * compares its click head with), m's embeddings frozen, with fresh AdaGrad
 * accumulators.
 */
static void
online_learner(struct learner *lr, struct qnet *net, const struct model *m, const struct qt_opts *opt)
{
	size_t lo, hi;

	qnet_range(net, QNET_RANGE_HEADS, &lo, &hi);
	memset(lr, 0, sizeof *lr);
	learner_init(lr, net, opt);
	lr->emb = m->emb;
	lr->tgt = qnet_clone(net);
	lr->on.acc = xcalloc(hi - lo, sizeof(float));
	for (size_t i = 0; i < hi - lo; i++)
		lr->on.acc[i] = ACC0;
	lr->on.clock = -1;
	lr->on.now = -1;
	if (opt->click_lr > 0 && net->target == QNET_TARGET_SLATE) {	/* only the slate target scores with it */
		size_t clo, chi;
		qnet_range(net, QNET_RANGE_CLICK, &clo, &chi);
		lr->on.cacc = xcalloc(chi - clo, sizeof(float));
		for (size_t i = 0; i < chi - clo; i++)
			lr->on.cacc[i] = ACC0;
		for (size_t i = 0; i < MAX_POS; i++)
			lr->on.pacc[i] = ACC0;
		lr->on.base = m->net;
		lr->on.bws = qnet_ws_new(&net->dm);
	}
}

/* What the versions learned from m say of themselves, but for their counts. */
static struct model_info
online_info(const struct model *m, const struct qt_opts *opt)
{
	struct model_info info = m->info;

	strcpy(info.mode, "online");
	info.gamma = opt->gamma;
	info.w_click = opt->w_click;
	info.w_pay = opt->w_pay;
	info.unknown = 0;
	return info;
}

/*
 * The newest version of the store when it is newer than *checked and an
 * offline one (its manifest says so), loaded; else NULL. *checked becomes the
 * newest version looked at, so that each manifest is read once.
 */
static struct model *
newer_offline(const char *modeldir, uint32_t *checked)
{
	struct model_info mi;
	struct model *m;
	char err[512], *dir, *path;
	uint32_t v;
	int r;

	if (model_latest(modeldir, &v, err, sizeof err) <= 0 || v <= *checked)
		return NULL;
	*checked = v;
	dir = model_version_dir(modeldir, v);
	path = xasprintf("%s/%s", dir, MODEL_MANIFEST_FILE);
	r = model_info_read(path, &mi, err, sizeof err);
	free(path);
	free(dir);
	if (r < 0 || strcmp(mi.mode, "offline") != 0)
		return NULL;
	if ((m = model_load(modeldir, v, err, sizeof err)) == NULL)
		diag_warn("offline version %u: %s: not rebased on", v, err);
	return m;
}

int
run_online(const struct qt_opts *opt)
{
	char err[512];
	struct model *m = load_newest(opt->modeldir);
	if (!m)
		return 1;
	/* the input the version covers, taken over from the model */
	struct positions covers = { m->input, m->ninput };
	m->input = NULL;
	m->ninput = 0;
	struct qnet *net = qnet_clone(m->net);
	size_t lo, hi;
	qnet_range(net, QNET_RANGE_HEADS, &lo, &hi);
	if (opt->reset_heads)
		memset(net->p + lo, 0, (hi - lo) * sizeof(float));
	*g_version = m->version;
	diag_info(1, "learning the heads of version %u (%s target, gamma %g)", m->version,
	    net->target == QNET_TARGET_SLATE ? "slateq" : "item", opt->gamma);
	if (opt->step_horizon > 0)
		diag_info(1, "with a step horizon of %ld pages", opt->step_horizon);
	else if (opt->step_horizon_ms > 0)
		diag_info(1, "with a step horizon of %g h of event time", (double)opt->step_horizon_ms / 3600e3);

	g_head_step = stats_real(io->st, "head_step");
	if (opt->click_lr > 0 && net->target == QNET_TARGET_SLATE) {
		diag_info(1, "and its click head (--click-lr %g)", opt->click_lr);
		g_click_loss = stats_real(io->st, "click_logloss");
		g_click_loss_start = stats_real(io->st, "click_logloss_start");
	}
	uint64_t *n_rebased = stats_counter(io->st, "rebases");
	uint64_t *n_ahead = stats_counter(io->st, "ahead_transitions");
	/*
	 * The event clock, the episode table's and the step horizon's: the
	 * newest time of a page learned, but a page further ahead than
	 * --max-ahead (a device whose clock runs fast) does not move it unless
	 * WATERMARK_CONFIRM come in a row (the stream moved on), as in
	 * online-join.
	 */
	struct watermark *clk = watermark_new(0, 0);
	watermark_set_max_ahead(clk, opt->max_ahead_ms, WATERMARK_CONFIRM);
	struct learner lr;
	online_learner(&lr, net, m, opt);
	long sync = opt->target_sync ? opt->target_sync : 1000;

	struct publisher pb;
	memset(&pb, 0, sizeof pb);
	pb.o = opt;
	pb.every_snapshot = 1;
	for (size_t i = 0; i < io->opts->ninputs; i++)
		if (strncmp(io->opts->inputs[i], "kafka:", 6) == 0)
			pb.every_snapshot = 0;
	pthread_mutex_init(&pb.mu, NULL);
	pthread_cond_init(&pb.cv, NULL);
	pthread_cond_init(&pb.taken, NULL);
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
	struct parse_ctx pc = model_parse_ctx(opt, &ds, m, err, sizeof err);
	struct model_info info = online_info(m, opt);
	uint32_t checked = m->version;

	/*
	 * Kafka input positions are committed only once a version covering
	 * them is in the store (commit_published), not as records are read:
	 * what the heads learned since the last version lives in memory only.
	 */
	struct positions pos = { 0 };
	io->manual_commit = 1;

	struct episodes eps;
	memset(&eps, 0, sizeof eps);
	eps.newest_ts = -1;
	struct line ln;
	int rv;
	uint64_t since = 0, n = 0;
	int diverged = 0;
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
			if (!tr->truncated && tr->ts >= 0) {
				if (watermark_observe(clk, -1, tr->ts) == WATERMARK_AHEAD)
					(*n_ahead)++;
				eps.newest_ts = lr.on.now = watermark_get_part(clk, -1);
			}
			if (opt->lambda > 0) {
				/* kept with its episode until the episode ends (a cut-short page ends it too) */
				struct episode *e = ep_find(&eps, tr->key, 1);
				int end = tr->done || tr->truncated;
				if (tr->truncated)
					(*n_truncated)++;
				else
					ep_push(&eps, e, &ln, &pos, tr->ts);
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
			if (opt->lambda > 0) {
				ep_evict(&lr, &pc, &eps, sync);
				*g_episodes = (int64_t)eps.n;
				if (*g_episodes > *g_episodes_max)
					*g_episodes_max = *g_episodes;
			}
			progress("online", 0, 0, n, 0, (double)n / (t - t0 + 1e-9), *n_updates > 0 ? loss_avg : -1);
		}
		if ((opt->publish_every && since >= (uint64_t)opt->publish_every) ||
		    (opt->publish_interval > 0 && since > 0 && t - last_pub >= opt->publish_interval)) {
			struct model *nm = newer_offline(opt->modeldir, &checked);
			if (nm != NULL && (nm->net->dm.C != ds.C || nm->net->dm.X != ds.X)) {
				diag_warn("offline version %u: its context or features are not the stream's: not rebased on",
				    nm->version);
				model_free(nm);
				nm = NULL;
			}
			if (nm != NULL) {
				/*
				 * A newer offline version retrained the state network: the heads
				 * learned here fit the old one's state vectors, so learning goes on
				 * from the new version's own heads.
				 */
				diag_info(1, "rebased on offline version %u (from %u): %" PRIu64 " page(s) learned since the "
				    "last version dropped with the old state network", nm->version, m->version, since);
				publisher_rebase(&pb, nm);
				learner_free(&lr);
				qnet_free(net);
				net = qnet_clone(nm->net);
				online_learner(&lr, net, nm, opt);
				pc = model_parse_ctx(opt, &ds, nm, err, sizeof err);
				info = online_info(nm, opt);
				model_free(m);
				m = nm;
				*g_version = m->version;
				(*n_rebased)++;
			} else {
				info.unknown = *n_unknown;
				struct positions cover;
				positions_kept(&cover, &pos, &eps);
				diverged = publish_snapshot(&pb, net, &info, &cover) < 0;
				positions_free(&cover);
				if (diverged)
					break;
			}
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
	/*
	 * The last version, on EOF or SIGTERM; none when nothing was learned (it
	 * would be its parent again), unless the heads were reset.
	 */
	info.unknown = *n_unknown;
	int last = !diverged && ((since > 0 && *n_updates > 0) || (opt->reset_heads && *n_published == 0));
	if (last && publish_snapshot(&pb, net, &info, &pos) < 0) {
		diverged = 1;
		last = 0;
	}
	pthread_mutex_lock(&pb.mu);
	pb.stop = 1;
	pthread_cond_signal(&pb.cv);
	pthread_mutex_unlock(&pb.mu);
	pthread_join(pb.th, NULL);
	int st = pb.failed || diverged ? 1 : 0;
	/*
	 * Nothing learned: no version. Records that were read and all refused are
	 * a finding (exit 1); a Kafka worker stopped before any record came has
	 * simply had nothing to do, and stops cleanly.
	 */
	if (*n_updates == 0 && !opt->reset_heads) {
		if (sig_stop && *io->n_in == 0 && line_reader_kafka(io->in) != NULL) {
			diag_info(1, "stopped before any transition came: no version published");
		} else {
			diag_warn("no usable transition: no version published");
			st = 1;
		}
	}
	/*
	 * The input is committed up to the last version written. When nothing
	 * was learned since the last snapshot, the records read after it were
	 * all rejected: that version covers them too.
	 */
	if (!last && !pb.failed && !diverged)
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
		json_object_set_new(o, "model_dir", json_string(opt->modeldir));
		json_object_set_new(o, "transitions", json_integer((json_int_t)n));
		tool_io_emit(io, NULL, o);
		json_decref(o);
	}
	diag_info(1, "%" PRIu64 " transitions, last version %u", n, pb.last);
	if (lr.on.cacc && *n_updates > 0)
		diag_info(1, "click log-loss per shown item before its step: %.4f; version %u's: %.4f (recent averages)",
		    lr.on.click_loss, m->version, lr.on.base_click_loss);
	else if (lr.on.cacc)
		diag_info(1, "click log-loss per shown item before its step: n/a; version %u's: n/a (no item learned)",
		    m->version);
	free(pb.emb_link);
	free(pb.warmup);
	pthread_mutex_destroy(&pb.mu);
	pthread_cond_destroy(&pb.cv);
	pthread_cond_destroy(&pb.taken);
	dataset_free(&ds);
	watermark_free(clk);
	learner_free(&lr);
	qnet_free(net);
	model_free(m);
	return st;
}
