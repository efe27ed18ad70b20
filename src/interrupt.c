/* interrupt.c - see interrupt.h. */
#include "interrupt.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "util.h"

/* Does the host run a function of its own on SIGINT? */
static int sigint_handled(void)
{
    struct sigaction now;
    if (sigaction(SIGINT, NULL, &now) != 0)
        return 0;
    if (now.sa_flags & SA_SIGINFO)
        return 1;
    return now.sa_handler != SIG_DFL && now.sa_handler != SIG_IGN;
}

void me_sigint_hold(me_sigint *g)
{
    sigset_t set;
    g->held = 0;
    if (!sigint_handled())
        return;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &set, &g->before) == 0)
        /* a host that blocks SIGINT itself keeps it blocked and untouched */
        g->held = !sigismember(&g->before, SIGINT);
    if (!g->held)
        pthread_sigmask(SIG_SETMASK, &g->before, NULL);
}

static double monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int me_sigint_wait(me_sigint *g, double seconds)
{
    sigset_t set;
    double end = monotonic() + (seconds > 0 ? seconds : 0);
    if (!g->held)
        return 0;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    for (;;) {
        struct timespec ts;
        double left = end - monotonic();
        if (left < 0)
            left = 0;
        ts.tv_sec = (time_t)left;
        ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
        if (sigtimedwait(&set, NULL, &ts) == SIGINT)
            return 1;
        /* EAGAIN: the time is up; EINTR: another signal's handler ran */
        if (errno != EINTR || left == 0)
            return 0;
    }
}

void me_sigint_release(me_sigint *g)
{
    if (g->held)
        pthread_sigmask(SIG_SETMASK, &g->before, NULL);
    g->held = 0;
}

int me_sleep_interruptible(double seconds)
{
    me_sigint g;
    int interrupted;
    me_sigint_hold(&g);
    if (!g.held) {
        me_sleep_seconds(seconds);
        return 0;
    }
    interrupted = me_sigint_wait(&g, seconds > 86400 ? 86400 : seconds);
    me_sigint_release(&g);
    return interrupted;
}
