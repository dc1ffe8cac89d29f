/* cosim's compiled lockstep: shared state of synchelper.c (ngspice's side) and vpisync.c
 * (the simulator's side).  Built by cosim.spice.build; see docs/bridge.md.
 */
#ifndef COSIM_SYNCHELPER_H
#define COSIM_SYNCHELPER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define CS_MAXSRC 4096   /* external sources (a 1184-device crossbar has ~2400) */
#define CS_HASH 16384    /* > 2 * CS_MAXSRC, a power of two */
#define CS_NAMELEN 64
#define CS_MAXQ 256     /* quantities the VPI bridge samples */
#define CS_LINES 64     /* ngspice output lines kept while the VPI bridge runs */
#define CS_LINELEN 256

enum { CS_RUNNING = 0, CS_BLOCKED = 1, CS_DONE = 2, CS_TIMEOUT = 3 };

typedef bool (*cs_setbkpt_fn)(double);
typedef int (*cs_src_fn)(double *, double, char *, int, void *);
typedef int (*cs_data_fn)(void *, int, int, void *);
typedef int (*cs_char_fn)(char *, int, void *);

/* ngspice's SendData record (sharedspice.h: vecvalues, vecvaluesall) */
typedef struct {
    char *name;
    double creal, cimag;
    bool is_scale, is_complex;
} cs_vecvalues;
typedef struct {
    int veccount, vecindex;
    cs_vecvalues **vecsa;
} cs_vecvaluesall;

typedef struct cs_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state;       /* CS_RUNNING, CS_BLOCKED (in the sync callback), CS_DONE */
    int bg_active;   /* a bg_run/bg_resume thread is alive */
    int forward;     /* pass SendData on to Python while the thread runs (a data hook) */
    int detach;      /* the sync source reads 2: ngspice's stop pauses the run, thread ends */
    double target, tol, reached, tstop;
    double next_step, restart, brk, now;
    cs_setbkpt_fn setbkpt;
    cs_src_fn py_src;
    cs_data_fn py_data;
    cs_char_fn py_char;
    int nsrc;
    char names[CS_MAXSRC][CS_NAMELEN];
    const char *hptr[CS_HASH];   /* ngspice's own name pointers, once seen ... */
    int hidx[CS_HASH];           /* ... and their table entries (open addressing) */
    double values[CS_MAXSRC];
    /* The VPI bridge (vpisync.c): no Python may run on ngspice's thread while it drives. */
    int vpi;                     /* output is kept here, unknown sources are an error */
    int unknown_source;          /* a source without a value was asked for (vpi mode) */
    int nq, q_resolved;          /* sampled vectors: names, index in SendData, latest value */
    char q_names[CS_MAXQ][CS_NAMELEN];
    int q_index[CS_MAXQ];
    double q_latest[CS_MAXQ];
    int nlines;
    char lines[CS_LINES][CS_LINELEN];
    double thread_cpu_s;         /* CPU time of ngspice's thread, measured at each block */
    void *vb;                    /* the VPI bridge's own state */
} cs_state;

int cs_find(cs_state *st, const char *name);
/* Release the blocked thread towards t and wait until it blocks there or ends (no Python). */
int cs_advance_now(cs_state *st, double t, double *now);
void cs_break(cs_state *st, double t);

#endif
