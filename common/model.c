/* model.c: the version store — the network file, manifests, versions, atomic publish, pruning, the validating loader. */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <linux/fs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "diag.h"
#include "model.h"
#include "promote.h"
#include "tfile.h"
#include "xalloc.h"

#define NET_DIMS 13	/* d, L, nkern, kw[4], F, C, X, H, target, reserved */

/* ---- The network file ---- */

/*
 * The first non-finite parameter of net: 0 with *tensor and *elem set, or
 * -1 when every parameter is finite.
 */
static int
net_nonfinite(const struct qnet *net, int *tensor, size_t *elem)
{
	size_t i, n;
	int k;

	for (k = 0; k < QNET_NTENSORS; k++) {
		n = qnet_tensor_size(&net->dm, k);
		for (i = 0; i < n; i++) {
			if (!isfinite(net->p[net->off[k] + i])) {
				*tensor = k;
				*elem = i;
				return 0;
			}
		}
	}
	return -1;
}

static void
shape_str(const uint32_t *shape, uint32_t rank, char *out, size_t n)
{
	size_t k = 0;
	uint32_t i;

	out[0] = 0;
	for (i = 0; i < rank && k < n; i++)
		k += snprintf(out + k, n - k, i ? "×%u" : "%u", shape[i]);
}

int
model_net_write(const struct qnet *net, const char *path, char *err, size_t errlen)
{
	struct tfile_tensor t[QNET_NTENSORS + 1];
	uint32_t dims[NET_DIMS] = {
		net->dm.d, net->dm.L, net->dm.nkern, net->dm.kw[0], net->dm.kw[1], net->dm.kw[2], net->dm.kw[3],
		net->dm.F, net->dm.C, net->dm.X, net->dm.H, net->target, 0
	};
	uint32_t n;
	int k;

	memset(t, 0, sizeof t);
	strcpy(t[0].name, "dims");
	t[0].dtype = TFILE_U32;
	t[0].rank = 1;
	t[0].shape[0] = NET_DIMS;
	t[0].data = dims;
	n = 1;
	for (k = 0; k < QNET_NTENSORS; k++) {
		if (qnet_tensor_size(&net->dm, k) == 0)
			continue;
		strcpy(t[n].name, qnet_tensor_name(k));
		t[n].dtype = TFILE_F32;
		t[n].rank = (uint32_t)qnet_tensor_shape(&net->dm, k, t[n].shape);
		t[n].data = net->p + net->off[k];
		n++;
	}
	return tfile_write(path, MODEL_NET_MAGIC, t, n, err, errlen);
}

/* The dims of tensor 'dims' (v) checked, and against want (may be NULL). 0, or -1 with err. */
static int
net_dims(const char *path, const uint32_t *v, const struct qnet_dims *want, struct qnet_dims *dm,
    char *err, size_t errlen)
{
	static const char *const names[] = { "d", "L", "nkern", "kw0", "kw1", "kw2", "kw3", "F", "C", "X", "H" };
	uint32_t w[11];
	char why[200];
	int i;

	*dm = (struct qnet_dims){ .d = v[0], .L = v[1], .nkern = v[2], .kw = { v[3], v[4], v[5], v[6] },
		.F = v[7], .C = v[8], .X = v[9], .H = v[10] };
	if (qnet_dims_check(dm, why, sizeof why) < 0) {
		tfile_errf(err, errlen, "%s: bad dims: %s", path, why);
		return -1;
	}
	if (v[11] > QNET_TARGET_SLATE) {
		tfile_errf(err, errlen, "%s: unknown target kind %u", path, v[11]);
		return -1;
	}
	if (!want)
		return 0;
	w[0] = want->d;
	w[1] = want->L;
	w[2] = want->nkern;
	for (i = 0; i < 4; i++)
		w[3 + i] = want->kw[i];
	w[7] = want->F;
	w[8] = want->C;
	w[9] = want->X;
	w[10] = want->H;
	for (i = 0; i < 11; i++) {
		if (w[i] != v[i]) {
			tfile_errf(err, errlen, "%s: wrong dims: %s is %u, want %u", path, names[i], v[i], w[i]);
			return -1;
		}
	}
	return 0;
}

struct qnet *
model_net_load(const char *path, const struct qnet_dims *want, char *err, size_t errlen)
{
	const struct tfile_tensor *td, *t;
	struct qnet *net = NULL;
	struct qnet_dims dm;
	struct tfile f;
	char got[64], exp[64];
	uint32_t sh[3];
	size_t elem;
	int k, rank;

	if (tfile_open(&f, path, MODEL_NET_MAGIC, "network", err, errlen) < 0)
		return NULL;
	td = tfile_get(&f, "dims", TFILE_U32, 1, err, errlen);
	if (!td)
		goto err;
	if (td->shape[0] != NET_DIMS) {
		tfile_errf(err, errlen, "%s: tensor 'dims': %u entries, want %d", path, td->shape[0], NET_DIMS);
		goto err;
	}
	if (net_dims(path, td->data, want, &dm, err, errlen) < 0)
		goto err;
	net = qnet_new(&dm);
	net->target = ((const uint32_t *)td->data)[11];
	for (k = 0; k < QNET_NTENSORS; k++) {
		rank = qnet_tensor_shape(&dm, k, sh);
		if (qnet_tensor_size(&dm, k) == 0)
			continue;
		t = tfile_get(&f, qnet_tensor_name(k), TFILE_F32, (uint32_t)rank, err, errlen);
		if (!t)
			goto err;
		if (memcmp(t->shape, sh, (size_t)rank * sizeof *sh) != 0) {
			shape_str(t->shape, t->rank, got, sizeof got);
			shape_str(sh, (uint32_t)rank, exp, sizeof exp);
			tfile_errf(err, errlen, "%s: tensor '%s': shape %s, want %s", path, t->name, got, exp);
			goto err;
		}
		memcpy(net->p + net->off[k], t->data, t->nbytes);
	}
	if (net_nonfinite(net, &k, &elem) == 0) {
		tfile_errf(err, errlen, "%s: tensor '%s': element %zu is not finite", path, qnet_tensor_name(k), elem);
		goto err;
	}
	tfile_close(&f);
	return net;
err:
	qnet_free(net);
	tfile_close(&f);
	return NULL;
}

/* ---- Versions ---- */

char *
model_version_dir(const char *modeldir, uint32_t version)
{
	return xasprintf("%s/%010u", modeldir, version);
}

/* A version directory name: exactly 10 digits, > 0. */
static int
parse_version(const char *name, uint32_t *v)
{
	uint64_t x = 0;
	int i;

	if (strlen(name) != 10)
		return 0;
	for (i = 0; i < 10; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		x = x * 10 + (uint64_t)(name[i] - '0');
	}
	if (x == 0 || x > UINT32_MAX)
		return 0;
	*v = (uint32_t)x;
	return 1;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int
model_versions(const char *modeldir, uint32_t **out, size_t *n, char *err, size_t errlen)
{
	struct dirent *de;
	size_t cap = 0;
	uint32_t v;
	DIR *dp;

	*out = NULL;
	*n = 0;
	dp = opendir(modeldir);
	if (!dp) {
		if (errno == ENOENT)
			return 0;
		tfile_errf(err, errlen, "%s: %s", modeldir, strerror(errno));
		return -1;
	}
	while ((de = readdir(dp))) {
		if (!parse_version(de->d_name, &v))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*out = xreallocarray(*out, cap, sizeof **out);
		}
		(*out)[(*n)++] = v;
	}
	closedir(dp);
	if (*n)
		qsort(*out, *n, sizeof **out, cmp_u32);
	return 0;
}

int
model_latest(const char *modeldir, uint32_t *version, char *err, size_t errlen)
{
	uint32_t *v;
	size_t n;

	if (model_versions(modeldir, &v, &n, err, errlen) < 0)
		return -1;
	if (n == 0)
		return 0;
	*version = v[n - 1];
	free(v);
	return 1;
}

/* ---- Manifests ---- */

static int
info_get_u64(json_t *o, const char *k, uint64_t *out)
{
	json_t *v = json_object_get(o, k);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int
info_get_num(json_t *o, const char *k, double *out)
{
	json_t *v = json_object_get(o, k);

	if (!v)
		return 0;
	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return 0;
}

static int
info_get_str(json_t *o, const char *k, char *out, size_t n)
{
	json_t *v = json_object_get(o, k);

	if (!v)
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) >= n)
		return -1;
	strcpy(out, json_string_value(v));
	return 0;
}

/* The manifest at path, parsed; NULL with the reason in err. */
static json_t *
manifest_load(const char *path, char *err, size_t errlen)
{
	json_error_t je;
	json_t *o;

	o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		tfile_errf(err, errlen, "%s: %s", path, je.text);
	return o;
}

/* The manifest's fields (o, read from path) into info. 0, or -1 with the reason in err. */
static int
info_parse(json_t *o, const char *path, struct model_info *info, char *err, size_t errlen)
{
	uint64_t fmt = 0, version = 0, parent = 0, created = 0;
	int bad;

	memset(info, 0, sizeof *info);
	bad = !json_is_object(o) ||
	    info_get_u64(o, "format", &fmt) < 0 || info_get_u64(o, "version", &version) < 0 ||
	    info_get_u64(o, "parent", &parent) < 0 || info_get_u64(o, "created_ms", &created) < 0 ||
	    info_get_str(o, "mode", info->mode, sizeof info->mode) < 0 ||
	    info_get_str(o, "target", info->target, sizeof info->target) < 0 ||
	    info_get_str(o, "rows", info->rows, sizeof info->rows) < 0 ||
	    info_get_num(o, "gamma", &info->gamma) < 0 || info_get_num(o, "w_click", &info->w_click) < 0 ||
	    info_get_num(o, "w_pay", &info->w_pay) < 0 ||
	    info_get_u64(o, "transitions", &info->transitions) < 0 || info_get_u64(o, "items", &info->items) < 0 ||
	    info_get_u64(o, "unknown", &info->unknown) < 0 || info_get_u64(o, "updates", &info->updates) < 0;
	if (bad) {
		tfile_errf(err, errlen, "%s: a field has the wrong type", path);
		return -1;
	}
	if (fmt != MODEL_FORMAT_VERSION) {
		tfile_errf(err, errlen, "%s: format %llu, this build reads %d", path, (unsigned long long)fmt,
		    MODEL_FORMAT_VERSION);
		return -1;
	}
	if (info->rows[0] == '\0')
		strcpy(info->rows, MODEL_ROWS_LEARNED);
	if (strcmp(info->rows, MODEL_ROWS_LEARNED) != 0 && strcmp(info->rows, MODEL_ROWS_FEATURES) != 0 &&
	    strcmp(info->rows, MODEL_ROWS_INIT_FEATURES) != 0 && strcmp(info->rows, MODEL_ROWS_INIT) != 0) {
		tfile_errf(err, errlen, "%s: rows \"%s\": want \"%s\", \"%s\", \"%s\" or \"%s\"", path, info->rows,
		    MODEL_ROWS_LEARNED, MODEL_ROWS_FEATURES, MODEL_ROWS_INIT_FEATURES, MODEL_ROWS_INIT);
		return -1;
	}
	if (version == 0 || version > UINT32_MAX || parent > UINT32_MAX) {
		tfile_errf(err, errlen, "%s: bad version", path);
		return -1;
	}
	info->version = (uint32_t)version;
	info->parent = (uint32_t)parent;
	info->created_ms = (int64_t)created;
	return 0;
}

int
model_info_read(const char *path, struct model_info *info, char *err, size_t errlen)
{
	json_t *o;
	int r;

	o = manifest_load(path, err, errlen);
	if (!o) {
		memset(info, 0, sizeof *info);
		return -1;
	}
	r = info_parse(o, path, info, err, errlen);
	json_decref(o);
	return r;
}

/* The manifest's "input" (o, read from path) into a malloc'd array. 0, or -1 with the reason in err. */
static int
input_parse(json_t *o, const char *path, struct model_input_pos **in, size_t *n, char *err, size_t errlen)
{
	json_t *a, *e, *t, *p, *off;
	size_t k;

	*in = NULL;
	*n = 0;
	a = json_is_object(o) ? json_object_get(o, "input") : NULL;
	if (!json_is_object(o) || (a && !json_is_array(a))) {
		tfile_errf(err, errlen, "%s: %s", path, json_is_object(o) ? "\"input\" is not an array" : "not an object");
		return -1;
	}
	json_array_foreach(a, k, e) {
		t = json_object_get(e, "topic");
		p = json_object_get(e, "partition");
		off = json_object_get(e, "offset");
		if (!json_is_string(t) || !json_is_integer(p) || !json_is_integer(off) ||
		    json_integer_value(p) < 0 || json_integer_value(p) > INT32_MAX || json_integer_value(off) < 0) {
			tfile_errf(err, errlen, "%s: input %zu: want a topic, a partition and an offset", path, k);
			model_input_free(*in, *n);
			*in = NULL;
			*n = 0;
			return -1;
		}
		*in = xreallocarray(*in, *n + 1, sizeof **in);
		(*in)[(*n)++] = (struct model_input_pos){ .topic = xstrdup(json_string_value(t)),
			.partition = (int32_t)json_integer_value(p), .offset = json_integer_value(off) };
	}
	return 0;
}

int
model_input_read(const char *path, struct model_input_pos **in, size_t *n, char *err, size_t errlen)
{
	json_t *o;
	int r;

	o = manifest_load(path, err, errlen);
	if (!o) {
		*in = NULL;
		*n = 0;
		return -1;
	}
	r = input_parse(o, path, in, n, err, errlen);
	json_decref(o);
	return r;
}

void
model_input_free(struct model_input_pos *in, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free((char *)in[i].topic);
	free(in);
}

/* The manifest of info (and the dims of net, the input positions of pub) as a new JSON object. */
static json_t *
info_json(const struct model_info *info, const struct qnet *net, const struct model_publication *pub)
{
	json_t *o = json_object(), *dims = json_object(), *kw = json_array(), *files = json_object(), *in;
	uint32_t k;
	size_t i;

	for (k = 0; k < net->dm.nkern; k++)
		json_array_append_new(kw, json_integer(net->dm.kw[k]));
	json_object_set_new(dims, "d", json_integer(net->dm.d));
	json_object_set_new(dims, "L", json_integer(net->dm.L));
	json_object_set_new(dims, "kernels", kw);
	json_object_set_new(dims, "F", json_integer(net->dm.F));
	json_object_set_new(dims, "C", json_integer(net->dm.C));
	json_object_set_new(dims, "X", json_integer(net->dm.X));
	json_object_set_new(dims, "H", json_integer(net->dm.H));
	json_object_set_new(files, "net", json_string(MODEL_NET_FILE));
	json_object_set_new(files, "emb", json_string(MODEL_EMB_FILE));
	json_object_set_new(files, "warmup", json_string(MODEL_WARMUP_FILE));
	json_object_set_new(o, "format", json_integer(MODEL_FORMAT_VERSION));
	json_object_set_new(o, "version", json_integer(info->version));
	json_object_set_new(o, "parent", json_integer(info->parent));
	json_object_set_new(o, "mode", json_string(info->mode));
	json_object_set_new(o, "target", json_string(info->target));
	json_object_set_new(o, "rows", json_string(info->rows[0] ? info->rows : MODEL_ROWS_LEARNED));
	json_object_set_new(o, "created_ms", json_integer(info->created_ms));
	json_object_set_new(o, "gamma", json_real(info->gamma));
	json_object_set_new(o, "w_click", json_real(info->w_click));
	json_object_set_new(o, "w_pay", json_real(info->w_pay));
	json_object_set_new(o, "transitions", json_integer((json_int_t)info->transitions));
	json_object_set_new(o, "items", json_integer((json_int_t)info->items));
	json_object_set_new(o, "unknown", json_integer((json_int_t)info->unknown));
	json_object_set_new(o, "updates", json_integer((json_int_t)info->updates));
	json_object_set_new(o, "dims", dims);
	json_object_set_new(o, "files", files);
	if (pub->ninput > 0) {
		in = json_array();
		for (i = 0; i < pub->ninput; i++)
			json_array_append_new(in, json_pack("{s:s,s:i,s:I}", "topic", pub->input[i].topic,
			    "partition", (int)pub->input[i].partition, "offset", (json_int_t)pub->input[i].offset));
		json_object_set_new(o, "input", in);
	}
	return o;
}

/* Writes the manifest of info (and the dims of net, the input positions of pub) to path, fsynced. */
static int
info_write(const char *path, const struct model_info *info, const struct qnet *net,
    const struct model_publication *pub, char *err, size_t errlen)
{
	json_t *o = info_json(info, net, pub);
	char *s;
	int r = -1, fd;

	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
	json_decref(o);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
	if (fd >= 0 && tfile_write_all(fd, s, strlen(s)) == 0 && tfile_write_all(fd, "\n", 1) == 0 && fsync(fd) == 0)
		r = 0;
	if (r < 0)
		tfile_errf(err, errlen, "%s: %s", path, strerror(errno));
	if (fd >= 0 && close(fd) < 0 && r == 0) {
		tfile_errf(err, errlen, "%s: %s", path, strerror(errno));
		r = -1;
	}
	free(s);
	return r;
}

/* ---- The tables this process holds ---- */

/*
 * The embedding tables of the versions this process has loaded, by the path
 * of the file each was read from and by the path of the newest version it
 * published with the table unchanged. Publishing an unchanged table
 * (pub->emb_link) writes these bytes from memory, so a writer never needs
 * its parent's files once it has loaded it: another writer may prune them.
 */
struct held {
	char *path;
	const struct emb *emb;
	int published;		/* a version published with the table, not the file it was read from */
	struct held *next;
};

static struct held *held;
static pthread_mutex_t held_mu = PTHREAD_MUTEX_INITIALIZER;

/* The table held for path, or NULL. The caller holds held_mu. */
static const struct emb *
held_find(const char *path)
{
	struct held *h;

	for (h = held; h; h = h->next)
		if (strcmp(h->path, path) == 0)
			return h->emb;
	return NULL;
}

/*
 * Holds e under path; a published path replaces the one published before
 * with e. Nothing when published and e is no longer held. The caller holds
 * held_mu.
 */
static void
held_add(const char *path, const struct emb *e, int published)
{
	struct held **pp = &held, *h;
	int found = 0;

	while ((h = *pp)) {
		if (h->emb == e && !h->published)
			found = 1;
		if (h->emb == e && h->published && published) {
			*pp = h->next;
			free(h->path);
			free(h);
			continue;
		}
		pp = &h->next;
	}
	if (published && !found)
		return;
	h = xcalloc(1, sizeof *h);
	h->path = xstrdup(path);
	h->emb = e;
	h->published = published;
	h->next = held;
	held = h;
}

/* Forgets every path of e. */
static void
held_drop(const struct emb *e)
{
	struct held **pp = &held, *h;

	pthread_mutex_lock(&held_mu);
	while ((h = *pp)) {
		if (h->emb == e) {
			*pp = h->next;
			free(h->path);
			free(h);
			continue;
		}
		pp = &h->next;
	}
	pthread_mutex_unlock(&held_mu);
}

/* ---- Publishing ---- */

/* Writes buf to path, fsynced. 0 or -1 with err. */
static int
write_file(const char *path, const void *buf, size_t n, char *err, size_t errlen)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
	if (fd < 0 || tfile_write_all(fd, buf, n) < 0 || fsync(fd) < 0) {
		tfile_errf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (close(fd) < 0) {
		tfile_errf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Copies the file from to the new file to, fsynced: a reflink (FICLONE) where
 * the file system shares extents copy-on-write, else copy_file_range(), else
 * read and write. Never a hard link: the copy is a file of its own, which
 * nobody rewriting from can reach. 0, or -1 with err.
 */
static int
clone_file(const char *from, const char *to, char *err, size_t errlen)
{
	char buf[65536];
	int in, out, st = 0, plain = 0;
	ssize_t r;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		tfile_errf(err, errlen, "%s: %s", from, strerror(errno));
		return -1;
	}
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		tfile_errf(err, errlen, "%s: %s", to, strerror(errno));
		close(in);
		return -1;
	}
	if (ioctl(out, FICLONE, in) == 0)
		goto sync;
	while ((r = copy_file_range(in, NULL, out, NULL, 1 << 30, 0)) != 0) {
		if (r > 0)
			continue;
		if (errno == EINTR)
			continue;
		/* not across these file systems, or not by this kernel: the plain way, from the start */
		if (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP) {
			plain = 1;
			break;
		}
		st = -1;
		goto done;
	}
	if (plain && (lseek(in, 0, SEEK_SET) < 0 || ftruncate(out, 0) < 0 || lseek(out, 0, SEEK_SET) < 0))
		st = -1;
	while (plain && st == 0 && (r = read(in, buf, sizeof buf)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			st = -1;
			break;
		}
		if (tfile_write_all(out, buf, (size_t)r) < 0)
			st = -1;
	}
sync:
	if (st == 0 && fsync(out) < 0)
		st = -1;
done:
	if (st < 0)
		tfile_errf(err, errlen, "%s: %s", to, strerror(errno));
	close(in);
	if (close(out) < 0 && st == 0) {
		tfile_errf(err, errlen, "%s: %s", to, strerror(errno));
		st = -1;
	}
	return st;
}

/* Removes a directory of plain files. */
static int
remove_tree(const char *dir)
{
	struct dirent *de;
	DIR *dp;
	char *p;

	dp = opendir(dir);
	if (!dp)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(dp))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		unlink(p);
		free(p);
	}
	closedir(dp);
	return rmdir(dir);
}

/* Removes the .tmp-PID-* directories of writers that no longer run. */
static void
remove_dead_tmp(const char *modeldir)
{
	struct dirent *de;
	DIR *dp;
	long pid;
	char *p;

	dp = opendir(modeldir);
	if (!dp)
		return;
	while ((de = readdir(dp))) {
		if (sscanf(de->d_name, ".tmp-%ld-", &pid) != 1 || pid <= 0)
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		p = xasprintf("%s/%s", modeldir, de->d_name);
		remove_tree(p);
		free(p);
	}
	closedir(dp);
}

int
model_prune(const char *modeldir, unsigned keep, char *err, size_t errlen)
{
	struct promotion promo;
	uint32_t *v;
	size_t n, i;
	char *p;
	int st = 0, pr;

	remove_dead_tmp(modeldir);
	if (keep == 0)
		return 0;
	/*
	 * The version the gate promoted is served whatever its age: it stays. A
	 * record that cannot be read may name any version, so nothing goes.
	 */
	if ((pr = promote_read(modeldir, &promo, err, errlen)) < 0) {
		diag_warn("%s: not pruned: %s", modeldir, err);
		return 0;
	}
	if (pr == 1)
		promote_free(&promo);
	if (model_versions(modeldir, &v, &n, err, errlen) < 0)
		return -1;
	for (i = 0; i + keep < n; i++) {
		if (pr == 1 && v[i] == promo.version)
			continue;
		p = model_version_dir(modeldir, v[i]);
		if (remove_tree(p) < 0 && errno != ENOENT) {
			tfile_errf(err, errlen, "%s: %s", p, strerror(errno));
			st = -1;
		}
		free(p);
	}
	free(v);
	return st;
}

int
model_store_check(const char *modeldir, char *err, size_t errlen)
{
	struct stat sb;
	char *parent, *slash;
	int rv = 0;

	if (stat(modeldir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode)) {
			tfile_errf(err, errlen, "%s: not a directory", modeldir);
			return -1;
		}
		if (access(modeldir, W_OK | X_OK) < 0) {
			tfile_errf(err, errlen, "%s: %s", modeldir, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		tfile_errf(err, errlen, "%s: %s", modeldir, strerror(errno));
		return -1;
	}
	parent = xstrdup(modeldir);
	while ((slash = strrchr(parent, '/')) != NULL && slash[1] == '\0' && slash != parent)
		*slash = '\0';	/* trailing slashes */
	slash = strrchr(parent, '/');
	if (slash == NULL)
		strcpy(parent, ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	if (stat(parent, &sb) < 0 || (S_ISDIR(sb.st_mode) && access(parent, W_OK | X_OK) < 0)) {
		tfile_errf(err, errlen, "%s: cannot be created: %s: %s", modeldir, parent, strerror(errno));
		rv = -1;
	} else if (!S_ISDIR(sb.st_mode)) {
		tfile_errf(err, errlen, "%s: cannot be created: %s is not a directory", modeldir, parent);
		rv = -1;
	}
	free(parent);
	return rv;
}

/*
 * Writes the embedding file of pub to path: pub->emb, or the unchanged table
 * of pub->emb_link — from memory when this process holds it (*src set), else
 * a copy of the file (else pub->emb, when given). 0 or -1 with err.
 */
static int
write_emb(const struct model_publication *pub, const char *path, const struct emb **src, char *err,
    size_t errlen)
{
	int r;

	*src = NULL;
	if (!pub->emb_link) {
		if (!pub->emb) {
			tfile_errf(err, errlen, "no embeddings to publish");
			return -1;
		}
		return emb_write(pub->emb, path, err, errlen);
	}
	pthread_mutex_lock(&held_mu);
	*src = held_find(pub->emb_link);
	r = *src ? emb_write(*src, path, err, errlen) : 1;
	pthread_mutex_unlock(&held_mu);
	if (r <= 0)
		return r;
	r = clone_file(pub->emb_link, path, err, errlen);
	if (r < 0 && pub->emb)
		r = emb_write(pub->emb, path, err, errlen);
	return r;
}

/* Writes the files of pub but the manifest into the directory tmp. 0 or -1 with err. */
static int
write_files(const char *tmp, const struct model_publication *pub, const struct emb **src, char *err,
    size_t errlen)
{
	char *p;
	int r;

	p = xasprintf("%s/%s", tmp, MODEL_NET_FILE);
	r = model_net_write(pub->net, p, err, errlen);
	if (r == 0 && chmod(p, 0444) < 0)
		r = -1, tfile_errf(err, errlen, "%s: %s", p, strerror(errno));
	free(p);
	if (r < 0)
		return -1;
	p = xasprintf("%s/%s", tmp, MODEL_EMB_FILE);
	r = write_emb(pub, p, src, err, errlen);
	if (r == 0 && chmod(p, 0444) < 0)
		r = -1, tfile_errf(err, errlen, "%s: %s", p, strerror(errno));
	free(p);
	if (r < 0)
		return -1;
	p = xasprintf("%s/%s", tmp, MODEL_WARMUP_FILE);
	r = write_file(p, pub->warmup ? pub->warmup : "", pub->warmup ? pub->warmup_len : 0, err, errlen);
	free(p);
	return r;
}

/* Refuses a publication with a parameter that is not finite. 0, or -1 with err. */
static int
check_finite(const char *modeldir, const struct model_publication *pub, char *err, size_t errlen)
{
	const char *id;
	int64_t row;
	size_t elem, len;
	int k;

	if (net_nonfinite(pub->net, &k, &elem) == 0) {
		tfile_errf(err, errlen, "%s: not published: network tensor '%s' element %zu is not finite", modeldir,
		    qnet_tensor_name(k), elem);
		return -1;
	}
	if (pub->emb && (row = emb_nonfinite(pub->emb)) >= 0) {
		id = emb_id(pub->emb, (uint32_t)row, &len);
		tfile_errf(err, errlen, "%s: not published: embedding row %lld ('%.*s') is not finite", modeldir,
		    (long long)row, (int)len, id);
		return -1;
	}
	return 0;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
		return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return (int64_t)time(NULL) * 1000;
}

/*
 * Gives the directory tmp the next free version number of modeldir (the
 * manifest written for each number tried, latest the newest seen). 0 with
 * *version set, or -1 with err.
 */
static int
place_version(const char *modeldir, const char *tmp, uint32_t latest, struct model_info *info,
    const struct model_publication *pub, uint32_t *version, char *err, size_t errlen)
{
	char *p, *final;
	int attempt, r;

	for (attempt = 0; attempt < 100; attempt++) {
		info->version = latest + 1;
		p = xasprintf("%s/%s", tmp, MODEL_MANIFEST_FILE);
		r = info_write(p, info, pub->net, pub, err, errlen);
		free(p);
		if (r < 0)
			return -1;
		tfile_fsync_dir(tmp);
		final = model_version_dir(modeldir, info->version);
		if (rename(tmp, final) == 0) {
			free(final);
			*version = info->version;
			return 0;
		}
		if (errno != EEXIST && errno != ENOTEMPTY) {
			tfile_errf(err, errlen, "%s: rename: %s", final, strerror(errno));
			free(final);
			return -1;
		}
		/* another writer took that number: take the next */
		free(final);
		if (model_latest(modeldir, &latest, err, errlen) < 0)
			return -1;
	}
	tfile_errf(err, errlen, "%s: no free version number", modeldir);
	return -1;
}

int
model_publish(const char *modeldir, const struct model_publication *pub, uint32_t *version,
    char *err, size_t errlen)
{
	static unsigned seq;
	struct model_info info = pub->info;
	const struct emb *src;
	uint32_t latest = 0;
	char *tmp, *p;

	if (check_finite(modeldir, pub, err, errlen) < 0)
		return -1;
	if (mkdir(modeldir, 0755) < 0 && errno != EEXIST) {
		tfile_errf(err, errlen, "%s: %s", modeldir, strerror(errno));
		return -1;
	}
	if (model_latest(modeldir, &latest, err, errlen) < 0)
		return -1;
	tmp = xasprintf("%s/.tmp-%ld-%u-%u", modeldir, (long)getpid(), latest + 1, seq++);
	if (mkdir(tmp, 0755) < 0) {
		tfile_errf(err, errlen, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	if (write_files(tmp, pub, &src, err, errlen) < 0)
		goto err;
	info.created_ms = now_ms();
	if (place_version(modeldir, tmp, latest, &info, pub, version, err, errlen) < 0)
		goto err;
	tfile_fsync_dir(modeldir);
	free(tmp);
	if (src) {
		p = xasprintf("%s/%010u/%s", modeldir, *version, MODEL_EMB_FILE);
		pthread_mutex_lock(&held_mu);
		held_add(p, src, 1);
		pthread_mutex_unlock(&held_mu);
		free(p);
	}
	if (pub->keep && model_prune(modeldir, pub->keep, err, errlen) < 0)
		return -1;
	return 0;
err:
	remove_tree(tmp);
	free(tmp);
	return -1;
}

/* ---- Loading ---- */

/* The manifest at path, parsed, its fields and the input it covers read into m; NULL with err. */
static json_t *
load_manifest(struct model *m, const char *path, char *err, size_t errlen)
{
	json_t *o;

	o = manifest_load(path, err, errlen);
	if (o && (info_parse(o, path, &m->info, err, errlen) < 0 ||
	    input_parse(o, path, &m->input, &m->ninput, err, errlen) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * The manifest's "files" (o, read from path) name the files of a version as
 * this build does, and each it names is a file in dir. A manifest without
 * "files" (written by hand) means the usual names. 0, or -1 with err.
 */
static int
check_files(json_t *o, const char *path, const char *dir, char *err, size_t errlen)
{
	static const struct {
		const char *key, *name;
	} want[] = {
		{ "net", MODEL_NET_FILE }, { "emb", MODEL_EMB_FILE }, { "warmup", MODEL_WARMUP_FILE },
	};
	json_t *files = json_object_get(o, "files"), *v;
	struct stat sb;
	size_t i;
	char *p;
	int r;

	if (!files)
		return 0;
	if (!json_is_object(files)) {
		tfile_errf(err, errlen, "%s: files is not an object", path);
		return -1;
	}
	for (i = 0; i < sizeof want / sizeof *want; i++) {
		v = json_object_get(files, want[i].key);
		if (!v)
			continue;
		if (!json_is_string(v)) {
			tfile_errf(err, errlen, "%s: files: %s is not a string", path, want[i].key);
			return -1;
		}
		if (strcmp(json_string_value(v), want[i].name) != 0) {
			tfile_errf(err, errlen, "%s: files: %s is \"%s\", a version holds %s", path, want[i].key,
			    json_string_value(v), want[i].name);
			return -1;
		}
		p = xasprintf("%s/%s", dir, want[i].name);
		r = stat(p, &sb);
		if (r < 0 || !S_ISREG(sb.st_mode))
			tfile_errf(err, errlen, "%s: files: %s: %s: %s", path, want[i].key, p,
			    r < 0 ? strerror(errno) : "not a regular file");
		free(p);
		if (r < 0 || !S_ISREG(sb.st_mode))
			return -1;
	}
	return 0;
}

/* Formats the kernel widths of dm as "[2,3]" into buf. */
static void
kernels_str(const struct qnet_dims *dm, char *buf, size_t n)
{
	size_t k = 0;
	uint32_t i;

	k += (size_t)snprintf(buf, n, "[");
	for (i = 0; i < dm->nkern && k < n; i++)
		k += (size_t)snprintf(buf + k, n - k, i ? ",%u" : "%u", dm->kw[i]);
	if (k < n)
		snprintf(buf + k, n - k, "]");
}

/*
 * The manifest's "dims" (o, read from path) agree with the network's dm. A
 * manifest without "dims" (written by hand) has nothing to check. 0, or -1
 * with err.
 */
static int
check_dims(json_t *o, const char *path, const struct qnet_dims *dm, char *err, size_t errlen)
{
	static const char *const names[] = { "d", "L", "F", "C", "X", "H" };
	const uint32_t have[] = { dm->d, dm->L, dm->F, dm->C, dm->X, dm->H };
	json_t *dims = json_object_get(o, "dims"), *v, *kw;
	char got[128], net[64];
	size_t i;
	int same;

	if (!dims)
		return 0;
	if (!json_is_object(dims)) {
		tfile_errf(err, errlen, "%s: dims is not an object", path);
		return -1;
	}
	for (i = 0; i < sizeof names / sizeof *names; i++) {
		v = json_object_get(dims, names[i]);
		if (!v)
			continue;
		if (!json_is_integer(v)) {
			tfile_errf(err, errlen, "%s: dims: %s is not an integer", path, names[i]);
			return -1;
		}
		if (json_integer_value(v) != (json_int_t)have[i]) {
			tfile_errf(err, errlen, "%s: dims: %s is %lld, the network's %u", path, names[i],
			    (long long)json_integer_value(v), have[i]);
			return -1;
		}
	}
	kw = json_object_get(dims, "kernels");
	if (!kw)
		return 0;
	same = json_is_array(kw) && json_array_size(kw) == dm->nkern;
	for (i = 0; same && i < dm->nkern; i++)
		same = json_is_integer(json_array_get(kw, i)) &&
		    json_integer_value(json_array_get(kw, i)) == (json_int_t)dm->kw[i];
	if (!same) {
		char *s = json_dumps(kw, JSON_COMPACT | JSON_ENCODE_ANY);

		snprintf(got, sizeof got, "%s", s ? s : "?");
		free(s);
		kernels_str(dm, net, sizeof net);
		tfile_errf(err, errlen, "%s: dims: kernels %s, the network's %s", path, got, net);
		return -1;
	}
	return 0;
}

struct model *
model_load_dir(const char *dir, char *err, size_t errlen)
{
	struct model *m = xcalloc(1, sizeof *m);
	char *mpath = xasprintf("%s/%s", dir, MODEL_MANIFEST_FILE), *p;
	json_t *o;

	m->dir = xstrdup(dir);
	o = load_manifest(m, mpath, err, errlen);
	if (!o || check_files(o, mpath, dir, err, errlen) < 0)
		goto err;
	m->version = m->info.version;
	p = xasprintf("%s/%s", dir, MODEL_NET_FILE);
	m->net = model_net_load(p, NULL, err, errlen);
	free(p);
	if (!m->net || check_dims(o, mpath, &m->net->dm, err, errlen) < 0)
		goto err;
	p = xasprintf("%s/%s", dir, MODEL_EMB_FILE);
	m->emb = emb_load(p, m->net->dm.d, err, errlen);
	if (m->emb) {
		pthread_mutex_lock(&held_mu);
		held_add(p, m->emb, 0);
		pthread_mutex_unlock(&held_mu);
	}
	free(p);
	if (!m->emb)
		goto err;
	m->feature_rows = strcmp(m->info.rows, MODEL_ROWS_FEATURES) == 0 ||
	    strcmp(m->info.rows, MODEL_ROWS_INIT_FEATURES) == 0;
	if (m->feature_rows && m->net->dm.d != m->net->dm.X) {
		tfile_errf(err, errlen, "%s: rows \"%s\" with d %u, the features X %u", mpath, m->info.rows,
		    m->net->dm.d, m->net->dm.X);
		goto err;
	}
	json_decref(o);
	free(mpath);
	return m;
err:
	json_decref(o);
	free(mpath);
	model_free(m);
	return NULL;
}

struct model *
model_load(const char *modeldir, uint32_t version, char *err, size_t errlen)
{
	struct model *m;
	char *dir;
	int r;

	if (version == 0) {
		r = model_latest(modeldir, &version, err, errlen);
		if (r < 0)
			return NULL;
		if (r == 0) {
			tfile_errf(err, errlen, "%s: no model version", modeldir);
			return NULL;
		}
	}
	dir = model_version_dir(modeldir, version);
	m = model_load_dir(dir, err, errlen);
	free(dir);
	if (m && m->version != version) {
		tfile_errf(err, errlen, "%s: manifest says version %u", m->dir, m->version);
		model_free(m);
		return NULL;
	}
	return m;
}

void
model_free(struct model *m)
{
	if (!m)
		return;
	qnet_free(m->net);
	if (m->emb)
		held_drop(m->emb);
	emb_free(m->emb);
	model_input_free(m->input, m->ninput);
	free(m->dir);
	free(m);
}
