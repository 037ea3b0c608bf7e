/* serve_cli — `joule serve`: options, model, backend, meter, then the server until Ctrl-C. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "cpu.h"
#include "device.h"
#include "serve.h"

static const char *serve_help =
    "usage: joule serve -m MODEL [options]\n"
    "Serves the model over an OpenAI-compatible HTTP API until Ctrl-C:\n"
    "  POST /v1/completions, POST /v1/chat/completions (\"stream\": true for server-sent\n"
    "  events), GET /v1/models, GET /health, GET /metrics (Prometheus text).\n"
    "Up to --parallel requests are decoded together (one pass over the weights per step);\n"
    "every response's usage carries the request's share of the energy (joules, the meter's\n"
    "source label) and its energy cost.\n"
    "  -m, --model FILE         the GGUF file\n"
    "  --host ADDR              address to listen on (default 127.0.0.1: this machine only)\n"
    "  --port N                 TCP port (default 8080; 0: any free port, printed)\n"
    "  --parallel N             sequences decoded together (default 4)\n"
    "  -c, --ctx N              context of each sequence (default: the model's, at most 4096)\n"
    "  --device D               auto (default), cpu, vulkan, vulkan:N (Vulkan: one sequence)\n"
    "  -t, --threads N          CPU threads (default: all cores)\n"
    "  --api-key KEY            require \"Authorization: Bearer KEY\" (also $JOULE_API_KEY)\n"
    "  --alias NAME             the model name clients see (default: the file name)\n"
    "  --chat-template NAME     llama2, llama3, chatml, phi3, mistral, gemma, zephyr\n"
    "                           (default: recognised from the model)\n"
    "  --max-queue N            requests waiting for a slot before 503 (default 64)\n"
    "  --max-body BYTES         largest request body (default 4194304; larger: 413)\n"
    "  --timeout S              seconds a client has to send a request head (default 10)\n"
    "  --price-kwh P, --pue X   energy price and PUE for the cost (defaults 0.15, 1.0)\n"
    "  --tdp W                  power to assume where no energy sensor exists\n"
    "  -q, --quiet              no line per request on stderr\n";

static int usage_error(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "joule serve: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, " (see --help)\n");
    return 2;
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) return false;
    *out = v;
    return true;
}

int serve_main(int argc, char **argv)
{
    struct serve_config cfg;
    serve_config_defaults(&cfg);
    cfg.log = stderr;
    const char *model_path = NULL, *device = NULL;
    long parallel = 4, ctx = 0, threads = 0, port = 8080, max_queue = 64, max_body = 4 << 20,
         timeout = 10;
    double tdp = 0;
    cfg.api_key = getenv("JOULE_API_KEY");
    if (cfg.api_key && !*cfg.api_key) cfg.api_key = NULL;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            printf("%s", serve_help);
            return 0;
        }
        if (!strcmp(f, "-q") || !strcmp(f, "--quiet")) {
            cfg.log = NULL;
            continue;
        }
        if (i + 1 >= argc) return usage_error("unknown option or missing value: '%s'%s", f, "");
        const char *v = argv[++i];
        bool ok = true;
        if (!strcmp(f, "-m") || !strcmp(f, "--model"))
            model_path = v;
        else if (!strcmp(f, "--host"))
            cfg.host = v;
        else if (!strcmp(f, "--port"))
            ok = cli_parse_long(v, 0, 65535, &port);
        else if (!strcmp(f, "--parallel"))
            ok = cli_parse_long(v, 1, 256, &parallel);
        else if (!strcmp(f, "-c") || !strcmp(f, "--ctx"))
            ok = cli_parse_long(v, 1, 1 << 20, &ctx);
        else if (!strcmp(f, "--device")) {
            device = v;
            ok = device_spec_valid(v);
        } else if (!strcmp(f, "-t") || !strcmp(f, "--threads"))
            ok = cli_parse_long(v, 1, 1024, &threads);
        else if (!strcmp(f, "--api-key")) {
            cfg.api_key = v;
            ok = *v != 0;
        } else if (!strcmp(f, "--alias")) {
            cfg.model_id = v;
            ok = *v != 0;
        } else if (!strcmp(f, "--chat-template"))
            cfg.chat_template = v;
        else if (!strcmp(f, "--max-queue"))
            ok = cli_parse_long(v, 1, 1 << 20, &max_queue);
        else if (!strcmp(f, "--max-body"))
            ok = cli_parse_long(v, 1024, 1L << 30, &max_body);
        else if (!strcmp(f, "--timeout"))
            ok = cli_parse_long(v, 1, 3600, &timeout);
        else if (!strcmp(f, "--price-kwh"))
            ok = parse_double(v, 0, 1e6, &cfg.price_kwh);
        else if (!strcmp(f, "--pue"))
            ok = parse_double(v, 1, 10, &cfg.pue);
        else if (!strcmp(f, "--tdp"))
            ok = parse_double(v, 0.1, 1e5, &tdp);
        else
            return usage_error("unknown option '%s'%s", f, "");
        if (!ok) return usage_error("bad value '%s' for %s", v, f);
    }
    if (!model_path) return usage_error("missing -m MODEL%s%s", "", "");
    cfg.port = (int)port;
    cfg.max_queue = (int32_t)max_queue;
    cfg.max_body = (size_t)max_body;
    cfg.head_timeout_ms = (int)timeout * 1000;
    if (!strcmp(cfg.model_id, "joule")) { /* the file name, as llama.cpp's server does */
        const char *slash = strrchr(model_path, '/');
        cfg.model_id = slash ? slash + 1 : model_path;
    }

    char err[512], notice[600];
    struct model *m = NULL;
    if (model_load(model_path, &m, err, sizeof err) != 0) {
        fprintf(stderr, "joule serve: %s\n", err);
        return 1;
    }
    int32_t n_ctx = ctx ? (int32_t)ctx : m->cfg.n_ctx_train;
    if (!ctx && n_ctx > 4096) n_ctx = 4096;
    if (n_ctx < 1) n_ctx = 1;
    struct backend *b = NULL;
    if (device_open_seq(device, m, n_ctx, (int32_t)parallel, (int32_t)threads, &b, notice,
                        sizeof notice, err, sizeof err) != 0) {
        fprintf(stderr, "joule serve: %s\n", err);
        model_free(m);
        return 1;
    }
    if (notice[0]) fprintf(stderr, "joule: %s\n", notice);
    int32_t slots = b->ops->forward_batch ? b->n_seq : 1;
    if (slots < parallel)
        fprintf(stderr,
                "joule serve: the %s backend decodes one sequence at a time; --parallel %ld"
                " runs as 1\n",
                b->name, parallel);
    if (device_warmup(b, err, sizeof err) != 0) {
        fprintf(stderr, "joule serve: %s\n", err);
        backend_destroy(b);
        model_free(m);
        return 1;
    }
    struct meter_opts mo = {.gpu = strcmp(b->name, "cpu") != 0 && !strstr(b->device, "CPU"),
                            .device_name = b->device,
                            .pci_bus_id = b->pci_bus_id[0] ? b->pci_bus_id : NULL,
                            .cpu_threads = threads ? (int32_t)threads : cpu_default_threads(),
                            .tdp_w = tdp};
    cfg.meter = meter_open(&mo);

    /* Ctrl-C and SIGTERM are taken by sigwait below: every thread starts with them blocked */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct server *s = NULL;
    int rc = 0;
    if (serve_start(&cfg, m, b, &s, err, sizeof err) != 0) {
        fprintf(stderr, "joule serve: %s\n", err);
        rc = 1;
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
