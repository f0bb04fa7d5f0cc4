// The draw tool's bitmap font: 5 x 7 pixel glyphs for printable ASCII (others draw as '?').
#ifndef DRAW_FONT_H
#define DRAW_FONT_H

enum { FONT_W = 5, FONT_H = 7 };

// 1 where glyph `ch` has ink at (row, col), 0 elsewhere (and outside the cell).
int font_ink(int ch, int row, int col);

#endif
