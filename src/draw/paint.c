#include "paint.h"

#include <string.h>

#include "font.h"

static void put(Image *im, int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= im->w || y >= im->h) return;
    uint8_t *p = im->data + ((size_t)y * im->w + x) * 3;
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
}

void paint_fill(Image *im, int x1, int y1, int x2, int y2, Rgb c) {
    for (int y = y1; y <= y2; y++)
        for (int x = x1; x <= x2; x++) put(im, x, y, c);
}

void paint_rect(Image *im, int x1, int y1, int x2, int y2, Rgb c, int thick) {
    for (int t = 0; t < thick; t++) {
        int a = x1 + t, b = x2 - t, u = y1 + t, v = y2 - t;
        if (a > b || u > v) break;
        paint_fill(im, a, u, b, u, c);
        paint_fill(im, a, v, b, v, c);
        paint_fill(im, a, u, a, v, c);
        paint_fill(im, b, u, b, v, c);
    }
}

int paint_text_width(const char *s, int scale) {
    int n = (int)strlen(s);
    return n ? (n * (FONT_W + 1) - 1) * scale : 0;
}

int paint_text(Image *im, int x, int y, const char *s, Rgb c, int scale) {
    int x0 = x;
    for (; *s; s++, x += (FONT_W + 1) * scale)
        for (int r = 0; r < FONT_H; r++)
            for (int k = 0; k < FONT_W; k++)
                if (font_ink((unsigned char)*s, r, k)) paint_fill(im, x + k * scale, y + r * scale, x + k * scale + scale - 1, y + r * scale + scale - 1, c);
    return x - x0;
}

int paint_label(Image *im, int x, int y, const char *s, Rgb fg, Rgb bg, int scale) {
    int w = paint_text_width(s, scale);
    paint_fill(im, x, y, x + w + 1, y + FONT_H * scale + 1, bg);
    paint_text(im, x + 1, y + 1, s, fg, scale);
    return w + 2;
}

void paint_blit(Image *dst, const Image *src, int x, int y) {
    for (int r = 0; r < src->h; r++)
        for (int k = 0; k < src->w; k++) {
            const uint8_t *p = src->data + ((size_t)r * src->w + k) * src->c;
            Rgb c = src->c == 3 ? (Rgb){ p[0], p[1], p[2] } : (Rgb){ p[0], p[0], p[0] };
            put(dst, x + k, y + r, c);
        }
}
