/* fuzz_model.c: libFuzzer target — bytes as a network file, an embedding file and a manifest, through the model loaders. */
#include <stdint.h>
#include <stdlib.h>

#include "diag.h"
#include "fuzz.h"
#include "model.h"
#include "qnet.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	struct model_info info;
	struct model_input_pos *in;
	size_t nin;
	struct qnet *net;
	struct emb *e;
	char err[256];

	if (path == NULL)
		return 0;
	diag_verbosity = 0;
	if ((net = model_net_load(path, NULL, err, sizeof err)) != NULL)
		qnet_free(net);
	if ((e = emb_load(path, 0, err, sizeof err)) != NULL) {
		uint32_t r, n = emb_rows(e);
		size_t len;
		for (r = 1; r < n; r++) {	/* row 0 is the unknown row, found by no id */
			const char *id = emb_id(e, r, &len);
			if (emb_find(e, id, len) != (int64_t)r)
				abort();	/* the index must find every row it lists */
		}
		emb_free(e);
	}
	model_info_read(path, &info, err, sizeof err);
	/* every loader reads the manifest's input positions too */
	if (model_input_read(path, &in, &nin, err, sizeof err) == 0)
		model_input_free(in, nin);
	return 0;
}
