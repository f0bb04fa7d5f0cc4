// 8-bit images: grayscale (c=1) or RGB (c=3), row-major, interleaved channels.
// JPEG goes through TurboJPEG, PNG through libpng. Writers are atomic (see fsutil.h).
#ifndef MAD_IMAGE_H
#define MAD_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int w, h, c;
    uint8_t *data;   // [h][w][c]
} Image;

// Allocates a w x h x c image filled with `fill`. Returns -1 when out of memory.
int image_alloc(Image *im, int w, int h, int c, uint8_t fill);
void image_free(Image *im);

// Loads a JPEG or PNG (chosen by content, not by name). want_c = 0 keeps the file's own
// channels (gray stays gray, anything with colour becomes RGB); 1 or 3 converts. Only
// regular files are read. A header that claims more than IMAGE_MAX_PIXELS pixels is
// refused before anything is allocated for it.
#define IMAGE_MAX_PIXELS 67108864L   // 8192 x 8192
int image_load(const char *path, Image *im, int want_c, char *err, size_t errn);

// Where the tools find records' images, and what a record may make them read.
typedef struct {
    const char *root;    // relative paths are taken from here (NULL: the working folder)
    bool outside_root;   // a relative path may leave root with ".."
    long max_pixels;     // the frame limit (IMAGE_MAX_PIXELS unless the user changes it)
} ImageSource;
#define IMAGE_SOURCE_DEFAULT ((ImageSource){ NULL, false, IMAGE_MAX_PIXELS })
// The options of every tool that reads records' images, beside its own --root:
// IMAGE_SOURCE_OPTIONS goes into its getopt_long table, and image_source_option handles
// one of them (1), or says it is not one of them (0). A bad value is a usage error.
enum { IMAGE_OPT_MAX_PIXELS = 900, IMAGE_OPT_OUTSIDE_ROOT };
#define IMAGE_SOURCE_OPTIONS \
    { "max-pixels", required_argument, 0, IMAGE_OPT_MAX_PIXELS }, { "allow-outside-root", no_argument, 0, IMAGE_OPT_OUTSIDE_ROOT }
int image_source_option(ImageSource *src, int opt, const char *arg, const char *tool);
#define IMAGE_SOURCE_HELP \
    "  --max-pixels N        refuse an image whose header claims more than N pixels [67108864,\n" \
    "                        8192 x 8192], before memory is allocated for it\n" \
    "  --allow-outside-root  let relative image paths leave --root with \"..\" (absolute paths\n" \
    "                        are always taken as given)\n"
// Loads the image a record names ("image"), under the source's rules (see path_under_root).
int image_load_record(const ImageSource *src, const char *image, Image *im, int want_c, char *err, size_t errn);
// Reads only the size of a JPEG or PNG.
int image_probe(const char *path, int *w, int *h, int *c, char *err, size_t errn);
// Writes JPEG (quality 1..100; gray images as single-channel JPEG).
int image_save_jpeg(const char *path, const Image *im, int quality, char *err, size_t errn);
int image_encode_jpeg(const Image *im, int quality, unsigned char **buf, size_t *n, char *err, size_t errn);
int image_save_png(const char *path, const Image *im, char *err, size_t errn);
// Writes by extension: .jpg/.jpeg or .png.
int image_save(const char *path, const Image *im, int quality, char *err, size_t errn);

// Bilinear resize (pixel centres aligned, as OpenCV's INTER_LINEAR) into a new image.
int image_resize(const Image *src, int w, int h, Image *dst);

// Letterbox: scales src to fit inside w x h keeping its aspect ratio, centres it and fills
// the border with `pad`. The mapping is x_dst = x_src * scale_x + pad_x (same for y);
// the two scales differ only by the rounding of the scaled size to whole pixels.
typedef struct {
    double scale_x, scale_y;
    double pad_x, pad_y;
} Letterbox;
int image_letterbox(const Image *src, int w, int h, uint8_t pad, Image *dst, Letterbox *lb);

#endif
