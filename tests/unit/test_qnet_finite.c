/* test_qnet_finite.c: qnet_nonfinite counts the parameters a version must not be published with. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "qnet.h"

int
main(void)
{
	struct qnet_dims dm;
	struct qnet *net;
	size_t lo, hi;

	qnet_dims_default(&dm, 2, 2);
	net = qnet_new(&dm);
	qnet_init(net, 7);
	CHECK(qnet_nonfinite(net) == 0, "a fresh network is finite");
	net->p[0] = NAN;
	CHECK(qnet_nonfinite(net) == 1, "one NaN: %zu", qnet_nonfinite(net));
	net->p[net->nparam - 1] = INFINITY;
	qnet_range(net, QNET_RANGE_HEADS, &lo, &hi);
	net->p[lo] = -INFINITY;
	CHECK(qnet_nonfinite(net) == 3, "NaN, +inf and -inf, first and last: %zu", qnet_nonfinite(net));
	net->p[0] = 3e38f;
	CHECK(qnet_nonfinite(net) == 2, "a large finite value counts as finite: %zu", qnet_nonfinite(net));
	qnet_free(net);
	return check_done();
}
