/* cosim's lockstep hand-off with libngspice (built by cosim.spice.build on first use).
 *
 * ngspice runs its transient in its own background thread (`bg_run`).  The per-step sync
 * callback (GetSyncData) steers the step onto the target time of cs_advance() and, once a
 * point at the target is accepted, blocks on a condition variable until the next
 * cs_advance() sets a new target.  cs_advance() is one C call from Python (ctypes releases
 * the GIL), so no Python runs while ngspice steps.  External sources read their values from
 * a table owned here (cs_set_source is one store); names not in the table are passed on to
 * the Python callback (source functions, unknown-source errors).  The steering is the same
 * as cosim.spice.ngspice._Library._sync (the pure-Python path): see its docstring.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "synchelper.h"

void *cs_new(void *setbkpt, void *py_src, void *py_data, void *py_char)
{
    cs_state *st = calloc(1, sizeof(cs_state));
    if (!st)
        return NULL;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    st->setbkpt = (cs_setbkpt_fn)setbkpt;
    st->py_src = (cs_src_fn)py_src;
    st->py_data = (cs_data_fn)py_data;
    st->py_char = (cs_char_fn)py_char;
    st->state = CS_DONE;
    st->target = st->reached = st->tstop = INFINITY;
    st->restart = st->brk = INFINITY;
    return st;
}

void cs_free(cs_state *st)
{
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    free(st);
}

int cs_find(cs_state *st, const char *name)
{
    for (int i = 0; i < st->nsrc; i++)
        if (strcmp(st->names[i], name) == 0)
            return i;
    return -1;
}

/* Hold a source at value (name lower-case); returns 0, or -1 if the table is full. */
int cs_set_source(cs_state *st, const char *name, double value)
{
    int i = cs_find(st, name);
    if (i < 0) {
        if (st->nsrc >= CS_MAXSRC || strlen(name) >= CS_NAMELEN)
            return -1;
        i = st->nsrc;
        strcpy(st->names[i], name);
        st->values[i] = value;
        st->nsrc++; /* published after the entry is complete */
        return 0;
    }
    st->values[i] = value;
    return 0;
}

/* Drop a source from the table (it is then asked from Python). */
void cs_clear_source(cs_state *st, const char *name)
{
    int i = cs_find(st, name);
    if (i < 0)
        return;
    st->nsrc--;
    memmove(st->names[i], st->names[i + 1], (size_t)(st->nsrc - i) * CS_NAMELEN);
    memmove(&st->values[i], &st->values[i + 1], (size_t)(st->nsrc - i) * sizeof(double));
    memset(st->hptr, 0, sizeof st->hptr); /* the entries moved */
}

/* A new owner: no source values but the sync source (0), no data forwarding. */
void cs_clear_all(cs_state *st, const char *keep)
{
    st->nsrc = 0;
    st->forward = 0;
    st->vpi = st->unknown_source = st->nq = st->nlines = 0;
    memset(st->hptr, 0, sizeof st->hptr);
    cs_set_source(st, keep, 0.0);
}

/* The sync source (entry 0): 1 once the target is reached, as in the pure-Python path (the
   same solver inputs, so the same results); 2 makes ngspice's `stop when cosim_sync > 1.5`
   pause the run at its next point (cs_release). */
static double value(cs_state *st, int i, double t)
{
    if (i != 0)
        return st->values[i];
    if (st->detach)
        return 2.0;
    return t >= st->reached ? 1.0 : 0.0;
}

static unsigned hash_of(const char *name)
{
    uint64_t x = (uint64_t)(uintptr_t)name;
    x ^= x >> 17;
    x *= 0x9E3779B97F4A7C15ull;
    return (unsigned)(x >> 40) & (CS_HASH - 1);
}

/* GetVSRCData / GetISRCData: the table's value, else the Python callback.  ngspice passes the
   same name pointer every time, so a pointer-keyed hash finds the entry in O(1). */
int cs_source(double *out, double t, char *name, int ident, void *user)
{
    cs_state *st = user;
    unsigned h = hash_of(name);
    while (st->hptr[h]) {
        if (st->hptr[h] == name) {
            *out = value(st, st->hidx[h], t);
            return 0;
        }
        h = (h + 1) & (CS_HASH - 1);
    }
    int i = cs_find(st, name);
    if (i >= 0) {
        st->hptr[h] = name, st->hidx[h] = i;
        *out = value(st, i, t);
        return 0;
    }
    if (st->vpi) { /* no Python on ngspice's thread while the VPI bridge drives */
        st->unknown_source = 1;
        *out = 0.0;
        return 0;
    }
    return st->py_src(out, t, name, ident, user);
}

/* SendData: Python gets it outside a lockstep thread run, or when it asked (a data hook). */
int cs_send_data(void *data, int n, int ident, void *user)
{
    cs_state *st = user;
    if (st->nq > 0) { /* the VPI bridge's samples: the latest value of each quantity */
        cs_vecvaluesall *all = data;
        if (!st->q_resolved) {
            for (int q = 0; q < st->nq; q++) {
                st->q_index[q] = -1;
                for (int i = 0; i < all->veccount; i++) {
                    const char *a = all->vecsa[i]->name, *b = st->q_names[q];
                    while (*a && *b && tolower((unsigned char)*a) == *b)
                        a++, b++;
                    if (*a == 0 && *b == 0)
                        st->q_index[q] = i;
                }
            }
            st->q_resolved = 1;
        }
        for (int q = 0; q < st->nq; q++)
            if (st->q_index[q] >= 0 && st->q_index[q] < all->veccount)
                st->q_latest[q] = all->vecsa[st->q_index[q]]->creal;
    }
    if (st->forward || !st->bg_active)
        return st->py_data(data, n, ident, user);
    return 0;
}

/* BGThreadRunning: the background thread ended (exited == true). */
int cs_bg_running(bool exited, int ident, void *user)
{
    cs_state *st = user;
    (void)ident;
    if (exited) {
        pthread_mutex_lock(&st->mu);
        st->bg_active = 0;
        st->detach = 0;
        st->state = CS_DONE;
        pthread_cond_broadcast(&st->cv);
        pthread_mutex_unlock(&st->mu);
    }
    return 0;
}

static void set_target(cs_state *st, double t)
{
    double tol = 1e-18 + 1e-12 * fabs(t);
    if (t >= st->tstop - tol - 1e-9 * st->tstop) {
        st->target = st->reached = INFINITY; /* ngspice ends the transient there itself */
    } else {
        st->target = t;
        st->reached = t - tol;
    }
    st->tol = tol;
}

/* GetSyncData: steer the step onto the target; block once a point at the target is in. */
int cs_sync(double t, double *delta, double old, int redo, int ident, int loc, void *user)
{
    cs_state *st = user;
    double step = *delta;
    (void)old;
    (void)ident;
    if (st->brk < INFINITY) {
        st->setbkpt(st->brk);
        st->brk = INFINITY;
    }
    if (loc == 1 && !redo) {
        st->next_step = step;
    } else if (loc == 0 && t == st->restart) {
        st->restart = INFINITY;
        if (st->next_step > step)
            step = st->next_step;
    }
    if (loc == 0 && st->bg_active && t >= st->reached) {
        struct timespec cpu;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
        pthread_mutex_lock(&st->mu);
        st->thread_cpu_s = (double)cpu.tv_sec + 1e-9 * (double)cpu.tv_nsec;
        st->now = t;
        st->state = CS_BLOCKED;
        pthread_cond_broadcast(&st->cv);
        while (st->state == CS_BLOCKED)
            pthread_cond_wait(&st->cv, &st->mu);
        pthread_mutex_unlock(&st->mu);
        if (st->brk < INFINITY) { /* announced while blocked */
            st->setbkpt(st->brk);
            st->brk = INFINITY;
        }
    }
    if (loc == 0 || redo) {
        double gap = st->target - t;
        if (gap > st->tol) {
            if (step >= gap)
                step = gap;
            else if (step > 0.5 * gap)
                step = 0.5 * gap;
        }
    }
    double remaining = st->tstop - t;
    if (step > remaining || (loc == 0 && 2.0 * step >= remaining && remaining < st->target - t)) {
        step = remaining;
        while (step > 0.0 && t + step > st->tstop)
            step = nextafter(step, 0.0);
    }
    *delta = step;
    return 0;
}

/* A new circuit: the transient's end, no steering state left. */
void cs_reset(cs_state *st, double tstop)
{
    /* ngspice's name strings of the old circuit are gone; their addresses may be reused */
    memset(st->hptr, 0, sizeof st->hptr);
    st->tstop = tstop;
    st->next_step = 0.0;
    st->restart = st->brk = INFINITY;
    set_target(st, INFINITY);
}

/* Where a foreground run steers (the same rules, never blocks: no thread). */
void cs_set_target(cs_state *st, double t) { set_target(st, t); }

/* An input jumps at t: breakpoint there, and the step after it is not cut. */
void cs_break(cs_state *st, double t) { st->brk = st->restart = t; }

void cs_set_forward(cs_state *st, int forward) { st->forward = forward; }

/* Before bg_run / bg_resume: the thread will block at t. */
void cs_start(cs_state *st, double t)
{
    pthread_mutex_lock(&st->mu);
    set_target(st, t);
    st->state = CS_RUNNING;
    st->detach = 0;
    st->bg_active = 1;
    pthread_mutex_unlock(&st->mu);
}

static int wait_locked(cs_state *st, double timeout_s)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long ns = until.tv_nsec + (long)(timeout_s * 1e9);
    until.tv_sec += ns / 1000000000L;
    until.tv_nsec = ns % 1000000000L;
    while (st->state == CS_RUNNING)
        if (pthread_cond_timedwait(&st->cv, &st->mu, &until) != 0)
            return st->state == CS_RUNNING ? CS_TIMEOUT : st->state;
    return st->state;
}

/* Wait (at most timeout_s) until the thread blocks at the target or ends. */
int cs_wait(cs_state *st, double timeout_s, double *now)
{
    pthread_mutex_lock(&st->mu);
    int result = wait_locked(st, timeout_s);
    *now = st->now;
    pthread_mutex_unlock(&st->mu);
    return result;
}

/* Release the blocked thread towards t and wait until it blocks there (or ends). */
int cs_advance(cs_state *st, double t, double timeout_s, double *now)
{
    pthread_mutex_lock(&st->mu);
    set_target(st, t);
    if (st->state == CS_BLOCKED) {
        st->state = CS_RUNNING;
        pthread_cond_broadcast(&st->cv);
    }
    int result = wait_locked(st, timeout_s);
    *now = st->now;
    pthread_mutex_unlock(&st->mu);
    return result;
}

/* Interrupt: the thread blocks at its next accepted point (cs_wait sees it). */
void cs_halt(cs_state *st)
{
    pthread_mutex_lock(&st->mu);
    st->reached = -INFINITY;
    pthread_mutex_unlock(&st->mu);
}

/* Let the thread go so that ngspice's stop condition pauses the run at its next point
   (the sync source reads 1) and the thread ends; cs_wait then returns CS_DONE. */
void cs_release(cs_state *st)
{
    pthread_mutex_lock(&st->mu);
    st->detach = 1;
    st->target = st->reached = INFINITY;
    if (st->state == CS_BLOCKED) {
        st->state = CS_RUNNING;
        pthread_cond_broadcast(&st->cv);
    }
    pthread_mutex_unlock(&st->mu);
}

/* SendChar: Python's callback, or (VPI bridge running) kept here until Python asks. */
int cs_send_char(char *text, int ident, void *user)
{
    cs_state *st = user;
    if (!st->vpi)
        return st->py_char(text, ident, user);
    pthread_mutex_lock(&st->mu);
    if (st->nlines == CS_LINES) { /* keep the latest */
        memmove(st->lines[0], st->lines[1], (size_t)(CS_LINES - 1) * CS_LINELEN);
        st->nlines--;
    }
    strncpy(st->lines[st->nlines], text, CS_LINELEN - 1);
    st->lines[st->nlines][CS_LINELEN - 1] = 0;
    st->nlines++;
    pthread_mutex_unlock(&st->mu);
    return 0;
}

/* Output kept while the VPI bridge ran: line k (k < count), or NULL. */
int cs_line_count(cs_state *st) { return st->nlines; }
const char *cs_line(cs_state *st, int k) { return k < st->nlines ? st->lines[k] : NULL; }
void cs_lines_clear(cs_state *st) { st->nlines = 0; }

/* Vectors to sample (plot names, lower case); resolved at the next SendData. */
int cs_quantity(cs_state *st, const char *name, double latest)
{
    if (st->nq >= CS_MAXQ || strlen(name) >= CS_NAMELEN)
        return -1;
    strcpy(st->q_names[st->nq], name);
    st->q_latest[st->nq] = latest;
    st->q_resolved = 0;
    return st->nq++;
}
int cs_quantity_found(cs_state *st, int q) { return st->q_resolved ? st->q_index[q] >= 0 : -1; }
void cs_quantities_clear(cs_state *st) { st->nq = 0; }
void cs_set_vpi(cs_state *st, int on) { st->vpi = on; }
int cs_unknown_source(cs_state *st) { return st->unknown_source; }
double cs_now(cs_state *st) { return st->now; }
double cs_thread_cpu(cs_state *st) { return st->thread_cpu_s; }

int cs_advance_now(cs_state *st, double t, double *now)
{
    pthread_mutex_lock(&st->mu);
    set_target(st, t);
    if (st->state == CS_BLOCKED) {
        st->state = CS_RUNNING;
        pthread_cond_broadcast(&st->cv);
    }
    while (st->state == CS_RUNNING)
        pthread_cond_wait(&st->cv, &st->mu);
    *now = st->now;
    int result = st->state;
    pthread_mutex_unlock(&st->mu);
    return result;
}
