/* interrupt.h - Ctrl-C while the driver waits. A host that handles SIGINT
 * (lua.c, luajit.c: their handler raises "interrupted!" once Lua code runs
 * again) would otherwise see nothing until a transfer or a sleep ends by
 * itself. While waiting, SIGINT is held back (blocked for this thread) and
 * looked for between short waits; one that came is taken (so the host's
 * handler does not raise a second "interrupted!" later) and the wait ends.
 * Nothing is changed when SIGINT is ignored or has its default action (a
 * host that did not ask for Ctrl-C handling keeps what it had). No state
 * outside the caller's struct. */
#ifndef ME_INTERRUPT_H
#define ME_INTERRUPT_H

#include <signal.h>

/* How long one wait lasts at most between two looks at SIGINT. */
#define ME_INTERRUPT_SLICE 0.1

typedef struct me_sigint {
    int held;          /* SIGINT was blocked by me_sigint_hold */
    sigset_t before;   /* the thread's mask before */
} me_sigint;

/* Hold SIGINT back if the host has a handler for it. */
void me_sigint_hold(me_sigint *g);
/* Wait up to `seconds` for a held SIGINT (0: only look); 1 when one came
 * (it is taken), else 0. */
int me_sigint_wait(me_sigint *g, double seconds);
/* Put the mask back (after me_sigint_wait took any SIGINT). */
void me_sigint_release(me_sigint *g);

/* Sleep `seconds`, ending early on a Ctrl-C: 1 then, else 0. */
int me_sleep_interruptible(double seconds);

#endif
