#include "image.h"

#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "cli.h"
#include "fsutil.h"

int image_alloc(Image *im, int w, int h, int c, uint8_t fill) {
    im->w = w; im->h = h; im->c = c;
    im->data = malloc((size_t)w * h * c);
    if (!im->data) return -1;
    memset(im->data, fill, (size_t)w * h * c);
    return 0;
}

void image_free(Image *im) {
    free(im->data);
    im->data = NULL;
    im->w = im->h = im->c = 0;
}

static int is_png(const unsigned char *b, size_t n) {
    static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    return n >= 8 && memcmp(b, sig, 8) == 0;
}

static int is_jpeg(const unsigned char *b, size_t n) {
    return n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF;
}

static int frame_too_large(const char *path, long w, long h, long max_pixels, char *err, size_t errn) {
    if (w * h <= max_pixels) return 0;
    snprintf(err, errn, "%s: the header claims a %ldx%ld frame (%ld pixels), above the limit of %ld (--max-pixels)",
             path, w, h, w * h, max_pixels);
    return 1;
}

static int decode_jpeg(const char *path, const unsigned char *buf, size_t n, Image *im,
                       int want_c, int header_only, long max_pixels, char *err, size_t errn) {
    tjhandle tj = tjInitDecompress();
    if (!tj) { snprintf(err, errn, "%s: cannot start the JPEG decoder", path); return -1; }
    int w, h, sub, space;
    if (tjDecompressHeader3(tj, buf, (unsigned long)n, &w, &h, &sub, &space) != 0) {
        snprintf(err, errn, "%s: corrupt JPEG (%s)", path, tjGetErrorStr2(tj));
        tjDestroy(tj);
        return -1;
    }
    int c = want_c ? want_c : (space == TJCS_GRAY ? 1 : 3);
    if (header_only) { im->w = w; im->h = h; im->c = c; im->data = NULL; tjDestroy(tj); return 0; }
    if (frame_too_large(path, w, h, max_pixels, err, errn)) { tjDestroy(tj); return -1; }
    if (image_alloc(im, w, h, c, 0) != 0) {
        snprintf(err, errn, "%s: out of memory", path);
        tjDestroy(tj);
        return -1;
    }
    int pf = c == 1 ? TJPF_GRAY : TJPF_RGB;
    // A truncated or damaged stream is an error, not a gray-filled image.
    if (tjDecompress2(tj, buf, (unsigned long)n, im->data, w, 0, h, pf,
                      TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING) != 0) {
        snprintf(err, errn, "%s: corrupt JPEG (%s)", path, tjGetErrorStr2(tj));
        image_free(im);
        tjDestroy(tj);
        return -1;
    }
    tjDestroy(tj);
    return 0;
}

static int decode_png(const char *path, const unsigned char *buf, size_t n, Image *im,
                      int want_c, int header_only, long max_pixels, char *err, size_t errn) {
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&pi, buf, n)) {
        snprintf(err, errn, "%s: corrupt PNG (%s)", path, pi.message);
        return -1;
    }
    int c = want_c ? want_c : ((pi.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1);
    if (header_only) {
        im->w = (int)pi.width; im->h = (int)pi.height; im->c = c; im->data = NULL;
        png_image_free(&pi);
        return 0;
    }
    if (frame_too_large(path, (long)pi.width, (long)pi.height, max_pixels, err, errn)) {
        png_image_free(&pi);
        return -1;
    }
    pi.format = c == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    if (image_alloc(im, (int)pi.width, (int)pi.height, c, 0) != 0) {
        snprintf(err, errn, "%s: out of memory", path);
        png_image_free(&pi);
        return -1;
    }
    // Composite any alpha on black; 16-bit samples are reduced to 8.
    png_color black = { 0, 0, 0 };
    if (!png_image_finish_read(&pi, &black, im->data, 0, NULL)) {
        snprintf(err, errn, "%s: corrupt PNG (%s)", path, pi.message);
        image_free(im);
        return -1;
    }
    return 0;
}

static int load_any(const char *path, Image *im, int want_c, int header_only, long max_pixels, char *err, size_t errn) {
    if (want_c != 0 && want_c != 1 && want_c != 3) {
        snprintf(err, errn, "%s: can only load 1 or 3 channels", path);
        return -1;
    }
    size_t n;
    unsigned char *buf = read_file(path, &n, err, errn);
    if (!buf) return -1;
    int rc;
    if (is_jpeg(buf, n)) rc = decode_jpeg(path, buf, n, im, want_c, header_only, max_pixels, err, errn);
    else if (is_png(buf, n)) rc = decode_png(path, buf, n, im, want_c, header_only, max_pixels, err, errn);
    else {
        snprintf(err, errn, "%s: not a JPEG or PNG image", path);
        rc = -1;
    }
    free(buf);
    return rc;
}

static int image_load_max(const char *path, Image *im, int want_c, long max_pixels, char *err, size_t errn) {
    return load_any(path, im, want_c, 0, max_pixels, err, errn);
}

int image_load(const char *path, Image *im, int want_c, char *err, size_t errn) {
    return image_load_max(path, im, want_c, IMAGE_MAX_PIXELS, err, errn);
}

int image_source_option(ImageSource *src, int opt, const char *arg, const char *tool) {
    if (opt == IMAGE_OPT_OUTSIDE_ROOT) { src->outside_root = true; return 1; }
    if (opt != IMAGE_OPT_MAX_PIXELS) return 0;
    if (cli_parse_long(arg, 1, (long)1 << 40, &src->max_pixels) != 0)
        cli_usage_error(tool, "--max-pixels must be a positive integer, not '%s'", arg);
    return 1;
}

int image_load_record(const ImageSource *src, const char *image, Image *im, int want_c, char *err, size_t errn) {
    char *path = path_under_root(src->root, image, src->outside_root, err, errn);
    if (!path) return -1;
    int rc = image_load_max(path, im, want_c, src->max_pixels, err, errn);
    free(path);
    return rc;
}

int image_probe(const char *path, int *w, int *h, int *c, char *err, size_t errn) {
    Image im;
    if (load_any(path, &im, 0, 1, 0, err, errn) != 0) return -1;
    *w = im.w; *h = im.h; *c = im.c;
    return 0;
}

int image_encode_jpeg(const Image *im, int quality, unsigned char **buf, size_t *n, char *err, size_t errn) {
    if (im->c != 1 && im->c != 3) { snprintf(err, errn, "JPEG needs 1 or 3 channels"); return -1; }
    tjhandle tj = tjInitCompress();
    if (!tj) { snprintf(err, errn, "cannot start the JPEG encoder"); return -1; }
    unsigned char *out = NULL;
    unsigned long len = 0;
    int pf = im->c == 1 ? TJPF_GRAY : TJPF_RGB;
    int sub = im->c == 1 ? TJSAMP_GRAY : TJSAMP_444;
    if (tjCompress2(tj, im->data, im->w, 0, im->h, pf, &out, &len, sub, quality, TJFLAG_ACCURATEDCT) != 0) {
        snprintf(err, errn, "JPEG encoding failed (%s)", tjGetErrorStr2(tj));
        tjFree(out);
        tjDestroy(tj);
        return -1;
    }
    tjDestroy(tj);
    *buf = out;   // free with tjFree
    *n = len;
    return 0;
}

int image_save_jpeg(const char *path, const Image *im, int quality, char *err, size_t errn) {
    unsigned char *buf;
    size_t n;
    if (image_encode_jpeg(im, quality, &buf, &n, err, errn) != 0) return -1;
    int rc = write_file_atomic(path, buf, n, err, errn);
    tjFree(buf);
    return rc;
}

int image_save_png(const char *path, const Image *im, char *err, size_t errn) {
    if (im->c != 1 && im->c != 3) { snprintf(err, errn, "PNG needs 1 or 3 channels"); return -1; }
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = (png_uint_32)im->w;
    pi.height = (png_uint_32)im->h;
    pi.format = im->c == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    png_alloc_size_t n = 0;
    if (!png_image_write_to_memory(&pi, NULL, &n, 0, im->data, 0, NULL)) {
        snprintf(err, errn, "PNG encoding failed (%s)", pi.message);
        return -1;
    }
    void *buf = malloc(n);
    if (!buf) { snprintf(err, errn, "out of memory"); return -1; }
    if (!png_image_write_to_memory(&pi, buf, &n, 0, im->data, 0, NULL)) {
        snprintf(err, errn, "PNG encoding failed (%s)", pi.message);
        free(buf);
        return -1;
    }
    int rc = write_file_atomic(path, buf, n, err, errn);
    free(buf);
    return rc;
}

static int has_ext(const char *path, const char *ext) {
    size_t a = strlen(path), b = strlen(ext);
    return a >= b && strcasecmp(path + a - b, ext) == 0;
}

int image_save(const char *path, const Image *im, int quality, char *err, size_t errn) {
    if (has_ext(path, ".png")) return image_save_png(path, im, err, errn);
    if (has_ext(path, ".jpg") || has_ext(path, ".jpeg")) return image_save_jpeg(path, im, quality, err, errn);
    snprintf(err, errn, "%s: unknown image extension (use .jpg, .jpeg or .png)", path);
    return -1;
}

// Source position of output pixel i when n_src pixels map onto n_dst (centres aligned):
// the two neighbouring source pixels and the weight of the second.
static void sample_position(int i, int n_src, int n_dst, int *i0, int *i1, double *a) {
    double f = (i + 0.5) * ((double)n_src / n_dst) - 0.5;
    if (f < 0) f = 0;
    *i0 = (int)f;
    if (*i0 > n_src - 1) *i0 = n_src - 1;
    *i1 = *i0 + 1 < n_src ? *i0 + 1 : n_src - 1;
    *a = f - *i0;
    if (*a > 1) *a = 1;
}

int image_resize(const Image *src, int w, int h, Image *dst) {
    if (image_alloc(dst, w, h, src->c, 0) != 0) return -1;
    int c = src->c;
    for (int y = 0; y < h; y++) {
        int y0, y1;
        double ay;
        sample_position(y, src->h, h, &y0, &y1, &ay);
        for (int x = 0; x < w; x++) {
            int x0, x1;
            double ax;
            sample_position(x, src->w, w, &x0, &x1, &ax);
            for (int k = 0; k < c; k++) {
                double p00 = src->data[((size_t)y0 * src->w + x0) * c + k];
                double p01 = src->data[((size_t)y0 * src->w + x1) * c + k];
                double p10 = src->data[((size_t)y1 * src->w + x0) * c + k];
                double p11 = src->data[((size_t)y1 * src->w + x1) * c + k];
                double top = p00 + (p01 - p00) * ax, bot = p10 + (p11 - p10) * ax;
                double v = top + (bot - top) * ay;
                dst->data[((size_t)y * w + x) * c + k] = (uint8_t)lrint(v < 0 ? 0 : (v > 255 ? 255 : v));
            }
        }
    }
    return 0;
}

int image_letterbox(const Image *src, int w, int h, uint8_t pad, Image *dst, Letterbox *lb) {
    double s = fmin((double)w / src->w, (double)h / src->h);
    int nw = (int)lrint(src->w * s), nh = (int)lrint(src->h * s);
    if (nw < 1) nw = 1;
    if (nh < 1) nh = 1;
    if (nw > w) nw = w;
    if (nh > h) nh = h;
    Image scaled;
    if (image_resize(src, nw, nh, &scaled) != 0) return -1;
    if (image_alloc(dst, w, h, src->c, pad) != 0) { image_free(&scaled); return -1; }
    int ox = (w - nw) / 2, oy = (h - nh) / 2;
    for (int y = 0; y < nh; y++)
        memcpy(dst->data + ((size_t)(y + oy) * w + ox) * src->c,
               scaled.data + (size_t)y * nw * src->c, (size_t)nw * src->c);
    image_free(&scaled);
    lb->scale_x = (double)nw / src->w;
    lb->scale_y = (double)nh / src->h;
    lb->pad_x = ox;
    lb->pad_y = oy;
    return 0;
}
