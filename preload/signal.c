/* signal.c - the snapshot signal.
 *
 * The handler only records "request n at ring position p" in the control block with
 * atomic operations and wakes the collector (design.md invariant 3): it may have
 * interrupted a thread holding an unpublished ring slot, so it never touches the ring.
 *
 * The program keeps the last word on its signals: sigaction(), signal() and its kin are
 * wrapped so that a program installing its own handler for our signal gets it (we say
 * once that snapshots need another HEAPSNAP_SIGNAL: on stderr, under heapsnap run
 * through run, attached through heapsnap attach), and a program asking what the
 * handler is sees what it would see without us.  One that changed it in a way not
 * wrapped (sigset(), a raw system call) is seen to have at its next sigaction().
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
static sigaction_fn real_sigaction;
static _Atomic int own_signal; /* the signal whose handler is ours, or 0 */

static void on_snapshot_signal(int sig)
{
	(void)sig;
	int saved = errno;
	struct hs_ctl *c = shim_seg.ctl;
	/* After giving up, requests are still answered: the files then say what was lost. */
	if (c && (atomic_load_explicit(&shim_state, memory_order_relaxed) == SHIM_ON ||
		  atomic_load_explicit(&shim_gave_up, memory_order_relaxed))) {
		ring_request_snapshot(c);
		/* kill() and write() only: a signal handler may not format. */
		pid_t collector = atomic_load(&c->collector_pid);
		if (collector > 0 && kill(collector, 0) < 0 && errno == ESRCH) {
			static const char msg[] =
				"heapsnap: the collector is gone: no snapshot will be written\n";
			ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
			(void)w;
		}
	}
	errno = saved;
}

static sigaction_fn get_real_sigaction(void)
{
	if (!real_sigaction)
		real_sigaction = (sigaction_fn)shim_next_symbol("sigaction");
	return real_sigaction;
}

static int32_t taken_pending; /* for the segment a forked child has not made yet */

/* Says that the snapshot signal is the program's: at start (not at its default action)
 * or since (it installed a handler of its own).  Under heapsnap run, a line in the
 * program's own stderr could end up in its data (a script's $(ls | xargs ... 2>&1)),
 * so the collector tells run, which says it on its own stderr. */
static void signal_not_ours(int sig, bool at_start, bool ignored)
{
	/* Under heapsnap run, run says so; attached, heapsnap attach does: not on the
	 * stderr of a program that never asked for us. */
	if (shim_opt.run_socket || attach_dlopened()) {
		int32_t v = sig | (at_start ? HS_SIGNAL_AT_START : 0) |
			    (ignored ? HS_SIGNAL_IGNORED : 0);
		if (shim_seg.ctl)
			atomic_store(&shim_seg.ctl->signal_taken, v);
		else
			taken_pending = v; /* a forked child, before its first event */
		return;
	}
	const char *name = sigabbrev_np(sig);
	if (at_start)
		report("SIG%s is not at its default action; set HEAPSNAP_SIGNAL to another "
		       "signal to take snapshots", name ? name : "?");
	else
		report("the program installed its own handler for SIG%s; set HEAPSNAP_SIGNAL to "
		       "another signal to take snapshots", name ? name : "?");
}

void signal_note_taken(void)
{
	if (taken_pending && shim_seg.ctl) {
		atomic_store(&shim_seg.ctl->signal_taken, taken_pending);
		taken_pending = 0;
	}
}

void signal_install(void)
{
	int sig = shim_opt.signal;
	if (!sig || !get_real_sigaction())
		return;
	struct sigaction old, sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_snapshot_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (real_sigaction(sig, NULL, &old) < 0)
		return;
	if (old.sa_handler != SIG_DFL) {
		signal_not_ours(sig, true, false);
		return;
	}
	if (real_sigaction(sig, &sa, NULL) == 0)
		atomic_store(&own_signal, sig);
}

void signal_uninstall(void)
{
	int sig = atomic_exchange(&own_signal, 0);
	struct sigaction now, dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	/* Unless the program has put its own handler there since. */
	if (sig && get_real_sigaction() && real_sigaction(sig, NULL, &now) == 0 &&
	    now.sa_handler == on_snapshot_signal)
		real_sigaction(sig, &dfl, NULL);
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *oldact)
{
	sigaction_fn real = get_real_sigaction();
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	int own = atomic_load(&own_signal);
	if (!own || sig != own)
		return real(sig, act, oldact);
	int r = real(sig, act, oldact);
	if (r < 0)
		return r;
	bool was_ours = !oldact || (!(oldact->sa_flags & SA_SIGINFO) &&
				    oldact->sa_handler == on_snapshot_signal);
	if (oldact && was_ours) {
		/* Before the program's first change, what it would have seen is the default. */
		memset(oldact, 0, sizeof(*oldact));
		oldact->sa_handler = SIG_DFL;
	}
	/* A vfork child shares its parent's memory, own_signal and segment included: its
	 * changes before exec are its own, and say nothing of the parent's signal. */
	if (shim_seg.ctl && getpid() != shim_seg.ctl->pid)
		return r;
	if (act) {
		atomic_store(&own_signal, 0);
		signal_not_ours(sig, false,
				!(act->sa_flags & SA_SIGINFO) && act->sa_handler == SIG_IGN);
	} else if (!was_ours) {
		/* Changed behind our back, through a function not wrapped (sigset, or a
		 * system call): the program's now, and what it set is what it sees. */
		atomic_store(&own_signal, 0);
		signal_not_ours(sig, false,
				!(oldact->sa_flags & SA_SIGINFO) && oldact->sa_handler == SIG_IGN);
	}
	return r;
}

/* signal() and its kin with the given flags: through sigaction() above for our
 * signal, else straight to the real function named. */
static sighandler_t signal_as(const char *name, sighandler_t (**real)(int, sighandler_t),
			      int sig, sighandler_t handler, int flags)
{
	int own = atomic_load(&own_signal);
	if (!own || sig != own) {
		if (!*real)
			*real = (sighandler_t(*)(int, sighandler_t))shim_next_symbol(name);
		if (!*real) {
			errno = ENOSYS;
			return SIG_ERR;
		}
		return (*real)(sig, handler);
	}
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (!(flags & SA_NODEFER))
		sigaddset(&sa.sa_mask, sig);
	if (sigaction(sig, &sa, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

/* glibc's signal() and bsd_signal() have BSD semantics. */
EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	static sighandler_t (*real)(int, sighandler_t);
	return signal_as("signal", &real, sig, handler, SA_RESTART);
}

EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler)
{
	static sighandler_t (*real)(int, sighandler_t);
	return signal_as("bsd_signal", &real, sig, handler, SA_RESTART);
}

/* What signal() is under strict ISO C (-std=c11 without _DEFAULT_SOURCE): System V's
 * one-shot handler, not blocked while it runs. */
EXPORT sighandler_t __sysv_signal(int sig, sighandler_t handler)
{
	static sighandler_t (*real)(int, sighandler_t);
	return signal_as("__sysv_signal", &real, sig, handler, SA_RESETHAND | SA_NODEFER);
}

EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler)
{
	static sighandler_t (*real)(int, sighandler_t);
	return signal_as("sysv_signal", &real, sig, handler, SA_RESETHAND | SA_NODEFER);
}
