/* segment.c - this process image's shared segment: created, mapped, dropped.
 *
 * One memfd holds the control block, the ring, the stack table and the module table
 * (shmlayout.h).  It is created sealed against shrinking, mapped, and its fd is handed
 * to the collector and then closed: the program is left with no extra fd.  The layout
 * is computed once, here, and kept privately in struct segment; nothing on the hot
 * path reads a size or offset back from shared memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

struct segment shim_seg HIDDEN;

/* The program's argv, as the collector and the snapshot files show it: read from /proc
 * for a new image (or a new attachment), and kept here too, in private memory a forked
 * child shares with its parent until it writes there: the child copies it from here
 * (the same argv) without a page fault. */
static char command[HS_COMMAND_MAX];
static uint32_t command_len;
static bool command_read;

static void segment_read_command(struct hs_ctl *c, bool forked)
{
	if (!forked || !command_read) {
		int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, command, sizeof(command)) : -1;
		command_len = n > 0 ? (uint32_t)n : 0;
		command_read = fd >= 0;
		if (fd >= 0)
			close(fd);
	}
	memcpy(c->command, command, command_len);
	c->command_len = command_len;
}

/* The stack table's capacity: HEAPSNAP_STACKS, else the default, unless the process
 * has an address-space limit.  The whole segment counts against RLIMIT_AS, and with
 * the default table (139 MiB in all) a program that fits its limit natively ran out
 * under the shim (python's 200 MB under `ulimit -v 300000`).  Under a limit, the
 * table is halved until the segment takes at most 1/32 of it. */
static uint64_t stacks_capacity(const struct shim_options *o)
{
	struct rlimit rl;
	if (o->stacks_set || getrlimit(RLIMIT_AS, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return o->stacks;
	uint64_t budget = (uint64_t)rl.rlim_cur / 32, stacks = o->stacks;
	struct hs_layout l;
	while (stacks / 2 >= HS_STACKS_MIN &&
	       (hs_layout_compute(o->ring_records, stacks, &l) < 0 || l.total > budget))
		stacks /= 2;
	return stacks;
}

/* Maps now the pages every traced process writes: the control block, the first page of
 * each table it fills from its first event on, the slots' first level and the start of
 * the ring.  A system call each, instead of a page fault each. */
static void populate_first(struct hs_ctl *c, const struct hs_layout *l)
{
	char *base = (char *)c;
	prim_populate(base, l->modules.head_off + HS_PAGE);
	const struct hs_table *first[] = { &l->paths, &l->stacks, &l->frames };
	for (size_t i = 0; i < sizeof(first) / sizeof(*first); i++)
		prim_populate(base + first[i]->head_off, HS_PAGE);
	uint64_t level0 = l->slots.cap < HS_SLOTS_LEVEL0 ? l->slots.cap : HS_SLOTS_LEVEL0;
	prim_populate(base + l->slots.head_off, level0 * sizeof(struct hs_slot));
	prim_populate(base + l->ring_off, HS_PAGE);
}

/* A forked child's segment goes where its copy of the parent's was, when the two are
 * the same size: one mmap replaces the copy, where a new aligned place and the copy's
 * unmapping took five calls, each a change to the child's memory map (a tenth of a
 * traced fork child's setup).  A segment of another size (the address-space limit was
 * lowered since the parent's was made: `ulimit -v` in a shell) is mapped once the copy
 * is gone, so that the two never count against that limit together. */
static struct hs_ctl *segment_map(int fd, uint64_t size, struct segment *parent)
{
	if (!parent || !parent->ctl || parent->size != size) {
		if (parent)
			segment_unmap(parent);
		return prim_map_aligned(fd, size, HS_REGION);
	}
	void *at = (void *)syscall(SYS_mmap, parent->ctl, size, PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_FIXED, fd, 0);
	if (at != MAP_FAILED)
		memset(parent, 0, sizeof(*parent)); /* replaced: nothing left to unmap */
	return at;
}

/* A segment heapsnap run's host kept from an ended image (HS_POOL_MAGIC in
 * shmlayout.h), claimed from run's directory: its fd, when it has size bytes and the
 * seals of ours, else -1.  Its magic is checked once it is mapped. */
static int segment_claim(uint64_t size)
{
	const char *sock = shim_opt.run_socket;
	const char *slash = sock ? strrchr(sock, '/') : NULL;
	char from[160], to[160];
	size_t dir = slash ? (size_t)(slash - sock) + 1 : 0, fn = dir, tn = dir;
	if (!slash || dir >= sizeof(from))
		return -1;
	memcpy(from, sock, dir);
	memcpy(to, sock, dir);
	if (!prim_put_str(from, sizeof(from) - 1, &fn, "pool.") ||
	    !prim_put_str(to, sizeof(to) - 1, &tn, "claim.") ||
	    !prim_put_int(to, sizeof(to) - 1, &tn, getpid()))
		return -1;
	to[tn] = '\0';
	/* The host fills the lowest free slot first. */
	for (unsigned k = 0; k < HS_POOL_SLOTS; k++) {
		size_t n = fn;
		if (!prim_put_int(from, sizeof(from) - 1, &n, k))
			return -1;
		from[n] = '\0';
		if (rename(from, to) < 0) /* an empty slot, or another image's claim */
			continue;
		int fd = open(to, O_RDWR | O_NONBLOCK | O_CLOEXEC); /* a planted device must not block */
		struct stat st;
		bool sized = fd >= 0 && fstat(fd, &st) == 0;
		if (sized && (uint64_t)st.st_size == size &&
		    fcntl(fd, F_GET_SEALS) == (F_SEAL_SHRINK | F_SEAL_SEAL)) {
			unlink(to);
			return fd;
		}
		/* A segment of another size (kept from an image with other options or
		 * limits) goes back, for the images that want it. */
		if (!sized || (uint64_t)st.st_size == size || rename(to, from) < 0)
			unlink(to);
		if (fd >= 0)
			close(fd);
	}
	return -1;
}

/* Takes a claimed segment mapped at c: true when it was a kept one, now ours. */
static bool segment_take_kept(struct hs_ctl *c)
{
	uint64_t want = HS_POOL_MAGIC;
	return __atomic_compare_exchange_n(&c->magic, &want, 0, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

/* A new segment's memfd and mapping, from the host's kept ones when there is one.
 * Returns the fd, or a negative errno. */
static int segment_open(uint64_t size, struct segment *parent, struct hs_ctl **out)
{
	int fd = segment_claim(size);
	if (fd >= 0) {
		struct hs_ctl *c = segment_map(fd, size, parent);
		if (c != MAP_FAILED && segment_take_kept(c)) {
			*out = c;
			return fd;
		}
		if (c != MAP_FAILED)
			shim_real_munmap(c, size);
		close(fd);
	}
	fd = memfd_create("heapsnap", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	/* Sealed against shrinking: the collector's reads can never fault (SIGBUS) on a
	 * segment someone truncated through /proc/PID/map_files. */
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) < 0 ||
	    (*out = segment_map(fd, size, parent)) == MAP_FAILED) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int segment_create(struct segment *s, const struct shim_options *o,
		   struct segment *parent)
{
	bool forked = parent && parent->ctl;
	struct hs_layout l;
	int r = hs_layout_compute(o->ring_records, stacks_capacity(o), &l);
	if (r < 0)
		return r;
	struct hs_ctl *c;
	int fd = segment_open(l.total, parent, &c);
	if (fd < 0)
		return fd;
	/* The program's core files are the program's: without this, a crash of a small
	 * program dumped 146 MB of segment with its 300 KB. */
	madvise(c, l.total, MADV_DONTDUMP);
	populate_first(c, &l);
	hs_layout_write(c, &l, o->frames);
	ring_liveness_init(c);
	c->pid = (int32_t)getpid();
	c->signal = o->signal;
	c->start_nanos = prim_now_ns(CLOCK_REALTIME);
	c->sample_period = o->sample_period;
	atomic_store(&c->recording, o->start_off ? 0 : 1);
	atomic_store(&c->nstacks, 1); /* id 0 is HS_STACK_UNKNOWN */
	segment_read_command(c, forked);
	s->ctl = c;
	s->size = l.total;
	s->geo = hs_geometry_of(c, &l);
	ring_init(&s->ring, c, &s->geo);
	s->ring.stall_ns = prim_seconds_to_ns(o->stall_timeout);
	s->sample_period = o->sample_period;
	atomic_store(&s->slot_levels_mapped, 1); /* populate_first() */
	return fd;
}

void segment_unmap(struct segment *s)
{
	if (s->ctl)
		shim_real_munmap(s->ctl, s->size);
	memset(s, 0, sizeof(*s));
}
