// A fast JSON scanner for record lines: it checks a line and records where every value
// lies, without building a tree, so tools can read the fields they need and splice their
// own fields into the original text.
//
// Strict mode accepts only a plain subset that it can check completely: ASCII strings
// without escapes, objects of at most 64 keys (checked for duplicates), nesting up to 64,
// and numbers it can convert exactly. Any line outside that subset, valid or not, is
// refused (JSCAN_REFUSED), and the caller falls back to jansson, which either accepts it
// or gives the error message. So strict mode never accepts what jansson would reject.
//
// Lenient mode accepts any well-formed JSON the caller has already validated, with
// escapes and UTF-8, only to find positions.
#ifndef MAD_JSCAN_H
#define MAD_JSCAN_H

#include <stddef.h>
#include <stdint.h>

typedef enum { JT_OBJECT, JT_ARRAY, JT_STRING, JT_NUMBER, JT_TRUE, JT_FALSE, JT_NULL } JType;

enum { JF_ESCAPED = 1, JF_INTEGER = 2 };   // string has escapes; number has no '.' or exponent

typedef struct {
    uint8_t type;
    uint8_t flags;
    uint32_t start, len;   // the value's text (strings: without the quotes)
    uint32_t end;          // index of the token after this value's subtree
    uint32_t count;        // members of an object, elements of an array
    double num;            // a number's value (strict mode only)
} JTok;

typedef struct {
    JTok *tok;
    int n, cap;
} JTape;

enum { JSCAN_OK = 0, JSCAN_REFUSED = -1, JSCAN_NOMEM = -2 };

// Scans s[0..n) (one line; trailing whitespace allowed). strict = 1 for the checked subset.
int jscan(const char *s, size_t n, int strict, JTape *t);
void jtape_free(JTape *t);

// In an object token at index obj: the index of the value of member `key` (plain key
// text), or -1. Members are (key, value) token pairs.
int jobj_get(const JTape *t, const char *s, int obj, const char *key);
// The i-th element of the array at index arr is found by walking: first = arr + 1,
// next = t->tok[elem].end.

// Record-field checks on a strict tape: token k (-1 = absent) is a non-empty string; is an
// integer in [1, 1000000] (a frame size), stored in *out.
int jtok_nonempty_string(const JTape *t, int k);
int jtok_frame_size(const JTape *t, int k, int *out);

// Number text to double, exactly as strtod rounds it. Returns 0, or -1 when not finite.
int jnum(const char *s, uint32_t len, double *out);
// Appends |x| formatted as "%.15g" followed by jansson's touch-ups (".0" for integral
// values, no '+' or leading zeros in the exponent). Returns the number of chars written
// (at most 24). The text matches what the tools write through jansson.
int jfmt_real(double x, char *out);

// The shortest of "%.15g", "%.16g", "%.17g" that reads back as x, with the same touch-ups:
// exact values for results that must agree with a reference to the last digit.
int jfmt_exact(double x, char *out);

// A growing text buffer.
typedef struct {
    char *s;
    size_t n, cap;
} JBuf;
int jbuf_put(JBuf *b, const char *s, size_t n);
int jbuf_puts(JBuf *b, const char *s);
int jbuf_real(JBuf *b, double x);
int jbuf_int(JBuf *b, long v);

#endif
