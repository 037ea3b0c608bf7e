/* serve_api — /v1/completions and /v1/chat/completions: the request JSON checked field by
 * field (a wrong type or range is a 400 naming the field), requests queued, the answer
 * written whole or streamed as server-sent events. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eval_json.h"
#include "http.h"
#include "serve_impl.h"

double serve_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void serve_error(struct server *s, int fd, int status, const char *type, const char *msg,
                 const char *extra_headers)
{
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (f) {
        fputs("{\"error\":{\"message\":", f);
        json_write_str(f, msg);
        fputs(",\"type\":", f);
        json_write_str(f, type);
        fprintf(f, ",\"code\":%d}}\n", status);
        fclose(f);
    }
    pthread_mutex_lock(&s->mu);
    s->st.errors++;
    pthread_mutex_unlock(&s->mu);
    if (s->cfg.log) fprintf(s->cfg.log, "serve: %d %s\n", status, msg);
    if (body)
        http_respond(fd, status, "application/json", extra_headers, body, len);
    else
        http_respond(fd, status, "text/plain", extra_headers, msg, strlen(msg));
    free(body);
}

/* ---- request fields ---- */

struct perr {
    int status;
    char msg[512];
};

static int bad(struct perr *e, int status, const char *fmt, const char *field)
{
    e->status = status;
    snprintf(e->msg, sizeof e->msg, fmt, field);
    return -1;
}

/* A number field in lo..hi (integral when integer); absent or null leaves *out. */
static int get_num(const struct jval *root, const char *key, double lo, double hi, bool integer,
                   double *out, struct perr *e)
{
    const struct jval *v = json_get(root, key);
    if (!v || v->type == J_NULL) return 0;
    if (v->type != J_NUM) return bad(e, 400, "'%s' must be a number", key);
    double x = strtod(v->str, NULL);
    if (!isfinite(x) || x < lo || x > hi || (integer && x != floor(x))) {
        e->status = 400;
        snprintf(e->msg, sizeof e->msg, "'%s' must be %s in %g..%g (got %s)", key,
                 integer ? "an integer" : "a number", lo, hi, v->str);
        return -1;
    }
    *out = x;
    return 0;
}

static int get_bool(const struct jval *root, const char *key, bool *out, struct perr *e)
{
    const struct jval *v = json_get(root, key);
    if (!v || v->type == J_NULL) return 0;
    if (v->type != J_BOOL) return bad(e, 400, "'%s' must be true or false", key);
    *out = !strcmp(v->str, "true");
    return 0;
}

struct params {
    double max_tokens, temperature, top_p, top_k, min_p, seed, logprobs, top_logprobs;
    bool has_max_tokens, stream, echo, chat_logprobs;
    char stop[SERVE_MAX_STOP][SERVE_STOP_LEN];
    int n_stop;
};

static int parse_params(struct server *s, const struct jval *root, bool chat, struct params *p,
                        struct perr *e)
{
    memset(p, 0, sizeof *p);
    p->max_tokens = -1;
    p->temperature = 1.0;
    p->top_p = 1.0;
    p->logprobs = -1;
    p->seed = -1;
    const struct jval *v = json_get(root, "model");
    if (v && v->type != J_NULL) {
        if (v->type != J_STR) return bad(e, 400, "'%s' must be a string", "model");
        if (strcmp(v->str, s->cfg.model_id) != 0) {
            e->status = 404;
            snprintf(e->msg, sizeof e->msg, "model '%.200s' not found (this server has '%.200s')",
                     v->str, s->cfg.model_id);
            return -1;
        }
    }
    double n = 1;
    if (get_num(root, "max_tokens", 0, 1e9, true, &p->max_tokens, e) ||
        get_num(root, "max_completion_tokens", 0, 1e9, true, &p->max_tokens, e) ||
        get_num(root, "temperature", 0, 100, false, &p->temperature, e) ||
        get_num(root, "top_p", 0, 1, false, &p->top_p, e) ||
        get_num(root, "top_k", 0, 1e9, true, &p->top_k, e) ||
        get_num(root, "min_p", 0, 1, false, &p->min_p, e) ||
        get_num(root, "seed", -9007199254740991.0, 9007199254740991.0, true, &p->seed, e) ||
        get_num(root, "n", 1, 1, true, &n, e) || get_bool(root, "stream", &p->stream, e))
        return -1;
    p->has_max_tokens = p->max_tokens >= 0;
    if (chat) {
        if (get_bool(root, "logprobs", &p->chat_logprobs, e) ||
            get_num(root, "top_logprobs", 0, SERVE_MAX_TOP, true, &p->top_logprobs, e))
            return -1;
        if (p->chat_logprobs)
            return bad(e, 400, "'%s' is supported on /v1/completions, not on chat", "logprobs");
    } else {
        if (get_bool(root, "echo", &p->echo, e) ||
            get_num(root, "logprobs", 0, SERVE_MAX_TOP, true, &p->logprobs, e))
            return -1;
    }
    v = json_get(root, "stop");
    if (v && v->type == J_STR) {
        if (v->len >= SERVE_STOP_LEN) return bad(e, 400, "'%s' string too long", "stop");
        memcpy(p->stop[0], v->str, v->len + 1);
        p->n_stop = v->len ? 1 : 0;
    } else if (v && v->type == J_ARR) {
        if (v->n > SERVE_MAX_STOP) return bad(e, 400, "'%s' has more than 4 strings", "stop");
        for (int i = 0; i < v->n; i++) {
            const struct jval *x = &v->kids[i];
            if (x->type != J_STR || x->len >= SERVE_STOP_LEN || memchr(x->str, 0, x->len))
                return bad(e, 400, "'%s' must hold strings of under 256 bytes", "stop");
            if (x->len) memcpy(p->stop[p->n_stop++], x->str, x->len + 1);
        }
    } else if (v && v->type != J_NULL) {
        return bad(e, 400, "'%s' must be a string or an array of strings", "stop");
    }
    return 0;
}

/* Fills a request from the params and a prompt (taken over). */
static struct sreq *make_req(struct server *s, const struct params *p, int32_t *ids, int32_t n,
                             bool chat, int index, struct perr *e)
{
    if (n < 1) {
        free(ids);
        bad(e, 400, "the prompt is empty%s", "");
        return NULL;
    }
    if (n > s->b->n_ctx) {
        free(ids);
        e->status = 400;
        snprintf(e->msg, sizeof e->msg,
                 "the prompt is %d tokens, longer than the context of %d tokens", n, s->b->n_ctx);
        return NULL;
    }
    struct sreq *r = calloc(1, sizeof *r);
    if (!r) {
        free(ids);
        bad(e, 503, "out of memory%s", "");
        return NULL;
    }
    r->prompt = ids;
    r->n_prompt = n;
    int32_t room = s->b->n_ctx - n + 1; /* tokens that can still be generated */
    r->max_tokens = p->has_max_tokens ? (int32_t)fmin(p->max_tokens, room) : chat ? room : 16;
    if (r->max_tokens > room) r->max_tokens = room;
    sample_defaults(&r->sp);
    r->sp.temp = (float)p->temperature;
    r->sp.top_k = (int32_t)p->top_k;
    r->sp.top_p = (float)p->top_p;
    r->sp.min_p = (float)p->min_p;
    r->sp.repeat_penalty = 1.0f;
    pthread_mutex_lock(&s->mu);
    uint64_t id = ++s->next_id;
    pthread_mutex_unlock(&s->mu);
    r->sp.seed =
        p->seed >= 0 ? (uint64_t)p->seed : (uint64_t)time(NULL) * 6364136223846793005ULL + id;
    memcpy(r->stop, p->stop, sizeof r->stop);
    r->n_stop = p->n_stop;
    r->logprobs = (int32_t)p->logprobs;
    r->echo = p->echo;
    r->chat = chat;
    r->index = index;
    r->t_queued = serve_now();
    if (sreq_prepare(s, r) != 0) {
        sreq_free(r);
        bad(e, 503, "out of memory%s", "");
        return NULL;
    }
    return r;
}

/* A prompt: a string, or an array of token ids. */
static int prompt_ids(struct server *s, const struct jval *v, int32_t **ids, int32_t *n,
                      struct perr *e)
{
    *ids = NULL;
    char err[256];
    if (v->type == J_STR) {
        size_t got;
        if (tokenizer_encode(s->m->tok, v->str, v->len, tokenizer_add_bos(s->m->tok), false, ids,
                             &got, err, sizeof err) != 0) {
            e->status = 400;
            snprintf(e->msg, sizeof e->msg, "cannot tokenize the prompt: %s", err);
            return -1;
        }
        if (got > (size_t)INT32_MAX / 2) {
            free(*ids);
            return bad(e, 400, "the prompt is too long%s", "");
        }
        *n = (int32_t)got;
        return 0;
    }
    if (v->type != J_ARR) return bad(e, 400, "'%s' must be a string or token ids", "prompt");
    *ids = malloc(sizeof(int32_t) * (size_t)(v->n ? v->n : 1));
    if (!*ids) return bad(e, 503, "out of memory%s", "");
    for (int i = 0; i < v->n; i++) {
        const struct jval *x = &v->kids[i];
        double d = x->type == J_NUM ? strtod(x->str, NULL) : -1;
        if (x->type != J_NUM || d != floor(d) || d < 0 || d >= s->m->cfg.n_vocab) {
            free(*ids);
            *ids = NULL;
            e->status = 400;
            snprintf(e->msg, sizeof e->msg, "prompt token %d is not a token id in 0..%d", i,
                     s->m->cfg.n_vocab - 1);
            return -1;
        }
        (*ids)[i] = (int32_t)d;
    }
    *n = v->n;
    return 0;
}

/* chat messages -> token ids through the template */
static int chat_ids(struct server *s, const struct jval *msgs, int32_t **ids, int32_t *n,
                    struct perr *e)
{
    if (!s->chat_ok) return bad(e, 400, "chat is not available for this model: %s", s->chat_err);
    if (!msgs || msgs->type != J_ARR || msgs->n < 1)
        return bad(e, 400, "'%s' must be a non-empty array", "messages");
    if (msgs->n > 4096) return bad(e, 400, "'%s' has more than 4096 entries", "messages");
    struct chat_msg *cm = calloc((size_t)msgs->n, sizeof *cm);
    char **owned = calloc((size_t)msgs->n, sizeof *owned);
    int rc = -1;
    if (!cm || !owned) {
        bad(e, 503, "out of memory%s", "");
        goto out;
    }
    for (int i = 0; i < msgs->n; i++) {
        const struct jval *m = &msgs->kids[i];
        const struct jval *role = json_get(m, "role"), *content = json_get(m, "content");
        if (!role || role->type != J_STR) {
            bad(e, 400, "each message needs a string '%s'", "role");
            goto out;
        }
        cm[i].role = role->str;
        if (content && content->type == J_STR) {
            cm[i].content = content->str;
        } else if (content && content->type == J_ARR) { /* [{"type":"text","text":...}] */
            size_t total = 1;
            for (int k = 0; k < content->n; k++) {
                const struct jval *t = json_get(&content->kids[k], "text");
                const struct jval *ty = json_get(&content->kids[k], "type");
                if (!t || t->type != J_STR || !ty || ty->type != J_STR || strcmp(ty->str, "text")) {
                    bad(e, 400, "message content parts must be {\"type\":\"text\",\"%s\":...}",
                        "text");
                    goto out;
                }
                total += t->len;
            }
            owned[i] = malloc(total);
            if (!owned[i]) {
                bad(e, 503, "out of memory%s", "");
                goto out;
            }
            size_t at = 0;
            for (int k = 0; k < content->n; k++) {
                const struct jval *t = json_get(&content->kids[k], "text");
                memcpy(owned[i] + at, t->str, t->len);
                at += t->len;
            }
            owned[i][at] = 0;
            cm[i].content = owned[i];
        } else if (!content || content->type == J_NULL) {
            cm[i].content = "";
        } else {
            bad(e, 400, "'%s' of a message must be a string or text parts", "content");
            goto out;
        }
    }
    char err[256];
    size_t got;
    if (chat_encode(s->m->tok, s->tmpl, cm, (size_t)msgs->n, true, ids, &got, err, sizeof err)) {
        e->status = 400;
        snprintf(e->msg, sizeof e->msg, "cannot apply the chat template: %s", err);
        goto out;
    }
    *n = got > (size_t)INT32_MAX / 2 ? INT32_MAX / 2 : (int32_t)got;
    rc = 0;
out:
    for (int i = 0; owned && i < msgs->n; i++)
        free(owned[i]);
    free(owned);
    free(cm);
    return rc;
}

/* ---- responses ---- */

static void write_usage(struct server *s, FILE *f, struct sreq **rs, int n)
{
    int64_t pt = 0, ct = 0;
    double j = 0, sec = 0;
    for (int i = 0; i < n; i++) {
        pt += rs[i]->n_prompt;
        ct += rs[i]->n_gen;
        j += rs[i]->joules;
        sec += rs[i]->busy_s;
    }
    const char *src = s->cfg.meter ? meter_source_name(meter_source(s->cfg.meter)) : "n/a";
    fprintf(f,
            "\"usage\":{\"prompt_tokens\":%lld,\"completion_tokens\":%lld,\"total_tokens\":%lld,"
            "\"energy_joules\":",
            (long long)pt, (long long)ct, (long long)(pt + ct));
    json_write_num(f, s->cfg.meter ? j : NAN);
    fputs(",\"energy_source\":", f);
    json_write_str(f, src);
    fputs(",\"energy_cost\":", f);
    json_write_num(f, s->cfg.meter ? j / 3.6e6 * s->cfg.price_kwh * s->cfg.pue : NAN);
    fprintf(f, ",\"energy_price_kwh\":%.6g,\"pue\":%.6g,\"compute_seconds\":%.6f", s->cfg.price_kwh,
            s->cfg.pue, sec);
    fputs(",\"hardware_cost\":", f); /* the request's share of the machine's time */
    json_write_num(f, s->cfg.hw_hourly_known ? sec / 3600 * s->cfg.hw_hourly : NAN);
    fputs("}", f);
}

static void write_token_str(struct server *s, FILE *f, int32_t id, size_t *text_len)
{
    char buf[256];
    size_t n = tokenizer_token_bytes(s->m->tok, id, false, buf, sizeof buf - 1);
    if (n > sizeof buf - 1) n = sizeof buf - 1;
    buf[n] = 0;
    json_write_str(f, buf);
    if (text_len) *text_len += strlen(buf);
}

/* OpenAI's legacy logprobs object for the prompt (echo) and generated tokens */
static void write_logprobs(struct server *s, FILE *f, const struct sreq *r)
{
    int32_t first = r->echo ? 0 : r->n_prompt, last = r->n_prompt + r->n_gen;
    int32_t k = r->logprobs, stride = k ? k : 1;
    fputs("{\"tokens\":[", f);
    for (int32_t i = first; i < last; i++) {
        if (i > first) fputc(',', f);
        write_token_str(s, f, i < r->n_prompt ? r->prompt[i] : r->gen[i - r->n_prompt], NULL);
    }
    fputs("],\"token_logprobs\":[", f);
    for (int32_t i = first; i < last; i++) {
        if (i > first) fputc(',', f);
        if (i == 0)
            fputs("null", f);
        else
            json_write_num(f, r->lp[i]);
    }
    fputs("],\"top_logprobs\":[", f);
    for (int32_t i = first; i < last; i++) {
        if (i > first) fputc(',', f);
        if (i == 0 || k == 0) {
            fputs(i == 0 ? "null" : "{}", f);
            continue;
        }
        fputc('{', f);
        for (int32_t j = 0; j < k; j++) {
            if (j) fputc(',', f);
            write_token_str(s, f, r->top_id[(size_t)i * stride + j], NULL);
            fputc(':', f);
            json_write_num(f, r->top_lp[(size_t)i * stride + j]);
        }
        fputc('}', f);
    }
    fputs("],\"text_offset\":[", f);
    size_t off = 0;
    for (int32_t i = first; i < last; i++) {
        if (i > first) fputc(',', f);
        fprintf(f, "%zu", off);
        char buf[256];
        size_t n = tokenizer_token_bytes(s->m->tok,
                                         i < r->n_prompt ? r->prompt[i] : r->gen[i - r->n_prompt],
                                         false, buf, sizeof buf);
        off += n;
    }
    fputs("]}", f);
}

static void write_head(struct server *s, FILE *f, bool chat, bool chunk, uint64_t id)
{
    fprintf(f, "{\"id\":\"%s%llu\",\"object\":\"%s\",\"created\":%lld,\"model\":",
            chat ? "chatcmpl-" : "cmpl-", (unsigned long long)id,
            chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion",
            (long long)time(NULL));
    json_write_str(f, s->cfg.model_id);
}

static void respond_whole(struct server *s, int fd, struct sreq **rs, int n, bool chat, uint64_t id,
                          const char *echo_text)
{
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f) {
        serve_error(s, fd, 503, "server_error", "out of memory", NULL);
        return;
    }
    write_head(s, f, chat, false, id);
    fputs(",\"choices\":[", f);
    for (int i = 0; i < n; i++) {
        const struct sreq *r = rs[i];
        if (i) fputc(',', f);
        fprintf(f, "{\"index\":%d,", r->index);
        if (chat) {
            fputs("\"message\":{\"role\":\"assistant\",\"content\":", f);
            json_write_str(f, r->text);
            fputs("},\"logprobs\":null", f);
        } else {
            fputs("\"text\":", f);
            if (r->echo) { /* the prompt as sent (text), or decoded (token ids) */
                char *p =
                    echo_text ? NULL : tokenizer_decode(s->m->tok, r->prompt, (size_t)r->n_prompt);
                size_t pl = echo_text ? strlen(echo_text) : p ? strlen(p) : 0;
                char *both = malloc(pl + r->text_len + 1);
                if (both) {
                    memcpy(both, echo_text ? echo_text : p ? p : "", pl);
                    memcpy(both + pl, r->text, r->text_len + 1);
                    json_write_str(f, both);
                } else {
                    json_write_str(f, r->text);
                }
                free(both);
                free(p);
            } else {
                json_write_str(f, r->text);
            }
            fputs(",\"logprobs\":", f);
            if (r->logprobs >= 0)
                write_logprobs(s, f, r);
            else
                fputs("null", f);
        }
        fputs(",\"finish_reason\":", f);
        json_write_str(f, r->finish ? r->finish : "abort");
        fputc('}', f);
    }
    fputs("],", f);
    write_usage(s, f, rs, n);
    fputs("}\n", f);
    if (fclose(f) != 0 || !body) {
        free(body);
        serve_error(s, fd, 503, "server_error", "out of memory", NULL);
        return;
    }
    http_respond(fd, 200, "application/json", NULL, body, len);
    free(body);
}

/* one server-sent event with a text delta (or the closing one: finish + usage) */
static int send_event(struct server *s, int fd, struct sreq *r, bool chat, uint64_t id,
                      const char *delta, bool first, bool last)
{
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f) return -1;
    fputs("data: ", f);
    write_head(s, f, chat, true, id);
    fputs(",\"choices\":[{\"index\":0,", f);
    if (chat) {
        fputs("\"delta\":{", f);
        if (first) fputs("\"role\":\"assistant\"", f);
        if (delta) {
            if (first) fputc(',', f);
            fputs("\"content\":", f);
            json_write_str(f, delta);
        }
        fputs("}", f);
    } else {
        fputs("\"text\":", f);
        json_write_str(f, delta ? delta : "");
        fputs(",\"logprobs\":null", f);
    }
    fputs(",\"finish_reason\":", f);
    if (last)
        json_write_str(f, r->finish ? r->finish : "abort");
    else
        fputs("null", f);
    fputs("}]", f);
    if (last) {
        fputc(',', f);
        write_usage(s, f, &r, 1);
    }
    fputs("}\n\n", f);
    if (last) fputs("data: [DONE]\n\n", f);
    int rc = fclose(f) == 0 && body ? http_write_all(fd, body, len) : -1;
    free(body);
    return rc;
}

/* Waits for every request to finish, cancelling them when the client goes away. */
static void wait_done(struct server *s, int fd, struct sreq **rs, int n)
{
    pthread_mutex_lock(&s->mu);
    for (;;) {
        bool all = true;
        for (int i = 0; i < n; i++)
            all &= rs[i]->state == SREQ_DONE;
        if (all) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&s->progress, &s->mu, &ts);
        if (http_peer_gone(fd)) {
            for (int i = 0; i < n; i++)
                rs[i]->cancelled = true;
            pthread_cond_signal(&s->work);
        }
    }
    pthread_mutex_unlock(&s->mu);
}

static void stream(struct server *s, int fd, struct sreq *r, bool chat, uint64_t id,
                   const char *echo_text)
{
    bool ok = http_respond_sse_head(fd) == 0, first = true;
    if (ok && echo_text && *echo_text) {
        ok = send_event(s, fd, r, chat, id, echo_text, first, false) == 0;
        first = false;
    }
    size_t sent = 0;
    pthread_mutex_lock(&s->mu);
    while (ok) {
        size_t safe = sreq_safe_len(r);
        if (safe > sent) {
            char *delta = strndup(r->text + sent, safe - sent);
            sent = safe;
            pthread_mutex_unlock(&s->mu);
            ok = delta && send_event(s, fd, r, chat, id, delta, first, false) == 0;
            first = false;
            free(delta);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        if (r->state == SREQ_DONE) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&s->progress, &s->mu, &ts);
        if (http_peer_gone(fd)) ok = false;
    }
    if (!ok) { /* the client went away: its slot is freed at the next step */
        r->cancelled = true;
        pthread_cond_signal(&s->work);
    }
    pthread_mutex_unlock(&s->mu);
    if (!ok) {
        wait_done(s, fd, &r, 1);
        return;
    }
    send_event(s, fd, r, chat, id, NULL, first, true);
}

void serve_completions(struct server *s, int fd, const char *body, size_t len, bool chat)
{
    struct jval root;
    char jerr[256];
    if (json_parse(body, len, &root, jerr, sizeof jerr) != 0) {
        char msg[400];
        snprintf(msg, sizeof msg, "the body is not valid JSON: %s", jerr);
        serve_error(s, fd, 400, "invalid_request_error", msg, NULL);
        return;
    }
    struct perr e = {400, ""};
    struct params p;
    struct sreq *rs[64] = {0};
    int n = 0;
    const char *echo_text = NULL;
    if (root.type != J_OBJ) {
        bad(&e, 400, "the body must be a JSON object%s", "");
        goto fail;
    }
    if (parse_params(s, &root, chat, &p, &e)) goto fail;
    if (!s->m->tok && !chat) {
        const struct jval *pr = json_get(&root, "prompt");
        if (!pr || pr->type == J_STR) {
            bad(&e, 400, "this model has no usable tokenizer: send the prompt as token ids%s", "");
            goto fail;
        }
    }
    if (chat) {
        int32_t *ids, nid;
        if (chat_ids(s, json_get(&root, "messages"), &ids, &nid, &e)) goto fail;
        if (!(rs[n] = make_req(s, &p, ids, nid, true, n, &e))) goto fail;
        n++;
    } else {
        const struct jval *pr = json_get(&root, "prompt");
        if (!pr) {
            bad(&e, 400, "'%s' is required", "prompt");
            goto fail;
        }
        /* several prompts: an array of strings or of token-id arrays */
        bool many = pr->type == J_ARR && pr->n > 0 &&
                    (pr->kids[0].type == J_STR || pr->kids[0].type == J_ARR);
        int count = many ? pr->n : 1;
        if (count > s->cfg.max_prompts || count > 64) {
            e.status = 400;
            snprintf(e.msg, sizeof e.msg, "%d prompts in one request (at most %d)", count,
                     s->cfg.max_prompts);
            goto fail;
        }
        if (many && p.stream) {
            bad(&e, 400, "'%s' with several prompts is not supported", "stream");
            goto fail;
        }
        for (int i = 0; i < count; i++) {
            const struct jval *one = many ? &pr->kids[i] : pr;
            int32_t *ids, nid;
            if (prompt_ids(s, one, &ids, &nid, &e)) goto fail;
            if (!(rs[n] = make_req(s, &p, ids, nid, false, i, &e))) goto fail;
            n++;
        }
        if (!many && pr->type == J_STR) echo_text = pr->str;
    }
    pthread_mutex_lock(&s->mu);
    bool room = s->n_queued + n <= s->cfg.max_queue && !s->quit;
    for (int i = 0; room && i < n; i++)
        serve_enqueue(s, rs[i]);
    uint64_t id = ++s->next_id;
    pthread_mutex_unlock(&s->mu);
    if (!room) {
        for (int i = 0; i < n; i++)
            sreq_free(rs[i]);
        json_free(&root);
        serve_error(s, fd, 503, "server_busy", "the request queue is full; retry shortly",
                    "Retry-After: 1\r\n");
        return;
    }
    if (p.stream) {
        stream(s, fd, rs[0], chat, id, p.echo ? echo_text : NULL);
    } else {
        wait_done(s, fd, rs, n);
        respond_whole(s, fd, rs, n, chat, id, echo_text);
    }
    if (s->cfg.log)
        for (int i = 0; i < n; i++)
            fprintf(s->cfg.log, "serve: %s prompt %d, generated %d (%s), %.3f s, %.3f J\n",
                    chat ? "chat" : "completion", rs[i]->n_prompt, rs[i]->n_gen,
                    rs[i]->finish ? rs[i]->finish : "?", rs[i]->t_done - rs[i]->t_queued,
                    rs[i]->joules);
    for (int i = 0; i < n; i++)
        sreq_free(rs[i]);
    json_free(&root);
    return;
fail:
    for (int i = 0; i < n; i++)
        sreq_free(rs[i]);
    json_free(&root);
    serve_error(s, fd, e.status,
                e.status == 404   ? "not_found_error"
                : e.status == 503 ? "server_error"
                                  : "invalid_request_error",
                e.msg, NULL);
}
