// CSV rows (RFC 4180): comma-separated fields, optionally double-quoted, with "" for a
// quote inside a quoted field; quoted fields may span lines; CRLF or LF line ends.
#ifndef MAD_CSV_H
#define MAD_CSV_H

#include <stdio.h>

typedef struct {
    FILE *fp;
    long line;          // physical line where the last row started (1-based)
    long next_line;
    char **field;       // the fields of the last row (NUL-terminated, owned)
    int n;
    int cap;
    char *buf;          // storage for the fields
    size_t buf_cap;
} CsvReader;

void csv_init(CsvReader *r, FILE *fp);
// Reads the next row: 1, 0 at end of input, -1 on a malformed row (message in err): an
// unterminated quote, a NUL byte, or a field that is not valid UTF-8 (records are JSON, so
// text must be UTF-8). Stop reading after -1.
int csv_read(CsvReader *r, char *err, size_t errn);
void csv_free(CsvReader *r);
// Index of the column named `name` in a header row, or -1.
int csv_column(const CsvReader *r, const char *name);

#endif
