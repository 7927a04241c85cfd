/* gate.h: the publish gate — a store's new versions promoted only when estimated no worse than the promoted one. */
#ifndef GATE_H
#define GATE_H
#include <stddef.h>
#include <stdint.h>

#include "est.h"
#include "eval.h"
#include "log.h"
#include "toolio.h"

struct qe_gate_opts {
	const char *store;		/* the model store */
	double margin;			/* promote when the difference's lower bound is above −margin */
	int margin_share;		/* margin is a share of the promoted version's estimate */
	double max_loss_ratio;		/* refuse a manifest's held-out loss above its parent's times this (0: not checked) */
	enum qe_est est;		/* the estimator that decides */
	const char *explore;		/* the exploration the versions serve under */
	size_t bootstrap;		/* replicates of the interval */
	uint64_t seed;
	double gamma, smooth;
	size_t mc_draws;
	struct qe_eval_opts eval;
};

/*
 * Decides on every version of the store newer than the one its record last
 * examined, each against the version promoted at that time, on the logged
 * pages of log (finished; G and nG its continuation): writes the record
 * after each decision and one JSON line per decision to io's output, and
 * counts them in io's stats. 0, or -1 after a diagnostic when the store or
 * its record cannot be read or written or the promoted version cannot be
 * loaded.
 */
int qe_gate_run(struct tool_io *io, const struct qe_gate_opts *g, struct qe_log *log, const double *G, size_t nG);

#endif
