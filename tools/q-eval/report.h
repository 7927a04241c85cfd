/* report.h: q-eval's output — one JSON line per policy and estimator, or per compared pair, and the same as a table for people. */
#ifndef REPORT_H
#define REPORT_H
#include <stddef.h>
#include <stdint.h>

#include "est.h"
#include "jbuf.h"

/* One result. */
struct qe_row {
	const char *policy;		/* the policy, or NULL for a compared pair */
	const char *a, *b;		/* a compared pair: the difference a − b */
	enum qe_est e;
	double est, lo, hi, se;		/* NAN when unavailable; lo, hi, se NAN without a bootstrap */
	double units, sessions;
	int has_w;			/* the weight diagnostics below apply */
	double ess, max_w, nclipped, clipped_share;
	uint64_t refused, dm_only;
	const char *reason;		/* why est is NAN */
};

/* The row as one JSON object (no newline) appended to b. */
void qe_report_json(struct jbuf *b, const struct qe_row *r);
/* The table's heading and the row as a line of it (no newline), appended to b. */
void qe_report_heading(struct jbuf *b);
void qe_report_text(struct jbuf *b, const struct qe_row *r);

#endif
