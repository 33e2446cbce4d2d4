/* arch.h - what the shim needs to know about the processor, in one place.
 *
 * The fast unwinder (unwind.c) replays cached CFA rules with the x86-64 frame layout:
 * return address at CFA - 8, frame pointer in RBP.  Elsewhere ARCH_FAST_UNWIND is 0,
 * the fast unwinder answers "miss" for every stack and libunwind answers instead, so
 * the shim builds and traces correctly on any processor libunwind supports.
 * ARCH_UNW_FP names a libunwind register: use it after including <libunwind.h>.
 */
#pragma once

#if defined(__x86_64__)
#define ARCH_FAST_UNWIND 1
#define ARCH_UNW_FP UNW_X86_64_RBP /* libunwind's number for the frame pointer */
static inline void arch_cpu_relax(void)
{
	__builtin_ia32_pause();
}
#else
#define ARCH_FAST_UNWIND 0
#define ARCH_UNW_FP UNW_REG_SP /* never used: the fast unwinder is off */
static inline void arch_cpu_relax(void)
{
}
#endif
