/* score.h: a model's Q of a request's candidates — the forward pass q-score serves with, shared so that what judges a model offline scores exactly as q-score does. */
#ifndef SCORE_H
#define SCORE_H
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "qnet.h"

/* A request as the forward pass reads it. Every pointer is borrowed for the call. */
struct score_req {
	const char *const *hist;	/* the items the user clicked in the session, oldest first (ids, hlen bytes) */
	const size_t *hlen;
	size_t nhist;			/* at most the model's L: the caller keeps the last L */
	const float *ctx;		/* the model's C numbers; NULL when C is 0 */
	const char *const *cand;	/* the candidates' ids, clen bytes each */
	const size_t *clen;
	const float *const *feat;	/* each candidate's X features, or NULL when it has none */
	size_t ncand;
};

/* What a scoring met, for the caller's counters. */
struct score_counts {
	uint64_t unknown_items;		/* candidates scored with the unknown row */
	uint64_t feature_rows;		/* candidates the table lacks, scored with the row of their features */
	uint64_t unknown_hist;		/* history items not in the embeddings */
};

/* A thread's scratch, reused from call to call: zero-initialise, free with score_ws_free(). */
struct score_ws {
	struct qnet_ws *ws;		/* the network's, for ws_dims */
	struct qnet_dims ws_dims;
	size_t cap;			/* candidates the arrays below hold */
	const float **erow;		/* candidate embedding rows */
	int64_t *cfound;		/* the rows the batched lookup found (-1: unknown) */
	float *frow;			/* rows built from candidates' features (a model with feature rows) */
	size_t frcap;			/* floats frow holds */
	size_t hrcap;
	const float **hrow;		/* history rows */
	int64_t *hfound;
};
void score_ws_free(struct score_ws *sw);

/*
 * Q of each of rq's candidates under model m into q[0 .. ncand): the
 * history's rows (an unknown item gets the unknown row), the state, then
 * each candidate's Q from its row — the table's, else one built from its
 * features when the model's rows are feature rows, else the unknown row.
 * The context and features must have the model's sizes (the caller checks).
 * Returns 0; or -1 with the reason in err when the model gives a non-finite
 * score. *c is filled either way.
 */
int score_q(struct score_ws *sw, const struct model *m, const struct score_req *rq, float *q,
    struct score_counts *c, char *err, size_t errlen);

#endif
