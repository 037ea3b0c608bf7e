/* serve — sockets, connection threads, routes, /health, /v1/models, /metrics, and the
 * `joule serve` command. See serve.h. */
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli_util.h"
#include "device.h"
#include "eval_json.h"
#include "http.h"
#include "serve_impl.h"

void serve_config_defaults(struct serve_config *c)
{
    *c = (struct serve_config){.host = "127.0.0.1",
                               .port = 8080,
                               .model_id = "joule",
                               .max_body = 4u << 20,
                               .head_timeout_ms = 10000,
                               .idle_timeout_ms = 30000,
                               .max_queue = 64,
                               .max_conns = 128,
                               .max_prompts = 16,
                               .price_kwh = 0.15,
                               .pue = 1.0};
}

/* Compares in time that depends only on the lengths, not on where they differ. */
static bool same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la; i++)
        d |= (unsigned char)a[i] ^ (unsigned char)b[i % (lb ? lb : 1)];
    return d == 0;
}

static void respond_json(int fd, const char *body)
{
    http_respond(fd, 200, "application/json", NULL, body, strlen(body));
}

static void health(struct server *s, int fd)
{
    struct serve_stats st;
    serve_get_stats(s, &st);
    char body[256];
    snprintf(body, sizeof body,
             "{\"status\":\"ok\",\"slots\":%d,\"slots_busy\":%d,\"queued\":%d}\n", st.slots,
             st.active, st.queued);
    respond_json(fd, body);
}

static void models(struct server *s, int fd)
{
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f) return;
    fputs("{\"object\":\"list\",\"data\":[{\"id\":", f);
    json_write_str(f, s->cfg.model_id);
    fprintf(f,
            ",\"object\":\"model\",\"created\":0,\"owned_by\":\"joule\",\"meta\":{\"n_ctx\":%d,"
            "\"n_vocab\":%d,\"n_params\":%llu,\"slots\":%d,\"device\":",
            s->b->n_ctx, s->m->cfg.n_vocab, (unsigned long long)s->m->n_params, s->n_slots);
    json_write_str(f, s->b->device);
    fputs("}}]}\n", f);
    if (fclose(f) == 0 && body) http_respond(fd, 200, "application/json", NULL, body, len);
    free(body);
}

static void metrics(struct server *s, int fd)
{
    struct serve_stats st;
    serve_get_stats(s, &st);
    const char *src = s->cfg.meter ? meter_source_name(meter_source(s->cfg.meter)) : "n/a";
    char body[2048];
    int n = snprintf(
        body, sizeof body,
        "# HELP joule_requests_total Requests finished (completions, one per prompt).\n"
        "# TYPE joule_requests_total counter\njoule_requests_total %llu\n"
        "# HELP joule_errors_total Requests answered with an error status.\n"
        "# TYPE joule_errors_total counter\njoule_errors_total %llu\n"
        "# TYPE joule_prompt_tokens_total counter\njoule_prompt_tokens_total %llu\n"
        "# TYPE joule_generated_tokens_total counter\njoule_generated_tokens_total %llu\n"
        "# HELP joule_steps_total Forward steps (one pass over the weights each).\n"
        "# TYPE joule_steps_total counter\njoule_steps_total %llu\n"
        "# HELP joule_rows_total Token rows over all steps (rows/steps: the mean batch).\n"
        "# TYPE joule_rows_total counter\njoule_rows_total %llu\n"
        "# TYPE joule_busy_seconds_total counter\njoule_busy_seconds_total %.6f\n"
        "# HELP joule_energy_joules_total Energy of all steps (source label: the meter's).\n"
        "# TYPE joule_energy_joules_total counter\njoule_energy_joules_total{source=\"%s\"} %.6f\n"
        "# TYPE joule_queue_length gauge\njoule_queue_length %d\n"
        "# TYPE joule_slots_busy gauge\njoule_slots_busy %d\n"
        "# TYPE joule_slots gauge\njoule_slots %d\n"
        "# TYPE joule_connections gauge\njoule_connections %d\n",
        (unsigned long long)st.requests, (unsigned long long)st.errors,
        (unsigned long long)st.prompt_tokens, (unsigned long long)st.gen_tokens,
        (unsigned long long)st.steps, (unsigned long long)st.rows, st.busy_s, src, st.joules,
        st.queued, st.active, st.slots, st.conns);
    if (n > 0 && (size_t)n < sizeof body)
        http_respond(fd, 200, "text/plain; version=0.0.4", NULL, body, (size_t)n);
}

static void route(struct server *s, int fd)
{
    struct http_limits lim = {s->cfg.max_body, s->cfg.head_timeout_ms, s->cfg.idle_timeout_ms};
    struct http_req r;
    char *body = NULL, why[256];
    size_t len = 0;
    int status;
    if (http_read_request(fd, &lim, &r, &body, &len, &status, why, sizeof why) != 0) {
        if (status)
            serve_error(s, fd, status,
                        status == 413 ? "request_too_large" : "invalid_request_error", why, NULL);
        return;
    }
    bool get = !strcmp(r.method, "GET"), post = !strcmp(r.method, "POST");
    bool is_completions = !strcmp(r.path, "/v1/completions"),
         is_chat = !strcmp(r.path, "/v1/chat/completions"),
         is_models = !strcmp(r.path, "/v1/models"), is_health = !strcmp(r.path, "/health"),
         is_metrics = !strcmp(r.path, "/metrics");
    if (s->cfg.api_key && !is_health) {
        const char *given = !strncmp(r.auth, "Bearer ", 7) ? r.auth + 7 : "";
        if (!same_secret(given, s->cfg.api_key)) {
            serve_error(s, fd, 401, "authentication_error",
                        r.auth[0] ? "invalid API key"
                                  : "missing API key (Authorization: Bearer KEY)",
                        "WWW-Authenticate: Bearer\r\n");
            free(body);
            return;
        }
    }
    if (is_completions || is_chat) {
        if (post)
            serve_completions(s, fd, body, len, is_chat);
        else
            serve_error(s, fd, 405, "invalid_request_error", "use POST", "Allow: POST\r\n");
    } else if (is_models || is_health || is_metrics) {
        if (!get)
            serve_error(s, fd, 405, "invalid_request_error", "use GET", "Allow: GET\r\n");
        else if (is_models)
            models(s, fd);
        else if (is_health)
            health(s, fd);
        else
            metrics(s, fd);
    } else {
        char msg[1200];
        snprintf(msg, sizeof msg, "no route %s %s", r.method, r.path);
        serve_error(s, fd, 404, "not_found_error", msg, NULL);
    }
    free(body);
}

struct conn_arg {
    struct server *s;
    int fd, idx;
};

static void *conn_main(void *arg)
{
    struct conn_arg *ca = arg;
    struct server *s = ca->s;
    route(s, ca->fd);
    /* close gracefully: a client still sending (a body refused with 413) would otherwise get
     * a reset instead of the answer; what it sends is read and dropped for up to 200 ms */
    shutdown(ca->fd, SHUT_WR);
    char sink[4096];
    for (int i = 0; i < 64; i++) {
        struct pollfd pf = {ca->fd, POLLIN, 0};
        if (poll(&pf, 1, 200) <= 0 || recv(ca->fd, sink, sizeof sink, 0) <= 0) break;
    }
    pthread_mutex_lock(&s->mu);
    s->conn_fds[ca->idx] = -1;
    s->n_conns--;
    close(ca->fd);
    pthread_cond_broadcast(&s->conns_cv);
    pthread_mutex_unlock(&s->mu);
    free(ca);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct server *s = arg;
    for (;;) {
        struct pollfd pf[2] = {{s->listen_fd, POLLIN, 0}, {s->wake[0], POLLIN, 0}};
        int rc = poll(pf, 2, -1);
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0 || pf[1].revents) break;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) usleep(10000);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
        /* a client that stops reading: a write fails after this, which ends its request */
        struct timeval tv = {s->cfg.idle_timeout_ms / 1000, (s->cfg.idle_timeout_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        pthread_mutex_lock(&s->mu);
        int idx = -1;
        for (int32_t i = 0; i < s->cfg.max_conns && idx < 0; i++)
            if (s->conn_fds[i] < 0) idx = (int)i;
        struct conn_arg *ca = idx >= 0 && !s->quit ? malloc(sizeof *ca) : NULL;
        pthread_t th;
        pthread_attr_t attr;
        bool started = false;
        if (ca) {
            *ca = (struct conn_arg){s, fd, idx};
            s->conn_fds[idx] = fd;
            s->n_conns++;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            pthread_attr_setstacksize(&attr, 256 * 1024);
            started = pthread_create(&th, &attr, conn_main, ca) == 0;
            pthread_attr_destroy(&attr);
            if (!started) {
                s->conn_fds[idx] = -1;
                s->n_conns--;
                free(ca);
            }
        }
        pthread_mutex_unlock(&s->mu);
        if (!started) {
            static const char busy[] =
                "{\"error\":{\"message\":\"too many connections; retry shortly\","
                "\"type\":\"server_busy\",\"code\":503}}\n";
            http_respond(fd, 503, "application/json", "Retry-After: 1\r\n", busy, sizeof busy - 1);
            close(fd);
        }
    }
    return NULL;
}

void serve_get_stats(struct server *s, struct serve_stats *st)
{
    pthread_mutex_lock(&s->mu);
    *st = s->st;
    st->queued = s->n_queued;
    st->slots = s->n_slots;
    st->conns = s->n_conns;
    st->active = 0;
    for (int32_t i = 0; i < s->n_slots; i++)
        st->active += s->slot_req[i] != NULL;
    pthread_mutex_unlock(&s->mu);
}

int serve_port(const struct server *s)
{
    return s->port;
}

static int open_listener(struct server *s, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", s->cfg.port);
    int rc = getaddrinfo(s->cfg.host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve --host %s: %s", s->cfg.host, gai_strerror(rc));
        return -1;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 128) != 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", s->cfg.host, s->cfg.port,
                 strerror(e ? e : EADDRNOTAVAIL));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    s->listen_fd = fd;
    return 0;
}

int serve_start(const struct serve_config *cfg, const struct model *m, struct backend *b,
                struct server **out, char *err, size_t errlen)
{
    *out = NULL;
    struct server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->cfg = *cfg;
    s->m = m;
    s->b = b;
    s->batched = b->ops->forward_batch != NULL;
    s->n_slots = s->batched ? b->n_seq : 1;
    s->listen_fd = s->wake[0] = s->wake[1] = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->progress, NULL);
    pthread_cond_init(&s->conns_cv, NULL);
    if (m->tok) {
        const char *note = NULL;
        s->chat_ok = chat_tmpl_for(m->tok, cfg->chat_template, &s->tmpl, &note, s->chat_err,
                                   sizeof s->chat_err) == 0;
        if (!s->chat_ok && cfg->chat_template) {
            snprintf(err, errlen, "%s", s->chat_err);
            serve_stop(s);
            return -1;
        }
        if (note && cfg->log) fprintf(cfg->log, "serve: %s\n", note);
    } else {
        snprintf(s->chat_err, sizeof s->chat_err, "%s", m->tok_err);
    }
    s->slot_req = calloc((size_t)s->n_slots, sizeof *s->slot_req);
    s->conn_fds = malloc(sizeof(int) * (size_t)(cfg->max_conns > 0 ? cfg->max_conns : 1));
    if (!s->slot_req || !s->conn_fds || pipe2(s->wake, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "out of memory or descriptors starting the server");
        serve_stop(s);
        return -1;
    }
    for (int32_t i = 0; i < cfg->max_conns; i++)
        s->conn_fds[i] = -1;
    if (open_listener(s, err, errlen) != 0) {
        serve_stop(s);
        return -1;
    }
    s->engine_started = pthread_create(&s->engine_thread, NULL, serve_engine_main, s) == 0;
    s->accept_started =
        s->engine_started && pthread_create(&s->accept_thread, NULL, accept_main, s) == 0;
    if (!s->accept_started) {
        snprintf(err, errlen, "cannot start the server threads");
        serve_stop(s);
        return -1;
    }
    *out = s;
    return 0;
}

void serve_stop(struct server *s)
{
    if (!s) return;
    if (s->accept_started) {
        ssize_t w = write(s->wake[1], "x", 1);
        (void)w;
        pthread_join(s->accept_thread, NULL);
    }
    pthread_mutex_lock(&s->mu);
    s->quit = true;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    if (s->engine_started) pthread_join(s->engine_thread, NULL);
    /* connections: requests have ended; those still reading a request are cut short */
    pthread_mutex_lock(&s->mu);
    for (int32_t i = 0; s->conn_fds && i < s->cfg.max_conns; i++)
        if (s->conn_fds[i] >= 0) shutdown(s->conn_fds[i], SHUT_RD);
    while (s->n_conns > 0)
        pthread_cond_wait(&s->conns_cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    if (s->listen_fd >= 0) close(s->listen_fd);
    if (s->wake[0] >= 0) close(s->wake[0]);
    if (s->wake[1] >= 0) close(s->wake[1]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->progress);
    pthread_cond_destroy(&s->conns_cv);
    free(s->slot_req);
    free(s->conn_fds);
    free(s);
}
