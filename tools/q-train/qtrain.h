/* qtrain.h: what the files of q-train share — the options, the datasets, the learner, the online state. */
#ifndef QTRAIN_H
#define QTRAIN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "model.h"
#include "qnet.h"
#include "toolio.h"
#include "transition.h"

#define ACC0		0.1f	/* online: the AdaGrad accumulators' starting (and, with a horizon, resting) value */

/* The options, as parsed. */
struct qt_opts {
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
	double max_feature;	/* the largest |x| of a context or feature value read */
	long max_episodes;	/* online --lambda: unfinished episodes kept at most (0: no bound) */
	int64_t episode_timeout_ms;	/* and for at most this long in event time after their newest page (0: no limit) */
	int64_t max_ahead_ms;	/* online: a page further past the event clock does not move it (0: no bound) */
	const char *publish;	/* --publish kafka:TOPIC: each version also goes to that topic (NULL: the store only) */
};

extern struct tool_io *io;
extern uint64_t *n_updates, *n_items, *n_unknown, *n_feature_rows, *n_published, *n_truncated;
extern int64_t *g_version;
extern double *g_click_loss, *g_click_loss_start;	/* online, with the click head learning: the averages below */
extern uint64_t *n_evicted;
extern int64_t *g_episodes, *g_episodes_max;
extern double *g_head_step;	/* online: the heads' mean step per unit of gradient, lr/√acc */


/* Offline: Adam over the network, the embedding rows touched and the position biases. */
struct learner_adam {
	struct qnet_adam adam, eadam;	/* the network's, and the embeddings' (which follows it) */
	float *m, *v;			/* Adam moments of p */
	float *em, *ev, *eg;		/* Adam moments and gradient of the embeddings */
	uint8_t *etouched;
	uint32_t *touched;
	size_t ntouched;
	/* position biases of Q̄ and of the click logit, learned while pretraining only (scoring assumes position 0) */
	float pq[MAX_POS], pc[MAX_POS], gpq[MAX_POS], gpc[MAX_POS];
	float mpq[MAX_POS], vpq[MAX_POS], mpc[MAX_POS], vpc[MAX_POS];
};

/* Online: AdaGrad over the heads (and the click head), and what it is compared with. */
struct learner_adagrad {
	float *acc;			/* AdaGrad accumulators of the heads */
	float *cacc;			/* and of the click head, when it learns online (else NULL) */
	float pacc[MAX_POS];		/* and of the click logit's position offsets */
	int64_t clock;			/* with a horizon of event time: the newest time stepped (-1: none yet) */
	int64_t now;			/* the event clock, outliers ahead held (-1: none yet) */
	uint64_t head_steps;		/* AdaGrad steps of the heads taken */
	double click_loss;		/* the click log-loss per item before each step, averaged */
	const struct qnet *base;	/* the version learning started from, its click head compared */
	struct qnet_ws *bws;		/* base's workspace */
	double base_click_loss;		/* its click log-loss on the same items, averaged alike */
};

/* Scratch of a page's forward and backward passes. */
struct learner_scratch {
	const float **hrow, **erow, **xrow;	/* rows of the history, the items, their features */
	float *dhist, *de;
	size_t maxitems;
	float *zero_x;
};

/* The learner: the network, its optimisers' state (offline, online) and scratch. */
struct learner {
	const struct qt_opts *o;	/* the options it learns under */
	struct qnet *net, *tgt;
	struct qnet_ws *ws;
	struct emb *emb;		/* growable (offline) or mapped (online) */
	uint32_t *rowmap;		/* offline: vocabulary id -> embedding row */
	float *g;			/* gradient, layout of p */
	uint64_t steps;
	struct learner_adam off;
	struct learner_adagrad on;
	struct learner_scratch tmp;
};

/*
 * The Kafka input positions the learner has got through: the next offset of
 * each topic and partition read (topic names owned).
 */
struct positions {
	struct model_input_pos *p;
	size_t n;
};

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
	int64_t last_ts;	/* event time of its newest page (-1: none given) */
	uint64_t last_seen;	/* pages kept in the table before its newest one: its recency */
};

struct episodes {
	struct episode *slot;
	size_t cap, n;		/* cap a power of two */
	size_t pages;		/* pages held */
	uint64_t seen;		/* pages ever kept */
	int64_t newest_ts;	/* the event clock of the pages kept, outliers ahead held (-1: none yet) */
};

#define EP_MAX_PAGES 1000	/* an episode this long is learned so far and started again */

/*
 * The publisher thread: writes the newest snapshot handed to it; on a stream
 * the learner never waits for it (a snapshot not yet started on is replaced
 * by a newer one). On files (every_snapshot) each snapshot becomes a version,
 * so that a replay gives the same versions however busy the machine is. A
 * snapshot carries the input positions it covers; once its version is
 * durably in the store they become the positions to commit.
 */
struct publisher {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_cond_t taken;	/* signalled when the thread takes the pending snapshot, and when it has written it */
	int writing;		/* the thread is writing a snapshot */
	int every_snapshot;	/* the learner waits until the previous snapshot is taken */
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
	const struct qt_opts *o;	/* the store and its --keep */
};

/* dataset.c */
void episode_sort(const struct dataset *ds, size_t *ord, size_t n);
char *build_warmup(const struct dataset *ds, struct emb *dict, long warmup, size_t *len);
int is_holdout(const struct trans *t, double holdout);

/* progress.c */
double now_s(void);
void progress(const char *stage, long epoch, long epochs, uint64_t done, uint64_t total, double rate, double loss);
void progress_reading(uint64_t examples, double elapsed, uint64_t bytes_done, uint64_t bytes_total);
void progress_end(void);
void progress_enable(int on);

/* learner.c */
void emb_step(struct learner *lr);
void forward_state(struct learner *lr, const struct dataset *ds, const struct trans *t, int next);
void learner_free(struct learner *lr);
void learner_init(struct learner *lr, struct qnet *net, const struct qt_opts *o);
void learner_scratch(struct learner *lr, size_t maxitems);
float next_value(struct learner *lr, const struct dataset *ds, const struct trans *t, const float *s2);
double online_page(struct learner *lr, const struct dataset *ds, const struct trans *t, float fut);
double page_auc(struct learner *lr, const struct dataset *ds, const struct trans *t, float *sc, uint8_t *y);
void param_step(struct learner *lr, int ranges);
double pretrain_page(struct learner *lr, const struct dataset *ds, const struct trans *t, float scale, int learn);
double td_page(struct learner *lr, const struct dataset *ds, const struct trans *t, const float *s, float fut, float scale, int learn, uint32_t *nterms);

/* offline.c */
int run_offline(const struct qt_opts *opt);

/* positions.c */
void positions_copy(struct positions *dst, const struct positions *src);
void positions_free(struct positions *ps);
void positions_note(struct positions *ps, const char *topic, int32_t partition, int64_t next);

/* episodes.c */
struct episode *ep_find(struct episodes *es, uint64_t key, int add);
size_t ep_learn(struct learner *lr, struct parse_ctx *pc, struct episodes *es, struct episode *e, long sync, double *loss);
void ep_push(struct episodes *es, struct episode *e, const struct line *ln, const struct positions *ps, int64_t ts);
size_t ep_evict(struct learner *lr, struct parse_ctx *pc, struct episodes *es, long sync);
void positions_kept(struct positions *dst, const struct positions *read, const struct episodes *es);

/* publish.c */
void commit_published(struct publisher *pb);
int publish_snapshot(struct publisher *pb, const struct qnet *net, const struct model_info *info, const struct positions *pos);
size_t nonfinite_params(const struct qnet *net, const struct emb *emb);
char *read_small_file(const char *path, size_t *len);
void publisher_rebase(struct publisher *pb, const struct model *m);
void *publisher_main(void *arg);
int publish_remote_open(const struct qt_opts *o);
int publish_remote(const struct qt_opts *o, uint32_t version);
void publish_remote_close(void);

/* online.c */
struct parse_ctx model_parse_ctx(const struct qt_opts *o, struct dataset *ds, const struct model *m, char *err, size_t errlen);
struct model *load_newest(const char *modeldir);
int run_online(const struct qt_opts *opt);

/* evaluate.c */
double auc(const float *s, const uint8_t *y, size_t n);
int run_evaluate(const struct qt_opts *opt);

#endif
