/* aux_qtrain.c: q-train's transition reader for other fuzz targets, linked through its header. */
/* fuzz-sources: tools/q-train/transition.c */
#include <stddef.h>

#include "model.h"
#include "../../tools/q-train/transition.h"

int fuzz_qtrain_accepts(const char *buf, size_t len, char *err, size_t errlen);

/* 1 when q-train reads the line as a transition (into a dataset of its own); else 0 with the reason. */
int
fuzz_qtrain_accepts(const char *buf, size_t len, char *err, size_t errlen)
{
	struct dataset ds = { 0 };
	struct vocab v = { 0 };
	struct parse_ctx pc = { .ds = &ds, .map = vocab_map, .arg = &v, .err = err, .errlen = errlen };
	int rc;

	v.dict = emb_new(1);
	rc = parse_transition(&pc, buf, len);
	dataset_free(&ds);
	emb_free(v.dict);
	free(v.count);
	return rc == 0;
}
