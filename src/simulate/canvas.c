#include "canvas.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int patch_tight_box(const uint8_t *px, int w, int h, int *x1, int *y1, int *x2, int *y2) {
    int a = w, b = h, c = -1, e = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (px[y * w + x]) {
                if (x < a) a = x;
                if (y < b) b = y;
                if (x > c) c = x;
                if (y > e) e = y;
            }
    if (c < 0) return 0;
    *x1 = a; *y1 = b; *x2 = c + 1; *y2 = e + 1;
    return 1;
}

// Copies the rectangle [x1,x2) x [y1,y2) of src into a new image.
static int crop(const Image *src, int x1, int y1, int x2, int y2, Image *dst) {
    if (image_alloc(dst, x2 - x1, y2 - y1, 1, 0) != 0) return -1;
    for (int y = y1; y < y2; y++)
        memcpy(dst->data + (size_t)(y - y1) * dst->w, src->data + (size_t)y * src->w + x1, (size_t)dst->w);
    return 0;
}

// The digit `index` rescaled so that the longer side of its tight box is `side` pixels,
// cropped to that tight box. Returns -1 when out of memory, 0 for an empty digit.
static int rescaled_digit(const Digits *d, int index, int side, Image *out) {
    Image src = { d->cols, d->rows, 1, d->pixels + (size_t)index * d->rows * d->cols };
    int x1, y1, x2, y2;
    if (!patch_tight_box(src.data, src.w, src.h, &x1, &y1, &x2, &y2)) return 0;
    Image tight;
    if (crop(&src, x1, y1, x2, y2, &tight) != 0) return -1;
    int longer = tight.w > tight.h ? tight.w : tight.h;
    // Faint edge pixels can round to zero when shrinking; aim a little higher until the
    // trimmed digit reaches `side` (it can never exceed it).
    for (int aim = side; aim <= side + 4; aim++) {
        double s = (double)aim / longer;
        int nw = (int)lrint(tight.w * s), nh = (int)lrint(tight.h * s);
        if (nw < 1) nw = 1;
        if (nh < 1) nh = 1;
        if (nw > side) nw = side;
        if (nh > side) nh = side;
        Image scaled;
        if (image_resize(&tight, nw, nh, &scaled) != 0) { image_free(&tight); return -1; }
        int a, b, c, e;
        if (!patch_tight_box(scaled.data, nw, nh, &a, &b, &c, &e)) { image_free(&scaled); continue; }
        int got = (c - a) > (e - b) ? (c - a) : (e - b);
        if (got == side || aim == side + 4) {
            int rc = crop(&scaled, a, b, c, e, out);
            image_free(&scaled);
            image_free(&tight);
            return rc == 0 ? 1 : -1;
        }
        image_free(&scaled);
    }
    image_free(&tight);
    return 0;
}

int canvas_compose(Rng *r, const Digits *d, const CanvasParams *cp, Image *im, Placed *out, int max) {
    if (image_alloc(im, cp->width, cp->height, 1, 0) != 0) return -1;
    if (rng_uniform(r) < cp->empty) return 0;
    int want = rng_int(r, cp->count_min, cp->count_max);
    if (want > max) want = max;
    int n = 0;
    for (int k = 0; k < want; k++) {
        int index = rng_int(r, cp->from, cp->to - 1);
        int side = rng_int(r, cp->size_min, cp->size_max);
        Image patch;
        int ok = rescaled_digit(d, index, side, &patch);
        if (ok < 0) { image_free(im); return -1; }
        if (ok == 0) continue;
        if (patch.w > cp->width || patch.h > cp->height) { image_free(&patch); continue; }
        for (int tries = 0; tries < 100; tries++) {
            int x = rng_int(r, 0, cp->width - patch.w), y = rng_int(r, 0, cp->height - patch.h);
            Box b = { x, y, x + patch.w, y + patch.h };
            int fits = 1;
            for (int j = 0; j < n && fits; j++)
                if (box_iou(b, out[j].box) > cp->max_iou) fits = 0;
            if (!fits) continue;
            // Overlapping digits keep the brighter pixel, so no digit erases another.
            for (int py = 0; py < patch.h; py++)
                for (int px = 0; px < patch.w; px++) {
                    uint8_t *dst = &im->data[(size_t)(y + py) * im->w + x + px];
                    uint8_t v = patch.data[py * patch.w + px];
                    if (v > *dst) *dst = v;
                }
            out[n++] = (Placed){ b, d->labels[index], index };
            break;
        }
        image_free(&patch);
    }
    return n;
}
