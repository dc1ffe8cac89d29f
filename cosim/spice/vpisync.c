/* cosim's lockstep bridge on the simulator's side, in C (built with synchelper.c).
 *
 * The same rules as cosim.bench.lockstep.Bridge, run from VPI value-change callbacks instead
 * of cocotb triggers, so that no Python runs per sync: on a change of a driving port the
 * analog side is advanced to now with the old values held (announcing the jump first), then
 * the new source values go into the helper's table; on a strobe's edge the sampled
 * quantities are written to the HDL with vpi_put_value in the same time step; samples
 * without a strobe are written at every wake.  ngspice steps in its own thread, blocked in
 * the sync callback between syncs (synchelper.c).  Python configures the bridge, reads its
 * logs (stimulus, samples, edges) now and then, and detaches it at the end.
 *
 * Deferred analog side (vb_defer): for an analog simulator that runs in Python (the NumPy
 * twin), the same rules without ngspice: every advance and every source change goes into the
 * stimulus log only, and Python is called at a sample (a strobe's edge, or every wake for
 * samples without a strobe) to replay the log into its simulator and give the quantities.
 * Python then runs once per ADC sample instead of once per port change.
 *
 * The vpi_* functions are looked up in the running simulator (dlsym), so the library also
 * loads where there is none; vb_new then says why not.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "synchelper.h"

#ifdef CS_NO_VPI
void *vb_new(cs_state *st, int started, double t_s) { (void)st, (void)started, (void)t_s; return NULL; }
void *vw_new(void) { return NULL; }
const char *vb_reason(void) { return "built without vpi_user.h"; }
#else
#include <vpi_user.h>

#define VB_MAXPORT 256
#define VB_MAXDRIVE CS_MAXSRC
#define VB_MAXSTROBE 16
#define VB_MAXSAMPLE 256
#define VB_MAXW 64 /* 32-bit words of a logic port: 2048 bits */

enum { VB_RUNNING = 0, VB_STOPPED = 1, VB_ENDED = 2, VB_ERROR = 3 };
enum { BUF_STIM = 0, BUF_SAMPLE = 1, BUF_EDGE = 2 };

/* The simulator's VPI, looked up with dlsym; its time unit. */
typedef struct {
    vpiHandle (*by_name)(PLI_BYTE8 *, vpiHandle);
    vpiHandle (*register_cb)(p_cb_data);
    PLI_INT32 (*remove_cb)(vpiHandle);
    void (*get_value)(vpiHandle, p_vpi_value);
    vpiHandle (*put_value)(vpiHandle, p_vpi_value, p_vpi_time, PLI_INT32);
    void (*get_time)(vpiHandle, p_vpi_time);
    PLI_INT32 (*get)(PLI_INT32, vpiHandle);
    int64_t fs_per_tick;
} vpi_api;

typedef struct vb vb;
typedef struct { vb *b; int strobe, port; } vb_ref; /* a strobe's or a driving port's */

typedef struct {
    vpiHandle h, cb;
    int logic, words, first, n;
    uint32_t last[VB_MAXW];
    double last_real;
    vb_ref ref;
} vb_port_t;
typedef struct { int slot, bit; double gain, lvl0, lvl1; } vb_drive_t;
typedef struct { vpiHandle h, cb; int rising, level; vb_ref ref; } vb_strobe_t;
typedef struct { int out, q, group, hyst; double lo, hi, deadband; } vb_sample_t;
typedef struct { vpiHandle h; int logic, has; double value; } vb_out_t;
typedef struct { double *data; size_t n, cap; } vb_buf;
/* The deferred analog side: replay the stimulus log up to t, write the quantities to q;
   nonzero: it failed (Python keeps the error). */
typedef int (*vb_analog_fn)(double t, double *q);

struct vb {
    vpi_api api; /* first: see new_on_vpi */
    cs_state *st;
    int status, started, nport, ndrive, nstrobe, nsample, nout, every;
    double t_s, events, syncs, samples, wake_cpu_s;
    vb_port_t ports[VB_MAXPORT];
    vb_drive_t drives[VB_MAXDRIVE];
    vb_strobe_t strobes[VB_MAXSTROBE];
    vb_sample_t samples_[VB_MAXSAMPLE];
    vb_out_t outs[VB_MAXSAMPLE];
    double held[CS_MAXSRC];
    char has_held[CS_MAXSRC];
    int changed[CS_MAXSRC], nchanged;
    double changed_value[CS_MAXSRC];
    vb_buf bufs[3];
    vb_analog_fn analog; /* NULL: ngspice through the sync helper */
    char message[512];
};

static char reason[256] = "";
const char *vb_reason(void) { return reason; }

static int push(vb_buf *buf, const double *x, size_t n)
{
    if (buf->n + n > buf->cap) {
        size_t cap = buf->cap ? 2 * buf->cap : 4096;
        while (cap < buf->n + n)
            cap *= 2;
        double *data = realloc(buf->data, cap * sizeof(double));
        if (!data)
            return -1;
        buf->data = data, buf->cap = cap;
    }
    memcpy(buf->data + buf->n, x, n * sizeof(double));
    buf->n += n;
    return 0;
}

/* The running simulator's VPI (0), or -1 with the reason set. */
static int load_api(vpi_api *api)
{
#define SYM(field, name)                                                                     \
    *(void **)(&api->field) = dlsym(RTLD_DEFAULT, name);                                     \
    if (!api->field) {                                                                       \
        snprintf(reason, sizeof reason, "no %s in this process (not inside a simulator)", name); \
        return -1;                                                                           \
    }
    SYM(by_name, "vpi_handle_by_name")
    SYM(register_cb, "vpi_register_cb")
    SYM(remove_cb, "vpi_remove_cb")
    SYM(get_value, "vpi_get_value")
    SYM(put_value, "vpi_put_value")
    SYM(get_time, "vpi_get_time")
    SYM(get, "vpi_get")
#undef SYM
    int precision = api->get(vpiTimePrecision, NULL);
    if (precision < -15 || precision > 0) {
        snprintf(reason, sizeof reason, "time precision 1e%d s is not supported", precision);
        return -1;
    }
    api->fs_per_tick = 1;
    for (int k = -15; k < precision; k++)
        api->fs_per_tick *= 10;
    return 0;
}

/* A zeroed object of `size` bytes whose first member is a vpi_api, loaded; NULL with the
   reason set (out of memory, or not inside a simulator). */
static void *new_on_vpi(size_t size)
{
    void *obj = calloc(1, size);
    if (!obj) {
        snprintf(reason, sizeof reason, "out of memory");
        return NULL;
    }
    if (load_api((vpi_api *)obj) < 0) {
        free(obj);
        return NULL;
    }
    return obj;
}

void *vb_new(cs_state *st, int started, double t_s)
{
    vb *b = new_on_vpi(sizeof(vb));
    if (!b)
        return NULL;
    b->st = st, b->started = started, b->t_s = t_s;
    b->every = -1;
    return b;
}

/* Run the analog side in Python (see the top of the file) instead of ngspice. */
void vb_defer(vb *b, vb_analog_fn analog) { b->analog = analog; }

void vb_free(vb *b)
{
    for (int k = 0; k < 3; k++)
        free(b->bufs[k].data);
    free(b);
}

static void fail(vb *b, int status, const char *text)
{
    if (b->status == VB_RUNNING || b->status == VB_ENDED) {
        b->status = status;
        snprintf(b->message, sizeof b->message, "%s", text);
    }
}

/* A logic value as 32-bit words; 0 if any bit is x/z (as the Python bridge's int or 0). */
static void read_logic(vpi_api *api, vpiHandle h, int words, uint32_t *out)
{
    s_vpi_value v = {.format = vpiVectorVal};
    api->get_value(h, &v);
    int x = 0;
    for (int w = 0; w < words; w++)
        x |= v.value.vector[w].bval != 0;
    for (int w = 0; w < words; w++)
        out[w] = x ? 0u : (uint32_t)v.value.vector[w].aval;
}

static double read_real(vpi_api *api, vpiHandle h)
{
    s_vpi_value v = {.format = vpiRealVal};
    api->get_value(h, &v);
    return v.value.real;
}

static int level_of(vpi_api *api, vpiHandle h) /* a strobe: its value, -1 for x/z */
{
    s_vpi_value v = {.format = vpiVectorVal};
    api->get_value(h, &v);
    return v.value.vector[0].bval ? -1 : (int)(v.value.vector[0].aval & 0x7fffffff);
}

static vpiHandle handle(vpi_api *api, const char *path)
{
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", path);
    return api->by_name(copy, NULL);
}

/* A driving port (logic or real): its index, or -1 (no such handle, or too many). */
int vb_port(vb *b, const char *path, int logic)
{
    vpiHandle h = handle(&b->api, path);
    if (!h || b->nport >= VB_MAXPORT)
        return -1;
    int width = logic ? b->api.get(vpiSize, h) : 0;
    if (logic && (width < 1 || width > 32 * VB_MAXW))
        return -1;
    vb_port_t *p = &b->ports[b->nport];
    p->h = h, p->logic = logic, p->words = (width + 31) / 32;
    p->first = b->ndrive, p->n = 0;
    p->ref.b = b, p->ref.strobe = -1, p->ref.port = b->nport;
    if (logic)
        read_logic(&b->api, h, p->words, p->last); /* the Python bridge has just read it too */
    else
        p->last_real = read_real(&b->api, h);
    return b->nport++;
}

/* One source driven by the latest port: slot in the helper's table, gain or bit/levels. */
int vb_drive(vb *b, int slot, double gain, int bit, double lvl0, double lvl1)
{
    if (b->nport == 0 || b->ndrive >= VB_MAXDRIVE || slot < 0 || slot >= CS_MAXSRC)
        return -1;
    vb_drive_t *d = &b->drives[b->ndrive++];
    d->slot = slot, d->gain = gain, d->bit = bit, d->lvl0 = lvl0, d->lvl1 = lvl1;
    b->ports[b->nport - 1].n++;
    return 0;
}

void vb_held(vb *b, int slot, double value)
{
    if (slot >= 0 && slot < CS_MAXSRC)
        b->held[slot] = value, b->has_held[slot] = 1;
}

int vb_strobe(vb *b, const char *path, int rising, int level)
{
    vpiHandle h = handle(&b->api, path);
    if (!h || b->nstrobe >= VB_MAXSTROBE)
        return -1;
    vb_strobe_t *s = &b->strobes[b->nstrobe];
    s->h = h, s->rising = rising, s->level = level;
    s->ref.b = b, s->ref.strobe = b->nstrobe, s->ref.port = -1;
    return b->nstrobe++;
}

/* An HDL input the samples write (one per distinct path), with the value last written. */
int vb_out(vb *b, const char *path, int logic, int has, double value)
{
    vpiHandle h = handle(&b->api, path);
    if (!h || b->nout >= VB_MAXSAMPLE)
        return -1;
    vb_out_t *o = &b->outs[b->nout];
    o->h = h, o->logic = logic, o->has = has, o->value = value;
    return b->nout++;
}

/* A sample: out (vb_out), quantity (cs_quantity), group (strobe index, -1: every wake). */
int vb_sample(vb *b, int out, int q, int group, int hyst, double lo, double hi, double deadband)
{
    if (b->nsample >= VB_MAXSAMPLE || out < 0 || out >= b->nout || q < 0 || q >= b->st->nq)
        return -1;
    vb_sample_t *s = &b->samples_[b->nsample++];
    s->out = out, s->q = q, s->group = group, s->hyst = hyst;
    s->lo = lo, s->hi = hi, s->deadband = deadband;
    if (group < 0)
        b->every = 1;
    return 0;
}

static double now_s(vpi_api *api)
{
    s_vpi_time t = {.type = vpiSimTime};
    api->get_time(NULL, &t);
    int64_t ticks = ((int64_t)t.high << 32) | (int64_t)t.low;
    return (double)(ticks * api->fs_per_tick) * 1e-15; /* as cocotb's get_sim_time("fs") * 1e-15 */
}

/* Source values of the ports that changed since the last wake: of port `only` (the one whose
   change woke the bridge: the simulator calls back at every change, so each change gets its
   own wake, in order), or of every port (a strobe's wake), each read once. */
static void changed_outputs(vb *b, int only)
{
    b->nchanged = 0;
    for (int k = only < 0 ? 0 : only; k < (only < 0 ? b->nport : only + 1); k++) {
        vb_port_t *p = &b->ports[k];
        uint32_t raw[VB_MAXW];
        double real = 0.0;
        if (p->logic) {
            read_logic(&b->api, p->h, p->words, raw);
            if (memcmp(raw, p->last, (size_t)p->words * 4) == 0)
                continue;
            memcpy(p->last, raw, (size_t)p->words * 4);
        } else {
            real = read_real(&b->api, p->h);
            if (real == p->last_real)
                continue;
            p->last_real = real;
        }
        for (int i = p->first; i < p->first + p->n; i++) {
            vb_drive_t *d = &b->drives[i];
            double value = d->gain * real;
            if (p->logic) {
                int bit = d->bit / 32 < p->words ? (raw[d->bit / 32] >> (d->bit % 32)) & 1 : 0;
                value = bit ? d->lvl1 : d->lvl0;
            }
            if (b->has_held[d->slot] && b->held[d->slot] == value)
                continue;
            int j = 0;
            while (j < b->nchanged && b->changed[j] != d->slot)
                j++;
            if (j == b->nchanged)
                b->changed[b->nchanged++] = d->slot;
            b->changed_value[j] = value;
        }
    }
}

/* Advance the analog side to t (SpiceLockstep.advance_to + NgSpice.advance_to, paused). */
static int advance(vb *b, double t)
{
    if (!(t > b->t_s))
        return 0;
    if (b->analog) { /* deferred: a row (t, wake, -1, 0) says "advance to t" */
        double entry[4] = {t, b->events, -1.0, 0.0};
        push(&b->bufs[BUF_STIM], entry, 4);
        b->started = 1, b->syncs += 1, b->t_s = t;
        return 0;
    }
    cs_state *st = b->st;
    double tol = 1e-18 + 1e-12 * fabs(t);
    char text[256];
    if (b->status == VB_ENDED) {
        snprintf(text, sizeof text, "advance_to(%.17g): the transient already ended", t);
        fail(b, VB_ERROR, text);
        return -1;
    }
    if (t - st->now > tol) {
        if (t > st->tstop + tol) {
            snprintf(text, sizeof text, "advance_to(%.17g): the transient ends at %.17g s", t,
                     st->tstop);
            fail(b, VB_ERROR, text);
            return -1;
        }
        double now;
        int state = cs_advance_now(st, t, &now);
        if (state != CS_BLOCKED) {
            b->status = VB_ENDED; /* Python classifies ngspice's output (end or failure) */
            if (now < t - tol && st->tstop > t + tol)
                fail(b, VB_ERROR, "ngspice's run ended before the sync time");
        }
        if (st->unknown_source) {
            fail(b, VB_ERROR, "ngspice asked for an external source that has no value");
            return -1;
        }
    }
    b->started = 1;
    b->syncs += 1;
    b->t_s = t;
    return 0;
}

static void write_inputs(vb *b, int group, int every_change, double t)
{
    cs_state *st = b->st;
    if (b->analog && b->analog(t, st->q_latest) != 0) {
        fail(b, VB_ERROR, "the analog side failed at a sample (its error follows in Python)");
        return;
    }
    double row[1 + CS_MAXQ];
    row[0] = t;
    memcpy(row + 1, st->q_latest, (size_t)st->nq * sizeof(double));
    b->samples += 1;
    b->started = 1;
    push(&b->bufs[BUF_SAMPLE], row, (size_t)st->nq + 1);
    for (int k = 0; k < b->nsample; k++) {
        vb_sample_t *s = &b->samples_[k];
        if (s->group != group)
            continue;
        double value = st->q_latest[s->q];
        if (st->q_resolved && st->q_index[s->q] < 0) {
            char text[256];
            snprintf(text, sizeof text, "vector %s is not in ngspice's output",
                     st->q_names[s->q]);
            fail(b, VB_ERROR, text);
            return;
        }
        if (!isfinite(value)) {
            char text[256];
            snprintf(text, sizeof text, "analog %s is %g at t=%.17g s", st->q_names[s->q],
                     value, t);
            fail(b, VB_ERROR, text);
            return;
        }
        vb_out_t *o = &b->outs[s->out];
        s_vpi_value v;
        if (s->hyst) {
            int old = o->has ? (int)o->value : 0;
            int level = value > s->hi ? 1 : (value < s->lo ? 0 : old);
            if (o->has && level == old)
                continue;
            v.format = vpiIntVal, v.value.integer = level;
            o->value = level;
        } else {
            if (every_change && o->has && fabs(value - o->value) <= s->deadband)
                continue;
            v.format = vpiRealVal, v.value.real = value;
            o->value = value;
        }
        o->has = 1;
        b->api.put_value(o->h, &v, NULL, vpiNoDelay);
    }
}

/* One wake (by port `port`'s change, or -1: a strobe's edge): the Python bridge's
   _advance_and_apply, _strobe_edges, every-sync samples. */
static void wake(vb *b, int port)
{
    cs_state *st = b->st;
    b->events += 1;
    double t = now_s(&b->api);
    changed_outputs(b, port);
    if (b->nchanged && b->started && !b->analog && t > st->now)
        cs_break(st, t); /* announce_edge: the integration restarts at the jump */
    if (advance(b, t) < 0)
        return;
    if (b->nchanged) {
        push(&b->bufs[BUF_EDGE], &t, 1);
        for (int j = 0; j < b->nchanged; j++) {
            int slot = b->changed[j];
            double entry[4] = {t, b->events, slot, b->changed_value[j]};
            st->values[slot] = b->changed_value[j];
            b->held[slot] = b->changed_value[j], b->has_held[slot] = 1;
            push(&b->bufs[BUF_STIM], entry, 4);
        }
    }
    for (int k = 0; k < b->nstrobe && b->status <= VB_ENDED; k++) {
        vb_strobe_t *s = &b->strobes[k];
        int level = level_of(&b->api, s->h), before = s->level;
        s->level = level;
        if (s->rising ? (level == 1 && before != 1) : (level == 0 && before == 1))
            write_inputs(b, k, 0, t);
    }
    if (b->every > 0 && b->status <= VB_ENDED)
        write_inputs(b, -1, 1, t);
}

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static PLI_INT32 on_change(p_cb_data data)
{
    vb_ref *ref = (vb_ref *)data->user_data;
    vb *b = ref->b;
    if (b->status != VB_RUNNING && b->status != VB_ENDED)
        return 0;
    if (ref->strobe >= 0) { /* as cocotb's edge triggers: only the edge wakes the bridge */
        vb_strobe_t *s = &b->strobes[ref->strobe];
        int level = level_of(&b->api, s->h);
        if (level != (s->rising ? 1 : 0))
            return 0;
    }
    double c0 = thread_cpu();
    wake(b, ref->port);
    b->wake_cpu_s += thread_cpu() - c0; /* the simulator's thread inside the bridge */
    return 0;
}

static vpiHandle watch(vb *b, vpiHandle h, vb_ref *ref)
{
    static s_vpi_time time = {.type = vpiSuppressTime};
    static s_vpi_value value = {.format = vpiSuppressVal};
    s_cb_data cb = {.reason = cbValueChange, .cb_rtn = on_change, .obj = h};
    cb.time = &time, cb.value = &value, cb.user_data = (PLI_BYTE8 *)ref;
    return b->api.register_cb(&cb);
}

/* Start following the HDL: value-change callbacks on the ports and strobes. */
int vb_start(vb *b)
{
    for (int k = 0; k < b->nport; k++)
        if (!(b->ports[k].cb = watch(b, b->ports[k].h, &b->ports[k].ref)))
            return -1;
    for (int k = 0; k < b->nstrobe; k++)
        if (!(b->strobes[k].cb = watch(b, b->strobes[k].h, &b->strobes[k].ref)))
            return -1;
    b->st->vpi = 1;
    return 0;
}

/* Stop following the HDL (idempotent): callbacks removed, ngspice's output back to Python. */
void vb_stop(vb *b)
{
    for (int k = 0; k < b->nport; k++)
        if (b->ports[k].cb)
            b->api.remove_cb(b->ports[k].cb), b->ports[k].cb = NULL;
    for (int k = 0; k < b->nstrobe; k++)
        if (b->strobes[k].cb)
            b->api.remove_cb(b->strobes[k].cb), b->strobes[k].cb = NULL;
    if (b->status == VB_RUNNING)
        b->status = VB_STOPPED;
    b->st->vpi = 0;
}

int vb_status(vb *b) { return b->status; }
const char *vb_message(vb *b) { return b->message; }

/* events, syncs, samples, t_s (the latest sync), started, CPU of the simulator's thread in
   the bridge's callbacks (s) */
void vb_counters(vb *b, double *out)
{
    out[0] = b->events, out[1] = b->syncs, out[2] = b->samples, out[3] = b->t_s;
    out[4] = b->started, out[5] = b->wake_cpu_s;
}

/* A log (0 stimulus rows t, wake, slot, value, and with a deferred analog side also
   t, wake, -1, 0 where it advanced; 1 sample rows t, quantities; 2 edge times). */
size_t vb_log_size(vb *b, int which) { return b->bufs[which].n; }
void vb_log_take(vb *b, int which, double *out)
{
    memcpy(out, b->bufs[which].data, b->bufs[which].n * sizeof(double));
    b->bufs[which].n = 0;
}

/* ---- A log of watched signals' changes (protocol monitors, coverage) ----------------------
 * Value-change callbacks append rows (t in fs, signal, value); Python dispatches them in order when
 * it polls.  Kinds: VW_INT (a logic value of up to 53 bits; -1 if a bit is x/z), VW_REAL,
 * VW_ONEHOT (a logic vector of any width: the index of its one set bit; -1 none, -2 several,
 * -3 a bit x/z). */
#define VW_MAX 64
enum { VW_INT = 0, VW_REAL = 1, VW_ONEHOT = 2 };

typedef struct vw vw;
typedef struct { vw *w; int k; } vw_ref;
typedef struct { vpiHandle h, cb; int kind, width; vw_ref ref; } vw_sig;
struct vw {
    vpi_api api; /* first: see new_on_vpi */
    int n;
    vw_sig sigs[VW_MAX];
    vb_buf log;
};

void *vw_new(void) { return new_on_vpi(sizeof(vw)); }

static double watched(vw *w, vw_sig *g)
{
    if (g->kind == VW_REAL)
        return read_real(&w->api, g->h);
    s_vpi_value v = {.format = vpiVectorVal};
    w->api.get_value(g->h, &v);
    int words = (g->width + 31) / 32;
    double value = g->kind == VW_INT ? 0.0 : -1.0;
    for (int i = words - 1; i >= 0; i--) {
        int bits = i == words - 1 && g->width % 32 ? g->width % 32 : 32;
        uint32_t mask = bits == 32 ? 0xffffffffu : (1u << bits) - 1u;
        if ((uint32_t)v.value.vector[i].bval & mask)
            return g->kind == VW_INT ? -1.0 : -3.0;
        uint32_t a = (uint32_t)v.value.vector[i].aval & mask;
        if (g->kind == VW_INT)
            value = value * 4294967296.0 + (double)a;
        else if (a && ((a & (a - 1)) || value >= 0.0))
            value = -2.0;
        else if (a && value == -1.0)
            value = 32.0 * i + __builtin_ctz(a);
    }
    return value;
}

/* A signal to watch (its full HDL path): its index, or -1 (no handle, too wide, too many). */
int vw_signal(vw *w, const char *path, int kind)
{
    vpiHandle h = handle(&w->api, path);
    if (!h || w->n >= VW_MAX || kind < VW_INT || kind > VW_ONEHOT)
        return -1;
    int width = kind == VW_REAL ? 0 : w->api.get(vpiSize, h);
    if (kind != VW_REAL && (width < 1 || (kind == VW_INT && width > 53)))
        return -1;
    vw_sig *g = &w->sigs[w->n];
    g->h = h, g->kind = kind, g->width = width;
    g->ref.w = w, g->ref.k = w->n;
    return w->n++;
}

double vw_value(vw *w, int k) { return k >= 0 && k < w->n ? watched(w, &w->sigs[k]) : NAN; }

static PLI_INT32 on_watch(p_cb_data data)
{
    vw_ref *ref = (vw_ref *)data->user_data;
    vw *w = ref->w;
    s_vpi_time t = {.type = vpiSimTime};
    w->api.get_time(NULL, &t);
    int64_t ticks = ((int64_t)t.high << 32) | (int64_t)t.low;
    double row[3] = {(double)(ticks * w->api.fs_per_tick), ref->k, watched(w, &w->sigs[ref->k])};
    push(&w->log, row, 3);
    return 0;
}

int vw_start(vw *w)
{
    static s_vpi_time time = {.type = vpiSuppressTime};
    static s_vpi_value value = {.format = vpiSuppressVal};
    for (int k = 0; k < w->n; k++) {
        s_cb_data cb = {.reason = cbValueChange, .cb_rtn = on_watch, .obj = w->sigs[k].h};
        cb.time = &time, cb.value = &value, cb.user_data = (PLI_BYTE8 *)&w->sigs[k].ref;
        if (!(w->sigs[k].cb = w->api.register_cb(&cb)))
            return -1;
    }
    return 0;
}

/* Rows (t in fs, signal, value) logged since the last take. */
size_t vw_log_size(vw *w) { return w->log.n; }
void vw_log_take(vw *w, double *out)
{
    memcpy(out, w->log.data, w->log.n * sizeof(double));
    w->log.n = 0;
}

void vw_free(vw *w) /* removes the callbacks */
{
    for (int k = 0; k < w->n; k++)
        if (w->sigs[k].cb)
            w->api.remove_cb(w->sigs[k].cb);
    free(w->log.data);
    free(w);
}
#endif
