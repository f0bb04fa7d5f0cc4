// imgcheck: test helper. Prints "WIDTH HEIGHT CHANNELS" for each image decoded in full, or
// converts one image: imgcheck --png OUT.png IN.
#include <stdio.h>
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
