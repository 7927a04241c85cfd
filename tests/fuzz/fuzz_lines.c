/* fuzz_lines.c: libFuzzer target — arbitrary bytes (plain or gzip) through the line reader, then each line to the dead letters. */
#include <stdint.h>
#include <stdlib.h>

#include "deadletter.h"
#include "diag.h"
#include "fuzz.h"
#include "lineio.h"
#include "stats.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	struct line_reader *r;
	struct deadletter *d;
	struct stats *st;
	struct line ln;
	char *specs[1];

	if (path == NULL)
		return 0;
	diag_verbosity = 0;
	specs[0] = (char *)path;
	st = stats_new("fuzz", NULL, NULL, 10);
	d = deadletter_open("/dev/null", NULL, st);
	r = line_reader_open(specs, 1, NULL, 100);	/* a small limit exercises the too-long path */
	while (line_reader_next(r, &ln) == 1)
		deadletter_put(d, &ln, "fuzz");
	line_reader_close(r);
	deadletter_close(d);
	stats_free(st);
	return 0;
}
