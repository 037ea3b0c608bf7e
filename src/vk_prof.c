/* vk_prof — per-op GPU time from timestamp queries (JOULE_VK_PROFILE=1). Each recorded
 * step writes a timestamp after every op; after the fence wait the differences are
 * added up per op kind (and per weight for matrix products) and printed to stderr when
 * the backend is destroyed. Off by default: timestamps between dispatches can cost a
 * little on some drivers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "vk.h"
#include "vk_backend.h"
#include "vk_env.h"

void vk_prof_init(struct vk_backend *vb)
{
    if (!vk_env_on(VKS_PROFILE)) return;
    if (vb->c.info.timestamp_bits == 0 || vb->c.info.props.limits.timestampPeriod <= 0) {
        fprintf(stderr, "joule: JOULE_VK_PROFILE: %s has no compute timestamps; not profiling\n",
                vb->c.info.props.deviceName);
        return;
    }
    vb->prof_on = true;
}

/* the name of op i's row in the table (i < 0: the fused unit that starts at op -1 - i) */
static void op_key(const struct vk_backend *vb, const struct vk_step *st, int32_t i, char *key,
                   size_t len)
{
    const bool fused = i < 0;
    if (fused) i = -1 - i;
    const struct op *o = &vb->graph.ops[i];
    const char *phase = st->n == 1 ? "decode " : "prefill";
    if (o->kind != OP_MATMUL || !o->w || !o->w->name) {
        snprintf(key, len, "%s %s", phase, fused ? "rope_kv" : op_name(o->kind));
        return;
    }
    const char *w = o->w->name;
    if (strncmp(w, "blk.", 4) == 0) {
        const char *dot = strchr(w + 4, '.');
        if (dot) w = dot + 1;
    }
    size_t wl = strlen(w);
    if (wl > 7 && strcmp(w + wl - 7, ".weight") == 0) wl -= 7;
    /* the kernel that ran: matvec_gpu, the other matvecs (one token per group), the tiled
     * prefill products, matmul */
    const char *kind = "matvec";
    switch (vk_matmul_family(vb, i, st->n, st->lrow0, st->nl)) {
    case VKF_MATVEC_GPU: kind = fused ? "matvec_gpu_fused" : "matvec_gpu"; break;
    case VKF_MATVEC_Q8: kind = "matvec_q8"; break;
    case VKF_MATMUL_TILE: kind = "matmul_tile"; break;
    case VKF_MATMUL_CM: kind = "matmul_cm"; break;
    case VKF_MATMUL:
    case VKF_CPU_MATMUL_UNIT:
    case VKF_CPU_MATMUL_KUNIT: kind = "matmul"; break;
    default: break;
    }
    const char *ts = vk_type_suffix(o->w->type);
    snprintf(key, len, "%s %s %.*s %s", phase, kind, (int)wl, w, ts ? ts : "?");
}

int vk_prof_begin(struct vk_backend *vb, struct vk_step *st, char *err, size_t errlen)
{
    if (!vb->prof_on) return 0;
    const struct vk_fns *f = &vb->c.vi.f;
    if (!st->qp) {
        uint32_t nq = (uint32_t)vb->graph.n_ops + 1;
        VkQueryPoolCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                    .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                    .queryCount = nq};
        st->qop = calloc(nq, sizeof *st->qop);
        if (!st->qop || f->vkCreateQueryPool(vb->c.dev, &qi, NULL, &st->qp) != VK_SUCCESS) {
            free(st->qop);
            st->qop = NULL;
            st->qp = VK_NULL_HANDLE;
            snprintf(err, errlen, "JOULE_VK_PROFILE: cannot create a timestamp query pool");
            return -1;
        }
    }
    st->nq = 0;
    st->runs = 0;
    f->vkCmdResetQueryPool(st->cb, st->qp, 0, (uint32_t)vb->graph.n_ops + 1);
    f->vkCmdWriteTimestamp(st->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, st->qp, 0);
    return 0;
}

void vk_prof_mark(struct vk_backend *vb, struct vk_step *st, int32_t op, bool fused)
{
    if (!vb->prof_on) return;
    st->qop[st->nq++] = fused ? -1 - op : op;
    vb->c.vi.f.vkCmdWriteTimestamp(st->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, st->qp,
                                   (uint32_t)st->nq);
}

int vk_prof_collect(struct vk_backend *vb, struct vk_step *st)
{
    if (!vb->prof_on || !st->qp || st->nq == 0) return 0;
    /* a recorded step's first run gets lines of its own: drivers may compile shaders on
     * first use, which is charged to whichever op used the shader first */
    bool first = st->runs++ == 0;
    uint64_t *ts = malloc(sizeof *ts * ((size_t)st->nq + 1));
    if (!ts) return -1;
    VkResult r = vb->c.vi.f.vkGetQueryPoolResults(
        vb->c.dev, st->qp, 0, (uint32_t)st->nq + 1, sizeof *ts * ((size_t)st->nq + 1), ts,
        sizeof *ts, VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (r != VK_SUCCESS) {
        free(ts);
        return -1;
    }
    uint32_t bits = vb->c.info.timestamp_bits;
    uint64_t mask = bits >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << bits) - 1);
    double period = vb->c.info.props.limits.timestampPeriod;
    for (int32_t k = 0; k < st->nq; k++) {
        char key[sizeof vb->prof[0].key], op[sizeof key - 12];
        op_key(vb, st, st->qop[k], op, sizeof op);
        snprintf(key, sizeof key, "%s%s", op, first ? " (1st run)" : "");
        int32_t e = 0;
        while (e < vb->n_prof && strcmp(vb->prof[e].key, key) != 0)
            e++;
        if (e == vb->n_prof) {
            if (vb->n_prof == vb->cap_prof) {
                int32_t cap = vb->cap_prof ? 2 * vb->cap_prof : 32;
                struct vk_prof_entry *p = realloc(vb->prof, sizeof *p * (size_t)cap);
                if (!p) {
                    free(ts);
                    return -1;
                }
                vb->prof = p;
                vb->cap_prof = cap;
            }
            memset(&vb->prof[e], 0, sizeof vb->prof[e]);
            snprintf(vb->prof[e].key, sizeof vb->prof[e].key, "%s", key);
            vb->n_prof++;
        }
        vb->prof[e].ns += (double)((ts[k + 1] - ts[k]) & mask) * period;
        vb->prof[e].calls++;
    }
    free(ts);
    return 0;
}

static int by_time(const void *a, const void *b)
{
    double x = ((const struct vk_prof_entry *)a)->ns, y = ((const struct vk_prof_entry *)b)->ns;
    return x < y ? 1 : x > y ? -1 : 0;
}

void vk_prof_report(struct vk_backend *vb)
{
    if (!vb->prof_on || vb->n_prof == 0) return;
    qsort(vb->prof, (size_t)vb->n_prof, sizeof *vb->prof, by_time);
    double total = 0;
    for (int32_t e = 0; e < vb->n_prof; e++)
        total += vb->prof[e].ns;
    fprintf(stderr, "\nVulkan profile (%s; device time between timestamps, summed over steps)\n",
            vb->c.info.props.deviceName);
    fprintf(stderr, "%-54s %10s %6s %9s %10s\n", "op", "ms", "%", "calls", "us/call");
    for (int32_t e = 0; e < vb->n_prof; e++) {
        const struct vk_prof_entry *p = &vb->prof[e];
        fprintf(stderr, "%-54s %10.2f %6.1f %9llu %10.1f\n", p->key, p->ns / 1e6,
                total > 0 ? 100.0 * p->ns / total : 0.0, (unsigned long long)p->calls,
                p->calls ? p->ns / 1e3 / (double)p->calls : 0.0);
    }
    fprintf(stderr, "%-54s %10.2f\n", "total", total / 1e6);
    /* what each recorded step holds (fused graph runs: fewer of both) */
    for (int i = 0; i < VK_MAX_STEPS; i++) {
        const struct vk_step *st = &vb->steps[i];
        if (st->cb && st->n > 0)
            fprintf(stderr, "step of %d rows (%d logits rows): %d dispatches, %d barriers\n", st->n,
                    st->nl, st->n_dispatch, st->n_barrier);
    }
}

void vk_prof_free(struct vk_backend *vb)
{
    const struct vk_fns *f = &vb->c.vi.f;
    for (int i = 0; i < VK_MAX_STEPS; i++) {
        if (vb->steps[i].qp) f->vkDestroyQueryPool(vb->c.dev, vb->steps[i].qp, NULL);
        vb->steps[i].qp = VK_NULL_HANDLE;
        free(vb->steps[i].qop);
        vb->steps[i].qop = NULL;
    }
    free(vb->prof);
    vb->prof = NULL;
    vb->n_prof = vb->cap_prof = 0;
}
