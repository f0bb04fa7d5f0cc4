#include "idx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fsutil.h"

static uint32_t be32(const unsigned char *b) {
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static void put_be32(unsigned char *b, uint32_t v) {
    b[0] = (unsigned char)(v >> 24); b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8); b[3] = (unsigned char)v;
}

// Reads exactly n bytes; returns -1 on a short read.
static int read_exact(gzFile f, void *buf, size_t n) {
    unsigned char *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f, p, chunk);
        if (got <= 0) return -1;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

static int read_idx(const char *path, uint32_t magic, int ndim, int dims[3], uint8_t **data,
                    char *err, size_t errn) {
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(err, errn, "cannot open %s: %s", path, errno ? strerror(errno) : "out of memory");
        return -1;
    }
    unsigned char hdr[16];
    if (read_exact(f, hdr, 4) != 0) {
        snprintf(err, errn, "%s: too short for an IDX header", path);
        gzclose(f);
        return -1;
    }
    if (be32(hdr) != magic) {
        snprintf(err, errn, "%s: not an IDX uint8 %s file (magic 0x%08x, expected 0x%08x)", path,
                 ndim == 3 ? "image" : "label", be32(hdr), magic);
        gzclose(f);
        return -1;
    }
    if (read_exact(f, hdr + 4, 4 * (size_t)ndim) != 0) {
        snprintf(err, errn, "%s: too short for an IDX header", path);
        gzclose(f);
        return -1;
    }
    size_t total = 1;
    for (int i = 0; i < ndim; i++) {
        uint32_t v = be32(hdr + 4 + 4 * i);
        if (v == 0 || v > (1u << 24)) {
            snprintf(err, errn, "%s: implausible IDX dimension %u", path, v);
            gzclose(f);
            return -1;
        }
        dims[i] = (int)v;
        total *= v;
    }
    *data = malloc(total);
    if (!*data) { snprintf(err, errn, "%s: out of memory", path); gzclose(f); return -1; }
    if (read_exact(f, *data, total) != 0) {
        snprintf(err, errn, "%s: truncated (expected %zu bytes of data)", path, total);
        free(*data); *data = NULL;
        gzclose(f);
        return -1;
    }
    gzclose(f);
    return 0;
}

int idx_read_digits(const char *images, const char *labels, Digits *d, char *err, size_t errn) {
    memset(d, 0, sizeof *d);
    int di[3], dl[3];
    if (read_idx(images, 0x00000803u, 3, di, &d->pixels, err, errn) != 0) return -1;
    d->n = di[0]; d->rows = di[1]; d->cols = di[2];
    if (labels) {
        if (read_idx(labels, 0x00000801u, 1, dl, &d->labels, err, errn) != 0) { idx_free_digits(d); return -1; }
        if (dl[0] != d->n) {
            snprintf(err, errn, "%s has %d labels but %s has %d images", labels, dl[0], images, d->n);
            idx_free_digits(d);
            return -1;
        }
        for (int i = 0; i < d->n; i++)
            if (d->labels[i] > 9) {
                snprintf(err, errn, "%s: label %d of item %d is not a digit", labels, d->labels[i], i);
                idx_free_digits(d);
                return -1;
            }
    }
    return 0;
}

void idx_free_digits(Digits *d) {
    free(d->pixels);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

int idx_write_digits(const char *images, const char *labels, const Digits *d, char *err, size_t errn) {
    size_t np = (size_t)d->n * d->rows * d->cols;
    unsigned char *buf = malloc(16 + (np > (size_t)d->n ? np : (size_t)d->n));
    if (!buf) { snprintf(err, errn, "out of memory"); return -1; }
    put_be32(buf, 0x00000803u);
    put_be32(buf + 4, (uint32_t)d->n);
    put_be32(buf + 8, (uint32_t)d->rows);
    put_be32(buf + 12, (uint32_t)d->cols);
    memcpy(buf + 16, d->pixels, np);
    int rc = write_file_atomic(images, buf, 16 + np, err, errn);
    if (rc == 0 && labels) {
        put_be32(buf, 0x00000801u);
        put_be32(buf + 4, (uint32_t)d->n);
        memcpy(buf + 8, d->labels, (size_t)d->n);
        rc = write_file_atomic(labels, buf, 8 + (size_t)d->n, err, errn);
    }
    free(buf);
    return rc;
}

char *idx_labels_path_for(const char *images) {
    const char *key = "images-idx3";
    const char *at = strstr(images, key);
    if (!at) return NULL;
    char *out = strdup(images);
    if (!out) return NULL;
    memcpy(out + (at - images), "labels-idx1", strlen(key));
    return out;
}
