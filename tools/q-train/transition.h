/* transition.h: q-train's transition reader — transitions in memory (a dataset of pools) and the JSON line reader that fills them. */
#ifndef QTRAIN_TRANSITION_H
#define QTRAIN_TRANSITION_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define MAX_HIST	10000	/* ids in a transition's hist */
#define MAX_ITEMS	10000	/* items in action or next_action */
#define NO_NEXT		UINT32_MAX
/*
 * The largest |x| of a context or feature value: beyond it the network's
 * sums overflow a float (one item feature of 3e38 made every parameter NaN).
 * Scale such values (log of a price or a count) before they get here. The
 * default of --max-feature.
 */
#define MAX_FEATURE	1e6
#define MAX_POS		64	/* positions with their own bias while pretraining */

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
	double max_feature;	/* the largest |x| of a context or feature value accepted (0: MAX_FEATURE) */
	double w_click, w_pay;	/* an item's reward: w_click·click + w_pay·pay */
	uint64_t seed;		/* of the hash of mdp_id that splits off the held-out pages */
	char *err;
	size_t errlen;
};

/* The item ids seen offline: each id a vocabulary number (its rows unused), with a count. */
struct vocab {
	struct emb *dict;	/* id -> vocabulary id (rows unused) */
	uint32_t *count;
	size_t cap;
};

/*
 * Reads one transition line into pc->ds. 0, or -1 with the reason in pc->err;
 * a refused line leaves the dataset as it was.
 */
int parse_transition(struct parse_ctx *pc, const char *buf, size_t len);
/* Frees the pools of ds and empties it. */
void dataset_free(struct dataset *ds);
/* An idmap_fn: the id's number in the vocabulary arg (a struct vocab), added when new. */
uint32_t vocab_map(void *arg, const char *id, size_t len);
/* An idmap_fn: the id's row in the frozen table arg (a struct emb), 0 (the unknown row) when absent. */
uint32_t model_map(void *arg, const char *id, size_t len);

#endif
