#include "jscan.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DEPTH = 64, MAX_KEYS = 64 };

typedef struct {
    const char *s;
    size_t n, i;
    int strict;
    JTape *t;
} Scan;

static inline void skip_ws(Scan *c) {
    while (c->i < c->n) {
        char ch = c->s[c->i];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') break;
        c->i++;
    }
}

static inline int push(Scan *c, JType type) {
    JTape *t = c->t;
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 256;
        JTok *nt = realloc(t->tok, sizeof *nt * (size_t)cap);
        if (!nt) return JSCAN_NOMEM;
        t->tok = nt;
        t->cap = cap;
    }
    JTok *k = &t->tok[t->n];
    memset(k, 0, sizeof *k);
    k->type = (uint8_t)type;
    k->start = (uint32_t)c->i;
    return t->n++;
}

static int scan_string(Scan *c) {
    int k = push(c, JT_STRING);
    if (k < 0) return k;
    size_t i = ++c->i;   // after the opening quote
    const unsigned char *s = (const unsigned char *)c->s;
    uint8_t flags = 0;
    if (c->strict) {
        // Plain strings only: find the closing quote, then check every byte before it.
        const unsigned char *q = memchr(s + i, '"', c->n - i);
        if (!q) return JSCAN_REFUSED;
        size_t z = (size_t)(q - s);
        unsigned bad = 0;
        for (size_t j = i; j < z; j++) bad |= (s[j] < 0x20) | (s[j] >= 0x7f) | (s[j] == '\\');
        if (bad) return JSCAN_REFUSED;
        i = z;
    } else {
        for (;;) {
            if (i >= c->n) return JSCAN_REFUSED;
            unsigned char ch = s[i];
            if (ch == '"') break;
            if (ch == '\\') { flags |= JF_ESCAPED; i += 2; continue; }
            i++;
        }
    }
    JTok *t = &c->t->tok[k];
    t->start = (uint32_t)c->i;
    t->len = (uint32_t)(i - c->i);
    t->flags = flags;
    c->i = i + 1;
    t->end = (uint32_t)c->t->n;
    return k;
}

static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

int jtok_nonempty_string(const JTape *t, int k) { return k >= 0 && t->tok[k].type == JT_STRING && t->tok[k].len > 0; }

int jtok_frame_size(const JTape *t, int k, int *out) {
    if (k < 0 || t->tok[k].type != JT_NUMBER || !(t->tok[k].flags & JF_INTEGER)) return 0;
    double v = t->tok[k].num;
    if (v <= 0 || v > 1000000) return 0;
    *out = (int)v;
    return 1;
}

static const double POW10[23] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

static int scan_number(Scan *c) {
    int k = push(c, JT_NUMBER);
    if (k < 0) return k;
    size_t i = c->i;
    const char *s = c->s;
    int integer = 1, exponent = 0, neg = 0, digits = 0, exp10 = 0;
    uint64_t m = 0;
    // The digits are gathered as they are checked, for the exact fast conversion.
    if (i < c->n && s[i] == '-') { neg = 1; i++; }
    if (i >= c->n || !is_digit(s[i])) return JSCAN_REFUSED;
    if (s[i] == '0') i++;
    else
        for (; i < c->n && is_digit(s[i]); i++) {
            if (digits < 19) { m = m * 10 + (uint64_t)(s[i] - '0'); digits++; }
            else exp10++;
        }
    if (i < c->n && s[i] == '.') {
        integer = 0;
        i++;
        if (i >= c->n || !is_digit(s[i])) return JSCAN_REFUSED;
        for (; i < c->n && is_digit(s[i]); i++)
            if (digits < 19) {
                m = m * 10 + (uint64_t)(s[i] - '0');
                if (m) digits++;
                exp10--;
            }
    }
    if (i < c->n && (s[i] == 'e' || s[i] == 'E')) {
        integer = 0;
        exponent = 1;
        i++;
        if (i < c->n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= c->n || !is_digit(s[i])) return JSCAN_REFUSED;
        while (i < c->n && is_digit(s[i])) i++;
    }
    JTok *t = &c->t->tok[k];
    t->len = (uint32_t)(i - c->i);
    t->flags = integer ? JF_INTEGER : 0;
    if (c->strict) {
        // Integers jansson could not hold, and reals that overflow, are refused.
        if (integer && t->len > 18) return JSCAN_REFUSED;
        if (!exponent && digits < 19 && m <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
            double v = (double)m;   // exact, and one correctly rounded step (Clinger)
            v = exp10 < 0 ? v / POW10[-exp10] : v * POW10[exp10];
            t->num = neg ? -v : v;
        } else if (jnum(s + c->i, t->len, &t->num) != 0) {
            return JSCAN_REFUSED;
        }
        // jansson reads an integer "-0" as the integer 0, which has no sign: so does this
        if (integer && t->num == 0) t->num = 0.0;
    }
    c->i = i;
    t->end = (uint32_t)c->t->n;
    return k;
}

static int scan_value(Scan *c, int depth);

static int keys_equal(const Scan *c, int a, int b) {
    const JTok *x = &c->t->tok[a], *y = &c->t->tok[b];
    return x->len == y->len && memcmp(c->s + x->start, c->s + y->start, x->len) == 0;
}

// Completes container token k, now that the scan is past its closing bracket.
static int close_container(Scan *c, int k, uint32_t count) {
    JTok *t = &c->t->tok[k];
    t->len = (uint32_t)(c->i - t->start);
    t->count = count;
    t->end = (uint32_t)c->t->n;
    return k;
}

static int scan_object(Scan *c, int depth) {
    int k = push(c, JT_OBJECT);
    if (k < 0) return k;
    c->i++;
    int keys[MAX_KEYS], nk = 0;
    uint32_t count = 0;
    skip_ws(c);
    if (c->i < c->n && c->s[c->i] == '}') {
        c->i++;
    } else {
        for (;;) {
            skip_ws(c);
            if (c->i >= c->n || c->s[c->i] != '"') return JSCAN_REFUSED;
            int key = scan_string(c);
            if (key < 0) return key;
            if (c->strict) {
                if (nk == MAX_KEYS) return JSCAN_REFUSED;
                for (int j = 0; j < nk; j++)
                    if (keys_equal(c, keys[j], key)) return JSCAN_REFUSED;   // duplicate: jansson says so
                keys[nk++] = key;
            }
            skip_ws(c);
            if (c->i >= c->n || c->s[c->i] != ':') return JSCAN_REFUSED;
            c->i++;
            skip_ws(c);
            int v = scan_value(c, depth + 1);
            if (v < 0) return v;
            count++;
            skip_ws(c);
            if (c->i < c->n && c->s[c->i] == ',') { c->i++; continue; }
            if (c->i < c->n && c->s[c->i] == '}') { c->i++; break; }
            return JSCAN_REFUSED;
        }
    }
    return close_container(c, k, count);
}

static int scan_array(Scan *c, int depth) {
    int k = push(c, JT_ARRAY);
    if (k < 0) return k;
    c->i++;
    uint32_t count = 0;
    skip_ws(c);
    if (c->i < c->n && c->s[c->i] == ']') {
        c->i++;
    } else {
        for (;;) {
            skip_ws(c);
            int v = scan_value(c, depth + 1);
            if (v < 0) return v;
            count++;
            skip_ws(c);
            if (c->i < c->n && c->s[c->i] == ',') { c->i++; continue; }
            if (c->i < c->n && c->s[c->i] == ']') { c->i++; break; }
            return JSCAN_REFUSED;
        }
    }
    return close_container(c, k, count);
}

static int scan_literal(Scan *c, const char *word, JType type) {
    size_t n = strlen(word);
    if (c->n - c->i < n || memcmp(c->s + c->i, word, n) != 0) return JSCAN_REFUSED;
    int k = push(c, type);
    if (k < 0) return k;
    c->t->tok[k].len = (uint32_t)n;
    c->i += n;
    c->t->tok[k].end = (uint32_t)c->t->n;
    return k;
}

static int scan_value(Scan *c, int depth) {
    if (depth > MAX_DEPTH) return JSCAN_REFUSED;
    if (c->i >= c->n) return JSCAN_REFUSED;
    switch (c->s[c->i]) {
    case '{': return scan_object(c, depth);
    case '[': return scan_array(c, depth);
    case '"': return scan_string(c);
    case 't': return scan_literal(c, "true", JT_TRUE);
    case 'f': return scan_literal(c, "false", JT_FALSE);
    case 'n': return scan_literal(c, "null", JT_NULL);
    default: return scan_number(c);
    }
}

int jscan(const char *s, size_t n, int strict, JTape *t) {
    if (n > 0xffffffffu) return JSCAN_REFUSED;
    Scan c = { s, n, 0, strict, t };
    t->n = 0;
    skip_ws(&c);
    if (c.i >= n || s[c.i] != '{') return JSCAN_REFUSED;
    int k = scan_value(&c, 0);
    if (k < 0) return k;
    skip_ws(&c);
    return c.i == n ? JSCAN_OK : JSCAN_REFUSED;
}

void jtape_free(JTape *t) {
    free(t->tok);
    memset(t, 0, sizeof *t);
}

int jobj_get(const JTape *t, const char *s, int obj, const char *key) {
    size_t kl = strlen(key);
    int i = obj + 1;
    for (uint32_t m = 0; m < t->tok[obj].count; m++) {
        const JTok *k = &t->tok[i];
        if (k->len == kl && !(k->flags & JF_ESCAPED) && memcmp(s + k->start, key, kl) == 0) return i + 1;
        i = (int)t->tok[i + 1].end;
    }
    return -1;
}



int jnum(const char *s, uint32_t len, double *out) {
    // Fast path (Clinger): at most 19 significant digits forming an integer m <= 2^53 and a
    // decimal exponent within +-22: m and 10^|e| are exact doubles, so one multiplication
    // or division rounds correctly, as strtod does.
    uint32_t i = 0;
    int neg = 0, digits = 0, exp10 = 0;
    uint64_t m = 0;
    if (i < len && s[i] == '-') { neg = 1; i++; }
    for (; i < len && is_digit(s[i]); i++) {
        if (digits < 19) { m = m * 10 + (uint64_t)(s[i] - '0'); if (m) digits++; }
        else exp10++;
    }
    if (i < len && s[i] == '.') {
        for (i++; i < len && is_digit(s[i]); i++) {
            if (digits < 19) { m = m * 10 + (uint64_t)(s[i] - '0'); if (m) digits++; exp10--; }
        }
    }
    int fast = digits < 19 && m <= (1ULL << 53);
    if (i < len) fast = 0;   // an exponent part: leave it to strtod
    if (fast && exp10 >= -22 && exp10 <= 22) {
        double v = (double)m;
        v = exp10 < 0 ? v / POW10[-exp10] : v * POW10[exp10];
        *out = neg ? -v : v;
        return 0;
    }
    char buf[512];
    if (len >= sizeof buf) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    double v = strtod(buf, NULL);
    if (!isfinite(v)) return -1;
    *out = v;
    return 0;
}

// "%.<digits>g" of x with jansson's touch-ups, through snprintf.
static int fmt_digits(double x, int digits, char *out) {
    char tmp[40];
    int n = snprintf(tmp, sizeof tmp, "%.*g", digits, x);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (tmp[i] == 'e') {
            out[k++] = 'e';
            i++;
            if (tmp[i] == '-') out[k++] = '-';
            i++;   // skip the sign
            while (i < n - 1 && tmp[i] == '0') i++;
            for (; i < n; i++) out[k++] = tmp[i];
            break;
        }
        out[k++] = tmp[i];
    }
    out[k] = '\0';
    if (!strpbrk(out, ".e")) { out[k++] = '.'; out[k++] = '0'; out[k] = '\0'; }
    return k;
}

static int fmt_slow(double x, char *out) { return fmt_digits(x, 15, out); }

int jfmt_exact(double x, char *out) {
    for (int d = 15; d < 17; d++) {
        int n = fmt_digits(x, d, out);
        if (strtod(out, NULL) == x) return n;
    }
    return fmt_digits(x, 17, out);
}

static const uint64_t POW10_U64[19] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
    1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
    100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
    1000000000000000000ULL };

// The 15 significant digits of ax (1e-4 <= ax < 1e15) as an integer m in [1e14, 1e15) and
// the decimal exponent e of its first digit, rounded half to even as printf rounds.
// ax = mant / 2^s exactly, so mant * 10^(14-e) / 2^s is done in exact 128-bit integers.
static void digits15(double ax, uint64_t *m, int *e) {
    uint64_t bits;
    memcpy(&bits, &ax, sizeof bits);                  // ax is normal in this range
    uint64_t mant = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
    int b2 = (int)((bits >> 52) & 0x7ff) - 1022;      // ax = mant / 2^53 * 2^b2
    int s = 53 - b2;                                  // 3 <= s <= 67 in this range
    int ee = ((b2 - 1) * 78913) >> 18;                // floor((b2 - 1) * log10(2)), |b2| < 100
    if (ee < -4) ee = -4;                             // ax >= 1e-4
    if (ee > 14) ee = 14;                             // ax < 1e15
    for (;;) {
        int p = 14 - ee;                              // 0 <= p <= 18 in this range
        unsigned __int128 prod = (unsigned __int128)mant * POW10_U64[p];
        unsigned __int128 fl = prod >> s;
        if (fl >= POW10_U64[15]) { ee++; continue; }
        if (fl < POW10_U64[14]) { ee--; continue; }
        unsigned __int128 rem = prod - (fl << s), half = (unsigned __int128)1 << (s - 1);
        uint64_t q = (uint64_t)fl;
        if (rem > half || (rem == half && (q & 1))) q++;
        if (q == POW10_U64[15]) { q = POW10_U64[14]; ee++; }
        *m = q;
        *e = ee;
        return;
    }
}

int jfmt_real(double x, char *out) {
    if (x == 0.0 && !signbit(x)) { memcpy(out, "0.0", 4); return 3; }
    double ax = fabs(x);
    if (!isfinite(x) || x == 0.0 || ax < 1e-4 || ax >= 1e15) return fmt_slow(x, out);   // exponent notation
    uint64_t m;
    int e;
    digits15(ax, &m, &e);
    if (e >= 15) return fmt_slow(x, out);
    static const char PAIRS[201] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    char d[16];
    for (int i = 13; i >= 1; i -= 2) {   // two digits at a time
        unsigned r = (unsigned)(m % 100);
        m /= 100;
        d[i] = PAIRS[2 * r];
        d[i + 1] = PAIRS[2 * r + 1];
    }
    d[0] = (char)('0' + m);
    int last = 14;                      // drop trailing zeros
    while (last > 0 && d[last] == '0') last--;
    int k = 0;
    if (x < 0) out[k++] = '-';
    if (e >= 0) {
        for (int i = 0; i <= e; i++) out[k++] = d[i];
        out[k++] = '.';
        if (last > e) for (int i = e + 1; i <= last; i++) out[k++] = d[i];
        else out[k++] = '0';
    } else {
        out[k++] = '0';
        out[k++] = '.';
        for (int i = 0; i < -e - 1; i++) out[k++] = '0';
        for (int i = 0; i <= last; i++) out[k++] = d[i];
    }
    out[k] = '\0';
    return k;
}

int jbuf_put(JBuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) return -1;
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
    return 0;
}

int jbuf_puts(JBuf *b, const char *s) { return jbuf_put(b, s, strlen(s)); }

int jbuf_real(JBuf *b, double x) {
    char tmp[48];
    int n = jfmt_real(x, tmp);
    return jbuf_put(b, tmp, (size_t)n);
}

int jbuf_int(JBuf *b, long v) {
    char tmp[24];
    int n = 0;
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    do { tmp[23 - n++] = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0) tmp[23 - n++] = '-';
    return jbuf_put(b, tmp + 24 - n, (size_t)n);
}
