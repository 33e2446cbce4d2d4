/* segpool.c - the segments heapsnap run's host keeps for the next images.
 *
 * The protocol is in shmlayout.h (HS_POOL_MAGIC): an ended image's segment is zeroed
 * where it was written and offered in run's directory as "pool.N", a symbolic link to
 * the host's own fd of it; a new image claims it by renaming the link.  The host keeps
 * its mapping too, page tables and all: when the claiming image's memfd arrives, its
 * inode finds the kept mapping (segpool_take()), and the collector reads pages it has
 * mapped already.  A segment goes back to the kernel instead when its process may
 * still write to it, when it holds more than KEPT_PAGES_MAX pages, when the host is
 * ending, or when every slot is taken.
 */
#include "segpool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prim.h"
#include "shmlayout.h"

/* A segment holding more pages than this is freed, not kept: zeroing it would cost
 * more than the pages it saves the next image (4 MiB: a cc1's, which writes about
 * 3,600 stacks, is below it). */
#define KEPT_PAGES_MAX 1024u
/* A kept segment whose link an image claimed, but whose memfd never came (the image
 * died first), is freed after this. */
#define CLAIM_TIMEOUT_NS (10 * 1000000000ull)

struct kept {
	int fd; /* the host's own, the target of the link */
	dev_t dev;
	ino_t ino;
	void *map;
	uint64_t size;
	unsigned slot;
	uint64_t since; /* CLOCK_MONOTONIC when offered */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct kept kept[HS_POOL_SLOTS];
static unsigned nkept;
static char dir[PATH_MAX];
static bool closing;

/* Kept segments hold the host's address space and fds: none is kept under a limit
 * of either that they could make it run out of (ulimit -v, ulimit -n). */
#define KEPT_FILES_MIN 256u

void segpool_init(const char *run_dir)
{
	struct rlimit as, files;
	if (!run_dir || strlen(run_dir) >= sizeof(dir) || getrlimit(RLIMIT_AS, &as) < 0 ||
	    as.rlim_cur != RLIM_INFINITY || getrlimit(RLIMIT_NOFILE, &files) < 0 ||
	    files.rlim_cur < KEPT_FILES_MIN)
		return;
	snprintf(dir, sizeof(dir), "%s", run_dir);
}

static void slot_path(unsigned slot, char *out, size_t len)
{
	snprintf(out, len, "%s/pool.%u", dir, slot);
}

static void drop(void *map, uint64_t size, int fd)
{
	if (map)
		munmap(map, size);
	if (fd >= 0)
		close(fd);
}

/* Removes kept[i] (under the lock); returns it. */
static struct kept take_at(unsigned i)
{
	struct kept k = kept[i];
	kept[i] = kept[--nkept];
	return k;
}

void *segpool_take(const struct stat *st, int *kept_fd)
{
	uint64_t size = (uint64_t)st->st_size;
	void *map = NULL;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < nkept; i++)
		if (kept[i].dev == st->st_dev && kept[i].ino == st->st_ino && kept[i].size == size) {
			struct kept k = take_at(i);
			map = k.map;
			*kept_fd = k.fd;
			break;
		}
	pthread_mutex_unlock(&lock);
	return map;
}

/* The byte ranges of a segment its image may have written, from its own counters:
 * the control block, each table up to its count, the slot levels in use (and the one
 * above, which a full level spills into), the ring up to its head.  Nothing else is
 * ever written by a shim, and the tables are read only up to their counts, but for the
 * slots and the ring's records, which must read as empty: both are zeroed whole where
 * written. */
struct span {
	uint64_t lo, hi;
};
#define SPANS_MAX 16

static void add_span(struct span *s, unsigned *n, uint64_t lo, uint64_t len)
{
	if (len && *n < SPANS_MAX)
		s[(*n)++] = (struct span){ lo, lo + len };
}

static void table_spans(struct span *s, unsigned *n, const struct hs_table *t, uint64_t count,
			size_t size)
{
	count = count < t->cap ? count : t->cap;
	add_span(s, n, t->head_off, (count < t->head_cap ? count : t->head_cap) * size);
	if (count > t->head_cap)
		add_span(s, n, t->tail_off, (count - t->head_cap) * size);
}

static unsigned written_spans(const struct hs_ctl *ctl, const struct hs_layout *l,
			      struct span *s)
{
	const volatile struct hs_ctl *v = ctl;
	unsigned n = 0;
	add_span(s, &n, 0, sizeof(struct hs_ctl));
	table_spans(s, &n, &l->modules, v->nmodules, sizeof(struct hs_module));
	table_spans(s, &n, &l->paths, v->paths_used, 1);
	table_spans(s, &n, &l->learnt, v->nlearnt, sizeof(struct hs_learnt));
	uint64_t nstacks = v->nstacks, slots = HS_SLOTS_LEVEL0;
	table_spans(s, &n, &l->stacks, nstacks, sizeof(struct hs_stack));
	table_spans(s, &n, &l->frames, v->nframes, sizeof(uint64_t));
	/* Levels double: the ones new stacks went to (stacktab.c, level_now()), and the
	 * next. */
	while (slots < l->slots.cap && slots < 4 * (nstacks + 1))
		slots *= 2;
	table_spans(s, &n, &l->slots, slots * 2, sizeof(struct hs_slot));
	uint64_t head = v->head;
	add_span(s, &n, l->ring_off, (head < l->ring_cap ? head : l->ring_cap) * sizeof(struct hs_rec));
	return n;
}

/* Zeroes what the segment's image wrote (written_spans()) where the segment holds
 * pages; false when it holds more than KEPT_PAGES_MAX, or its header or pages cannot
 * be read.  Pages it holds beyond those spans are zero: an earlier image's, zeroed
 * when it ended. */
static bool zero_written(int fd, char *map, uint64_t size)
{
	struct hs_layout l;
	uint32_t frames;
	struct span s[SPANS_MAX];
	if (hs_layout_read((const struct hs_ctl *)map, size, &l, &frames) < 0)
		return false;
	unsigned n = written_spans((const struct hs_ctl *)map, &l, s);
	uint64_t pages = 0;
	off_t at = 0;
	for (;;) {
		off_t data = lseek(fd, at, SEEK_DATA);
		if (data < 0)
			return errno == ENXIO; /* no data past at */
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size || hole <= data)
			return false;
		pages += (uint64_t)(hole - data) / HS_PAGE;
		if (pages > KEPT_PAGES_MAX)
			return false;
		for (unsigned i = 0; i < n; i++) {
			uint64_t lo = s[i].lo > (uint64_t)data ? s[i].lo : (uint64_t)data;
			uint64_t hi = s[i].hi < (uint64_t)hole ? s[i].hi : (uint64_t)hole;
			if (lo < hi)
				memset(map + lo, 0, hi - lo);
		}
		at = hole;
	}
}

/* Marks the slots of kept segments in used (under the lock), freeing those whose claim
 * never came. */
static void slots_used(bool used[HS_POOL_SLOTS])
{
	uint64_t now = prim_now_ns(CLOCK_MONOTONIC);
	char path[PATH_MAX + 16];
	for (unsigned i = 0; i < nkept;) {
		struct stat st;
		slot_path(kept[i].slot, path, sizeof(path));
		if (now - kept[i].since > CLAIM_TIMEOUT_NS && lstat(path, &st) < 0) {
			struct kept k = take_at(i);
			drop(k.map, k.size, k.fd);
			continue;
		}
		used[kept[i].slot] = true;
		i++;
	}
}

void segpool_give(void *map, uint64_t size, int fd, bool reusable)
{
	struct stat st;
	if (!reusable || !dir[0] || fd < 0 || !map || fstat(fd, &st) < 0 ||
	    !zero_written(fd, map, size)) {
		drop(map, size, fd);
		return;
	}
	__atomic_store_n(&((struct hs_ctl *)map)->magic, HS_POOL_MAGIC, __ATOMIC_RELEASE);
	char target[64], path[PATH_MAX + 16];
	snprintf(target, sizeof(target), "/proc/%d/fd/%d", (int)getpid(), fd);
	pthread_mutex_lock(&lock);
	bool used[HS_POOL_SLOTS] = { false };
	slots_used(used);
	/* The lowest free slot, which new images try first; one whose name is taken
	 * (by a link that is not ours) is passed over. */
	unsigned slot = HS_POOL_SLOTS;
	for (unsigned i = 0; !closing && i < HS_POOL_SLOTS; i++) {
		slot_path(i, path, sizeof(path));
		if (!used[i] && symlink(target, path) == 0) {
			slot = i;
			break;
		}
	}
	if (slot < HS_POOL_SLOTS)
		kept[nkept++] = (struct kept){ .fd = fd, .dev = st.st_dev, .ino = st.st_ino,
					       .map = map, .size = size, .slot = slot,
					       .since = prim_now_ns(CLOCK_MONOTONIC) };
	pthread_mutex_unlock(&lock);
	if (slot == HS_POOL_SLOTS)
		drop(map, size, fd);
}

void segpool_close(void)
{
	char path[PATH_MAX + 16];
	pthread_mutex_lock(&lock);
	closing = true;
	while (nkept) {
		struct kept k = take_at(nkept - 1);
		slot_path(k.slot, path, sizeof(path));
		unlink(path);
		drop(k.map, k.size, k.fd);
	}
	pthread_mutex_unlock(&lock);
	/* Run removes its directory itself, unless it gave up waiting for us. */
	if (dir[0])
		rmdir(dir);
}
