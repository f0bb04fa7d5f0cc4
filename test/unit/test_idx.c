// IDX files: round trip, gzip input, bad magic, truncation, label-file naming.
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "fsutil.h"
#include "idx.h"

int main(void) {
    char dir[] = "/tmp/mad-idx-XXXXXX", err[512];
    CHECK(mkdtemp(dir) != NULL);
    char *im = path_join(dir, "x-images-idx3-ubyte"), *lb = path_join(dir, "x-labels-idx1-ubyte");
    char *gz = path_join(dir, "x.gz");
    Digits d = { 3, 2, 4, malloc(24), malloc(3) };
    for (int i = 0; i < 24; i++) d.pixels[i] = (uint8_t)(i * 10);
    d.labels[0] = 7; d.labels[1] = 0; d.labels[2] = 9;
    CHECK(idx_write_digits(im, lb, &d, err, sizeof err) == 0);
    Digits r;
    CHECK(idx_read_digits(im, lb, &r, err, sizeof err) == 0);
    CHECK(r.n == 3 && r.rows == 2 && r.cols == 4);
    CHECK(memcmp(r.pixels, d.pixels, 24) == 0 && memcmp(r.labels, d.labels, 3) == 0);
    idx_free_digits(&r);

    // the same file gzip-compressed reads the same
    size_t n;
    unsigned char *raw = read_file(im, &n, err, sizeof err);
    gzFile g = gzopen(gz, "wb");
    gzwrite(g, raw, (unsigned)n);
    gzclose(g);
    CHECK(idx_read_digits(gz, lb, &r, err, sizeof err) == 0 && r.n == 3 && memcmp(r.pixels, d.pixels, 24) == 0);
    idx_free_digits(&r);

    // truncated data
    CHECK(write_file_atomic(gz, raw, n - 1, err, sizeof err) == 0);
    CHECK(idx_read_digits(gz, NULL, &r, err, sizeof err) == -1);
    CHECK_STR_HAS(err, "truncated");
    // labels given as images: wrong magic
    CHECK(idx_read_digits(lb, NULL, &r, err, sizeof err) == -1);
    CHECK_STR_HAS(err, "not an IDX uint8 image file");
    // counts disagree
    d.n = 2;
    CHECK(idx_write_digits(gz, NULL, &d, err, sizeof err) == 0);
    CHECK(idx_read_digits(gz, lb, &r, err, sizeof err) == -1);
    CHECK_STR_HAS(err, "has 3 labels but");
    CHECK(idx_read_digits("/nonexistent", NULL, &r, err, sizeof err) == -1);
    CHECK_STR_HAS(err, "cannot open /nonexistent");

    char *p = idx_labels_path_for("data/train-images-idx3-ubyte.gz");
    CHECK(p && strcmp(p, "data/train-labels-idx1-ubyte.gz") == 0);
    free(p);
    CHECK(idx_labels_path_for("digits.bin") == NULL);

    free(raw);
    idx_free_digits(&d);
    unlink(im); unlink(lb); unlink(gz);
    rmdir(dir);
    free(im); free(lb); free(gz);
    return check_report("idx");
}
