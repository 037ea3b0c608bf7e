/* serve: the HTTP request parser, and the server end to end over 127.0.0.1 (several
 * sequences in one step: test_batch.c). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "bench.h"
#include "cpu.h"
#include "eval_json.h"
#include "http.h"
#include "model.h"
#include "sample.h"
#include "serve.h"
#include "testutil.h"
#include "tokenizer.h"
#include "vk.h"

/* ---- the HTTP head parser ---- */

static int parse(const char *text, struct http_req *r, int *status)
{
    char why[256];
    *status = 0;
    return http_parse_head(text, strlen(text), r, status, why, sizeof why);
}

START_TEST(http_heads)
{
    struct http_req r;
    int st;
    ck_assert_int_eq(parse("POST /v1/completions?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n"
                           "Authorization: Bearer k\r\n\r\n{\"a\":1}",
                           &r, &st),
                     1);
    ck_assert_str_eq(r.method, "POST");
    ck_assert_str_eq(r.path, "/v1/completions");
    ck_assert_int_eq(r.content_length, 12);
    ck_assert_str_eq(r.auth, "Bearer k");
    ck_assert_int_eq(r.minor, 1);
    ck_assert_int_eq(parse("GET / HTTP/1.0\r\n\r\n", &r, &st), 1);
    ck_assert_int_eq(r.content_length, -1);
    /* incomplete: more bytes needed */
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: a\r\n", &r, &st), 0);
    ck_assert_int_eq(parse("", &r, &st), 0);
    /* malformed: 400; versions: 505; chunked bodies: 411 */
    static const char *const bad400[] = {
        "GET\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1 x\r\n\r\n",
        "GET noslash HTTP/1.1\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET / HTTP/1.1\r\n: empty\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\nc\r\n\r\n",
        "GET / HTTP/1.1\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 99999999999999999\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "GET / HTTP/1.1\r\nA: \x01\r\n\r\n",
        "GET / XTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad400 / sizeof bad400[0]; i++) {
        ck_assert_msg(parse(bad400[i], &r, &st) == -1, "accepted: %s", bad400[i]);
        ck_assert_msg(st == 400, "%s: status %d", bad400[i], st);
    }
    ck_assert_int_eq(parse("GET / HTTP/2.0\r\n\r\n", &r, &st), -1);
    ck_assert_int_eq(st, 505);
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r, &st), -1);
    ck_assert_int_eq(st, 411);
    /* limits: a head that never ends, too many fields, a huge target */
    char *big = malloc(HTTP_MAX_HEAD + 64);
    ck_assert(big);
    memset(big, 'a', HTTP_MAX_HEAD + 63);
    memcpy(big, "GET /", 5);
    big[HTTP_MAX_HEAD + 63] = 0;
    ck_assert_int_eq(parse(big, &r, &st), -1);
    ck_assert_int_eq(st, 431);
    size_t at = (size_t)sprintf(big, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++)
        at += (size_t)sprintf(big + at, "X-%d: y\r\n", i);
    sprintf(big + at, "\r\n");
    ck_assert_int_eq(parse(big, &r, &st), -1);
    ck_assert_int_eq(st, 431);
    at = (size_t)sprintf(big, "GET /");
    memset(big + at, 'p', 2000);
    sprintf(big + at + 2000, " HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(parse(big, &r, &st), -1);
    ck_assert_int_eq(st, 414);
    free(big);
}
END_TEST

/* Every prefix and every single-byte change of a valid head parses to 1, 0 or -1 with a
 * status: never a crash or a read past the buffer (ASan checks the latter). */
START_TEST(http_mutations)
{
    const char *base = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
                       "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    size_t n = strlen(base);
    char *buf = malloc(n);
    ck_assert(buf);
    struct http_req r;
    char why[256];
    static const char bytes[] = {0, '\r', '\n', ' ', ':', '/', '\x7f', '\xff', 'A', '9'};
    for (size_t len = 0; len <= n; len++) {
        memcpy(buf, base, len);
        int st = 0, rc = http_parse_head(buf, len, &r, &st, why, sizeof why);
        ck_assert(rc == 0 || rc == 1 || (rc == -1 && st >= 400));
        for (size_t i = 0; i < len; i++)
            for (size_t b = 0; b < sizeof bytes; b++) {
                char keep = buf[i];
                buf[i] = bytes[b];
                st = 0;
                rc = http_parse_head(buf, len, &r, &st, why, sizeof why);
                ck_assert(rc == 0 || rc == 1 || (rc == -1 && st >= 400));
                buf[i] = keep;
            }
    }
    free(buf);
}
END_TEST

/* ---- the server over 127.0.0.1 ---- */

struct reply {
    int status;
    char *raw;        /* the whole response */
    const char *body; /* into raw */
};

/* Sends raw bytes and reads the response until the server closes (30 s at most). */
static void call_raw(int port, const char *req, size_t len, struct reply *out)
{
    memset(out, 0, sizeof *out);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert(fd >= 0);
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    ck_assert(http_write_all(fd, req, len) == 0);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    ck_assert(buf);
    for (;;) {
        if (n + 1 >= cap) {
            char *g = realloc(buf, cap *= 2);
            ck_assert(g);
            buf = g;
        }
        ssize_t got = recv(fd, buf + n, cap - n - 1, 0);
        if (got <= 0) break;
        n += (size_t)got;
    }
    close(fd);
    buf[n] = 0;
    out->raw = buf;
    /* nothing at all (status 0): the server dropped the connection without an answer */
    ck_assert_msg(n == 0 || sscanf(buf, "HTTP/1.1 %d", &out->status) == 1, "no status line: '%s'",
                  buf);
    const char *b = strstr(buf, "\r\n\r\n");
    out->body = b ? b + 4 : "";
}

static void call(int port, const char *method, const char *path, const char *body,
                 const char *headers, struct reply *out)
{
    size_t blen = body ? strlen(body) : 0;
    char *req = malloc(blen + 1024);
    ck_assert(req);
    int n = sprintf(req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n\r\n",
                    method, path, headers ? headers : "", blen);
    if (blen) memcpy(req + n, body, blen);
    call_raw(port, req, (size_t)n + blen, out);
    free(req);
}

struct srv {
    struct model *m;
    struct backend *b;
    struct server *s;
    struct meter *mt;
    int port;
    struct backend_ops one_seq_ops;
};

static void srv_open_ctx(struct srv *v, const char *shared, int32_t slots, const char *key,
                         int32_t max_queue, int32_t n_ctx)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/models/tiny-llama-Q8_0.gguf", shared);
    ck_assert_msg(model_load(path, &v->m, err, sizeof err) == 0, "%s", err);
    v->b = cpu_backend_new_seq(v->m, n_ctx, slots < 1 ? 1 : slots, 2, err, sizeof err);
    ck_assert_msg(v->b != NULL, "%s", err);
    if (slots == 0) { /* a backend without forward_batch (as Vulkan is): one slot via forward() */
        v->one_seq_ops = *v->b->ops;
        v->one_seq_ops.forward_batch = NULL;
        v->b->ops = &v->one_seq_ops;
    }
    struct serve_config c;
    serve_config_defaults(&c);
    c.port = 0;
    c.model_id = "tiny";
    c.api_key = key;
    c.max_queue = max_queue;
    c.max_body = 4096;
    c.head_timeout_ms = 2000;
    c.idle_timeout_ms = 2000;
    struct meter_opts mo = {.cpu_threads = 2, .tdp_w = 10, .sample_hz = -1};
    c.meter = v->mt = meter_open(&mo);
    ck_assert(c.meter);
    ck_assert_msg(serve_start(&c, v->m, v->b, &v->s, err, sizeof err) == 0, "%s", err);
    v->port = serve_port(v->s);
    ck_assert_int_gt(v->port, 0);
}

static void srv_open(struct srv *v, const char *shared, int32_t slots, const char *key,
                     int32_t max_queue)
{
    srv_open_ctx(v, shared, slots, key, max_queue, 128);
}

static void srv_close(struct srv *v)
{
    serve_stop(v->s);
    meter_close(v->mt);
    backend_destroy(v->b);
    model_free(v->m);
}

/* prompt k's token ids as a JSON array */
static char *ids_json(const int32_t *ids, size_t n)
{
    char *s = malloc(n * 12 + 8);
    ck_assert(s);
    size_t at = (size_t)sprintf(s, "[");
    for (size_t i = 0; i < n; i++)
        at += (size_t)sprintf(s + at, "%s%d", i ? "," : "", ids[i]);
    sprintf(s + at, "]");
    return s;
}

/* greedy continuation of ids, alone on a one-sequence backend, as text */
static char *greedy_alone(struct model *m, const int32_t *ids, size_t n, int steps)
{
    char err[256];
    struct backend *b = cpu_backend_new(m, 128, 1, err, sizeof err);
    ck_assert_msg(b != NULL, "%s", err);
    const int32_t nv = m->cfg.n_vocab;
    float *lg = malloc(sizeof(float) * (size_t)nv);
    char *text = calloc(1, (size_t)steps * detok_max_bytes(m->tok) + 1);
    ck_assert(lg && text);
    ck_assert(backend_forward(b, ids, (int32_t)n, 0, false, lg, err, sizeof err) == 0);
    struct detok d;
    detok_init(&d, m->tok, false);
    size_t at = 0;
    for (int s = 0; s < steps; s++) {
        int32_t id = sample_argmax(lg, nv);
        if (tokenizer_is_eog(m->tok, id)) break;
        at += detok_push(&d, id, text + at, detok_max_bytes(m->tok));
        if (s + 1 < steps)
            ck_assert(backend_forward(b, &id, 1, (int32_t)n + s, false, lg, err, sizeof err) == 0);
    }
    text[at] = 0;
    free(lg);
    backend_destroy(b);
    return text;
}

struct client {
    int port;
    const char *body;
    struct reply rep;
};

static void *client_main(void *arg)
{
    struct client *c = arg;
    call(c->port, "POST", "/v1/completions", c->body, NULL, &c->rep);
    return NULL;
}

/* the choices[0].text (or message.content) of a response; malloc'd */
static char *choice_text(const char *body, double *joules)
{
    struct jval v;
    char err[256];
    ck_assert_msg(json_parse(body, strlen(body), &v, err, sizeof err) == 0, "%s: %s", err, body);
    const struct jval *ch = json_get(&v, "choices");
    ck_assert_msg(ch && ch->type == J_ARR && ch->n >= 1, "%s", body);
    const struct jval *t = json_get(&ch->kids[0], "text");
    if (!t) t = json_get(json_get(&ch->kids[0], "message"), "content");
    ck_assert_msg(t && t->type == J_STR, "%s", body);
    char *s = strdup(t->str);
    const struct jval *u = json_get(&v, "usage");
    ck_assert_msg(u && json_get(u, "energy_joules") && json_get(u, "energy_source"), "%s", body);
    ck_assert_str_eq(json_str(json_get(u, "energy_source")), "estimate");
    if (joules) *joules = json_num(json_get(u, "energy_joules"), -1);
    json_free(&v);
    return s;
}

/* 8 clients at once: each greedy text equals its prompt run alone (slots 0: a backend that
 * runs one sequence through forward()). */
static void check_concurrent(int32_t slots)
{
    NEED_SHARED(shared);
    struct srv v;
    srv_open(&v, shared, slots, NULL, 64);
    enum { N = 8, STEPS = 12 };
    struct client cl[N];
    pthread_t th[N];
    char *want[N], *bodies[N];
    int32_t *ids[3];
    size_t nid[3];
    for (int k = 0; k < 3; k++) {
        char p[600];
        snprintf(p, sizeof p, "%s/models/tiny-llama-Q8_0.ref/tokens-%d.txt", shared, k);
        ids[k] = test_read_ids(p, &nid[k]);
        ck_assert(ids[k]);
    }
    for (int i = 0; i < N; i++) {
        /* prompts of different lengths: prefixes of the three reference prompts */
        size_t n = nid[i % 3] - (size_t)(i / 3) * 3;
        char *pj = ids_json(ids[i % 3], n);
        bodies[i] = malloc(strlen(pj) + 128);
        ck_assert(bodies[i]);
        sprintf(bodies[i], "{\"model\":\"tiny\",\"prompt\":%s,\"max_tokens\":%d,\"temperature\":0}",
                pj, STEPS);
        free(pj);
        want[i] = greedy_alone(v.m, ids[i % 3], n, STEPS);
        cl[i].port = v.port;
        cl[i].body = bodies[i];
        ck_assert(pthread_create(&th[i], NULL, client_main, &cl[i]) == 0);
    }
    double total_j = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(cl[i].rep.status == 200, "client %d: %s", i, cl[i].rep.raw);
        double j;
        char *got = choice_text(cl[i].rep.body, &j);
        ck_assert_msg(!strcmp(got, want[i]), "client %d: '%s' vs alone '%s'", i, got, want[i]);
        ck_assert(j > 0);
        total_j += j;
        free(got);
        free(want[i]);
        free(bodies[i]);
        free(cl[i].rep.raw);
    }
    struct serve_stats st;
    serve_get_stats(v.s, &st);
    ck_assert_int_eq(st.requests, N);
    ck_assert_int_eq(st.gen_tokens, N * STEPS);
    /* the requests' shares add up to the energy of all steps */
    ck_assert_msg(fabs(total_j - st.joules) <= 1e-9 + 1e-6 * st.joules, "%g vs %g", total_j,
                  st.joules);
    /* several requests shared steps (with one slot, prompt rows still come several a step) */
    ck_assert_msg(st.rows > st.steps, "rows %llu steps %llu", (unsigned long long)st.rows,
                  (unsigned long long)st.steps);
    for (int k = 0; k < 3; k++)
        free(ids[k]);
    srv_close(&v);
}

START_TEST(serve_concurrent)
{
    check_concurrent(4);
}
END_TEST

START_TEST(serve_one_sequence_backend)
{
    check_concurrent(0);
}
END_TEST

/* Every bad-input class gets its status and an OpenAI-style error; the server keeps serving. */
START_TEST(serve_bad_input)
{
    NEED_SHARED(shared);
    struct srv v;
    srv_open(&v, shared, 2, NULL, 64);
    struct {
        const char *method, *path, *body;
        int status;
        const char *says;
    } cases[] = {
        {"POST", "/v1/completions", "{\"prompt\":", 400, "not valid JSON"},
        {"POST", "/v1/completions", "[1,2]", 400, "JSON object"},
        {"POST", "/v1/completions", "{}", 400, "'prompt' is required"},
        {"POST", "/v1/completions", "{\"prompt\":true}", 400, "'prompt'"},
        {"POST", "/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":\"5\"}", 400, "max_tokens"},
        {"POST", "/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":1.5}", 400, "max_tokens"},
        {"POST", "/v1/completions", "{\"prompt\":\"a\",\"temperature\":-1}", 400, "temperature"},
        {"POST", "/v1/completions", "{\"prompt\":\"a\",\"stream\":1}", 400, "stream"},
        {"POST", "/v1/completions", "{\"prompt\":\"a\",\"stop\":[1]}", 400, "stop"},
        {"POST", "/v1/completions", "{\"prompt\":\"a\",\"logprobs\":9}", 400, "logprobs"},
        {"POST", "/v1/completions", "{\"prompt\":[1,99999]}", 400, "token id"},
        {"POST", "/v1/completions", "{\"prompt\":[]}", 400, "empty"},
        {"POST", "/v1/completions", "{\"prompt\":\"a\",\"model\":\"gpt-9\"}", 404, "gpt-9"},
        {"POST", "/v1/chat/completions", "{\"messages\":[]}", 400, "messages"},
        {"POST", "/v1/chat/completions", "{\"messages\":[{\"content\":\"x\"}]}", 400, "role"},
        {"POST", "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":5}]}", 400,
         "content"},
        {"GET", "/v1/completions", NULL, 405, "POST"},
        {"POST", "/health", "{}", 405, "GET"},
        {"GET", "/nothing", NULL, 404, "no route"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct reply r;
        call(v.port, cases[i].method, cases[i].path, cases[i].body, NULL, &r);
        ck_assert_msg(r.status == cases[i].status, "%s %s: %d: %s", cases[i].path,
                      cases[i].body ? cases[i].body : "", r.status, r.raw);
        ck_assert_msg(strstr(r.body, "\"error\"") && strstr(r.body, cases[i].says), "%s: %s",
                      cases[i].body ? cases[i].body : cases[i].path, r.body);
        free(r.raw);
    }
    /* a prompt longer than the context (128) says both numbers */
    int32_t many[200];
    for (int i = 0; i < 200; i++)
        many[i] = 100 + i;
    char *pj = ids_json(many, 200), body[2048];
    snprintf(body, sizeof body, "{\"prompt\":%s}", pj);
    free(pj);
    struct reply r;
    call(v.port, "POST", "/v1/completions", body, NULL, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_msg(strstr(r.body, "200 tokens") && strstr(r.body, "128"), "%s", r.body);
    free(r.raw);
    /* a body over the limit (4096 here): 413 from the Content-Length alone */
    static const char big[] = "POST /v1/completions HTTP/1.1\r\nContent-Length: 100000\r\n\r\n{";
    call_raw(v.port, big, sizeof big - 1, &r);
    ck_assert_int_eq(r.status, 413);
    free(r.raw);
    /* malformed HTTP: 400, 505, 411 */
    static const char *const raw[] = {"GARBAGE\r\n\r\n", "GET / HTTP/3.0\r\n\r\n",
                                      "POST /v1/completions HTTP/1.1\r\n\r\n"};
    static const int want[] = {400, 505, 411};
    for (int i = 0; i < 3; i++) {
        call_raw(v.port, raw[i], strlen(raw[i]), &r);
        ck_assert_msg(r.status == want[i], "%s: %s", raw[i], r.raw);
        free(r.raw);
    }
    /* a client that sends half a head and goes quiet is dropped after the head timeout */
    call_raw(v.port, "GET /health HTTP/1.1\r\n", 22, &r);
    ck_assert_int_eq(r.status, 0);
    free(r.raw);
    /* binary noise */
    char noise[3000];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (char)(i * 131 + 7);
    memcpy(noise + sizeof noise - 4, "\r\n\r\n", 4);
    call_raw(v.port, noise, sizeof noise, &r);
    ck_assert_int_eq(r.status, 400);
    free(r.raw);
    call(v.port, "GET", "/health", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(strstr(r.body, "\"ok\""));
    free(r.raw);
    srv_close(&v);
}
END_TEST

static int call_status(int port, const char *method, const char *path, const char *body,
                       const char *headers)
{
    struct reply r;
    call(port, method, path, body, headers, &r);
    free(r.raw);
    return r.status;
}

/* --api-key: 401 without or with a wrong key, 200 with it; /health stays open. A queue of 0
 * turns every request away with 503 and Retry-After. */
START_TEST(serve_key_and_queue)
{
    NEED_SHARED(shared);
    struct srv v;
    srv_open(&v, shared, 1, "s3cret", 0);
    const char *body = "{\"prompt\":\"a\",\"max_tokens\":2}";
    ck_assert_int_eq(call_status(v.port, "POST", "/v1/completions", body, NULL), 401);
    ck_assert_int_eq(
        call_status(v.port, "GET", "/v1/models", NULL, "Authorization: Bearer s3cre\r\n"), 401);
    ck_assert_int_eq(
        call_status(v.port, "GET", "/v1/models", NULL, "Authorization: Bearer s3cret!\r\n"), 401);
    ck_assert_int_eq(call_status(v.port, "GET", "/health", NULL, NULL), 200);
    ck_assert_int_eq(
        call_status(v.port, "GET", "/v1/models", NULL, "Authorization: Bearer s3cret\r\n"), 200);
    struct reply r;
    call(v.port, "POST", "/v1/completions", body, "Authorization: Bearer s3cret\r\n", &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert(strstr(r.raw, "Retry-After: 1"));
    free(r.raw);
    srv_close(&v);
}
END_TEST

/* Echoed prompt logprobs are the log-softmax of the logits of the same tokens. */
START_TEST(serve_echo_logprobs)
{
    NEED_SHARED(shared);
    struct srv v;
    srv_open(&v, shared, 2, NULL, 64);
    char p[600], err[256];
    snprintf(p, sizeof p, "%s/models/tiny-llama-Q8_0.ref/tokens-1.txt", shared);
    size_t n;
    int32_t *ids = test_read_ids(p, &n);
    ck_assert(ids && n > 2);
    char *pj = ids_json(ids, n), *body = malloc(strlen(pj) + 128);
    ck_assert(body);
    sprintf(body, "{\"prompt\":%s,\"max_tokens\":0,\"echo\":true,\"logprobs\":1}", pj);
    free(pj);
    struct reply r;
    call(v.port, "POST", "/v1/completions", body, NULL, &r);
    ck_assert_msg(r.status == 200, "%s", r.raw);
    struct jval js;
    ck_assert(json_parse(r.body, strlen(r.body), &js, err, sizeof err) == 0);
    const struct jval *lp =
        json_get(json_get(&json_get(&js, "choices")->kids[0], "logprobs"), "token_logprobs");
    ck_assert_msg(lp && lp->type == J_ARR && lp->n == (int)n, "%s", r.body);
    ck_assert_int_eq(lp->kids[0].type, J_NULL);
    const int32_t nv = v.m->cfg.n_vocab;
    float *lg = malloc(sizeof(float) * n * (size_t)nv);
    ck_assert(lg);
    struct backend *b = cpu_backend_new(v.m, 128, 1, err, sizeof err);
    ck_assert(b && backend_forward(b, ids, (int32_t)n, 0, true, lg, err, sizeof err) == 0);
    for (size_t i = 1; i < n; i++) {
        const float *x = lg + (i - 1) * (size_t)nv;
        double mx = x[0], sum = 0;
        for (int32_t k = 1; k < nv; k++)
            mx = x[k] > mx ? x[k] : mx;
        for (int32_t k = 0; k < nv; k++)
            sum += exp(x[k] - mx);
        double want = x[ids[i]] - mx - log(sum), got = json_num(&lp->kids[i], 1e9);
        ck_assert_msg(fabs(got - want) < 1e-3, "token %zu: %g vs %g", i, got, want);
    }
    const struct jval *top =
        json_get(json_get(&json_get(&js, "choices")->kids[0], "logprobs"), "top_logprobs");
    ck_assert(top && top->type == J_ARR && top->n == (int)n && top->kids[1].type == J_OBJ &&
              top->kids[1].n == 1);
    json_free(&js);
    backend_destroy(b);
    free(lg);
    free(ids);
    free(body);
    free(r.raw);
    srv_close(&v);
}
END_TEST

/* A streamed completion carries the same text as the whole one; chat answers; a client that
 * goes away mid-stream frees its slot. */
START_TEST(serve_stream_and_disconnect)
{
    NEED_SHARED(shared);
    struct srv v;
    srv_open_ctx(&v, shared, 2, NULL, 64, 4096);
    const char *whole = "{\"prompt\":\"The meaning of\",\"max_tokens\":10,\"temperature\":0}";
    const char *streamed =
        "{\"prompt\":\"The meaning of\",\"max_tokens\":10,\"temperature\":0,\"stream\":true}";
    struct reply r;
    call(v.port, "POST", "/v1/completions", whole, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    char *want = choice_text(r.body, NULL);
    free(r.raw);
    call(v.port, "POST", "/v1/completions", streamed, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(strstr(r.raw, "text/event-stream"));
    ck_assert_msg(strstr(r.body, "data: [DONE]"), "%s", r.body);
    /* concatenate the events' texts */
    char got[4096] = "";
    const char *at = r.body;
    int events = 0;
    while ((at = strstr(at, "data: {")) != NULL) {
        at += 6;
        const char *end = strstr(at, "\n\n");
        ck_assert(end);
        struct jval ev;
        char err[256];
        ck_assert(json_parse(at, (size_t)(end - at), &ev, err, sizeof err) == 0);
        const struct jval *ch = &json_get(&ev, "choices")->kids[0];
        strncat(got, json_str(json_get(ch, "text")), sizeof got - strlen(got) - 1);
        if (json_get(ch, "finish_reason")->type != J_NULL)
            ck_assert(json_get(&ev, "usage") != NULL);
        json_free(&ev);
        events++;
        at = end;
    }
    ck_assert_int_ge(events, 2);
    ck_assert_str_eq(got, want);
    free(r.raw);

    /* a stop string: the text ends before its first occurrence, whole or streamed */
    ck_assert_int_ge(strlen(want), 6);
    char stop[8] = {0}, body[512];
    for (size_t i = 1; !stop[0] && i + 3 <= strlen(want); i++) { /* 3 plain ASCII bytes */
        bool plain = true;
        for (size_t k = i; k < i + 3; k++)
            plain &= want[k] > 0x20 && want[k] < 0x7f && want[k] != '"' && want[k] != '\\';
        if (plain) memcpy(stop, want + i, 3);
    }
    ck_assert_msg(stop[0], "no plain 3-byte piece in '%s'", want);
    {
        size_t upto = (size_t)(strstr(want, stop) - want);
        for (int streaming = 0; streaming < 2; streaming++) {
            snprintf(body, sizeof body,
                     "{\"prompt\":\"The meaning of\",\"max_tokens\":10,\"temperature\":0,"
                     "\"stop\":[\"\\u0001never\",\"%s\"],\"stream\":%s}",
                     stop, streaming ? "true" : "false");
            call(v.port, "POST", "/v1/completions", body, NULL, &r);
            ck_assert_msg(r.status == 200, "%s", r.raw);
            ck_assert_msg(strstr(r.body, "\"finish_reason\":\"stop\""), "%s", r.body);
            if (!streaming) {
                char *t = choice_text(r.body, NULL);
                ck_assert_int_eq(strlen(t), upto);
                ck_assert(!strncmp(t, want, upto));
                free(t);
            }
            free(r.raw);
        }
    }
    free(want);

    call(v.port, "POST", "/v1/chat/completions",
         "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\","
         "\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}]}],\"max_tokens\":4}",
         NULL, &r);
    ck_assert_msg(r.status == 200 && strstr(r.body, "\"chat.completion\""), "%s", r.raw);
    free(choice_text(r.body, NULL));
    free(r.raw);

    /* disconnect: a long stream, closed after its first event */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)v.port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    const char *longs = "{\"prompt\":\"a\",\"max_tokens\":100000,\"stream\":true}";
    char req[512];
    int rn =
        snprintf(req, sizeof req, "POST /v1/completions HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(longs), longs);
    ck_assert(http_write_all(fd, req, (size_t)rn) == 0);
    char buf[4096];
    size_t have = 0;
    while (have + 1 < sizeof buf) { /* until the first event: it is generating */
        ssize_t k = recv(fd, buf + have, sizeof buf - 1 - have, 0);
        ck_assert(k > 0);
        have += (size_t)k;
        buf[have] = 0;
        if (strstr(buf, "data: ")) break;
    }
    struct serve_stats st;
    serve_get_stats(v.s, &st);
    ck_assert_int_eq(st.active, 1);
    close(fd);
    for (int i = 0; i < 100; i++) { /* freed within ~a step and a 200 ms wait */
        serve_get_stats(v.s, &st);
        if (st.active == 0) break;
        usleep(50000);
    }
    ck_assert_int_eq(st.active, 0);
    ck_assert_int_lt(st.gen_tokens, 3000); /* it stopped long before the context (4096) */
    srv_close(&v);
}
END_TEST

struct loader {
    int port, n, id;
    double *lat; /* n latencies (s) */
    int errors;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *loader_main(void *arg)
{
    struct loader *l = arg;
    for (int i = 0; i < l->n; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"prompt\":\"Client %d asks question %d about\",\"max_tokens\":%d,"
                 "\"temperature\":0.7,\"seed\":%d%s}",
                 l->id, i, 4 + (l->id + i) % 9, i, (l->id + i) % 3 == 0 ? ",\"stream\":true" : "");
        double t0 = now_s();
        struct reply r;
        call(l->port, "POST", "/v1/completions", body, NULL, &r);
        l->lat[i] = now_s() - t0;
        if (r.status != 200) l->errors++;
        free(r.raw);
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* 16 clients x 20 requests in two rounds: no error, and the server's heap does not grow
 * between the rounds. Prints requests/s and p50/p99 latency. */
START_TEST(serve_load)
{
    NEED_SHARED(shared);
    struct srv v;
    srv_open(&v, shared, 4, NULL, 64);
    enum { CLIENTS = 16, PER = 10, ROUNDS = 2 };
    size_t heap[ROUNDS];
    double *lat = malloc(sizeof(double) * CLIENTS * PER * ROUNDS);
    ck_assert(lat);
    double t0 = now_s();
    for (int round = 0; round < ROUNDS; round++) {
        struct loader l[CLIENTS];
        pthread_t th[CLIENTS];
        for (int c = 0; c < CLIENTS; c++) {
            l[c] = (struct loader){v.port, PER, c, lat + (round * CLIENTS + c) * PER, 0};
            ck_assert(pthread_create(&th[c], NULL, loader_main, &l[c]) == 0);
        }
        for (int c = 0; c < CLIENTS; c++) {
            pthread_join(th[c], NULL);
            ck_assert_int_eq(l[c].errors, 0);
        }
        struct mallinfo2 mi = mallinfo2();
        heap[round] = mi.uordblks;
    }
    double wall = now_s() - t0;
    int total = CLIENTS * PER * ROUNDS;
    qsort(lat, (size_t)total, sizeof *lat, cmp_double);
    struct serve_stats st;
    serve_get_stats(v.s, &st);
    ck_assert_int_eq(st.requests, total);
    fprintf(stderr,
            "serve load: %d requests (16 clients) in %.2f s: %.1f req/s, latency p50 %.1f ms, "
            "p99 %.1f ms, mean batch %.2f rows, heap %zu -> %zu bytes\n",
            total, wall, total / wall, lat[total / 2] * 1e3, lat[total * 99 / 100] * 1e3,
            (double)st.rows / (double)st.steps, heap[0], heap[1]);
    /* the heap is measured in this process (the test's threads included); under ASan
     * mallinfo does not see the allocations */
    const char *asan = getenv("JOULE_ASAN");
    if (!asan || !*asan)
        ck_assert_msg(heap[1] <= heap[0] + (256u << 10), "heap grew from %zu to %zu bytes", heap[0],
                      heap[1]);
    free(lat);
    srv_close(&v);
}
END_TEST

/* More slots than rows a step holds (context 3: batches of 3 rows, 6 slots): every request
 * still gets its turn. */
START_TEST(serve_small_context)
{
    NEED_SHARED(shared);
    struct srv v;
    srv_open_ctx(&v, shared, 6, NULL, 64, 3);
    ck_assert_int_lt(v.b->max_batch, 6);
    enum { N = 12 };
    struct client cl[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        cl[i].port = v.port;
        cl[i].body = "{\"prompt\":[1,45],\"max_tokens\":2,\"temperature\":0}";
        ck_assert(pthread_create(&th[i], NULL, client_main, &cl[i]) == 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(cl[i].rep.status == 200, "%s", cl[i].rep.raw);
        ck_assert_msg(strstr(cl[i].rep.body, "\"completion_tokens\":2"), "%s", cl[i].rep.body);
        free(cl[i].rep.raw);
    }
    srv_close(&v);
}
END_TEST

Suite *serve_suite(void)
{
    Suite *s = suite_create("serve");
    TCase *th = tcase_create("http");
    tcase_set_timeout(th, 60);
    tcase_add_test(th, http_heads);
    tcase_add_test(th, http_mutations);
    suite_add_tcase(s, th);
    TCase *ts = tcase_create("server");
    tcase_set_timeout(ts, 120);
    tcase_add_test(ts, serve_concurrent);
    tcase_add_test(ts, serve_one_sequence_backend);
    tcase_add_test(ts, serve_bad_input);
    tcase_add_test(ts, serve_key_and_queue);
    tcase_add_test(ts, serve_echo_logprobs);
    tcase_add_test(ts, serve_stream_and_disconnect);
    tcase_add_test(ts, serve_load);
    tcase_add_test(ts, serve_small_context);
    suite_add_tcase(s, ts);
    return s;
}
