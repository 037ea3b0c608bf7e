/* fuzz_http — what `joule serve` does with the bytes of a request, short of generating: the
 * HTTP head parser (src/http.c) on any bytes, the request read from a socket (head, then a
 * Content-Length body), and the body of /v1/completions or /v1/chat/completions as
 * serve_completions reads it (JSON, every field, prompt tokens or text, chat messages through
 * the template, the request set up for the engine).
 * Behind it stands a server without weights: a vocabulary of fuzz_util, a 512-token context,
 * and a queue of length 0, so that a request that passes every check is answered 503 (queue
 * full) instead of waiting for an engine.
 * Input: byte 0 picks the vocabulary (low 4 bits) and the chat template (high 4 bits); the
 * rest is the request as a client sends it.
 * Oracles besides the sanitizers: the head parser's results are consistent (a refusal has a
 * 4xx/5xx status; an accepted head has a method, a path starting with '/' and fits the
 * input), and every body gets one complete HTTP response with an error status. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "chat.h"
#include "fuzz_util.h"
#include "http.h"
#include "model.h"
#include "serve_impl.h"
#include "tokenizer.h"

static struct server srv;
static struct model mdl;
static struct backend be;

static void server_init(void)
{
    pthread_mutex_init(&srv.mu, NULL);
    pthread_cond_init(&srv.work, NULL);
    pthread_cond_init(&srv.progress, NULL);
    pthread_cond_init(&srv.conns_cv, NULL);
    serve_config_defaults(&srv.cfg);
    srv.cfg.model_id = "fuzz-model";
    srv.cfg.max_queue = 0; /* a request that passes every check is answered 503 */
    srv.cfg.log = NULL;
    be.n_ctx = 512;
    srv.m = &mdl;
    srv.b = &be;
    srv.n_slots = 1;
    srv.chat_ok = true;
}

/* The head parser on the bytes as they are (an exact-size copy, so ASan sees any overread). */
static void parse_head(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf) return;
    memcpy(buf, data, size);
    struct http_req r;
    int status = 0;
    char why[256];
    int rc = http_parse_head(buf, size, &r, &status, why, sizeof why);
    if (rc == -1 && (status < 400 || status > 599)) fuzz_fail("refused with status %d", status);
    if (rc == 1 && (r.head_len > size || r.path[0] != '/' || !r.method[0]))
        fuzz_fail("accepted head: length %zu of %zu, path '%s'", r.head_len, size, r.path);
    free(buf);
}

/* Reads the response serve wrote to the other end of the pair and checks it. */
static void check_response(int fd)
{
    char buf[4096];
    size_t n = 0;
    ssize_t got;
    while (n < sizeof buf - 1 && (got = recv(fd, buf + n, sizeof buf - 1 - n, MSG_DONTWAIT)) > 0)
        n += (size_t)got;
    buf[n] = 0;
    int status = 0;
    if (sscanf(buf, "HTTP/1.1 %d ", &status) != 1 || status < 400 || status > 599)
        fuzz_fail("completions answered '%.80s'", buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t nv;
    struct tokenizer *const *v = fuzz_vocabs(&nv);
    mdl.tok = v[(data[0] & 15) % nv];
    mdl.cfg.n_vocab = tokenizer_n_vocab(mdl.tok);
    srv.tmpl = (enum chat_tmpl)((data[0] >> 4) % CHAT_N_TMPL);
    data++;
    size--;
    parse_head(data, size);

    /* the request through a socket, as a connection thread reads it */
    int in[2], out[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, in) != 0) return 0;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, out) != 0) {
        close(in[0]);
        close(in[1]);
        return 0;
    }
    int big = 1 << 20;
    setsockopt(in[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(out[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    ssize_t w = size ? send(in[1], data, size, MSG_DONTWAIT | MSG_NOSIGNAL) : 0;
    shutdown(in[1], SHUT_WR);
    if (w == (ssize_t)size) {
        struct http_limits lim = {
            .max_body = 1 << 20, .head_timeout_ms = 1000, .idle_timeout_ms = 1000};
        struct http_req r;
        char *body = NULL, why[256];
        size_t len = 0;
        int status = 0;
        if (http_read_request(in[0], &lim, &r, &body, &len, &status, why, sizeof why) == 0) {
            if (!body || body[len] != 0) fuzz_fail("body not NUL-terminated");
            bool chat = strstr(r.path, "chat") != NULL;
            serve_completions(&srv, out[0], body, len, chat);
            shutdown(out[0], SHUT_WR);
            check_response(out[1]);
        } else if (status != 0 && (status < 400 || status > 599)) {
            fuzz_fail("request refused with status %d: %s", status, why);
        }
        free(body);
    }
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int rc = fuzz_init_vocabs(argc, argv);
    server_init();
    return rc;
}
