/* policy.h: target policies — what each would do on a logged page, as probabilities over the page's candidates. */
#ifndef POLICY_H
#define POLICY_H
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "rank.h"

/*
 * A target policy is judged page by page. For a logged page q-eval hands it
 * a view — the logged items in position order, the candidates it could have
 * chosen from (the page's request, the fixed action set, or the policy's
 * own action set), and where each logged item is among them — and the
 * policy fills, for each logged item j at position pos_j, rows over the
 * candidates:
 *
 *   cond  row j: P(candidate at pos_j | the logged items at 0 .. pos_j − 1),
 *         which the item-position and cascade estimators and the per-page
 *         ratio of the session estimators need. Only asked for when the
 *         logged positions are 0 .. n − 1.
 *   marg  row j: P(candidate at pos_j), the position marginal, which IIPS,
 *         the pseudo-inverse estimator and the direct part of the page and
 *         session estimators need.
 *   qhat  row j: the policy's own expected reward of candidate at pos_j
 *         (optional: without it the direct method uses the reward model
 *         fitted on the logs).
 *
 * A new kind (a model version served with an exploration setting) is one
 * more set of ops: it scores the candidates from the page's request
 * (history, context, features) and fills the rows from its ranking.
 */

/* What a policy is shown of one logged page. */
struct qe_view {
	const struct qe_log *log;
	const struct qe_page *page;
	const struct qe_item *items;	/* the page's logged items in position order: page->n of them */
	const uint32_t *cand;		/* the candidates (item numbers); NULL with ncand 0 when unknown */
	size_t ncand;
	const uint32_t *lidx;		/* each logged item's index in cand, QE_NOID when it is not one */
	size_t depth;			/* the last logged position + 1 */
	int contiguous;			/* the logged positions are 0 .. page->n − 1 */
	int need;			/* QE_NEED_* */
	uint64_t seed;			/* for draws on this page: the same for every policy */
};

#define QE_NEED_COND	0x1
#define QE_NEED_MARG	0x2

/* What the policy says: rows of ncand doubles, page->n rows each, allocated by the caller. */
struct qe_dist {
	double *cond;		/* filled when asked and the policy knows it; else set to NULL */
	double *marg;		/* likewise */
	double *qhat;		/* the policy's own expected rewards, or NULL */
	double *vq;		/* the policy's own values (returns from the page on) of each candidate at each slot,
				   whose sum over a page is the page's value, or NULL: the session estimators' direct part */
	int logged;		/* the logging policy itself: every ratio is 1 and its direct part is the logged page's */
};

/* Results of judging a page. */
enum qe_verdict {
	QE_JUDGED = 0,
	QE_REFUSED_NO_CANDIDATES,	/* it needs the page's candidates, which are unknown */
	QE_REFUSED_POSITION,		/* the page has a position the policy does not fill */
	QE_REFUSED_REQUEST		/* the page has no request, or one the policy's model cannot score */
};

struct qe_policy;

struct qe_policy_ops {
	/* Fills d for the page (the rows asked for in v->need); a verdict. */
	enum qe_verdict (*judge)(struct qe_policy *p, const struct qe_view *v, struct qe_dist *d);
	/* Frees what the kind allocated in p->state. */
	void (*free)(struct qe_policy *p);
};

struct qe_policy {
	const struct qe_policy_ops *ops;
	char *name;			/* the spec it was made from */
	const uint32_t *own;		/* its own fixed action set (a table's items), or NULL: the page's candidates */
	size_t nown;
	void *state;
};

/* What the kinds are made from besides their spec. */
struct qe_policy_env {
	struct qe_log *log;		/* the logs (finished; a table adds its items to log->items) */
	const double *popularity;	/* the popular kind's scores by item number (npopularity of them) */
	size_t npopularity;
	size_t mc_draws;		/* draws for the marginals of a random ranking */
	uint32_t version;		/* model: the version (0: the newest) */
	const char *explore;		/* model: the exploration it serves under */
};

/*
 * Makes the policy of spec: "random", "popular[:EXPLORE]" (EXPLORE as
 * q-score's --explore, greedy by default), "logged", "table:FILE" or
 * "thompson:FILE". NULL with the reason in err (a bad spec, an unreadable
 * or inconsistent file).
 */
struct qe_policy *qe_policy_new(const char *spec, const struct qe_policy_env *env, char *err, size_t errlen);
/* NULL is a no-op. */
void qe_policy_free(struct qe_policy *p);

/* ---- version.c: a model version, as q-score serves it ---- */

/*
 * The model kind: version (0: the newest) of the model in dir, ranking under
 * explore (as q-score's --explore), marginals from draws lists. Fills p. 0,
 * or -1 with the reason.
 */
int qe_version_load(struct qe_policy *p, const char *dir, uint32_t version, const char *explore, size_t draws,
    char *err, size_t errlen);
/*
 * A model policy's Q of request req's n candidates into q (and the state's
 * value V into *v when v is not NULL), by q-score's forward pass: 0, or -1
 * when the request was not kept or does not fit the model.
 */
int qe_version_score(struct qe_policy *p, const struct qe_log *log, uint32_t req, float *q, size_t n, float *v);

/* ---- table.c: a fixed action set's per-position distributions, optionally by time window ---- */

/*
 * The table kind from FILE (lines {"item_id","pos","prob"[,"from"]}) or,
 * thompson, the table of Bernoulli Thompson sampling from a Beta prior per
 * item (lines {"item_id","alpha","beta"}) over positions 0 .. k − 1, computed
 * by numerical integration. Both fill p (own action set and state). 0, or
 * -1 with the reason.
 */
int qe_table_load(struct qe_policy *p, const char *path, struct qe_ids *items, char *err, size_t errlen);
int qe_thompson_load(struct qe_policy *p, const char *path, size_t k, struct qe_ids *items, char *err,
    size_t errlen);

/*
 * The probability that each of n Bernoulli arms with Beta(alpha[i], beta[i])
 * posteriors has the r-th largest draw, r < k, into out[r * n + i]: exact up
 * to the integration error (below 1e-9 for the grids used). 0, or -1 when
 * the parameters are out of range.
 */
int qe_thompson_table(const double *alpha, const double *beta, size_t n, size_t k, double *out);

#endif
