/* symcache.c - the on-disk cache of symbolized addresses (see symcache.h).
 *
 * An entry file, native byte order (the cache never leaves the machine):
 *
 *   header   magic "HSSYMCA\n", version, build-id length, record, frame and string
 *            counts, CRC-32 of everything after the header
 *   build-id the hex string, padded with zeros to a multiple of 8 bytes
 *   records  { u64 addr; u32 first_frame; u32 nframes }, strictly ascending addr
 *   frames   { u32 function; u32 file; i64 line }, string offsets or NO_STRING
 *   strings  NUL-terminated, the last byte a NUL
 *
 * A reader checks every count against the file size, every offset against its array,
 * the order of the records and the checksum before using anything; the table it keeps
 * is the file's bytes plus those checks, so memory is bounded by SYMCACHE_ENTRY_MAX.
 */
#include "symcache.h"

#include "cachedir.h"
#include "cfifile.h"
#include "fileid.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uthash.h>
#include <zlib.h>

#define NO_STRING UINT32_MAX
#define BUILD_ID_MAX 128

static const char MAGIC[8] = { 'H', 'S', 'S', 'Y', 'M', 'C', 'A', '\n' };

struct file_header {
	char magic[8];
	uint32_t version;
	uint32_t build_id_len;
	uint32_t nrecords;
	uint32_t nframes;
	uint32_t strbytes;
	uint32_t crc;       /* CRC-32 of the bytes after the header */
};

struct file_record {
	uint64_t addr;
	uint32_t first, nframes;
};

struct file_frame {
	uint32_t function, file;
	int64_t line;
};

struct symcache {
	int dirfd;
	uint64_t limit;
	unsigned tmp_seq;
};

struct symcache_table {
	_Atomic unsigned refs; /* its users: its loader, the shared list, each taker */
	uint8_t *buf;
	size_t len;
	const struct file_record *records;
	const struct file_frame *frames;
	const char *strings;
	uint32_t nrecords, nframes, strbytes;
};

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* ---- the directory ---- */

/* Creates each missing directory of path (absolute) with mode 0700. */
static int mkdir_parents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int r = mkdir(path, 0700);
		*p = '/';
		if (r < 0 && errno != EEXIST)
			return -errno;
	}
	return mkdir(path, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

/* The cache directory's path (cachedir.h), the home from the password database when
 * neither XDG_CACHE_HOME nor HOME is absolute; -ENOENT when there is no home. */
static int cache_path(char *out, size_t len)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	if (!(xdg && xdg[0] == '/') && !(home && home[0] == '/')) {
		struct passwd *pw = getpwuid(geteuid());
		home = pw ? pw->pw_dir : NULL;
	}
	return hs_cache_dir(out, len, xdg, home);
}

/* The cache directory, made and checked; -1 when there is none to use. */
static int open_dir(void)
{
	char path[4096];
	if (cache_path(path, sizeof(path)) < 0 || mkdir_parents(path) < 0)
		return -1;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* Never use a directory someone else owns or can write to. */
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() ||
	    ((st.st_mode & 077) && fchmod(fd, 0700) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool sharing;
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
/* In a host (symcache_share_tables()), the directory as an earlier image opened it: an
 * image's collector otherwise made three mkdir calls, an open and an fstat for it. */
static int shared_dirfd = -1;

symcache_t *symcache_open(void)
{
	if (hs_cache_off(getenv("HEAPSNAP_CACHE")))
		return NULL;
	int fd;
	if (sharing) {
		pthread_mutex_lock(&shared_lock);
		if (shared_dirfd < 0)
			shared_dirfd = open_dir();
		fd = shared_dirfd;
		pthread_mutex_unlock(&shared_lock);
		/* One fstat instead of making and checking the directory again.  Once it has
		 * been removed (no links left), each image makes and opens its own, as without
		 * a host: the shared fd stays, other images may be using it. */
		struct stat st;
		if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_nlink == 0))
			fd = open_dir();
	} else {
		fd = open_dir();
	}
	if (fd < 0)
		return NULL;
	symcache_t *c = calloc(1, sizeof(*c));
	if (!c) {
		if (fd != shared_dirfd)
			close(fd);
		return NULL;
	}
	c->dirfd = fd;
	c->limit = SYMCACHE_LIMIT;
	return c;
}

void symcache_close(symcache_t *c)
{
	if (!c)
		return;
	if (c->dirfd != shared_dirfd)
		close(c->dirfd);
	free(c);
}

void symcache_set_limit(symcache_t *c, uint64_t bytes)
{
	c->limit = bytes;
}

static bool build_id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n < 2 || n > BUILD_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

/* ---- reading ---- */

#define TOUCH_AFTER_S 60

/* Reads the regular file name (ours, not a link) whole into *buf, and when st_out is
 * not NULL describes the file in it as it is left.  Returns its length, or a negative
 * errno. */
static ssize_t read_entry(symcache_t *c, const char *name, uint8_t **buf, struct stat *st_out)
{
	int fd = openat(c->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	ssize_t r = -EBADMSG;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_size < (off_t)sizeof(struct file_header) || st.st_size > SYMCACHE_ENTRY_MAX)
		goto out;
	size_t len = (size_t)st.st_size, got = 0;
	uint8_t *b = malloc(len);
	if (!b) {
		r = -ENOMEM;
		goto out;
	}
	while (got < len) {
		ssize_t k = read(fd, b + got, len - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	if (got != len) {
		free(b);
		goto out;
	}
	/* Reading counts as use: the least recently used entries are evicted first.  An
	 * entry used within the last minute needs no new time (a tree of short processes
	 * reads the same entries hundreds of times, each touch a metadata write). */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	if ((now.tv_sec - st.st_mtim.tv_sec > TOUCH_AFTER_S || now.tv_sec < st.st_mtim.tv_sec) &&
	    futimens(fd, NULL) == 0 && st_out)
		fstat(fd, &st);
	if (st_out)
		*st_out = st;
	*buf = b;
	r = (ssize_t)len;
out:
	close(fd);
	return r;
}

/* Checks buf as an entry for build_id and points t's arrays into it. */
static int table_parse(symcache_table_t *t, const char *build_id)
{
	struct file_header h;
	memcpy(&h, t->buf, sizeof(h));
	size_t idlen = strlen(build_id);
	if (memcmp(h.magic, MAGIC, sizeof(MAGIC)) || h.version != SYMCACHE_VERSION ||
	    h.build_id_len != idlen)
		return -EBADMSG;
	uint64_t off_id = sizeof(h), off_rec = off_id + pad8(idlen);
	uint64_t off_frame = off_rec + (uint64_t)h.nrecords * sizeof(struct file_record);
	uint64_t off_str = off_frame + (uint64_t)h.nframes * sizeof(struct file_frame);
	if (off_str + h.strbytes != t->len ||
	    crc32(0, t->buf + sizeof(h), (uInt)(t->len - sizeof(h))) != h.crc ||
	    memcmp(t->buf + off_id, build_id, idlen) ||
	    (h.strbytes && t->buf[t->len - 1] != '\0'))
		return -EBADMSG;
	t->records = (const struct file_record *)(t->buf + off_rec);
	t->frames = (const struct file_frame *)(t->buf + off_frame);
	t->strings = (const char *)(t->buf + off_str);
	t->nrecords = h.nrecords;
	t->nframes = h.nframes;
	t->strbytes = h.strbytes;
	for (uint32_t i = 0; i < t->nrecords; i++) {
		const struct file_record *r = &t->records[i];
		if ((i > 0 && r->addr <= t->records[i - 1].addr) ||
		    (uint64_t)r->first + r->nframes > t->nframes)
			return -EBADMSG;
	}
	for (uint32_t i = 0; i < t->nframes; i++) {
		const struct file_frame *f = &t->frames[i];
		if ((f->function != NO_STRING && f->function >= t->strbytes) ||
		    (f->file != NO_STRING && f->file >= t->strbytes))
			return -EBADMSG;
	}
	return 0;
}

/* The shared tables (symcache_share_tables()), one a build-id, with the identity of
 * the file each was read from. */
struct shared_table {
	struct shared_table *next;
	symcache_table_t *t;
	struct file_id id;
	char build_id[BUILD_ID_MAX + 1];
};
static struct shared_table *shared;

void symcache_share_tables(void)
{
	sharing = true;
}

/* Takes the entry at *link out of the shared list (lock held) and returns its table,
 * for the caller to drop its reference (the table goes with its last user). */
static symcache_table_t *shared_drop(struct shared_table **link)
{
	struct shared_table *e = *link;
	symcache_table_t *t = e->t;
	*link = e->next;
	free(e);
	return t;
}

/* The shared table of build_id when its file (name in c's directory) is still the one it
 * was read from, with a reference taken; else NULL, the stale table dropped.  An entry
 * in use is stamped as used once a TOUCH_AFTER_S, as a read would (eviction goes by
 * modification time). */
static symcache_table_t *shared_find(symcache_t *c, const char *name, const char *build_id)
{
	struct stat st;
	bool there = fstatat(c->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		     S_ISREG(st.st_mode) && st.st_uid == geteuid();
	symcache_table_t *t = NULL, *stale = NULL;
	pthread_mutex_lock(&shared_lock);
	for (struct shared_table **link = &shared; *link; link = &(*link)->next) {
		struct shared_table *e = *link;
		if (strcmp(e->build_id, build_id))
			continue;
		if (!there || !file_id_same(&e->id, &st)) {
			stale = shared_drop(link);
			break;
		}
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec - st.st_mtim.tv_sec > TOUCH_AFTER_S &&
		    utimensat(c->dirfd, name, NULL, AT_SYMLINK_NOFOLLOW) == 0 &&
		    fstatat(c->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			e->id = file_id_of(&st);
		t = e->t;
		atomic_fetch_add(&t->refs, 1);
		break;
	}
	pthread_mutex_unlock(&shared_lock);
	symcache_table_free(stale);
	return t;
}

/* Keeps t as build_id's shared table, read from the file st describes, in place of
 * the one it had. */
static void shared_keep(symcache_table_t *t, const char *build_id, const struct stat *st)
{
	atomic_fetch_add(&t->refs, 1);
	symcache_table_t *dropped = t; /* when no entry can be had */
	pthread_mutex_lock(&shared_lock);
	struct shared_table *e = shared;
	while (e && strcmp(e->build_id, build_id))
		e = e->next;
	if (!e && (e = calloc(1, sizeof(*e)))) {
		snprintf(e->build_id, sizeof(e->build_id), "%s", build_id);
		e->next = shared;
		shared = e;
	}
	if (e) {
		dropped = e->t;
		e->t = t;
		e->id = file_id_of(st);
	}
	pthread_mutex_unlock(&shared_lock);
	symcache_table_free(dropped);
}

/* symcache_load(), with share: whether the table may come from or go to the shared list
 * (a store's own read of the old entry must not: it is stale once the store renames). */
static int load(symcache_t *c, const char *build_id, symcache_table_t **out, bool share)
{
	if (!build_id_ok(build_id))
		return -EINVAL;
	char name[BUILD_ID_MAX + sizeof(SYMCACHE_SUFFIX)];
	snprintf(name, sizeof(name), "%s" SYMCACHE_SUFFIX, build_id);
	share = share && sharing;
	symcache_table_t *t = share ? shared_find(c, name, build_id) : NULL;
	if (t) {
		*out = t;
		return 0;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	atomic_init(&t->refs, 1);
	struct stat st;
	ssize_t len = read_entry(c, name, &t->buf, &st);
	int r = len < 0 ? (int)len : 0;
	if (r == 0) {
		t->len = (size_t)len;
		r = table_parse(t, build_id);
	}
	if (r < 0) {
		symcache_table_free(t);
		return r;
	}
	if (share)
		shared_keep(t, build_id, &st);
	*out = t;
	return 0;
}

int symcache_load(symcache_t *c, const char *build_id, symcache_table_t **out)
{
	return load(c, build_id, out, true);
}

void symcache_table_free(symcache_table_t *t)
{
	if (!t || atomic_fetch_sub(&t->refs, 1) > 1)
		return;
	free(t->buf);
	free(t);
}

size_t symcache_table_memory(const symcache_table_t *t)
{
	return sizeof(*t) + t->len;
}

static const char *table_string(const symcache_table_t *t, uint32_t off)
{
	return off == NO_STRING ? NULL : t->strings + off;
}

int symcache_table_find(const symcache_table_t *t, uint64_t addr, struct symcache_frame *out,
			uint32_t max)
{
	size_t lo = 0, hi = t->nrecords;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->records[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == t->nrecords || t->records[lo].addr != addr)
		return -1;
	const struct file_record *r = &t->records[lo];
	uint32_t n = r->nframes < max ? r->nframes : max;
	for (uint32_t i = 0; i < n; i++) {
		const struct file_frame *f = &t->frames[r->first + i];
		out[i] = (struct symcache_frame){ table_string(t, f->function),
						  table_string(t, f->file), f->line };
	}
	return (int)n;
}

/* ---- writing ---- */

struct str_ent {
	const char *s;
	uint32_t off;
	UT_hash_handle hh;
};

struct writer {
	struct file_record *recs;
	size_t nrecs, recs_cap;
	struct file_frame *frames;
	size_t nframes, frames_cap;
	char *strings;
	size_t strbytes, str_cap;
	struct str_ent *strs;   /* interned strings; keys point into the sources */
};

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 256;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* Stores s once in the string area; *off gets its offset (NO_STRING for NULL). */
static int writer_string(struct writer *w, const char *s, uint32_t *off)
{
	if (!s) {
		*off = NO_STRING;
		return 0;
	}
	struct str_ent *e;
	size_t len = strlen(s);
	HASH_FIND(hh, w->strs, s, len, e);
	if (e) {
		*off = e->off;
		return 0;
	}
	if (w->strbytes + len + 1 > SYMCACHE_ENTRY_MAX ||
	    grow((void **)&w->strings, &w->str_cap, w->strbytes + len + 1, 1) < 0 ||
	    !(e = malloc(sizeof(*e))))
		return -ENOMEM;
	memcpy(w->strings + w->strbytes, s, len + 1);
	e->s = s;
	e->off = (uint32_t)w->strbytes;
	w->strbytes += len + 1;
	HASH_ADD_KEYPTR(hh, w->strs, e->s, len, e);
	*off = e->off;
	return 0;
}

static int writer_add(struct writer *w, uint64_t addr, const struct symcache_frame *f,
		      uint32_t n)
{
	if (grow((void **)&w->recs, &w->recs_cap, w->nrecs + 1, sizeof(*w->recs)) < 0 ||
	    grow((void **)&w->frames, &w->frames_cap, w->nframes + n, sizeof(*w->frames)) < 0)
		return -ENOMEM;
	w->recs[w->nrecs++] = (struct file_record){ addr, (uint32_t)w->nframes, n };
	for (uint32_t i = 0; i < n; i++) {
		struct file_frame *o = &w->frames[w->nframes++];
		o->line = f[i].line;
		if (writer_string(w, f[i].function, &o->function) < 0 ||
		    writer_string(w, f[i].file, &o->file) < 0)
			return -ENOMEM;
	}
	return 0;
}

static void writer_free(struct writer *w)
{
	struct str_ent *e, *tmp;
	HASH_ITER(hh, w->strs, e, tmp) {
		HASH_DEL(w->strs, e);
		free(e);
	}
	free(w->recs);
	free(w->frames);
	free(w->strings);
}

static int record_ptr_cmp(const void *a, const void *b)
{
	const struct symcache_record *x = *(const struct symcache_record *const *)a;
	const struct symcache_record *y = *(const struct symcache_record *const *)b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x < y ? -1 : x > y; /* the first given of an address sorts first */
}

/* Adds old's records and recs (sorted) in address order; recs win a tie. */
static int writer_merge(struct writer *w, const symcache_table_t *old,
			const struct symcache_record **recs, size_t n)
{
	struct symcache_frame frames[128];
	size_t i = 0, j = 0, nold = old ? old->nrecords : 0;
	uint64_t last = 0;
	bool any = false;
	while (i < n || j < nold) {
		int r;
		uint64_t addr;
		if (j == nold || (i < n && recs[i]->addr <= old->records[j].addr)) {
			addr = recs[i]->addr;
			r = any && addr == last ? 0 : writer_add(w, addr, recs[i]->frames,
								  recs[i]->nframes);
			i++;
		} else {
			addr = old->records[j].addr;
			int k = symcache_table_find(old, addr, frames, 128);
			r = any && addr == last ? 0 : writer_add(w, addr, frames, (uint32_t)k);
			j++;
		}
		if (r < 0)
			return r;
		last = addr;
		any = true;
	}
	return 0;
}

/* Lays the entry out in one buffer: header, build-id, records, frames, strings. */
static int writer_serialize(const struct writer *w, const char *build_id, uint8_t **out,
			    size_t *len)
{
	size_t idlen = strlen(build_id);
	size_t off_rec = sizeof(struct file_header) + pad8(idlen);
	size_t off_frame = off_rec + w->nrecs * sizeof(struct file_record);
	size_t off_str = off_frame + w->nframes * sizeof(struct file_frame);
	size_t total = off_str + w->strbytes;
	if (total > SYMCACHE_ENTRY_MAX)
		return -EFBIG;
	uint8_t *b = calloc(1, total);
	if (!b)
		return -ENOMEM;
	struct file_header h = {
		.version = SYMCACHE_VERSION, .build_id_len = (uint32_t)idlen,
		.nrecords = (uint32_t)w->nrecs, .nframes = (uint32_t)w->nframes,
		.strbytes = (uint32_t)w->strbytes,
	};
	memcpy(h.magic, MAGIC, sizeof(MAGIC));
	memcpy(b + sizeof(h), build_id, idlen);
	if (w->nrecs)
		memcpy(b + off_rec, w->recs, w->nrecs * sizeof(struct file_record));
	if (w->nframes)
		memcpy(b + off_frame, w->frames, w->nframes * sizeof(struct file_frame));
	if (w->strbytes)
		memcpy(b + off_str, w->strings, w->strbytes);
	h.crc = (uint32_t)crc32(0, b + sizeof(h), (uInt)(total - sizeof(h)));
	memcpy(b, &h, sizeof(h));
	*out = b;
	*len = total;
	return 0;
}

/* Writes buf as name: a new private file under a temporary name, renamed over name. */
static int write_atomic(symcache_t *c, const char *name, const uint8_t *buf, size_t len)
{
	char tmp[BUILD_ID_MAX + 64];
	/* By thread: the collectors of a tree are threads of one host (hosted.h). */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%u", name, (long)gettid(), c->tmp_seq++);
	int fd = openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			0600);
	if (fd < 0)
		return -errno;
	size_t done = 0;
	while (done < len) {
		ssize_t k = write(fd, buf + done, len - done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		done += (size_t)k;
	}
	int r = done == len ? 0 : -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(c->dirfd, tmp, c->dirfd, name) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(c->dirfd, tmp, 0);
	return r;
}

struct dir_ent {
	char name[BUILD_ID_MAX + 64];
	off_t size;
	struct timespec mtime;
};

static int dir_ent_cmp(const void *a, const void *b)
{
	const struct dir_ent *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : x->mtime.tv_nsec > y->mtime.tv_nsec;
}

/* Removes temporary files a crashed writer left an hour ago or more, then the least
 * recently used entries until the directory is under its limit; keep stays. */
static void trim(symcache_t *c, const char *keep)
{
	/* A description of its own: a dup() shares its offset with every other user of
	 * the directory's fd, which a host's images share (symcache_open()). */
	int fd = openat(c->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d);
	struct dir_ent *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	time_t now = time(NULL);
	for (struct dirent *e; (e = readdir(d));) {
		struct stat st;
		if (strlen(e->d_name) >= sizeof(v->name) ||
		    fstatat(c->dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (strstr(e->d_name, ".tmp.")) {
			if (st.st_mtime + 3600 < now)
				unlinkat(c->dirfd, e->d_name, 0);
			continue;
		}
		size_t len = strlen(e->d_name);
		if (len < 4 || (strcmp(e->d_name + len - 4, ".sym") &&
				strcmp(e->d_name + len - 4, ".cfi")))
			continue;
		if (grow((void **)&v, &cap, n + 1, sizeof(*v)) < 0)
			break;
		snprintf(v[n].name, sizeof(v[n].name), "%s", e->d_name);
		v[n].size = st.st_size;
		v[n].mtime = st.st_mtim;
		total += (uint64_t)st.st_size;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), dir_ent_cmp);
	for (size_t i = 0; i < n && total > c->limit; i++) {
		if (!strcmp(v[i].name, keep) || unlinkat(c->dirfd, v[i].name, 0) < 0)
			continue;
		total -= (uint64_t)v[i].size;
	}
	free(v);
}

int symcache_store(symcache_t *c, const char *build_id, const struct symcache_record *recs,
		   size_t n)
{
	if (!build_id_ok(build_id))
		return -EINVAL;
	const struct symcache_record **sorted = malloc((n + 1) * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		sorted[i] = &recs[i];
	if (n > 1)
		qsort(sorted, n, sizeof(*sorted), record_ptr_cmp);
	symcache_table_t *old = NULL;
	load(c, build_id, &old, false); /* a missing or bad entry is simply replaced */
	struct writer w = { 0 };
	uint8_t *buf = NULL;
	size_t len = 0;
	char name[BUILD_ID_MAX + sizeof(SYMCACHE_SUFFIX)];
	snprintf(name, sizeof(name), "%s" SYMCACHE_SUFFIX, build_id);
	int r = writer_merge(&w, old, sorted, n);
	if (r == 0)
		r = writer_serialize(&w, build_id, &buf, &len);
	if (r == 0)
		r = write_atomic(c, name, buf, len);
	if (r == 0)
		trim(c, name);
	free(buf);
	writer_free(&w);
	symcache_table_free(old);
	free(sorted);
	return r;
}

/* ---- unwind rules (cfifile.h) ---- */

static int cfi_entry_cmp(const void *a, const void *b)
{
	const struct hs_cfi_entry *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int symcache_store_rules(symcache_t *c, const char *build_id, struct hs_cfi_entry *rules,
			 size_t n)
{
	_Static_assert(BUILD_ID_MAX <= HS_CFI_BUILD_ID_MAX, "a cache's build-id names a rules file");
	if (!build_id_ok(build_id))
		return -EINVAL;
	size_t idlen = strlen(build_id);
	char name[HS_CFI_BUILD_ID_MAX + sizeof(HS_CFI_SUFFIX)];
	snprintf(name, sizeof(name), "%s" HS_CFI_SUFFIX, build_id);
	/* What the file holds now, which another process may have added to; a missing or
	 * bad file is simply replaced. */
	uint8_t *old = NULL;
	uint64_t nold = 0;
	const struct hs_cfi_entry *have = NULL;
	ssize_t len = read_entry(c, name, &old, NULL);
	if (len >= 0 && !(have = hs_cfi_check(old, (size_t)len, build_id, idlen, &nold)))
		nold = 0;
	if (n > 1)
		qsort(rules, n, sizeof(*rules), cfi_entry_cmp);
	/* The union, the file's entry kept where both have an address. */
	size_t at = hs_cfi_entries_at(idlen), cap = nold + n, k = 0, i = 0, j = 0;
	bool added = false;
	if (cap > HS_CFI_ENTRIES_MAX)
		cap = HS_CFI_ENTRIES_MAX;
	uint8_t *buf = calloc(1, at + cap * sizeof(struct hs_cfi_entry));
	if (!buf) {
		free(old);
		return -ENOMEM;
	}
	struct hs_cfi_entry *out = (struct hs_cfi_entry *)(buf + at);
	while (k < cap && (i < nold || j < n)) {
		if (j < n && !hs_cfi_entry_ok(&rules[j])) {
			j++;
		} else if (j < n && k && rules[j].addr == out[k - 1].addr) {
			j++;
		} else if (i < nold && (j == n || have[i].addr <= rules[j].addr)) {
			out[k++] = have[i++];
		} else {
			out[k++] = rules[j++];
			added = true;
		}
	}
	free(old);
	int r = 0;
	if (added) {
		struct hs_cfi_header h = { .version = HS_CFI_VERSION,
					   .build_id_len = (uint32_t)idlen, .count = k };
		memcpy(h.magic, HS_CFI_MAGIC, sizeof(h.magic));
		h.sum = hs_cfi_sum(out, k);
		memcpy(buf, &h, sizeof(h));
		memcpy(buf + sizeof(h), build_id, idlen);
		r = write_atomic(c, name, buf, at + k * sizeof(struct hs_cfi_entry));
		if (r == 0)
			trim(c, name);
	}
	free(buf);
	return r;
}
