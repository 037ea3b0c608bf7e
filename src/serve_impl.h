/* serve_impl — what serve.c (network, routes), serve_engine.c (the scheduler) and
 * serve_api.c (request and response JSON) share. Not a public interface. */
#ifndef JOULE_SERVE_IMPL_H
#define JOULE_SERVE_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "chat.h"
#include "sample.h"
#include "serve.h"
#include "tokenizer.h"

enum { SERVE_MAX_STOP = 4, SERVE_STOP_LEN = 256, SERVE_MAX_TOP = 5 };

enum sreq_state { SREQ_QUEUED, SREQ_RUNNING, SREQ_DONE };

/* One sequence to generate: owned by its connection thread, which frees it only once the
 * engine has marked it SREQ_DONE. Fields below "engine" are written by the engine thread
 * under server.mu, and read by the connection thread under it. */
struct sreq {
    /* set by the connection thread before queueing */
    int32_t *prompt, n_prompt;
    int32_t max_tokens;
    struct sample_params sp;
    char stop[SERVE_MAX_STOP][SERVE_STOP_LEN];
    int n_stop;
    int32_t logprobs; /* -1: none; else top alternatives per token (0..5) */
    bool echo;        /* logprobs of the prompt tokens too */
    bool chat;        /* text starts without the tokenizer's leading space */
    int index;        /* choice index */
    double t_queued;

    /* engine */
    enum sreq_state state;
    bool cancelled; /* set by the connection: its client went away */
    int slot;
    int32_t n_fed; /* prompt tokens sent to the backend */
    int32_t *gen, n_gen;
    float *lp;       /* n_prompt + max_tokens: logprob of token i (prompt, then generated) */
    int32_t *top_id; /* (n_prompt + max_tokens) x logprobs alternatives */
    float *top_lp;
    char *text; /* generated text, NUL-terminated */
    size_t text_len, text_cap;
    const char *finish;    /* "stop", "length", "abort"; NULL while running */
    double joules, busy_s; /* shares of the steps' energy and time */
    double t_first, t_done;
    struct sampler *smp;
    struct detok dt;
    size_t max_stop_len;
    struct sreq *next; /* queue */
};

struct server {
    struct serve_config cfg;
    const struct model *m;
    struct backend *b;
    int32_t n_slots;
    bool batched; /* backend has forward_batch */
    enum chat_tmpl tmpl;
    bool chat_ok;
    char chat_err[256];
    int listen_fd, port;
    int wake[2]; /* self-pipe: wakes the accept loop */

    pthread_mutex_t mu;
    pthread_cond_t work;     /* engine: something to do */
    pthread_cond_t progress; /* connections: a request advanced */
    pthread_cond_t conns_cv; /* stop: a connection ended */
    bool quit;
    struct sreq *queue_head, *queue_tail;
    int32_t n_queued;
    int32_t rr;             /* the slot a step's row budget starts from (round robin) */
    struct sreq **slot_req; /* n_slots */
    int *conn_fds;          /* max_conns: open connections (-1 free) */
    int32_t n_conns;
    uint64_t next_id;

    struct serve_stats st;
    pthread_t accept_thread, engine_thread;
    bool accept_started, engine_started;
};

/* serve_engine.c */
void *serve_engine_main(void *arg);
/* Allocates the engine-side buffers of r (after the connection filled its request part). */
int sreq_prepare(struct server *s, struct sreq *r);
void sreq_free(struct sreq *r);
/* Under s->mu: queue r, or false when the queue is full. */
bool serve_enqueue(struct server *s, struct sreq *r);
/* The bytes of r->text a stream may send now: all when done, else short of a stop string's
 * possible start, at a UTF-8 boundary. Under s->mu. */
size_t sreq_safe_len(const struct sreq *r);

/* serve_api.c: the /v1 endpoints, writing the response to fd. */
void serve_completions(struct server *s, int fd, const char *body, size_t len, bool chat);
/* An OpenAI-style error body, counted in the stats. */
void serve_error(struct server *s, int fd, int status, const char *type, const char *msg,
                 const char *extra_headers);
double serve_now(void);

#endif
