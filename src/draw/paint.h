// Drawing on 8-bit RGB images (Image with c = 3): rectangles, filled boxes, text in the
// 5 x 7 font, and copying one image into another. Everything is clipped to the image.
#ifndef DRAW_PAINT_H
#define DRAW_PAINT_H

#include <stdint.h>

#include "image.h"

typedef struct {
    uint8_t r, g, b;
} Rgb;

// Outline of the box [x1, x2] x [y1, y2] (pixels, inclusive), `thick` pixels inwards.
void paint_rect(Image *im, int x1, int y1, int x2, int y2, Rgb c, int thick);
void paint_fill(Image *im, int x1, int y1, int x2, int y2, Rgb c);
// Text with its top-left corner at (x, y), each font pixel `scale` pixels wide; returns
// the width drawn. paint_label puts it on a filled background one pixel larger.
int paint_text(Image *im, int x, int y, const char *s, Rgb c, int scale);
int paint_label(Image *im, int x, int y, const char *s, Rgb fg, Rgb bg, int scale);
int paint_text_width(const char *s, int scale);
// Copies src (gray or RGB) into dst with its top-left corner at (x, y).
void paint_blit(Image *dst, const Image *src, int x, int y);

#endif
