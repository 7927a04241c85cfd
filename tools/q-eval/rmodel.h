/* rmodel.h: the reward model fitted on the logs — each item's smoothed reward at each position — and the items' popularity. */
#ifndef RMODEL_H
#define RMODEL_H
#include <stddef.h>
#include <stdint.h>

#include "log.h"

/*
 * With N(a,j) shows of item a at position j earning R(a,j) in all:
 *   rbar    = ΣR / ΣN, the mean reward of a shown item;
 *   rbar_j  = (R_j + m·rbar) / (N_j + m), the position's mean (R_j, N_j summed over items);
 *   f_a     = (R_a + m·rbar) / (E_a + m·rbar), E_a = Σ_j N(a,j)·rbar_j: the item's reward over what
 *             an average item earns at the positions it was shown (1 when unknown or rbar <= 0);
 *   r(a,j)  = (R(a,j) + m·rbar_j·f_a) / (N(a,j) + m).
 * m is the prior strength in pseudo-shows. Cells past a bound on memory
 * (positions from cellpos on) keep the prior rbar_j·f_a alone.
 */
struct qe_rmodel {
	double m;
	double rbar;
	size_t nitems;		/* items covered (later numbers: f = 1) */
	size_t npos;		/* positions with a mean (later: rbar) */
	size_t cellpos;		/* positions with cells: 0 .. cellpos − 1 */
	double *rbar_pos;	/* npos */
	double *f;		/* nitems */
	double *cell;		/* nitems × cellpos: r(a,j) */
};

/* Fits the model on every item of the log's pages (with or without propensities). Never NULL. */
struct qe_rmodel *qe_rmodel_fit(const struct qe_log *log, double m);
/* NULL is a no-op. */
void qe_rmodel_free(struct qe_rmodel *rm);

/* The model's reward of item at pos. */
static inline double
qe_rmodel_r(const struct qe_rmodel *rm, uint32_t item, uint32_t pos)
{
	double rj = pos < rm->npos ? rm->rbar_pos[pos] : rm->rbar;

	if (item >= rm->nitems)
		return rj;
	if (pos < rm->cellpos)
		return rm->cell[(size_t)item * rm->cellpos + pos];
	return rj * rm->f[item];
}

/*
 * The popularity of each item of log into pop (as many as log->items
 * holds): its factor f under model (fitted on log or on other logs, whose
 * item numbers from is read through): items the model never saw get 1.
 */
void qe_rmodel_popularity(const struct qe_rmodel *rm, const struct qe_log *from, const struct qe_log *log,
    double *pop);

#endif
