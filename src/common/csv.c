#include "csv.h"

#include <stdlib.h>
#include <string.h>

void csv_init(CsvReader *r, FILE *fp) {
    memset(r, 0, sizeof *r);
    r->fp = fp;
    r->next_line = 1;
}

static int put(CsvReader *r, size_t *len, char c) {
    if (*len + 1 >= r->buf_cap) {
        size_t cap = r->buf_cap ? r->buf_cap * 2 : 1024;
        char *b = realloc(r->buf, cap);
        if (!b) return -1;
        r->buf = b;
        r->buf_cap = cap;
    }
    r->buf[(*len)++] = c;
    return 0;
}

// Length of the valid UTF-8 prefix of s (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
static size_t utf8_valid_prefix(const unsigned char *s) {
    const unsigned char *p = s;
    while (*p) {
        unsigned c = *p;
        int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0 || (n == 1 && c < 0xC2) || (n == 3 && c > 0xF4)) break;
        unsigned cp = n == 0 ? c : c & (0x3F >> n);
        int k = 1;
        for (; k <= n && (p[k] & 0xC0) == 0x80; k++) cp = (cp << 6) | (p[k] & 0x3F);
        if (k <= n) break;
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            break;
        p += n + 1;
    }
    return (size_t)(p - s);
}

int csv_read(CsvReader *r, char *err, size_t errn) {
    size_t len = 0;
    size_t starts[4096];
    int n = 0, quoted = 0, c, any = 0;
    r->line = r->next_line;
    starts[n++] = 0;
    for (;;) {
        c = fgetc(r->fp);
        if (c == EOF) {
            if (quoted) {
                snprintf(err, errn, "line %ld: unterminated quoted field", r->line);
                return -1;
            }
            if (!any) return 0;
            break;
        }
        any = 1;
        if (c == '\0') {
            snprintf(err, errn, "line %ld: field %d holds a NUL byte", r->next_line, n);
            return -1;
        }
        if (quoted) {
            if (c == '"') {
                int d = fgetc(r->fp);
                if (d == '"') { if (put(r, &len, '"')) return -1; continue; }
                quoted = 0;
                if (d == EOF) break;
                c = d;   // fall through to the unquoted handling of the next character
            } else {
                if (c == '\n') r->next_line++;
                if (put(r, &len, (char)c)) return -1;
                continue;
            }
        }
        if (c == '"') { quoted = 1; continue; }
        if (c == '\r') continue;
        if (c == '\n') { r->next_line++; break; }
        if (c == ',') {
            if (put(r, &len, '\0')) return -1;
            if (n == 4096) { snprintf(err, errn, "line %ld: too many fields", r->line); return -1; }
            starts[n++] = len;
            continue;
        }
        if (put(r, &len, (char)c)) return -1;
    }
    if (put(r, &len, '\0')) return -1;
    if (n > r->cap) {
        char **f = realloc(r->field, sizeof *f * (size_t)n);
        if (!f) return -1;
        r->field = f;
        r->cap = n;
    }
    for (int i = 0; i < n; i++) {
        r->field[i] = r->buf + starts[i];
        size_t ok = utf8_valid_prefix((const unsigned char *)r->field[i]);
        if (r->field[i][ok]) {
            snprintf(err, errn, "line %ld: field %d is not valid UTF-8 (byte 0x%02X after \"%.*s\")", r->line, i + 1,
                     (unsigned char)r->field[i][ok], (int)(ok > 40 ? 40 : ok), r->field[i]);
            return -1;
        }
    }
    r->n = n;
    return 1;
}

void csv_free(CsvReader *r) {
    free(r->field);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

int csv_column(const CsvReader *r, const char *name) {
    for (int i = 0; i < r->n; i++) {
        const char *f = r->field[i];
        while (*f == ' ') f++;
        size_t k = strlen(f);
        while (k && f[k - 1] == ' ') k--;
        if (strlen(name) == k && strncmp(f, name, k) == 0) return i;
    }
    return -1;
}
