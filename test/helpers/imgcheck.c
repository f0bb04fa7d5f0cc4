// imgcheck: test helper. Prints "WIDTH HEIGHT CHANNELS" for each image decoded in full,
// converts one image (imgcheck --png OUT.png IN), or makes a gray gradient image
// (imgcheck --make W H OUT.{png,jpg}), or prints row Y's gray values (imgcheck --row Y IN),
// or the R G B values of the pixel at (X, Y) (imgcheck --pixel X Y IN).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

int main(int argc, char **argv) {
    char err[512];
    if (argc == 4 && strcmp(argv[1], "--png") == 0) {
        Image im;
        if (image_load(argv[3], &im, 0, err, sizeof err) != 0) { fprintf(stderr, "imgcheck: %s\n", err); return 1; }
        int rc = image_save_png(argv[2], &im, err, sizeof err);
        if (rc) fprintf(stderr, "imgcheck: %s\n", err);
        image_free(&im);
        return rc ? 1 : 0;
    }
    if (argc == 5 && strcmp(argv[1], "--pixel") == 0) {
        Image im;
        int x = atoi(argv[2]), y = atoi(argv[3]);
        if (image_load(argv[4], &im, 3, err, sizeof err) != 0) { fprintf(stderr, "imgcheck: %s\n", err); return 1; }
        if (x < 0 || y < 0 || x >= im.w || y >= im.h) { image_free(&im); return 2; }
        const uint8_t *p = im.data + ((size_t)y * im.w + x) * 3;
        printf("%d %d %d\n", p[0], p[1], p[2]);
        image_free(&im);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "--make") == 0) {
        Image im;
        int w = atoi(argv[2]), h = atoi(argv[3]);
        if (w < 1 || h < 1 || image_alloc(&im, w, h, 1, 0) != 0) return 2;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) im.data[y * w + x] = (uint8_t)((x * 255 / w + y * 128 / h) & 0xff);
        int rc = image_save(argv[4], &im, 90, err, sizeof err);
        if (rc) fprintf(stderr, "imgcheck: %s\n", err);
        image_free(&im);
        return rc ? 1 : 0;
    }
    if (argc == 4 && strcmp(argv[1], "--row") == 0) {
        Image im;
        int y = atoi(argv[2]);
        if (image_load(argv[3], &im, 1, err, sizeof err) != 0) { fprintf(stderr, "imgcheck: %s\n", err); return 1; }
        if (y < 0 || y >= im.h) return 2;
        for (int x = 0; x < im.w; x++) printf("%d%c", im.data[y * im.w + x], x + 1 < im.w ? ' ' : '\n');
        image_free(&im);
        return 0;
    }
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        Image im;
        if (image_load(argv[i], &im, 0, err, sizeof err) != 0) {
            fprintf(stderr, "imgcheck: %s\n", err);
            bad = 1;
            continue;
        }
        printf("%d %d %d\n", im.w, im.h, im.c);
        image_free(&im);
    }
    return bad;
}
