/* unwind.c - the caller's stack, fast: CFA rules cached per return address.
 *
 * libunwind's unw_backtrace costs about 90 instructions a frame, most of what tracing
 * an allocation costs.  But at a given return address, a frame's layout is fixed:
 * its CFA is RSP + k, or RBP + 16 when the function keeps a frame pointer, the return
 * address is at CFA - 8, and the caller's RBP is either untouched or saved at a fixed
 * offset from the CFA.  So each thread keeps a small direct-mapped cache from return
 * address to that rule, and walks the stack with it in a few instructions a frame.
 *
 * The rules are libunwind's own answers: on any miss, the stack is unwound with a
 * libunwind cursor, and for each frame the rule is derived from the registers before
 * and after the step (and where libunwind says the caller's RBP was saved), then
 * checked by replaying it on that very frame; a rule that does not reproduce
 * libunwind's step, and signal frames, are cached as unusable, which sends every later
 * stack through them to libunwind.  The fast walk checks that each CFA rises and stays
 * below the top of the thread's stack, so it never reads outside the stack; anything
 * else falls back to libunwind.  The shim's own frames are skipped through their frame
 * pointers (preload/ is built with -fno-omit-frame-pointer).
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "arch.h"
#include "shim.h"

enum rule_kind {
	RULE_EMPTY = 0,
	RULE_SP = 1,   /* CFA = RSP + off */
	RULE_BP = 2,   /* CFA = RBP + off (a frame pointer) */
	RULE_END = 3,  /* the outermost frame */
	RULE_NONE = 4, /* not cacheable (signal frame, RBP kept in a register...) */
	RULE_UNCOVERED = 5, /* no CFI: the outermost frame when RBP is 0, else unknown */
};

struct rule {
	uint64_t ip;
	int32_t off;      /* CFA offset from the base register */
	int16_t rbp_off;  /* caller's RBP saved at CFA + rbp_off, or 0: unchanged */
	uint8_t kind;
	uint8_t pad;
};

#define RULES (1u << THREAD_RULE_BITS) /* 32 KiB a thread, in its block (threadmem.c) */
#define OWN_MAX 12  /* more own frames than any entry path has */
_Static_assert(RULES * sizeof(struct rule) == THREAD_BLOCK_RULES, "the rules fill their part");

static __thread uint64_t stack_top TLS_IE; /* 0 until known */

static inline uint64_t rule_hash(uint64_t ip)
{
	return ip * 0x9e3779b97f4a7c15ull;
}

/* Where ip's rule is cached in this thread's table (rules, from thread_block()), of
 * 2^shim_rule_bits rules.  Each holds its ip, so one written at a narrower width is
 * only a miss at the wider one. */
static inline struct rule *rule_slot(struct rule *rules, uint64_t ip)
{
	return &rules[rule_hash(ip) >> (64 - shim_rule_bits)];
}

/* Misses after which a thread's rules go from their first page to all of them: more
 * call sites than a short process has. */
#define GROW_AFTER 128u

/* Widens this thread's rules to all of them, each rule filed anew: a compiler's first
 * 128 call sites are not learnt twice.  A rule at narrow slot i goes to a wide slot in
 * [8i, 8i + 8), so going down from the last, every slot it can land on was emptied
 * or filled by its own rule already, and nothing is lost. */
static void rules_widen(struct rule *rules)
{
	unsigned from = shim_rule_bits;
	thread_block_grow();
	if (shim_rule_bits == from)
		return;
	for (uint64_t i = 1ull << from; i-- > 0;) {
		struct rule r = rules[i];
		if (!r.ip)
			continue;
		rules[i] = (struct rule){ 0 };
		rules[rule_hash(r.ip) >> (64 - shim_rule_bits)] = r;
	}
}

struct code_range {
	uintptr_t lo, hi;
};

/* The text of the shim and of libunwind: frames there are ours, not the program's. */
static struct code_range own_code[2];

static int find_range(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct code_range *r = data;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
		if (r->lo >= lo && r->lo < hi) {
			r->lo = lo;
			r->hi = hi;
			return 1;
		}
	}
	return 0;
}

static void code_range_of(const void *fn, struct code_range *r)
{
	r->lo = (uintptr_t)fn;
	r->hi = 0;
	if (!dl_iterate_phdr(find_range, r))
		r->lo = r->hi = 0;
}

void unwind_init(void)
{
	code_range_of((const void *)unwind_init, &own_code[0]);
}

/* libunwind, loaded the first time a stack needs it.  Most processes never do (the
 * fast walk learns its rules from the CFI), and loading it and liblzma costs a short
 * process about 0.3 ms.  Several threads may load it at once: dlopen serializes them
 * and each stores the same addresses; no lock is held across it, so a fork in the
 * middle leaves the child nothing to wait for. */
#define LU_STR(x) #x
#define LU_NAME(x) LU_STR(x) /* libunwind's macros give each function's real name */
static struct {
	int (*getcontext)(unw_context_t *);
	int (*init_local)(unw_cursor_t *, unw_context_t *);
	int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
	int (*get_save_loc)(unw_cursor_t *, int, unw_save_loc_t *);
	int (*step)(unw_cursor_t *);
	int (*is_signal_frame)(unw_cursor_t *);
	int (*backtrace)(void **, int);
} lu;
static _Atomic int lu_state; /* 0: not tried, 1: loaded, -1: cannot be */

static bool libunwind_load(void)
{
	int state = atomic_load_explicit(&lu_state, memory_order_acquire);
	if (LIKELY(state))
		return state > 0;
	void *h = dlopen(HS_LIBUNWIND_SONAME, RTLD_NOW | RTLD_LOCAL);
	unw_addr_space_t *as = h ? dlsym(h, LU_NAME(unw_local_addr_space)) : NULL;
	int (*caching)(unw_addr_space_t, unw_caching_policy_t) =
		h ? (int (*)(unw_addr_space_t, unw_caching_policy_t))dlsym(
			    h, LU_NAME(unw_set_caching_policy))
		  : NULL;
#define LU_SYM(field, name) (lu.field = (__typeof__(lu.field))dlsym(h, LU_NAME(name)))
	bool ok = h && as && caching && LU_SYM(getcontext, unw_tdep_getcontext) &&
		  LU_SYM(init_local, unw_init_local) && LU_SYM(get_reg, unw_get_reg) &&
		  LU_SYM(get_save_loc, unw_get_save_loc) && LU_SYM(step, unw_step) &&
		  LU_SYM(is_signal_frame, unw_is_signal_frame) &&
		  LU_SYM(backtrace, unw_backtrace);
#undef LU_SYM
	if (ok) {
		caching(*as, UNW_CACHE_PER_THREAD);
		code_range_of((const void *)lu.step, &own_code[1]);
	} else {
		report("cannot load %s (%s): stacks the fast unwinder cannot walk are lost",
		       HS_LIBUNWIND_SONAME, h ? "a function is missing" : dlerror());
	}
	atomic_store_explicit(&lu_state, ok ? 1 : -1, memory_order_release);
	return ok;
}

static inline bool unwind_is_own(uint64_t ip)
{
	return (ip - own_code[0].lo < own_code[0].hi - own_code[0].lo) ||
	       (ip - own_code[1].lo < own_code[1].hi - own_code[1].lo);
}

/* ld.so's: where the main thread's stack stood when the program started. */
extern void *__libc_stack_end;

/* The top of the stack that sp is on, for this thread, or 0 when unknown (then the
 * fast path is off).  Not from pthread_getattr_np: it holds the thread's lock while it
 * allocates (and on the main thread reads /proc/self/maps, about 0.3 ms a process), so
 * a program whose first allocation on a thread is inside its own pthread_getattr_np
 * call would deadlock here on that lock.  glibc puts a thread's descriptor,
 * pthread_self(), at the top of its stack block (a stack the program provides too),
 * above its TLS and every frame; the main thread's descriptor lies below its stack,
 * whose top glibc takes to be the end of the page holding __libc_stack_end.  A forked
 * child of another thread is the main thread of its process on that thread's stack,
 * so the descriptor's test comes first. */
static uint64_t thread_stack_top(uint64_t sp)
{
	uint64_t self = (uint64_t)(uintptr_t)pthread_self();
	if (sp < self)
		return self;
	uint64_t main_top = ((uint64_t)(uintptr_t)__libc_stack_end | 4095) + 1;
	if (getpid() == gettid() && sp < main_top)
		return main_top;
	return 0;
}

/* The first frame outside the shim, from the shim's own frame-pointer chain: its
 * return address, stack pointer and RBP.  False when the chain looks wrong. */
static inline bool first_frame(uint64_t *ip, uint64_t *sp, uint64_t *bp)
{
	const uint64_t *fp = __builtin_frame_address(0);
	for (int own = 0; own < 16; own++) {
		uint64_t ra = fp[1];
		if (!unwind_is_own(ra)) {
			*ip = ra;
			*sp = (uint64_t)(uintptr_t)(fp + 2);
			*bp = fp[0];
			return true;
		}
		const uint64_t *next = (const uint64_t *)(uintptr_t)fp[0];
		if (next <= fp)
			return false;
		fp = next;
	}
	return false;
}

_Atomic uint64_t unwind_cfi_rules, unwind_file_rules;

/* Learns the rule at ip into its slot: from its module's rules file when that knows
 * it, else from the CFI, handing what the CFI said to the collector for the file
 * (cfistore.c).  RULE_NONE when there is none the walk can replay: then libunwind's
 * walk may still teach one. */
static const struct rule *learn_cfi(struct rule *rules, uint64_t ip)
{
	struct cfi_rule c;
	if (UNLIKELY(++shim_rule_misses == GROW_AFTER))
		rules_widen(rules);
	struct rule *r = rule_slot(rules, ip);
	*r = (struct rule){ .ip = ip, .kind = RULE_NONE };
	int known = cfistore_find(ip, &c);
	if (known >= 0 && UNLIKELY(shim_opt.verify_unwind))
		atomic_fetch_add(&unwind_file_rules, 1);
	if (known < 0) {
		known = cfi_rule(ip, &c);
		cfistore_learnt(ip, known ? &c : NULL);
		if (known && UNLIKELY(shim_opt.verify_unwind))
			atomic_fetch_add(&unwind_cfi_rules, 1);
	}
	if (known) {
		*r = (struct rule){ .ip = ip, .off = c.off, .rbp_off = c.rbp_off,
				    .kind = c.kind == HS_CFI_SP	? RULE_SP
					    : c.kind == HS_CFI_BP	? RULE_BP
					    : c.kind == HS_CFI_END ? RULE_END
								: RULE_UNCOVERED };
	}
	return r;
}

__attribute__((noinline)) int unwind_fast(uint64_t *out, unsigned max, bool *more)
{
	uint64_t top = stack_top;
	uint64_t ip, sp, bp;
	uint64_t here = (uint64_t)(uintptr_t)__builtin_frame_address(0);
	if (ARCH_FAST_UNWIND && UNLIKELY(here >= top)) {
		/* Not known yet, or known from another stack below this one (the main
		 * thread's first capture on a coroutine's or a signal stack): the higher
		 * top bounds both. */
		uint64_t t = thread_stack_top(here);
		if (t > top)
			top = stack_top = t;
	}
	struct rule *rules = thread_block();
	if (!ARCH_FAST_UNWIND || !top || !rules || !first_frame(&ip, &sp, &bp))
		return -1;
	unsigned n = 0;
	for (;;) {
		if (n == max) {
			*more = true; /* ip is one frame more than kept */
			return (int)n;
		}
		out[n++] = ip;
		const struct rule *r = rule_slot(rules, ip);
		if (r->ip != ip)
			r = learn_cfi(rules, ip);
		uint64_t cfa;
		switch (r->kind) {
		case RULE_SP:
			cfa = sp + (uint64_t)(int64_t)r->off;
			break;
		case RULE_BP:
			cfa = bp + (uint64_t)(int64_t)r->off;
			break;
		case RULE_END:
			*more = false;
			return (int)n;
		case RULE_UNCOVERED:
			/* Code with no CFI, such as ld.so's _dl_start_user around the
			 * constructors it calls (Debian 12's has none): the ABI marks the
			 * outermost frame with RBP 0, which is where libunwind stops too. */
			if (bp)
				return -1;
			*more = false;
			return (int)n;
		default:
			return -1;
		}
		/* The CFA rises and stays in the stack; the saved RBP lies in this frame. */
		if (cfa <= sp || cfa > top || cfa + (uint64_t)(int64_t)r->rbp_off < sp)
			return -1;
		uint64_t next_ip = ((const uint64_t *)(uintptr_t)cfa)[-1];
		if (r->rbp_off)
			bp = *(const uint64_t *)(uintptr_t)(cfa + (uint64_t)(int64_t)r->rbp_off);
		sp = cfa;
		ip = next_ip;
		if (!ip) {
			*more = false;
			return (int)n;
		}
	}
}

/* Derives and checks the rule for the frame the cursor was at (ip, sp, bp) now that it
 * has stepped (step is unw_step's result). */
static void learn(unw_cursor_t *cur, uint64_t ip, uint64_t sp, uint64_t bp, int step,
		  bool signal_frame)
{
	struct rule r = { .ip = ip, .kind = RULE_NONE };
	unw_word_t cfa, next_ip, next_bp;
	unw_save_loc_t loc;
	if (!ARCH_FAST_UNWIND || signal_frame || step < 0) {
		/* stays RULE_NONE */
	} else if (step == 0) {
		r.kind = RULE_END;
	} else if (lu.get_reg(cur, UNW_REG_SP, &cfa) == 0 &&
		   lu.get_reg(cur, UNW_REG_IP, &next_ip) == 0 &&
		   lu.get_reg(cur, ARCH_UNW_FP, &next_bp) == 0 &&
		   lu.get_save_loc(cur, ARCH_UNW_FP, &loc) == 0 && cfa > sp &&
		   cfa - sp < (1u << 30)) {
		/* libunwind says where the caller's RBP was last saved: in this frame (between
		 * its SP and CFA) when this function saved it, deeper (below its SP) when a
		 * callee did and this function left RBP alone. */
		int64_t rbp_off = 0;
		bool ok = true;
		if (loc.type == UNW_SLT_MEMORY && loc.u.addr >= sp && loc.u.addr < cfa) {
			rbp_off = (int64_t)(loc.u.addr - cfa);
			ok = rbp_off > -32768;
		} else if ((loc.type != UNW_SLT_MEMORY && loc.type != UNW_SLT_NONE) ||
			   next_bp != bp) {
			ok = false;
		}
		if (ok) {
			r.rbp_off = (int16_t)rbp_off;
			if (rbp_off == -16 && bp == cfa - 16) {
				r.kind = RULE_BP;
				r.off = 16;
			} else {
				r.kind = RULE_SP;
				r.off = (int32_t)(cfa - sp);
			}
			/* Replay it on this frame: it must give libunwind's step. */
			uint64_t c = r.kind == RULE_BP ? bp + 16 : sp + (uint64_t)r.off;
			uint64_t b = rbp_off ? *(const uint64_t *)(uintptr_t)(c + (uint64_t)rbp_off) : bp;
			if (c != cfa || ((const uint64_t *)(uintptr_t)c)[-1] != next_ip || b != next_bp)
				r.kind = RULE_NONE;
		}
	}
	struct rule *rules = thread_block();
	if (rules)
		*rule_slot(rules, ip) = r;
}

/* libunwind blocks every signal around each lookup of a frame's unwind information:
 * two sigprocmask calls a frame it has not cached, 772 system calls in a traced `tr`
 * that makes 150 allocations.  They keep a signal handler from entering libunwind
 * while it is in the middle of a lookup.  While the shim unwinds, its guard is set, so
 * a handler that allocates is routed around the shim and never reaches libunwind
 * through it: libunwind's calls from inside the shim's own unwinding (in_libunwind,
 * and called from libunwind's code, not from a signal handler of the program's that
 * interrupted it) change no mask.  Every other sigprocmask call passes through. */
static __thread bool in_libunwind TLS_IE;

EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	static int (*real)(int, const sigset_t *, sigset_t *);
	if (in_libunwind && unwind_is_own((uint64_t)(uintptr_t)__builtin_return_address(0))) {
		if (old)
			sigemptyset(old); /* only ever given back to the call below */
		return 0;
	}
	if (!real && !(real = (int (*)(int, const sigset_t *, sigset_t *))
			       shim_next_symbol("sigprocmask"))) {
		errno = ENOSYS;
		return -1;
	}
	return real(how, set, old);
}

__attribute__((noinline)) int unwind_backtrace(uint64_t *out, unsigned max, bool *more)
{
	/* Room for the shim's own leading frames (4 or 5 on every path) and one more
	 * than kept, to tell a stack at the limit from a longer one. */
	void *ips[HS_FRAMES_MAX + OWN_MAX + 1];
	int want = (int)max + OWN_MAX + 1;
	*more = false;
	if (!libunwind_load())
		return 0;
	fds_check_unwinder_pipe();
	in_libunwind = true;
	int got = lu.backtrace(ips, want);
	in_libunwind = false;
	int skip = 0;
	while (skip < got && unwind_is_own((uint64_t)(uintptr_t)ips[skip]))
		skip++;
	int n = got - skip;
	*more = n > (int)max;
	if (*more)
		n = (int)max;
	for (int i = 0; i < n; i++)
		out[i] = (uint64_t)(uintptr_t)ips[skip + i];
	return n;
}

/* unwind_slow's walk from the cursor, at the shim's innermost frame. */
static int unwind_walk(unw_cursor_t *cur, uint64_t *out, unsigned max, bool *more)
{
	unw_word_t ip, sp, bp;
	for (int own = 0;; own++) {
		if (own > 32 || lu.get_reg(cur, UNW_REG_IP, &ip) != 0)
			return 0;
		if (!unwind_is_own(ip))
			break;
		if (lu.step(cur) <= 0)
			return 0;
	}
	unsigned n = 0;
	for (;;) {
		if (lu.get_reg(cur, UNW_REG_IP, &ip) != 0 || lu.get_reg(cur, UNW_REG_SP, &sp) != 0 ||
		    lu.get_reg(cur, ARCH_UNW_FP, &bp) != 0)
			break;
		if (n == max) {
			*more = true;
			break;
		}
		out[n++] = ip;
		bool signal_frame = lu.is_signal_frame(cur) > 0;
		int step = lu.step(cur);
		learn(cur, ip, sp, bp, step, signal_frame);
		if (step <= 0)
			break;
	}
	return (int)n;
}

__attribute__((noinline)) int unwind_slow(uint64_t *out, unsigned max, bool *more)
{
	unw_context_t uc;
	unw_cursor_t cur;
	*more = false;
	if (!libunwind_load())
		return 0;
	fds_check_unwinder_pipe();
	in_libunwind = true;
	int n = lu.getcontext(&uc) != 0 || lu.init_local(&cur, &uc) != 0
			? 0 : unwind_walk(&cur, out, max, more);
	in_libunwind = false;
	return n;
}
