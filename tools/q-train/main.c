/* main.c: q-train learns the dueling Q network from transitions — offline (pretrain, then fit the heads) or online (heads only), publishing model versions. */
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
#include "qtrain.h"

enum {
	OPT_OFFLINE = TOOL_OPT_FIRST, OPT_ONLINE, OPT_EVALUATE, OPT_EPOCHS, OPT_HEAD_EPOCHS, OPT_BATCH,
	OPT_LR, OPT_HEAD_LR, OPT_CLICK_LR, OPT_GAMMA, OPT_TARGET, OPT_TARGET_SYNC, OPT_W_CLICK, OPT_W_PAY,
	OPT_DIM, OPT_HIST_LEN, OPT_KERNELS, OPT_FILTERS, OPT_STATE_DIM, OPT_INIT_EMB, OPT_FREEZE_EMB,
	OPT_MIN_COUNT, OPT_HOLDOUT, OPT_SEED, OPT_KEEP, OPT_PUBLISH_EVERY, OPT_PUBLISH_INTERVAL,
	OPT_RESET_HEADS, OPT_WARMUP, OPT_CLICK_WEIGHT, OPT_POS_BIAS, OPT_NO_POS_BIAS, OPT_L2, OPT_EMB_LR, OPT_FEATURE_INIT,
	OPT_HEAD_ANNEAL, OPT_NO_HEAD_ANNEAL, OPT_LAMBDA, OPT_FEATURE_EMB, OPT_STEP_HORIZON,
	OPT_MAX_FEATURE, OPT_MAX_EPISODES, OPT_EPISODE_TIMEOUT, OPT_PUBLISH, OPT_MAX_AHEAD
};

struct tool_io *io;
uint64_t *n_evicted;
int64_t *g_episodes, *g_episodes_max;
uint64_t *n_updates, *n_items, *n_unknown, *n_feature_rows, *n_published, *n_truncated;
int64_t *g_version;
double *g_click_loss, *g_click_loss_start;	/* online, with the click head learning: the averages below */
double *g_head_step;	/* online: the heads' mean step per unit of gradient, lr/√acc */

static void
usage(int st)
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
	    "               [--max-episodes n] [--episode-timeout duration] [--max-ahead duration]\n"
	    "               [--keep n]\n"
	    "       q-train --evaluate -m modeldir [-i transitions]...\n"
	    "       common: [-hqVv] [-o output] [-b brokers] [-G group] [-X key=value] [--dead-letter spec]\n"
	    "               [--stats spec] [--stats-interval s] [--metrics file] [--max-line bytes] [--strict]\n"
	    "               [--max-feature x] [--publish kafka:topic]\n");
	exit(st);
}

static long
num_opt(const char *name, const char *arg, long lo, long hi)
{
	char opt[64];
	long v;

	snprintf(opt, sizeof opt, "--%s", name);
	if (tool_opt_count(opt, arg, lo, hi, &v) != 0)
		exit(2);
	return v;
}

static double
real_opt(const char *name, const char *arg, double lo, double hi)
{
	char opt[64];
	double v;

	snprintf(opt, sizeof opt, "--%s", name);
	if (tool_opt_real(opt, arg, lo, hi, &v) != 0)
		exit(2);
	return v;
}

/* The options before any is given: the defaults q-train(1) states. */
static void
qt_opts_default(struct qt_opts *qo)
{
	memset(qo, 0, sizeof *qo);
	qnet_dims_default(&qo->dm, 0, 0);
	qo->epochs = 8;
	qo->head_epochs = -1;
	qo->batch = 32;
	qo->lr = 0.005;
	qo->head_lr = 0.02;
	qo->click_lr = -1;
	qo->head_anneal = 1;
	qo->gamma = 0.9;
	qo->target = QNET_TARGET_SLATE;
	qo->w_click = 1;
	qo->w_pay = 1;
	qo->click_weight = 1;
	qo->min_count = 2;
	qo->holdout = 0.1;
	qo->max_feature = MAX_FEATURE;
	qo->max_episodes = 100000;
	qo->episode_timeout_ms = 3600 * 1000;
	qo->max_ahead_ms = 10 * 60 * 1000;
	qo->seed = 1;
	qo->keep = 10;
	qo->warmup = 16;
	qo->publish_every = 10000;
	qo->publish_interval = 60;
	qo->pos_bias = 1;
	qo->l2 = 0;
	qo->emb_lr = -1;
	qo->feature_init = 0;
}

/*
 * Parses the command line into qo (q-train's options) and opts (the common
 * ones); a usage error exits 2 after a diagnostic.
 */
static void
parse_options(int argc, char *argv[], struct qt_opts *qo, struct tool_opts *opts)
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
		{ "max-feature", required_argument, NULL, OPT_MAX_FEATURE },
		{ "max-episodes", required_argument, NULL, OPT_MAX_EPISODES },
		{ "episode-timeout", required_argument, NULL, OPT_EPISODE_TIMEOUT },
		{ "max-ahead", required_argument, NULL, OPT_MAX_AHEAD },
		{ "emb-lr", required_argument, NULL, OPT_EMB_LR },
		{ "publish", required_argument, NULL, OPT_PUBLISH },
		{ "feature-init", required_argument, NULL, OPT_FEATURE_INIT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, r;

	qt_opts_default(qo);
	while ((ch = getopt_long(argc, argv, TOOL_SHORTOPTS "hm:", longopts, NULL)) != -1) {
		if ((r = tool_opts_handle(opts, ch, optarg)) == 1)
			continue;
		if (r < 0)
			usage(2);
		switch (ch) {
		case OPT_OFFLINE: qo->mode = 'f'; break;
		case OPT_ONLINE: qo->mode = 'n'; break;
		case OPT_EVALUATE: qo->mode = 'e'; break;
		case 'm': qo->modeldir = optarg; break;
		case OPT_EPOCHS: qo->epochs = num_opt("epochs", optarg, 0, 1000000); break;
		case OPT_HEAD_EPOCHS: qo->head_epochs = num_opt("head-epochs", optarg, 0, 1000000); break;
		case OPT_BATCH: qo->batch = num_opt("batch", optarg, 1, 1 << 20); break;
		case OPT_LR: qo->lr = real_opt("lr", optarg, 1e-9, 10); break;
		case OPT_FEATURE_EMB: qo->feature_emb = 1; break;
		case OPT_LAMBDA: qo->lambda = real_opt("lambda", optarg, 0, 1); break;
		case OPT_HEAD_LR: qo->head_lr = real_opt("head-lr", optarg, 1e-9, 10); break;
		case OPT_CLICK_LR: qo->click_lr = real_opt("click-lr", optarg, 0, 10); break;
		case OPT_STEP_HORIZON:
			/* a count of pages, or a duration of event time */
			qo->step_horizon = 0;
			qo->step_horizon_ms = 0;
			if (optarg[strspn(optarg, "0123456789")] == '\0')
				qo->step_horizon = num_opt("step-horizon", optarg, 0, 1000000000);
			else if ((qo->step_horizon_ms = parse_duration_ms(optarg)) <= 0)
				diag_fatal(2, "--step-horizon %s: expected a count of pages or a duration (such as 6h)",
				    optarg);
			break;
		case OPT_GAMMA: qo->gamma = real_opt("gamma", optarg, 0, 1); break;
		case OPT_TARGET:
			if (!strcmp(optarg, "slateq"))
				qo->target = QNET_TARGET_SLATE;
			else if (!strcmp(optarg, "item"))
				qo->target = QNET_TARGET_ITEM;
			else
				diag_fatal(2, "--target %s: expected slateq or item", optarg);
			break;
		case OPT_TARGET_SYNC: qo->target_sync = num_opt("target-sync", optarg, 1, 1L << 40); break;
		case OPT_W_CLICK: qo->w_click = real_opt("w-click", optarg, -1e9, 1e9); break;
		case OPT_W_PAY: qo->w_pay = real_opt("w-pay", optarg, -1e9, 1e9); break;
		case OPT_CLICK_WEIGHT: qo->click_weight = real_opt("click-weight", optarg, 0, 1e6); break;
		case OPT_DIM: qo->dm.d = (uint32_t)num_opt("dim", optarg, 1, QNET_MAX_DIM); qo->dim_given = 1; break;
		case OPT_HIST_LEN: qo->dm.L = (uint32_t)num_opt("history-len", optarg, 1, QNET_MAX_DIM); break;
		case OPT_KERNELS: {
			char *p = optarg, *end;
			memset(qo->dm.kw, 0, sizeof qo->dm.kw);
			qo->dm.nkern = 0;
			for (;;) {
				long w = strtol(p, &end, 10);
				if (end == p || w < 1 || w > QNET_MAX_DIM || qo->dm.nkern == QNET_MAX_KERNELS)
					diag_fatal(2, "--kernels %s: expected up to %d widths, e.g. 2,3", optarg, QNET_MAX_KERNELS);
				qo->dm.kw[qo->dm.nkern++] = (uint32_t)w;
				if (*end == 0)
					break;
				if (*end != ',')
					diag_fatal(2, "--kernels %s: expected widths separated by commas", optarg);
				p = end + 1;
			}
			break;
		}
		case OPT_FILTERS: qo->dm.F = (uint32_t)num_opt("filters", optarg, 1, QNET_MAX_DIM); break;
		case OPT_STATE_DIM: qo->dm.H = (uint32_t)num_opt("state-dim", optarg, 1, QNET_MAX_DIM); break;
		case OPT_INIT_EMB: qo->init_emb = optarg; break;
		case OPT_FREEZE_EMB: qo->freeze_emb = 1; break;
		case OPT_MIN_COUNT: qo->min_count = num_opt("min-count", optarg, 1, 1L << 31); break;
		case OPT_HOLDOUT: qo->holdout = real_opt("holdout", optarg, 0, 0.9); break;
		case OPT_SEED: qo->seed = (uint64_t)num_opt("seed", optarg, 0, LONG_MAX); break;
		case OPT_KEEP: qo->keep = num_opt("keep", optarg, 0, 1L << 31); break;
		case OPT_PUBLISH_EVERY: qo->publish_every = num_opt("publish-every", optarg, 0, 1L << 40); break;
		case OPT_PUBLISH_INTERVAL: {
			int64_t ms = parse_duration_ms(optarg);
			if (ms < 0)
				diag_fatal(2, "--publish-interval %s: expected a duration", optarg);
			qo->publish_interval = (double)ms / 1000;
			break;
		}
		case OPT_RESET_HEADS: qo->reset_heads = 1; break;
		case OPT_HEAD_ANNEAL: break;	/* the default, accepted as documented */
		case OPT_NO_HEAD_ANNEAL: qo->head_anneal = 0; break;
		case OPT_WARMUP: qo->warmup = num_opt("warmup", optarg, 0, 100000); break;
		case OPT_POS_BIAS: qo->pos_bias = 1; break;
		case OPT_NO_POS_BIAS: qo->pos_bias = 0; break;
		case OPT_L2: qo->l2 = real_opt("l2", optarg, 0, 1e6); break;
		case OPT_MAX_EPISODES: qo->max_episodes = num_opt("max-episodes", optarg, 0, 100000000); break;
		case OPT_EPISODE_TIMEOUT:
			if ((qo->episode_timeout_ms = parse_duration_ms(optarg)) < 0)
				diag_fatal(2, "--episode-timeout %s: expected a duration (such as 1h)", optarg);
			break;
		case OPT_MAX_AHEAD:
			if ((qo->max_ahead_ms = parse_duration_ms(optarg)) < 0)
				diag_fatal(2, "--max-ahead %s: expected a duration (such as 10m)", optarg);
			break;
		case OPT_MAX_FEATURE: qo->max_feature = real_opt("max-feature", optarg, 1, 3.4e38); break;
		case OPT_EMB_LR: qo->emb_lr = real_opt("emb-lr", optarg, 1e-9, 10); break;
		case OPT_FEATURE_INIT: qo->feature_init = (int)num_opt("feature-init", optarg, 0, 1); break;
		case OPT_PUBLISH:
			if (strncmp(optarg, "kafka:", 6) != 0 || optarg[6] == '\0')
				diag_fatal(2, "--publish %s: expected kafka:TOPIC", optarg);
			qo->publish = optarg;
			break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0 || !qo->mode || !qo->modeldir)
		usage(2);
	if (qo->head_epochs < 0)
		qo->head_epochs = 30;
	if (qo->click_lr < 0)
		qo->click_lr = qo->head_lr;
	{
		char e[200];
		if (qnet_dims_check(&qo->dm, e, sizeof e) < 0)
			diag_fatal(2, "%s", e);
	}
	/* rows that are the items' features are not learned */
	if (qo->feature_emb)
		qo->freeze_emb = 1;
}

/* The counters and gauges of --stats, on io. */
static void
open_counters(void)
{
	n_updates = stats_counter(io->st, "updates");
	n_items = stats_counter(io->st, "items");
	n_unknown = stats_counter(io->st, "unknown_items");
	n_feature_rows = stats_counter(io->st, "feature_row_items");
	n_published = stats_counter(io->st, "published");
	n_truncated = stats_counter(io->st, "truncated");
	n_evicted = stats_counter(io->st, "episodes_evicted");
	g_episodes = stats_gauge(io->st, "episodes_open");
	g_episodes_max = stats_gauge(io->st, "episodes_open_max");
	g_version = stats_gauge(io->st, "model_version");
}

int
main(int argc, char *argv[])
{
	struct qt_opts qo;
	struct tool_opts opts;
	int st, cst;

	diag_init(argv[0]);
	memset(&opts, 0, sizeof opts);
	opts.max_line = LINE_MAX_TRANSITIONS;
	parse_options(argc, argv, &qo, &opts);
	progress_enable(isatty(2) && diag_verbosity > 0);
	io = tool_io_open(&opts, "q-train");
	if (!io) {
		tool_opts_free(&opts);
		return 1;
	}
	open_counters();
	if (publish_remote_open(&qo) < 0) {
		tool_io_close(io);
		tool_opts_free(&opts);
		return 1;
	}
	st = qo.mode == 'f' ? run_offline(&qo) : qo.mode == 'n' ? run_online(&qo) : run_evaluate(&qo);
	publish_remote_close();
	cst = tool_io_close(io);
	tool_opts_free(&opts);
	return st ? st : cst;
}
