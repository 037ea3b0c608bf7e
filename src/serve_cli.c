/* serve_cli — `joule serve`: options (the shared CLI layer), model, backend with its slots,
 * meter, then the server until Ctrl-C. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "device.h"
#include "serve.h"

static const char serve_help[] =
    "usage: joule serve -m MODEL [options]\n"
    "Serves the model over an OpenAI-compatible HTTP API until Ctrl-C:\n"
    "  POST /v1/completions, POST /v1/chat/completions (\"stream\": true for server-sent\n"
    "  events), GET /v1/models, GET /health, GET /metrics (Prometheus text).\n"
    "Up to --parallel requests are decoded together (one pass over the weights per step);\n"
    "every response's usage carries the request's share of the energy (joules, the meter's\n"
    "source label) and its cost (energy; hardware too when --hw-price or --cloud-hourly).\n"
    "  -m, --model FILE         the GGUF file\n"
    "  --host ADDR              address to listen on (default 127.0.0.1: this machine only)\n"
    "  --port N                 TCP port (default 8080; 0: any free port, printed)\n"
    "  --parallel N             sequences decoded together, 1 to 256 (default 4)\n"
    "  --api-key KEY            require \"Authorization: Bearer KEY\" (also $JOULE_API_KEY)\n"
    "  --alias NAME             the model name clients see (default: the file name)\n"
    "  --chat-template NAME     llama2, llama3, chatml, phi3, mistral, gemma, zephyr\n"
    "                           (default: recognised from the model)\n"
    "  --max-queue N            requests waiting for a slot before 503 (default 64)\n"
    "  --max-body BYTES         largest request body (default 4194304; larger: 413)\n"
    "  --timeout S              seconds a client has to send a request head (default 10)\n"
    "  -q, --quiet              no line per request on stderr\n";

int serve_main(int argc, char **argv)
{
    struct serve_config cfg;
    serve_config_defaults(&cfg);
    cfg.log = stderr;
    long parallel = 4, port = 8080, max_queue = 64, max_body = 4 << 20, timeout = 10;
    cfg.api_key = getenv("JOULE_API_KEY");
    if (cfg.api_key && !*cfg.api_key) cfg.api_key = NULL;
    struct cli a;
    struct cli_common c;
    cli_init(&a, "joule serve", argc, argv);
    cli_common_init(&c, CLI_MODEL | CLI_DEVICE | CLI_CTX | CLI_TDP | CLI_COST);
    while (cli_next(&a)) {
        if (cli_is_help(&a)) {
            printf("%s%s%s%s%s%s", serve_help, cli_help_device, cli_help_threads, cli_help_ctx,
                   cli_help_tdp, cli_help_cost);
            return 0;
        }
        int r = cli_common_flag(&a, &c);
        if (r < 0) return 2;
        if (r > 0) continue;
        bool ok = true;
        if (cli_is(&a, "-q", "--quiet"))
            cfg.log = NULL;
        else if (cli_is(&a, NULL, "--host"))
            ok = cli_str(&a, &cfg.host);
        else if (cli_is(&a, NULL, "--port"))
            ok = cli_long(&a, 0, 65535, &port);
        else if (cli_is(&a, NULL, "--parallel"))
            ok = cli_long(&a, 1, 256, &parallel);
        else if (cli_is(&a, NULL, "--api-key")) {
            ok = cli_str(&a, &cfg.api_key);
            if (ok && !*cfg.api_key) return cli_usage(&a, "--api-key must not be empty");
        } else if (cli_is(&a, NULL, "--alias")) {
            ok = cli_str(&a, &cfg.model_id);
            if (ok && !*cfg.model_id) return cli_usage(&a, "--alias must not be empty");
        } else if (cli_is(&a, NULL, "--chat-template"))
            ok = cli_str(&a, &cfg.chat_template);
        else if (cli_is(&a, NULL, "--max-queue"))
            ok = cli_long(&a, 1, 1 << 20, &max_queue);
        else if (cli_is(&a, NULL, "--max-body"))
            ok = cli_long(&a, 1024, 1L << 30, &max_body);
        else if (cli_is(&a, NULL, "--timeout"))
            ok = cli_long(&a, 1, 3600, &timeout);
        else
            return cli_unknown(&a);
        if (!ok) return 2;
    }
    int rc = cli_common_finish(&a, &c);
    if (rc) return rc;
    cfg.port = (int)port;
    cfg.max_queue = (int32_t)max_queue;
    cfg.max_body = (size_t)max_body;
    cfg.head_timeout_ms = (int)timeout * 1000;
    cfg.price_kwh = c.cost.price_kwh;
    cfg.pue = c.cost.pue;
    cfg.hw_hourly_known = cost_hw_hourly(&c.cost, &cfg.hw_hourly);
    struct model *m = NULL;
    if ((rc = cli_load_model(&a, &c, &m))) return rc;
    if (!strcmp(cfg.model_id, "joule")) { /* the file name, as llama.cpp's server does */
        const char *slash = strrchr(c.model, '/');
        cfg.model_id = slash ? slash + 1 : c.model;
    }
    char err[512];
    struct backend *b = NULL;
    if ((rc = cli_open_backend(&a, &c, m, cli_ctx_default(&c, m), (int32_t)parallel, &b))) {
        model_free(m);
        return rc;
    }
    int32_t slots = b->ops->forward_batch ? b->n_seq : 1;
    if (slots < parallel)
        fprintf(stderr,
                "joule serve: the %s backend decodes one sequence at a time; --parallel %ld"
                " runs as 1\n",
                b->name, parallel);
    if (device_warmup(b, err, sizeof err) != 0) {
        backend_destroy(b);
        model_free(m);
        return cli_fail(&a, "%s", err);
    }
    cfg.meter = cli_meter_open(&c, b);

    /* Ctrl-C and SIGTERM are taken by sigwait below: every thread starts with them blocked */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct server *s = NULL;
    if (serve_start(&cfg, m, b, &s, err, sizeof err) != 0) {
        rc = cli_fail(&a, "%s", err);
    } else {
        fprintf(stderr,
                "joule serve: %s on %s, %d slot%s x %d positions; listening on http://%s:%d "
                "(energy: %s)\n",
                cfg.model_id, b->device, slots, slots == 1 ? "" : "s", b->n_ctx, cfg.host,
                serve_port(s), cfg.meter ? meter_method(cfg.meter) : "n/a");
        fflush(stderr);
        int sig = 0;
        sigwait(&set, &sig);
        fprintf(stderr, "joule serve: %s, stopping\n",
                sig == SIGINT ? "interrupted" : "terminated");
        struct serve_stats st;
        serve_get_stats(s, &st);
        serve_stop(s);
        fprintf(stderr,
                "joule serve: %llu requests, %llu prompt + %llu generated tokens, %llu steps "
                "(mean batch %.2f rows), %.3f J\n",
                (unsigned long long)st.requests, (unsigned long long)st.prompt_tokens,
                (unsigned long long)st.gen_tokens, (unsigned long long)st.steps,
                st.steps ? (double)st.rows / (double)st.steps : 0.0, st.joules);
    }
    meter_close(cfg.meter);
    backend_destroy(b);
    model_free(m);
    return rc;
}
