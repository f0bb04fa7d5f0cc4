// Weights files in the safetensors format: an 8-byte little-endian header length, a JSON
// header ({"__metadata__": {string: string}, name: {"dtype", "shape", "data_offsets"}}),
// then the raw little-endian tensors. numpy and PyTorch users read them with the
// `safetensors` package. Only float32 ("F32") tensors are written and read here.
#ifndef NN_SAFETENSORS_H
#define NN_SAFETENSORS_H

#include <jansson.h>
#include <stddef.h>

enum { ST_MAX_DIMS = 8 };

typedef struct {
    const char *name;
    const float *data;
    int ndim;
    long shape[ST_MAX_DIMS];
} StTensor;

// Writes the tensors (in the given order) and metadata (string values only; may be NULL)
// atomically. Returns -1 with a message in err.
int st_write(const char *path, const StTensor *t, int n, const json_t *metadata, char *err, size_t errn);

typedef struct {
    json_t *header;
    unsigned char *buf;
    size_t size, data_off;
} StFile;

// Reads and checks a whole file: header, dtypes, shapes against offsets, bounds.
int st_read(const char *path, StFile *f, char *err, size_t errn);
// A tensor by name (NULL when absent); its shape goes to ndim/shape. The data is aligned
// for float access (copied on read when the file's layout is not).
const float *st_tensor(const StFile *f, const char *name, int *ndim, long shape[ST_MAX_DIMS]);
// A metadata value, or NULL.
const char *st_meta(const StFile *f, const char *key);
void st_close(StFile *f);

#endif
