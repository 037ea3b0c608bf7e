/* http — see http.h. */
#include "http.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int fail(int *status, int code, char *why, size_t whylen, const char *msg)
{
    *status = code;
    snprintf(why, whylen, "%s", msg);
    return -1;
}

/* RFC 9110 tchar */
static bool is_tchar(unsigned char c)
{
    if (c >= '0' && c <= '9') return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* header field value bytes: visible ASCII, space, tab, obs-text */
static bool is_vchar(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Copies a header value into dst (cap bytes); false when it does not fit. */
static bool copy_value(char *dst, size_t cap, const char *v, size_t n)
{
    if (n >= cap) return false;
    memcpy(dst, v, n);
    dst[n] = 0;
    return true;
}

int http_parse_head(const char *buf, size_t len, struct http_req *r, int *status, char *why,
                    size_t whylen)
{
    memset(r, 0, sizeof *r);
    r->content_length = -1;
    size_t scan = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
    size_t end = 0;
    for (size_t i = 0; i + 3 < scan; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            end = i + 4;
            break;
        }
    if (!end) {
        if (len >= HTTP_MAX_HEAD)
            return fail(status, 431, why, whylen, "request head larger than 16384 bytes");
        return 0;
    }
    r->head_len = end;

    /* request line: METHOD SP TARGET SP HTTP/1.x CRLF */
    const char *p = buf, *lim = buf + end - 2; /* lim: the final CRLF */
    const char *eol = memchr(p, '\r', (size_t)(lim - p));
    if (!eol || eol[1] != '\n') return fail(status, 400, why, whylen, "malformed request line");
    size_t k = 0;
    while (p + k < eol && is_tchar((unsigned char)p[k]))
        k++;
    if (k == 0 || k >= sizeof r->method || p[k] != ' ')
        return fail(status, 400, why, whylen, "malformed request method");
    memcpy(r->method, p, k);
    r->method[k] = 0;
    p += k + 1;
    k = 0;
    while (p + k < eol && p[k] > 0x20 && p[k] < 0x7f)
        k++;
    if (k == 0 || p + k >= eol || p[k] != ' ' || p[0] != '/')
        return fail(status, 400, why, whylen, "malformed request target");
    size_t plen = k;
    const char *q = memchr(p, '?', k);
    if (q) plen = (size_t)(q - p);
    if (plen >= sizeof r->path) return fail(status, 414, why, whylen, "request target too long");
    memcpy(r->path, p, plen);
    r->path[plen] = 0;
    p += k + 1;
    if (eol - p != 8 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9')
        return fail(status, (eol - p == 8 && !memcmp(p, "HTTP/", 5)) ? 505 : 400, why, whylen,
                    "malformed HTTP version");
    if (p[7] > '1') return fail(status, 505, why, whylen, "HTTP version not supported");
    r->minor = p[7] - '0';

    /* header fields */
    int n_headers = 0;
    bool have_te = false;
    for (p = eol + 2; p < lim; p = eol + 2) {
        eol = memchr(p, '\r', (size_t)(lim - p) + 1);
        if (!eol || eol[1] != '\n') return fail(status, 400, why, whylen, "malformed header line");
        if (++n_headers > HTTP_MAX_HEADERS)
            return fail(status, 431, why, whylen, "more than 64 header fields");
        for (const char *c = p; c < eol; c++)
            if (*c == '\n') return fail(status, 400, why, whylen, "bare LF in a header");
        k = 0;
        while (p + k < eol && is_tchar((unsigned char)p[k]))
            k++;
        if (k == 0 || p + k >= eol || p[k] != ':')
            return fail(status, 400, why, whylen, "malformed header field name");
        const char *name = p;
        size_t nlen = k;
        const char *v = p + k + 1, *ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        for (const char *c = v; c < ve; c++)
            if (!is_vchar((unsigned char)*c))
                return fail(status, 400, why, whylen, "control character in a header value");
        size_t vlen = (size_t)(ve - v);
        if (nlen == 14 && !strncasecmp(name, "content-length", 14)) {
            if (vlen == 0 || vlen > 15) return fail(status, 400, why, whylen, "bad Content-Length");
            int64_t x = 0;
            for (size_t i = 0; i < vlen; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return fail(status, 400, why, whylen, "bad Content-Length");
                x = x * 10 + (v[i] - '0');
            }
            if (r->content_length >= 0 && r->content_length != x)
                return fail(status, 400, why, whylen, "conflicting Content-Length fields");
            r->content_length = x;
        } else if (nlen == 17 && !strncasecmp(name, "transfer-encoding", 17)) {
            have_te = true;
        } else if (nlen == 13 && !strncasecmp(name, "authorization", 13)) {
            if (!copy_value(r->auth, sizeof r->auth, v, vlen))
                return fail(status, 431, why, whylen, "Authorization field too long");
        } else if (nlen == 12 && !strncasecmp(name, "content-type", 12)) {
            if (!copy_value(r->content_type, sizeof r->content_type, v, vlen))
                return fail(status, 431, why, whylen, "Content-Type field too long");
        }
    }
    if (have_te)
        return fail(status, 411, why, whylen,
                    "Transfer-Encoding is not accepted: send the body with Content-Length");
    return 1;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Waits up to ms for fd to be readable; 1 readable, 0 timeout, -1 error. */
static int wait_readable(int fd, int ms)
{
    struct pollfd pf = {fd, POLLIN, 0};
    for (;;) {
        int rc = poll(&pf, 1, ms < 0 ? 0 : ms);
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return -1;
        return rc > 0 ? 1 : 0;
    }
}

int http_read_request(int fd, const struct http_limits *lim, struct http_req *r, char **body,
                      size_t *body_len, int *status, char *why, size_t whylen)
{
    *body = NULL;
    *body_len = 0;
    *status = 0;
    char *head = malloc(HTTP_MAX_HEAD);
    if (!head) return fail(status, 503, why, whylen, "out of memory");
    size_t have = 0;
    double deadline = now_ms() + lim->head_timeout_ms;
    int rc;
    for (;;) {
        rc = http_parse_head(head, have, r, status, why, whylen);
        if (rc != 0) break;
        int w = wait_readable(fd, (int)(deadline - now_ms()));
        if (w <= 0) {
            free(head);
            *status = 0;
            snprintf(why, whylen, w == 0 ? "request head timed out" : "connection error");
            return -1;
        }
        ssize_t got = recv(fd, head + have, HTTP_MAX_HEAD - have, 0);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) {
            free(head);
            *status = 0;
            snprintf(why, whylen, "connection closed");
            return -1;
        }
        have += (size_t)got;
    }
    if (rc < 0) {
        free(head);
        return -1;
    }
    int64_t need = r->content_length;
    if (need < 0) {
        if (!strcmp(r->method, "POST") || !strcmp(r->method, "PUT")) {
            free(head);
            return fail(status, 411, why, whylen, "a request body needs Content-Length");
        }
        need = 0;
    }
    if ((uint64_t)need > lim->max_body) {
        free(head);
        *status = 413;
        snprintf(why, whylen, "request body of %lld bytes exceeds the limit of %zu bytes",
                 (long long)need, lim->max_body);
        return -1;
    }
    char *b = malloc((size_t)need + 1);
    if (!b) {
        free(head);
        return fail(status, 503, why, whylen, "out of memory");
    }
    size_t extra = have - r->head_len, n = extra < (size_t)need ? extra : (size_t)need;
    memcpy(b, head + r->head_len, n);
    free(head);
    while (n < (size_t)need) {
        int w = wait_readable(fd, lim->idle_timeout_ms);
        if (w <= 0) {
            free(b);
            *status = 0;
            snprintf(why, whylen, w == 0 ? "request body timed out" : "connection error");
            return -1;
        }
        ssize_t got = recv(fd, b + n, (size_t)need - n, 0);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) {
            free(b);
            *status = 0;
            snprintf(why, whylen, "connection closed in the body");
            return -1;
        }
        n += (size_t)got;
    }
    b[n] = 0;
    *body = b;
    *body_len = n;
    return 0;
}

int http_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

int http_respond(int fd, int status, const char *content_type, const char *extra_headers,
                 const char *body, size_t len)
{
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                     "Connection: close\r\n\r\n",
                     status, http_reason(status), content_type, len,
                     extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof head) return -1;
    if (http_write_all(fd, head, (size_t)n) != 0) return -1;
    return len ? http_write_all(fd, body, len) : 0;
}

int http_respond_sse_head(int fd)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               "Cache-Control: no-cache\r\nConnection: close\r\n\r\n";
    return http_write_all(fd, head, sizeof head - 1);
}

bool http_peer_gone(int fd)
{
    struct pollfd pf = {fd, POLLIN | POLLRDHUP, 0};
    int rc = poll(&pf, 1, 0);
    if (rc <= 0) return false;
    if (pf.revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL)) return true;
    if (pf.revents & POLLIN) {
        char c;
        ssize_t got = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        return got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    }
    return false;
}
