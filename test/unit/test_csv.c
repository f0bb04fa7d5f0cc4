// CSV rows: quoting, line numbers, and the text rules (no NUL, valid UTF-8).
#include <stdlib.h>

#include "check.h"
#include "csv.h"

// Reads every row of `text`; returns the last csv_read result and leaves err filled.
static int read_all(const char *text, size_t n, int *rows, char *err, size_t errn, CsvReader *out) {
    FILE *fp = fmemopen((void *)text, n, "r");
    CsvReader r;
    csv_init(&r, fp);
    int rc;
    *rows = 0;
    while ((rc = csv_read(&r, err, errn)) == 1) (*rows)++;
    if (out) *out = r; else csv_free(&r);
    fclose(fp);
    return rc;
}

static void test_quoting_and_lines(void) {
    const char t[] = "a,b,c\n\"x,1\",\"say \"\"hi\"\"\",\"two\nlines\"\r\nlast,,\n";
    FILE *fp = fmemopen((void *)t, sizeof t - 1, "r");
    CsvReader r;
    csv_init(&r, fp);
    char err[200];
    CHECK(csv_read(&r, err, sizeof err) == 1 && r.n == 3 && csv_column(&r, "b") == 1 && r.line == 1);
    CHECK(csv_read(&r, err, sizeof err) == 1 && r.n == 3 && r.line == 2);
    CHECK(strcmp(r.field[0], "x,1") == 0 && strcmp(r.field[1], "say \"hi\"") == 0 && strcmp(r.field[2], "two\nlines") == 0);
    CHECK(csv_read(&r, err, sizeof err) == 1 && r.line == 4 && r.n == 3 && !r.field[1][0] && !r.field[2][0]);
    CHECK(csv_read(&r, err, sizeof err) == 0);
    csv_free(&r);
    fclose(fp);
}

static void test_text_rules(void) {
    char err[200];
    int rows;
    // valid multi-byte text: 2, 3 and 4 bytes
    const char ok[] = "id,name\n1,\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\n";
    CHECK(read_all(ok, sizeof ok - 1, &rows, err, sizeof err, NULL) == 0 && rows == 2);
    // a NUL byte inside a field: an error on its line, not a truncated field
    const char nul[] = "id,name\n1,ab\0cd\n";
    CHECK(read_all(nul, sizeof nul - 1, &rows, err, sizeof err, NULL) == -1 && rows == 1);
    CHECK_STR_HAS(err, "line 2: field 2 holds a NUL byte");
    // bytes that are not UTF-8: a stray continuation, an overlong form, a surrogate, a
    // truncated sequence, a code point past U+10FFFF
    const char *bad[] = { "id\n\xff\xfe\n", "id\nx\x80\n", "id\n\xc0\xaf\n", "id\n\xed\xa0\x80\n", "id\n\xe2\x82\n",
                          "id\n\xf4\x90\x80\x80\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(read_all(bad[i], strlen(bad[i]), &rows, err, sizeof err, NULL) == -1 && rows == 1);
        CHECK_STR_HAS(err, "line 2: field 1 is not valid UTF-8");
    }
    // the header too
    const char head[] = "id,\xff\n1,2\n";
    CHECK(read_all(head, sizeof head - 1, &rows, err, sizeof err, NULL) == -1 && rows == 0);
    CHECK_STR_HAS(err, "line 1: field 2 is not valid UTF-8");
    // an unterminated quote
    const char open_q[] = "id\n\"abc\n";
    CHECK(read_all(open_q, sizeof open_q - 1, &rows, err, sizeof err, NULL) == -1);
    CHECK_STR_HAS(err, "line 2: unterminated quoted field");
}

int main(void) {
    test_quoting_and_lines();
    test_text_rules();
    return check_report("test_csv");
}
