/* report.c: q-eval's results as JSON lines and as a table. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report.h"

/* A number, or null when it is not finite. */
static void
num_or_null(struct jbuf *b, const char *key, double v)
{
	jbuf_key(b, key);
	if (isfinite(v))
		jbuf_num7(b, v);
	else
		jbuf_lit(b, "null");
}

void
qe_report_json(struct jbuf *b, const struct qe_row *r)
{
	jbuf_lit(b, "{");
	if (r->policy != NULL) {
		jbuf_key(b, "policy");
		jbuf_strz(b, r->policy);
	} else {
		jbuf_key(b, "compare");
		jbuf_lit(b, "[");
		jbuf_strz(b, r->a);
		jbuf_lit(b, ",");
		jbuf_strz(b, r->b);
		jbuf_lit(b, "]");
	}
	jbuf_lit(b, ",");
	jbuf_key(b, "estimator");
	jbuf_strz(b, qe_est_name(r->e));
	jbuf_lit(b, ",");
	jbuf_key(b, "level");
	jbuf_strz(b, qe_est_level(r->e));
	jbuf_lit(b, ",");
	num_or_null(b, r->policy != NULL ? "estimate" : "difference", r->est);
	jbuf_lit(b, ",");
	num_or_null(b, "ci_low", r->lo);
	jbuf_lit(b, ",");
	num_or_null(b, "ci_high", r->hi);
	jbuf_lit(b, ",");
	num_or_null(b, "se", r->se);
	if (r->has_w) {
		jbuf_lit(b, ",");
		num_or_null(b, "ess", r->ess);
		jbuf_lit(b, ",");
		num_or_null(b, "max_weight", r->max_w);
		jbuf_printf(b, ",\"clipped\":%.0f,", r->nclipped);
		num_or_null(b, "clipped_share", r->clipped_share);
	}
	jbuf_printf(b, ",\"units\":%.0f,\"sessions\":%.0f", r->units, r->sessions);
	if (r->policy != NULL)
		jbuf_printf(b, ",\"refused\":%llu,\"dm_only\":%llu", (unsigned long long)r->refused,
		    (unsigned long long)r->dm_only);
	if (!isfinite(r->est) && r->reason != NULL) {
		jbuf_lit(b, ",");
		jbuf_key(b, "reason");
		jbuf_strz(b, r->reason);
	}
	jbuf_lit(b, "}");
}

void
qe_report_heading(struct jbuf *b)
{
	jbuf_printf(b, "%-24s %-10s %-8s %11s  %-25s %9s %9s %8s", "policy", "estimator", "level", "estimate",
	    "95% interval", "ESS", "max w", "units");
}

static void
cell(struct jbuf *b, const char *fmt, double v, int width)
{
	if (isfinite(v))
		jbuf_printf(b, fmt, width, v);
	else
		jbuf_printf(b, "%*s", width, "-");
}

void
qe_report_text(struct jbuf *b, const struct qe_row *r)
{
	char name[256], iv[64];

	if (r->policy != NULL)
		snprintf(name, sizeof name, "%s", r->policy);
	else
		snprintf(name, sizeof name, "%s - %s", r->a, r->b);
	jbuf_printf(b, "%-24s %-10s %-8s ", name, qe_est_name(r->e), qe_est_level(r->e));
	cell(b, "%*.5g", r->est, 11);
	if (isfinite(r->lo) && isfinite(r->hi))
		snprintf(iv, sizeof iv, "[%.5g, %.5g]", r->lo, r->hi);
	else
		snprintf(iv, sizeof iv, "-");
	jbuf_printf(b, "  %-25s ", iv);
	cell(b, "%*.1f", r->has_w ? r->ess : NAN, 9);
	jbuf_lit(b, " ");
	cell(b, "%*.4g", r->has_w ? r->max_w : NAN, 9);
	jbuf_printf(b, " %8.0f", r->units);
	if (!isfinite(r->est) && r->reason != NULL)
		jbuf_printf(b, "  (%s)", r->reason);
}
