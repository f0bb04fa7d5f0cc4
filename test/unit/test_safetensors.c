// The weights file: round trip, metadata, and refusal of damaged files.
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "fsutil.h"
#include "safetensors.h"

int main(void) {
    char dir[] = "/tmp/mad-st-XXXXXX", err[512];
    CHECK(mkdtemp(dir) != NULL);
    char *path = path_join(dir, "m.safetensors"), *bad = path_join(dir, "bad.safetensors");
    float w[2 * 3 * 3 * 3], b[2];
    for (int i = 0; i < 54; i++) w[i] = (float)i * 0.5f - 3;
    b[0] = 1.25f; b[1] = -2;
    StTensor t[2] = { { "model.0.conv.weight", w, 4, { 2, 3, 3, 3 } }, { "model.0.conv.bias", b, 1, { 2 } } };
    json_t *meta = json_pack("{s:s,s:s}", "preset", "cpu", "classes", "[\"0\",\"1\"]");
    CHECK(st_write(path, t, 2, meta, err, sizeof err) == 0);
    StFile f;
    CHECK(st_read(path, &f, err, sizeof err) == 0);
    int nd;
    long shape[ST_MAX_DIMS];
    const float *rw = st_tensor(&f, "model.0.conv.weight", &nd, shape);
    CHECK(rw && nd == 4 && shape[0] == 2 && shape[3] == 3 && memcmp(rw, w, sizeof w) == 0);
    const float *rb = st_tensor(&f, "model.0.conv.bias", &nd, shape);
    CHECK(rb && nd == 1 && rb[0] == 1.25f && rb[1] == -2);
    CHECK(st_tensor(&f, "missing", &nd, shape) == NULL);
    CHECK(strcmp(st_meta(&f, "preset"), "cpu") == 0 && st_meta(&f, "nope") == NULL);
    CHECK(f.data_off % 8 == 0);
    // the layout: 8-byte length, then the JSON header
    CHECK(f.buf[8] == '{');
    st_close(&f);

    // damaged files are refused with a message
    size_t n;
    unsigned char *raw = read_file(path, &n, err, sizeof err);
    CHECK(write_file_atomic(bad, raw, n - 4, err, sizeof err) == 0);   // truncated data
    CHECK(st_read(bad, &f, err, sizeof err) == -1);
    CHECK_STR_HAS(err, "data_offsets do not fit");
    raw[0] = 0xff; raw[1] = 0xff; raw[2] = 0xff;                         // absurd header length
    CHECK(write_file_atomic(bad, raw, n, err, sizeof err) == 0);
    CHECK(st_read(bad, &f, err, sizeof err) == -1);
    CHECK_STR_HAS(err, "not a safetensors file");
    CHECK(write_file_atomic(bad, "abc", 3, err, sizeof err) == 0);
    CHECK(st_read(bad, &f, err, sizeof err) == -1);
    const char *f16 = "{\"x\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}";
    unsigned char hdr[128] = { 0 };
    hdr[0] = (unsigned char)strlen(f16);
    memcpy(hdr + 8, f16, strlen(f16));
    CHECK(write_file_atomic(bad, hdr, 8 + strlen(f16) + 2, err, sizeof err) == 0);
    CHECK(st_read(bad, &f, err, sizeof err) == -1);
    CHECK_STR_HAS(err, "only F32 tensors");
    CHECK(st_read("/nonexistent/m.safetensors", &f, err, sizeof err) == -1);
    free(raw);
    json_decref(meta);
    unlink(path); unlink(bad); rmdir(dir);
    free(path); free(bad);
    return check_report("safetensors");
}
