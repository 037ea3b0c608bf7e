/* serve_engine — the scheduler: slots, steps, sampling, stop strings, energy shares.
 * See serve.h for the policy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_impl.h"

int sreq_prepare(struct server *s, struct sreq *r)
{
    const int32_t nv = s->m->cfg.n_vocab;
    size_t n_tok = (size_t)r->n_prompt + (size_t)r->max_tokens;
    r->gen = malloc(sizeof(int32_t) * ((size_t)r->max_tokens + 1));
    r->text_cap = 256;
    r->text = malloc(r->text_cap);
    r->smp = sampler_new(&r->sp, nv);
    if (r->logprobs >= 0) {
        r->lp = malloc(sizeof(float) * n_tok);
        size_t nt = n_tok * (size_t)(r->logprobs > 0 ? r->logprobs : 1);
        r->top_id = malloc(sizeof(int32_t) * nt);
        r->top_lp = malloc(sizeof(float) * nt);
        if (!r->lp || !r->top_id || !r->top_lp) return -1;
    }
    if (!r->gen || !r->text || !r->smp) return -1;
    r->text[0] = 0;
    detok_init(&r->dt, s->m->tok, r->chat);
    for (int i = 0; i < r->n_stop; i++)
        if (strlen(r->stop[i]) > r->max_stop_len) r->max_stop_len = strlen(r->stop[i]);
    r->slot = -1;
    r->state = SREQ_QUEUED;
    return 0;
}

void sreq_free(struct sreq *r)
{
    if (!r) return;
    free(r->prompt);
    free(r->gen);
    free(r->lp);
    free(r->top_id);
    free(r->top_lp);
    free(r->text);
    sampler_free(r->smp);
    free(r);
}

bool serve_enqueue(struct server *s, struct sreq *r)
{
    if (s->n_queued >= s->cfg.max_queue || s->quit) return false;
    r->next = NULL;
    if (s->queue_tail)
        s->queue_tail->next = r;
    else
        s->queue_head = r;
    s->queue_tail = r;
    s->n_queued++;
    pthread_cond_signal(&s->work);
    return true;
}

size_t sreq_safe_len(const struct sreq *r)
{
    if (r->state == SREQ_DONE || r->max_stop_len == 0) return r->text_len;
    size_t hold = r->max_stop_len - 1;
    size_t n = r->text_len > hold ? r->text_len - hold : 0;
    while (n > 0 && ((unsigned char)r->text[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static void finish(struct server *s, struct sreq *r, const char *why)
{
    if (r->state == SREQ_DONE) return;
    if (r->slot >= 0) s->slot_req[r->slot] = NULL;
    r->slot = -1;
    r->finish = why;
    r->state = SREQ_DONE;
    r->t_done = serve_now();
    if (!r->t_first) r->t_first = r->t_done;
    s->st.requests++;
}

/* Appends text; false when out of memory. */
static bool append(struct sreq *r, const char *p, size_t n)
{
    if (r->text_len + n + 1 > r->text_cap) {
        size_t cap = r->text_cap;
        while (r->text_len + n + 1 > cap)
            cap *= 2;
        char *t = realloc(r->text, cap);
        if (!t) return false;
        r->text = t;
        r->text_cap = cap;
    }
    memcpy(r->text + r->text_len, p, n);
    r->text_len += n;
    r->text[r->text_len] = 0;
    return true;
}

/* log-softmax of token id in logits, and the top k alternatives */
static void logprobs_of(const float *x, int32_t nv, int32_t id, int32_t k, float *lp,
                        int32_t *top_id, float *top_lp)
{
    float mx = x[0];
    for (int32_t i = 1; i < nv; i++)
        if (x[i] > mx) mx = x[i];
    double sum = 0;
    for (int32_t i = 0; i < nv; i++)
        sum += exp((double)x[i] - mx);
    const double lse = mx + log(sum);
    *lp = (float)(x[id] - lse);
    for (int32_t j = 0; j < k; j++) { /* k <= 5: selection by repeated scans */
        int32_t best = -1;
        for (int32_t i = 0; i < nv; i++) {
            bool taken = false;
            for (int32_t q = 0; q < j && !taken; q++)
                taken = top_id[q] == i;
            if (!taken && (best < 0 || x[i] > x[best])) best = i;
        }
        top_id[j] = best;
        top_lp[j] = (float)(x[best] - lse);
    }
}

/* A generated token: text, stop conditions. Under s->mu. */
static void accept_token(struct server *s, struct sreq *r, int32_t id)
{
    const struct tokenizer *tok = s->m->tok;
    r->gen[r->n_gen++] = id;
    sampler_accept(r->smp, id);
    if (!r->t_first) r->t_first = serve_now();
    if (tokenizer_is_eog(tok, id)) {
        finish(s, r, "stop");
        return;
    }
    char buf[512];
    size_t cap = detok_max_bytes(tok) < sizeof buf ? detok_max_bytes(tok) : sizeof buf;
    size_t n = detok_push(&r->dt, id, buf, cap);
    size_t before = r->text_len;
    if (!append(r, buf, n)) {
        finish(s, r, "abort");
        return;
    }
    for (int i = 0; i < r->n_stop; i++) {
        size_t sl = strlen(r->stop[i]);
        size_t from = before + 1 > sl ? before + 1 - sl : 0;
        char *hit = sl ? memmem(r->text + from, r->text_len - from, r->stop[i], sl) : NULL;
        if (hit) {
            r->text_len = (size_t)(hit - r->text);
            r->text[r->text_len] = 0;
            finish(s, r, "stop");
            return;
        }
    }
    if (r->n_gen >= r->max_tokens || r->n_prompt + r->n_gen > s->b->n_ctx) finish(s, r, "length");
}

struct step {
    int32_t n, cap;
    int32_t *tok, *pos, *seq;
    bool *want;
    struct sreq **who; /* the request of each row */
    int32_t *row_of;   /* row: prompt index (>= 0) or -1 for a decode row */
    float *logits;     /* cap x n_vocab */
};

/* Drops cancelled requests, fills free slots from the queue. Under s->mu. */
static void admit(struct server *s)
{
    for (int32_t i = 0; i < s->n_slots; i++) {
        struct sreq *r = s->slot_req[i];
        if (r && r->cancelled) finish(s, r, "abort");
    }
    struct sreq **pp = &s->queue_head;
    s->queue_tail = NULL;
    while (*pp) {
        struct sreq *r = *pp;
        int32_t free_slot = -1;
        for (int32_t i = 0; i < s->n_slots && free_slot < 0; i++)
            if (!s->slot_req[i]) free_slot = i;
        bool nothing = r->max_tokens == 0 && r->logprobs < 0; /* nothing to compute */
        if (r->cancelled || s->quit || nothing || free_slot >= 0) {
            *pp = r->next;
            s->n_queued--;
            if (r->cancelled || s->quit)
                finish(s, r, "abort");
            else if (nothing)
                finish(s, r, "length");
            else {
                r->slot = free_slot;
                r->state = SREQ_RUNNING;
                s->slot_req[free_slot] = r;
            }
            continue;
        }
        s->queue_tail = r;
        pp = &r->next;
    }
}

/* The rows of the next step: decode rows first, then prompt chunks. Under s->mu. */
static void plan(struct server *s, struct step *st)
{
    st->n = 0;
    /* from a slot that moves each step: with fewer rows than slots (a small context), every
     * slot still gets its turn */
    s->rr = (s->rr + 1) % s->n_slots;
    for (int32_t j = 0; j < s->n_slots && st->n < st->cap; j++) {
        int32_t i = (s->rr + j) % s->n_slots;
        struct sreq *r = s->slot_req[i];
        if (!r || r->n_fed < r->n_prompt) continue;
        int32_t k = st->n++;
        st->tok[k] = r->gen[r->n_gen - 1];
        st->pos[k] = r->n_prompt + r->n_gen - 1;
        st->seq[k] = i;
        st->want[k] = true;
        st->who[k] = r;
        st->row_of[k] = -1;
    }
    for (int32_t j = 0; j < s->n_slots && st->n < st->cap; j++) {
        int32_t i = (s->rr + j) % s->n_slots;
        struct sreq *r = s->slot_req[i];
        if (!r || r->n_fed >= r->n_prompt) continue;
        /* a chunk of the prompt: as many rows as the step has room for */
        while (r->n_fed < r->n_prompt && st->n < st->cap) {
            int32_t k = st->n++, p = r->n_fed++;
            st->tok[k] = r->prompt[p];
            st->pos[k] = p;
            st->seq[k] = i;
            st->want[k] = r->echo && r->logprobs >= 0 ? p + 1 < r->n_prompt || r->max_tokens > 0
                                                      : p == r->n_prompt - 1 && r->max_tokens > 0;
            st->who[k] = r;
            st->row_of[k] = p;
        }
    }
}

static int run_step(struct server *s, struct step *st, char *err, size_t errlen)
{
    if (s->batched) {
        struct backend_batch bt = {st->n, st->tok, st->pos, st->seq, st->want};
        return backend_forward_batch(s->b, &bt, st->logits, err, errlen);
    }
    /* one slot: the rows are consecutive positions of slot 0 */
    bool all = false;
    for (int32_t i = 0; i + 1 < st->n; i++)
        all |= st->want[i];
    /* with none wanted (a prompt chunk), the last row's logits are computed and unused */
    int rc = backend_forward(s->b, st->tok, st->n, st->pos[0], all, st->logits, err, errlen);
    if (rc == 0 && all) { /* keep only the wanted rows, in order, as forward_batch does */
        const size_t nv = (size_t)s->m->cfg.n_vocab;
        int32_t k = 0;
        for (int32_t i = 0; i < st->n; i++)
            if (st->want[i]) {
                if (k != i) memmove(st->logits + k * nv, st->logits + i * nv, nv * sizeof(float));
                k++;
            }
    }
    return rc;
}

/* Uses the logits of a step and shares its energy. Under s->mu. */
static void consume(struct server *s, struct step *st, double joules, double seconds)
{
    const int32_t nv = s->m->cfg.n_vocab;
    const float *lg = st->logits;
    for (int32_t i = 0; i < st->n; i++) {
        struct sreq *r = st->who[i];
        const float *x = st->want[i] ? lg : NULL;
        if (st->want[i]) lg += nv;
        r->joules += joules / st->n;
        r->busy_s += seconds / st->n;
        if (r->state == SREQ_DONE) continue; /* finished earlier in this step */
        if (st->row_of[i] >= 0) s->st.prompt_tokens++;
        if (!x) continue;
        int32_t p = st->row_of[i];
        bool predicts_prompt = p >= 0 && p + 1 < r->n_prompt && r->echo && r->logprobs >= 0;
        if (predicts_prompt) { /* echo: logprob of the next prompt token */
            int32_t k = r->logprobs > 0 ? r->logprobs : 0;
            size_t o = (size_t)(p + 1);
            logprobs_of(x, nv, r->prompt[p + 1], k, &r->lp[o], r->top_id + o * (size_t)(k ? k : 1),
                        r->top_lp + o * (size_t)(k ? k : 1));
            continue;
        }
        if (r->n_gen >= r->max_tokens) { /* prompt only (max_tokens 0) */
            finish(s, r, "length");
            continue;
        }
        int32_t id = sampler_sample(r->smp, x);
        if (r->logprobs >= 0) {
            int32_t k = r->logprobs;
            size_t o = (size_t)(r->n_prompt + r->n_gen);
            logprobs_of(x, nv, id, k, &r->lp[o], r->top_id + o * (size_t)(k ? k : 1),
                        r->top_lp + o * (size_t)(k ? k : 1));
        }
        s->st.gen_tokens++;
        accept_token(s, r, id);
    }
    /* a prompt that needed no logits at its end (echo with max_tokens 0) is done once fed */
    for (int32_t i = 0; i < s->n_slots; i++) {
        struct sreq *r = s->slot_req[i];
        if (r && r->max_tokens == 0 && r->n_fed >= r->n_prompt) finish(s, r, "length");
    }
}

void *serve_engine_main(void *arg)
{
    struct server *s = arg;
    const int32_t nv = s->m->cfg.n_vocab;
    struct step st = {0};
    st.cap = s->b->max_batch;
    st.tok = malloc(sizeof(int32_t) * (size_t)st.cap);
    st.pos = malloc(sizeof(int32_t) * (size_t)st.cap);
    st.seq = malloc(sizeof(int32_t) * (size_t)st.cap);
    st.row_of = malloc(sizeof(int32_t) * (size_t)st.cap);
    st.want = malloc(sizeof(bool) * (size_t)st.cap);
    st.who = malloc(sizeof(struct sreq *) * (size_t)st.cap);
    st.logits = malloc(sizeof(float) * (size_t)st.cap * (size_t)nv);
    bool ok = st.tok && st.pos && st.seq && st.row_of && st.want && st.who && st.logits;
    pthread_mutex_lock(&s->mu);
    if (!ok && s->cfg.log) fprintf(s->cfg.log, "serve: out of memory for the step buffers\n");
    while (ok) {
        admit(s);
        pthread_cond_broadcast(&s->progress);
        if (s->quit) break;
        plan(s, &st);
        if (st.n == 0) {
            pthread_cond_wait(&s->work, &s->mu);
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        char err[256];
        struct meter_window w = {0};
        if (s->cfg.meter) meter_window_begin(s->cfg.meter, &w);
        double t0 = serve_now();
        int rc = run_step(s, &st, err, sizeof err);
        double dt = serve_now() - t0;
        double joules = 0;
        if (s->cfg.meter) {
            meter_window_end(s->cfg.meter, &w);
            enum meter_source src = meter_source(s->cfg.meter);
            joules = src == METER_ESTIMATE ? meter_estimate_w(s->cfg.meter) * w.seconds
                     : src == METER_NONE   ? 0
                                           : w.joules;
        }
        pthread_mutex_lock(&s->mu);
        s->st.steps++;
        s->st.rows += (uint64_t)st.n;
        s->st.busy_s += dt;
        s->st.joules += joules;
        if (rc != 0) { /* cannot happen for checked input; the requests fail, the server stays */
            if (s->cfg.log) fprintf(s->cfg.log, "serve: step failed: %s\n", err);
            for (int32_t i = 0; i < st.n; i++)
                finish(s, st.who[i], "abort");
            continue;
        }
        consume(s, &st, joules, dt);
    }
    /* shutting down: everything left ends now */
    for (int32_t i = 0; i < s->n_slots; i++)
        if (s->slot_req[i]) finish(s, s->slot_req[i], "abort");
    s->quit = true;
    admit(s);
    pthread_cond_broadcast(&s->progress);
    pthread_mutex_unlock(&s->mu);
    free(st.tok);
    free(st.pos);
    free(st.seq);
    free(st.row_of);
    free(st.want);
    free(st.who);
    free(st.logits);
    return NULL;
}
