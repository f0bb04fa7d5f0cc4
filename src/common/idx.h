// The IDX format of the MNIST files: a big-endian header (magic 0x00000803 for uint8
// images n x rows x cols, 0x00000801 for uint8 labels) followed by raw bytes.
// Readers take plain or gzip-compressed files (the official MNIST downloads are .gz).
#ifndef MAD_IDX_H
#define MAD_IDX_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int n, rows, cols;
    uint8_t *pixels;   // [n][rows][cols]
    uint8_t *labels;   // [n], NULL when no labels were read
} Digits;

// Reads images and labels; the counts must agree. Returns -1 with err on any problem.
int idx_read_digits(const char *images, const char *labels, Digits *d, char *err, size_t errn);
void idx_free_digits(Digits *d);
// Writes images (idx3) and labels (idx1) atomically.
int idx_write_digits(const char *images, const char *labels, const Digits *d, char *err, size_t errn);
// The labels file that goes with an images file: "...images-idx3-ubyte..." becomes
// "...labels-idx1-ubyte...". Returns a malloc'd path, or NULL when the name has no such part.
char *idx_labels_path_for(const char *images);

#endif
