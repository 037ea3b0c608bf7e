/* http — the small part of HTTP/1.1 a local API server needs, written for untrusted input.
 *
 * One request per connection (every response says "Connection: close"), which keeps the
 * state machine to: read the head within a deadline, parse it, read exactly Content-Length
 * body bytes within an idle timeout, answer. Limits: the head (request line + headers) is at
 * most HTTP_MAX_HEAD bytes and HTTP_MAX_HEADERS lines (else 431), the body at most the
 * caller's limit (else 413); chunked request bodies are refused (411: every client we serve
 * sends Content-Length); anything malformed is 400, a version other than 1.0 / 1.1 is 505.
 * The parser is a pure function over a buffer (http_parse_head), so tests and fuzzers drive
 * it without a socket.
 */
#ifndef JOULE_HTTP_H
#define JOULE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { HTTP_MAX_HEAD = 16384, HTTP_MAX_HEADERS = 64 };

struct http_req {
    char method[16];
    char path[1024];        /* the target without its query string */
    int minor;              /* HTTP/1.<minor> */
    int64_t content_length; /* -1 when absent */
    char auth[512];         /* Authorization value ("" when absent) */
    char content_type[128];
    size_t head_len; /* bytes of the head, the blank line included */
};

/* Parses the head at the start of buf. Returns 1 with *r filled when the head is complete
 * and valid, 0 when more bytes are needed (and none of the limits is passed yet), or -1 with
 * *status (400, 411, 431, 501, 505) and a reason in why. */
int http_parse_head(const char *buf, size_t len, struct http_req *r, int *status, char *why,
                    size_t whylen);

struct http_limits {
    size_t max_body;     /* bytes */
    int head_timeout_ms; /* the whole head must arrive within this */
    int idle_timeout_ms; /* the longest wait for the next body bytes */
};

/* Reads one request from fd: the head within head_timeout_ms, then the body. Returns 0 with
 * *r and a malloc'd NUL-terminated *body (*body_len bytes), or -1 with *status (the status to
 * answer, or 0 when the peer went away or timed out and nothing should be sent) and why. */
int http_read_request(int fd, const struct http_limits *lim, struct http_req *r, char **body,
                      size_t *body_len, int *status, char *why, size_t whylen);

/* Writes all of buf (MSG_NOSIGNAL: a closed peer is an error, not a signal). 0 or -1. */
int http_write_all(int fd, const void *buf, size_t len);

/* A complete response with Content-Length. extra_headers: "Name: value\r\n" lines or NULL. */
int http_respond(int fd, int status, const char *content_type, const char *extra_headers,
                 const char *body, size_t len);

/* The head of a server-sent-events response (the body follows until the connection closes). */
int http_respond_sse_head(int fd);

const char *http_reason(int status);

/* Whether the peer closed its side (or the connection broke), without blocking. */
bool http_peer_gone(int fd);

#endif
