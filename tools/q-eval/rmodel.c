/* rmodel.c: the logs' reward model — smoothed per item and position — and the popularity it implies. */
#include <stdlib.h>
#include <string.h>

#include "rmodel.h"
#include "xalloc.h"

#define MAX_CELLS (1u << 23)	/* 64 MiB of cells at most */

/* Sums N and R per position and per item (and per cell when it has one). */
static void
count(const struct qe_log *log, struct qe_rmodel *rm, double *Nj, double *Rj, double *Na, double *Ra,
    double *Nc, double *Rc)
{
	const struct qe_item *it;
	size_t i;

	for (i = 0; i < log->nit; i++) {
		it = &log->it[i];
		Nj[it->pos]++;
		Rj[it->pos] += it->r;
		Na[it->item]++;
		Ra[it->item] += it->r;
		if (it->pos < rm->cellpos) {
			Nc[(size_t)it->item * rm->cellpos + it->pos]++;
			Rc[(size_t)it->item * rm->cellpos + it->pos] += it->r;
		}
	}
}

struct qe_rmodel *
qe_rmodel_fit(const struct qe_log *log, double m)
{
	struct qe_rmodel *rm = xcalloc(1, sizeof *rm);
	double *Nj, *Rj, *Na, *Ra, *Ea, *Nc, *Rc, N = 0, R = 0;
	size_t a, j, c;

	rm->m = m;
	rm->nitems = qe_ids_count(log->items);
	rm->npos = log->nit ? (size_t)log->max_pos + 1 : 0;
	rm->cellpos = rm->npos;
	if (rm->nitems > 0 && rm->nitems * rm->cellpos > MAX_CELLS)
		rm->cellpos = MAX_CELLS / rm->nitems;
	Nj = xcalloc(rm->npos + 1, sizeof *Nj);
	Rj = xcalloc(rm->npos + 1, sizeof *Rj);
	Na = xcalloc(rm->nitems + 1, sizeof *Na);
	Ra = xcalloc(rm->nitems + 1, sizeof *Ra);
	Ea = xcalloc(rm->nitems + 1, sizeof *Ea);
	Nc = xcalloc(rm->nitems * rm->cellpos + 1, sizeof *Nc);
	Rc = xcalloc(rm->nitems * rm->cellpos + 1, sizeof *Rc);
	count(log, rm, Nj, Rj, Na, Ra, Nc, Rc);
	for (j = 0; j < rm->npos; j++) {
		N += Nj[j];
		R += Rj[j];
	}
	rm->rbar = N > 0 ? R / N : 0;
	rm->rbar_pos = xmalloc((rm->npos + 1) * sizeof *rm->rbar_pos);
	for (j = 0; j < rm->npos; j++)
		rm->rbar_pos[j] = (Rj[j] + m * rm->rbar) / (Nj[j] + m);
	for (c = 0; c < log->nit; c++)
		Ea[log->it[c].item] += rm->rbar_pos[log->it[c].pos];
	rm->f = xmalloc((rm->nitems + 1) * sizeof *rm->f);
	for (a = 0; a < rm->nitems; a++)
		rm->f[a] = rm->rbar > 0 ? (Ra[a] + m * rm->rbar) / (Ea[a] + m * rm->rbar) : 1;
	rm->cell = xmalloc((rm->nitems * rm->cellpos + 1) * sizeof *rm->cell);
	for (a = 0; a < rm->nitems; a++)
		for (j = 0; j < rm->cellpos; j++) {
			c = a * rm->cellpos + j;
			rm->cell[c] = (Rc[c] + m * rm->rbar_pos[j] * rm->f[a]) / (Nc[c] + m);
		}
	free(Nj);
	free(Rj);
	free(Na);
	free(Ra);
	free(Ea);
	free(Nc);
	free(Rc);
	return rm;
}

void
qe_rmodel_free(struct qe_rmodel *rm)
{
	if (rm == NULL)
		return;
	free(rm->rbar_pos);
	free(rm->f);
	free(rm->cell);
	free(rm);
}

void
qe_rmodel_popularity(const struct qe_rmodel *rm, const struct qe_log *from, const struct qe_log *log, double *pop)
{
	size_t i, n = qe_ids_count(log->items);
	const char *name;
	uint32_t k;

	for (i = 0; i < n; i++) {
		if (from == log)
			k = (uint32_t)i;
		else {
			name = qe_ids_name(log->items, (uint32_t)i);
			k = qe_ids_find(from->items, name, strlen(name));
		}
		pop[i] = k != QE_NOID && k < rm->nitems ? rm->f[k] : 1;
	}
}
