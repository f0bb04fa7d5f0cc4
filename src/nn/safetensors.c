#include "safetensors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

static void put_u64le(unsigned char *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64le(const unsigned char *b) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

int st_write(const char *path, const StTensor *t, int n, const json_t *metadata, char *err, size_t errn) {
    json_t *h = json_object();
    if (metadata) json_object_set(h, "__metadata__", (json_t *)metadata);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        json_t *shape = json_array();
        size_t count = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            json_array_append_new(shape, json_integer(t[i].shape[d]));
            count *= (size_t)t[i].shape[d];
        }
        size_t bytes = count * sizeof(float);
        json_object_set_new(h, t[i].name, json_pack("{s:s,s:o,s:[II]}", "dtype", "F32", "shape", shape, "data_offsets",
                                                     (json_int_t)off, (json_int_t)(off + bytes)));
        off += bytes;
    }
    char *text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(h);
    if (!text) { snprintf(err, errn, "out of memory"); return -1; }
    size_t hl = strlen(text), padded = (hl + 7) / 8 * 8;   // data starts 8-byte aligned
    AtomicFile f;
    if (atomic_open(&f, path, err, errn) != 0) { free(text); return -1; }
    unsigned char len[8];
    put_u64le(len, padded);
    fwrite(len, 1, 8, f.fp);
    fwrite(text, 1, hl, f.fp);
    for (size_t i = hl; i < padded; i++) fputc(' ', f.fp);
    free(text);
    for (int i = 0; i < n; i++) {
        size_t count = 1;
        for (int d = 0; d < t[i].ndim; d++) count *= (size_t)t[i].shape[d];
        fwrite(t[i].data, sizeof(float), count, f.fp);   // x86-64 is little-endian
    }
    return atomic_commit_durable(&f, err, errn);
}

int st_read(const char *path, StFile *f, char *err, size_t errn) {
    memset(f, 0, sizeof *f);
    f->buf = read_file(path, &f->size, err, errn);
    if (!f->buf) return -1;
    if (f->size < 8) { snprintf(err, errn, "%s: not a safetensors file (too short)", path); st_close(f); return -1; }
    uint64_t hl = get_u64le(f->buf);
    if (hl > f->size - 8 || hl > (100u << 20)) {
        snprintf(err, errn, "%s: not a safetensors file (header length %llu)", path, (unsigned long long)hl);
        st_close(f);
        return -1;
    }
    json_error_t je;
    f->header = json_loadb((const char *)f->buf + 8, (size_t)hl, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(f->header)) {
        snprintf(err, errn, "%s: bad safetensors header: %s", path, f->header ? "not an object" : je.text);
        st_close(f);
        return -1;
    }
    f->data_off = 8 + (size_t)hl;
    size_t data = f->size - f->data_off;
    const char *name;
    json_t *v;
    json_object_foreach(f->header, name, v) {
        if (strcmp(name, "__metadata__") == 0) {
            const char *k;
            json_t *s;
            if (!json_is_object(v)) { snprintf(err, errn, "%s: __metadata__ must be an object", path); st_close(f); return -1; }
            json_object_foreach(v, k, s)
                if (!json_is_string(s)) { snprintf(err, errn, "%s: metadata \"%s\" is not a string", path, k); st_close(f); return -1; }
            continue;
        }
        json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"), *of = json_object_get(v, "data_offsets");
        if (!json_is_string(dt) || strcmp(json_string_value(dt), "F32") != 0) {
            snprintf(err, errn, "%s: tensor \"%s\": only F32 tensors are supported", path, name);
            st_close(f);
            return -1;
        }
        size_t count = 1;
        if (!json_is_array(sh) || json_array_size(sh) > ST_MAX_DIMS) { snprintf(err, errn, "%s: tensor \"%s\": bad shape", path, name); st_close(f); return -1; }
        for (size_t d = 0; d < json_array_size(sh); d++) {
            json_t *x = json_array_get(sh, d);
            if (!json_is_integer(x) || json_integer_value(x) < 0) { snprintf(err, errn, "%s: tensor \"%s\": bad shape", path, name); st_close(f); return -1; }
            count *= (size_t)json_integer_value(x);
        }
        json_t *b = json_array_get(of, 0), *e = json_array_get(of, 1);
        if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
            json_integer_value(e) < json_integer_value(b) || (size_t)json_integer_value(e) > data ||
            (size_t)(json_integer_value(e) - json_integer_value(b)) != count * sizeof(float)) {
            snprintf(err, errn, "%s: tensor \"%s\": data_offsets do not fit its shape or the file", path, name);
            st_close(f);
            return -1;
        }
    }
    return 0;
}

const float *st_tensor(const StFile *f, const char *name, int *ndim, long shape[ST_MAX_DIMS]) {
    json_t *v = json_object_get(f->header, name);
    if (!v || strcmp(name, "__metadata__") == 0) return NULL;
    json_t *sh = json_object_get(v, "shape");
    *ndim = (int)json_array_size(sh);
    for (int d = 0; d < *ndim; d++) shape[d] = (long)json_integer_value(json_array_get(sh, (size_t)d));
    size_t off = f->data_off + (size_t)json_integer_value(json_array_get(json_object_get(v, "data_offsets"), 0));
    if (off % sizeof(float) != 0) return NULL;   // files we write are aligned; others are refused
    return (const float *)(f->buf + off);
}

const char *st_meta(const StFile *f, const char *key) {
    return json_string_value(json_object_get(json_object_get(f->header, "__metadata__"), key));
}

void st_close(StFile *f) {
    json_decref(f->header);
    free(f->buf);
    memset(f, 0, sizeof *f);
}
