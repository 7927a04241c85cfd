/* log.h: the logged pages q-eval evaluates, held in memory — shown items, pages, sessions, and the candidate sets of requests and of a fixed action set. */
#ifndef LOG_H
#define LOG_H
#include <stddef.h>
#include <stdint.h>

#include "ids.h"
#include "logging.h"
#include "reader.h"

/* One shown item. */
struct qe_item {
	uint32_t item;		/* its number in log->items */
	uint32_t pos;
	uint32_t page;		/* its page (an index in log->pages) */
	uint8_t click, pay;
	double prop;		/* NAN when not logged */
	double r;		/* its reward, w_click·click + w_pay·pay */
};

#define QE_PAGE_NOPROP	0x1	/* an item lacks its propensity: the page serves the direct method only */
#define QE_PAGE_DROPPED	0x2	/* rejected after it was read (its propensities): in no estimate */

/* One logged page, its items in position order. */
struct qe_page {
	uint32_t session;	/* an index in log->sessions */
	uint32_t t;		/* its place in the session: 0, 1, ... (discounted by gamma^t) */
	int64_t order;		/* a transition's seq, a sample's page */
	int64_t ts;		/* INT64_MIN when unknown */
	size_t first;		/* items[first .. first + n) */
	uint32_t n;
	uint32_t req;		/* its request in the request store, QE_NOID when none */
	uint32_t flags;
	size_t ncand;		/* the candidates it was logged from: known or implied by its propensities, 0 unknown */
	char *source;		/* samples: where its first line came from (for a dead letter) */
};

/* One session (an episode): its pages, in order. */
struct qe_session {
	uint32_t first, n;	/* pages[first .. first + n) */
};

/* The requests' candidate sets. */
struct qe_requests {
	struct qe_ids *ids;	/* request_id -> its number */
	size_t *first;		/* request i's candidates: cand[first[i] .. first[i] + n[i]) */
	uint32_t *n;
	size_t cap;
	uint32_t *cand;		/* item numbers */
	size_t ncand, ccap;
	/* What a model scores them by, kept under qe_log_opts.request_state: */
	struct qe_reqstate_store *state;
};

/* A request's history, context and candidates' features, as a model's forward pass reads them (borrowed). */
struct qe_reqstate {
	const char **hist;	/* ids, oldest first */
	size_t *hlen;
	size_t nhist;
	const float *ctx;	/* NULL when the request had none */
	size_t nctx;
	const float **feat;	/* each candidate's, NULL when it had none */
	size_t *nfeat;
	size_t hcap, fcap;	/* what the arrays above hold (owned by the caller: free with qe_reqstate_free()) */
};
void qe_reqstate_free(struct qe_reqstate *st);

struct qe_log_opts {
	struct qe_logging logging;
	double w_click, w_pay;
	int request_state;	/* keep the requests' history, context and features (a model target scores them) */
};

struct qe_log {
	struct qe_log_opts opts;
	struct qe_ids *items;		/* item id -> number (logged, candidate, action-set and table items alike) */
	struct qe_ids *pagekeys;	/* page key -> page number (before qe_log_finish) */
	struct qe_ids *samplekeys;	/* request_id "\0" pos of samples read, to refuse a duplicate */
	struct qe_ids *sessionkeys;
	int kind;			/* QE_REC_* of the first record, -1 before it */
	struct qe_item *it;
	size_t nit, itcap;
	struct qe_page *pages;
	size_t npages, pcap;
	struct qe_session *sessions;
	size_t nsessions, scap;
	struct qe_requests req;
	uint32_t *aset;			/* the fixed action set (item numbers), or NULL */
	size_t naset;
	uint32_t max_pos;		/* the largest position logged */
	int finished;
	/* counts */
	uint64_t n_noprop_items, n_noprop_pages, n_no_request, n_dropped;
};

/* An empty log. Never NULL. */
struct qe_log *qe_log_new(const struct qe_log_opts *o);
/* NULL is a no-op. */
void qe_log_free(struct qe_log *log);

/*
 * Adds a request's candidate set. 0, or -1 with the reason (a repeated
 * request_id, a repeated candidate).
 */
int qe_log_add_request(struct qe_log *log, const struct qe_rrequest *rq, char *err, size_t errlen);
/* Adds an item of the fixed action set. 0, or -1 when it is there already. */
int qe_log_add_action(struct qe_log *log, const struct qe_str *item, char *err, size_t errlen);

/*
 * Adds a logged record. A transition is checked whole at once (positions,
 * propensities against the logging policy, candidates); a sample joins its
 * page, which is checked by qe_log_finish(). source is kept for samples.
 * 0, or -1 with the reason (the record is not taken), or QE_READ_BADPROP
 * when the reason is the propensities.
 */
int qe_log_add(struct qe_log *log, const struct qe_record *rec, const char *source, char *err, size_t errlen);

/*
 * A page that qe_log_finish() drops: its source, a JSON text of it and the
 * reason. Called once per dropped page.
 */
typedef void qe_log_drop_fn(void *arg, const char *source, const char *raw, size_t rawlen, const char *reason);

/*
 * Orders items by position within their page and pages within their
 * session, and checks the pages built from samples (calling drop for each
 * page refused). Call once, after the last qe_log_add().
 */
void qe_log_finish(struct qe_log *log, qe_log_drop_fn *drop, void *arg);

/*
 * Request req's history, context and candidates' features into st (its
 * arrays grown as needed): 0, or -1 when they were not kept.
 */
int qe_log_request_state(const struct qe_log *log, uint32_t req, struct qe_reqstate *st);
/*
 * What the policy named name chose on request req's page, as its request
 * recorded it ("targets"): at each shown position given the items shown
 * above (cond, *ncond items), and its own page (list, *nlist). 0, or -1 when
 * not recorded.
 */
int qe_log_request_target(const struct qe_log *log, uint32_t req, const char *name, const uint32_t **cond,
    size_t *ncond, const uint32_t **list, size_t *nlist);

/*
 * The candidates of page p: its request's, else the fixed action set; NULL
 * with *n 0 when it has neither.
 */
const uint32_t *qe_log_candidates(const struct qe_log *log, const struct qe_page *p, size_t *n);

#endif
