/* reader.h: q-eval's input records — logged transitions and samples, score requests, action sets, policy tables and priors — from JSON lines into plain structs. */
#ifndef READER_H
#define READER_H
#include <stddef.h>
#include <stdint.h>

/*
 * Every string and array a read returns is owned by the reader and valid
 * until its next read. The readers return 0, or -1 with a reason in err; a
 * logged record returns QE_READ_BADPROP when its only fault is a propensity
 * outside (0, 1] (counted apart from malformed lines).
 */

#define QE_MAX_ITEMS	1000	/* items of one page */
#define QE_MAX_POS	1000	/* positions 0 .. QE_MAX_POS - 1 */
#define QE_READ_BADPROP	(-2)

/* An id: NUL-terminated, len bytes. */
struct qe_str {
	const char *p;
	size_t len;
};

/* One shown item of a logged page. */
struct qe_ritem {
	struct qe_str item;
	uint32_t pos;
	double prop;		/* NAN when the record has none */
	int click, pay;
};

enum qe_rkind { QE_REC_TRANSITION, QE_REC_SAMPLE };

/* A logged record: a transition (a page) or a sample (one shown item). */
struct qe_record {
	enum qe_rkind kind;
	struct qe_str session;	/* transitions: mdp_id; samples: user_id "/" session_id, or user_id */
	struct qe_str request;	/* request_id; len 0 when a transition has none */
	int64_t order;		/* within the session: a transition's seq, a sample's page */
	int64_t ts;		/* ms since the epoch; INT64_MIN when absent */
	struct qe_ritem *items;	/* a transition's action (in its order), a sample's one item */
	size_t nitems;
};

/*
 * A score request: the candidates a policy could have chosen from, and
 * what a model scores them by — the session's clicked items, the context
 * and each candidate's features, as q-score reads them.
 */
struct qe_rrequest {
	struct qe_str request;
	struct qe_str *cands;
	size_t ncands;
	struct qe_str *hist;	/* "hist", oldest first (none: 0) */
	size_t nhist;
	const float *ctx;	/* "context", NULL when absent */
	size_t nctx;
	const float *const *feat;	/* each candidate's "features", NULL when it has none */
	const size_t *nfeat;
	const struct qe_rtarget *targets;	/* "targets": what other policies chose on this page */
	size_t ntargets;
};

/*
 * A policy's recorded choices on a page: at each shown position the item it
 * would place given the items shown above ("cond"), and its own page ("list").
 */
struct qe_rtarget {
	struct qe_str name;
	struct qe_str *cond, *list;
	size_t ncond, nlist;
};

/* A row of a policy table: the probability of item at pos from ts from on. */
struct qe_rtable {
	struct qe_str item;
	uint32_t pos;
	double prob;
	int64_t from;		/* INT64_MIN when absent */
};

/* A row of a Thompson-sampling prior: Beta(alpha, beta) for an item. */
struct qe_rprior {
	struct qe_str item;
	double alpha, beta;
};

struct qe_reader;

/* Never NULL. */
struct qe_reader *qe_reader_new(void);
/* NULL is a no-op. */
void qe_reader_free(struct qe_reader *r);

/* A transition or a sample (told apart by "action"). */
int qe_read_record(struct qe_reader *r, const char *buf, size_t len, struct qe_record *rec, char *err,
    size_t errlen);
int qe_read_request(struct qe_reader *r, const char *buf, size_t len, struct qe_rrequest *rq, char *err,
    size_t errlen);
/* An action set's line: {"item_id":…}; other fields are ignored. */
int qe_read_item(struct qe_reader *r, const char *buf, size_t len, struct qe_str *item, char *err, size_t errlen);
int qe_read_table(struct qe_reader *r, const char *buf, size_t len, struct qe_rtable *row, char *err,
    size_t errlen);
int qe_read_prior(struct qe_reader *r, const char *buf, size_t len, struct qe_rprior *row, char *err,
    size_t errlen);

#endif
