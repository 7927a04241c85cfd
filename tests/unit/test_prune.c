/* test_prune.c: --keep never prunes the promoted version, nor anything while the record cannot be read. */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "model.h"
#include "promote.h"

static char root[256];
static char err[512];

/* Makes versions 1..n as empty directories (pruning looks at names only). */
static void
make_versions(unsigned n)
{
	char path[300];
	unsigned v;

	for (v = 1; v <= n; v++) {
		snprintf(path, sizeof path, "%s/%010u", root, v);
		mkdir(path, 0755);
	}
}

static int
has(unsigned v)
{
	char path[300];
	struct stat sb;

	snprintf(path, sizeof path, "%s/%010u", root, v);
	return stat(path, &sb) == 0;
}

static void
put(const char *text)
{
	char path[300];
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s", root, PROMOTE_FILE);
	fp = fopen(path, "w");
	fputs(text, fp);
	fclose(fp);
}

int
main(void)
{
	char cmd[300];

	snprintf(root, sizeof root, "%s/test_prune.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	CHECK(mkdtemp(root) != NULL, "see the store");

	/* without a record: the newest two stay */
	make_versions(5);
	CHECK(model_prune(root, 2, err, sizeof err) == 0, "%s", err);
	CHECK(!has(1) && !has(2) && !has(3) && has(4) && has(5), "see the store");

	/* the promoted version 2 stays beside the newest two */
	make_versions(5);
	put("{\"version\":2,\"examined\":5}");
	CHECK(model_prune(root, 2, err, sizeof err) == 0, "%s", err);
	CHECK(!has(1) && has(2) && !has(3) && has(4) && has(5), "see the store");

	/* a record that cannot be read: nothing is pruned, since it may name any version */
	make_versions(5);
	put("{\"version\":");
	CHECK(model_prune(root, 2, err, sizeof err) == 0, "%s", err);
	CHECK(has(1) && has(2) && has(3) && has(4) && has(5), "see the store");

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	CHECK(system(cmd) == 0, "see the store");
	return check_done();
}
