/* fuzz_json.c: libFuzzer target — a record line through jsonx's parser and every typed getter. */
/* fuzz-dict: records.dict */
#include <stdint.h>
#include <stdlib.h>

#include "diag.h"
#include "jsonx.h"

static const char *const keys[] = { "type", "ts", "request_id", "user_id", "item_id", "page", "pos",
	"context", "features", "propensity", "amount", "click", "pay", "k", "hist", "items" };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], id[257];
	const char *s;
	float f[64];
	int64_t i;
	double d;
	size_t n, k;
	int flag;
	json_t *j;

	diag_verbosity = 0;
	if ((j = jsonx_parse((const char *)data, size, err, sizeof err)) == NULL)
		return 0;
	for (k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		jsonx_get_id(j, keys[k], id, err, sizeof err);
		jsonx_get_str(j, keys[k], 64, &s, err, sizeof err);
		jsonx_get_int(j, keys[k], -1000, 1000, &i, err, sizeof err);
		jsonx_get_num(j, keys[k], -1e9, 1e9, &d, err, sizeof err);
		jsonx_get_floats(j, keys[k], 64, f, &n, err, sizeof err);
		jsonx_get_flag(j, keys[k], &flag, err, sizeof err);
		jsonx_get_ts(j, keys[k], &i, err, sizeof err);
	}
	free(jsonx_dump(j, NULL));
	json_decref(j);
	return 0;
}
