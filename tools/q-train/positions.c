/* positions.c: the Kafka input positions q-train has learned through. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "diag.h"
#include "hash.h"
#include "jsonx.h"
#include "model.h"
#include "qnet.h"
#include "sig.h"
#include "stats.h"
#include "toolio.h"
#include "xalloc.h"
#include "qtrain.h"

/* Notes that every record of topic/partition before next was learned (or rejected). */
void
positions_note(struct positions *ps, const char *topic, int32_t partition, int64_t next)
{
	size_t i;
	for (i = 0; i < ps->n; i++)
		if (ps->p[i].partition == partition && strcmp(ps->p[i].topic, topic) == 0)
			break;
	if (i == ps->n) {
		ps->p = xreallocarray(ps->p, ps->n + 1, sizeof *ps->p);
		ps->p[ps->n++] = (struct model_input_pos){ .topic = xstrdup(topic), .partition = partition };
	}
	ps->p[i].offset = next;
}

void
positions_free(struct positions *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		free((char *)ps->p[i].topic);
	free(ps->p);
	ps->p = NULL;
	ps->n = 0;
}

/* A deep copy of src into dst (which holds none). */
void
positions_copy(struct positions *dst, const struct positions *src)
{
	dst->n = 0;
	dst->p = src->n ? xreallocarray(NULL, src->n, sizeof *dst->p) : NULL;
	for (size_t i = 0; i < src->n; i++) {
		dst->p[i] = src->p[i];
		dst->p[i].topic = xstrdup(src->p[i].topic);
		dst->n++;
	}
}
