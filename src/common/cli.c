#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void vwarn(const char *tool, const char *fmt, va_list ap) {
    fprintf(stderr, "%s: ", tool);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_die(const char *tool, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vwarn(tool, fmt, ap);
    va_end(ap);
    exit(code);
}

void cli_warn(const char *tool, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vwarn(tool, fmt, ap);
    va_end(ap);
}

void cli_usage_error(const char *tool, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", tool);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry '%s --help'.\n", tool);
    va_end(ap);
    exit(EXIT_USAGE);
}

int cli_parse_long(const char *s, long lo, long hi, long *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s || *s == '-') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_double(const char *s, double lo, double hi, double *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

// Splits "A:B" at the colon into two buffers.
static int split_colon(const char *s, char *a, char *b, size_t n) {
    const char *c = strchr(s, ':');
    if (!c) {
        if (strlen(s) >= n) return -1;
        strcpy(a, s); strcpy(b, s);
        return 0;
    }
    size_t la = (size_t)(c - s), lb = strlen(c + 1);
    if (la >= n || lb >= n) return -1;
    memcpy(a, s, la); a[la] = '\0';
    memcpy(b, c + 1, lb + 1);
    return 0;
}

int cli_parse_long_range(const char *s, long lo, long hi, long *a, long *b) {
    char x[64], y[64];
    if (!s || split_colon(s, x, y, sizeof x)) return -1;
    if (cli_parse_long(x, lo, hi, a) || cli_parse_long(y, lo, hi, b) || *a > *b) return -1;
    return 0;
}

int cli_parse_double_range(const char *s, double lo, double hi, double *a, double *b) {
    char x[64], y[64];
    if (!s || split_colon(s, x, y, sizeof x)) return -1;
    if (cli_parse_double(x, lo, hi, a) || cli_parse_double(y, lo, hi, b) || *a > *b) return -1;
    return 0;
}

int cli_parse_double_list(const char *s, double lo, double hi, double *out, int max) {
    if (!s || !*s) return -1;
    char *copy = strdup(s);
    if (!copy) return -1;
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n >= max || cli_parse_double(tok, lo, hi, &out[n]) != 0) { free(copy); return -1; }
        n++;
    }
    free(copy);
    // "1,,2" or a trailing comma leaves an empty field that strtok skips: reject it.
    int commas = 0;
    for (const char *p = s; *p; p++) commas += *p == ',';
    return commas == n - 1 ? n : -1;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_start(Progress *p, const char *tool, const char *unit, long total, bool quiet) {
    p->tool = tool;
    p->unit = unit;
    p->total = total;
    p->live = !quiet && isatty(STDERR_FILENO);
    p->t0 = p->last = cli_now();
}

void progress_update(Progress *p, long done) {
    if (!p->live) return;
    double t = cli_now();
    if (t - p->last < 0.1 && done < p->total) return;
    p->last = t;
    double rate = done / fmax(t - p->t0, 1e-9);
    fprintf(stderr, "\r%s: %ld/%ld %s (%.0f%%, %.0f/s)\033[K", p->tool, done, p->total, p->unit,
            p->total ? 100.0 * done / p->total : 100.0, rate);
    fflush(stderr);
}

void progress_end(Progress *p) {
    if (p->live) fprintf(stderr, "\r\033[K");
}
