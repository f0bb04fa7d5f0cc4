// JPEG and PNG round trips, corrupt files, resizing and letterboxing.
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "fsutil.h"
#include "image.h"

static void fill_pattern(Image *im) {
    for (int y = 0; y < im->h; y++)
        for (int x = 0; x < im->w; x++)
            for (int k = 0; k < im->c; k++)
                im->data[((size_t)y * im->w + x) * im->c + k] = (uint8_t)((x * 3 + y * 5 + k * 40) & 0xff) / 2 + 60;
}

static double mean_abs_diff(const Image *a, const Image *b) {
    double s = 0;
    size_t n = (size_t)a->w * a->h * a->c;
    for (size_t i = 0; i < n; i++) s += fabs((double)a->data[i] - b->data[i]);
    return s / n;
}

// The lexical root rule: which relative paths stay under the root.
static void test_path_under_root(void) {
    char err[300];
    struct { const char *name; int inside; } cases[] = {
        { "a.png", 1 }, { "img/a.png", 1 }, { "./img//a.png", 1 }, { "img/../a.png", 1 }, { "a/b/../../c.png", 1 },
        { "../a.png", 0 }, { "img/../../a.png", 0 }, { "./../a.png", 0 }, { "a/b/../../../c.png", 0 }, { "..", 0 },
        { "..a/b.png", 1 }, { "a../b.png", 1 } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = path_under_root("/r", cases[i].name, false, err, sizeof err);
        CHECK((p != NULL) == cases[i].inside);
        if (p) CHECK(strncmp(p, "/r/", 3) == 0);
        else CHECK_STR_HAS(err, "the path leaves the image root");
        free(p);
        p = path_under_root("/r", cases[i].name, true, err, sizeof err);   // --allow-outside-root
        CHECK(p != NULL);
        free(p);
    }
    char *p = path_under_root("/r", "/data/../x.png", false, err, sizeof err);   // absolute: as given
    CHECK(p && strcmp(p, "/data/../x.png") == 0);
    free(p);
    CHECK(path_under_root("/r", "", false, err, sizeof err) == NULL);
}

int main(void) {
    test_path_under_root();
    char dir[] = "/tmp/mad-image-XXXXXX", err[512];
    CHECK(mkdtemp(dir) != NULL);
    char *png = path_join(dir, "a.png"), *jpg = path_join(dir, "a.jpg"), *bad = path_join(dir, "bad.jpg");

    for (int c = 1; c <= 3; c += 2) {
        Image im, back;
        CHECK(image_alloc(&im, 37, 21, c, 0) == 0);
        fill_pattern(&im);
        CHECK(image_save(png, &im, 95, err, sizeof err) == 0);
        CHECK(image_load(png, &back, 0, err, sizeof err) == 0);
        CHECK(back.w == 37 && back.h == 21 && back.c == c);
        CHECK(memcmp(back.data, im.data, (size_t)37 * 21 * c) == 0);   // PNG is lossless
        image_free(&back);
        CHECK(image_save(jpg, &im, 95, err, sizeof err) == 0);
        CHECK(image_load(jpg, &back, 0, err, sizeof err) == 0);
        CHECK(back.w == 37 && back.h == 21 && back.c == c);
        CHECK(mean_abs_diff(&im, &back) < 3.0);   // JPEG at quality 95 is close
        image_free(&back);
        int w, h, cc;
        CHECK(image_probe(jpg, &w, &h, &cc, err, sizeof err) == 0 && w == 37 && h == 21 && cc == c);
        // channel conversion on load
        CHECK(image_load(png, &back, c == 1 ? 3 : 1, err, sizeof err) == 0 && back.c == (c == 1 ? 3 : 1));
        image_free(&back);
        image_free(&im);
    }

    // corrupt and truncated files are errors, not gray images
    Image im, back;
    image_alloc(&im, 64, 64, 1, 0);
    fill_pattern(&im);
    unsigned char *buf;
    size_t n;
    CHECK(image_encode_jpeg(&im, 90, &buf, &n, err, sizeof err) == 0);
    CHECK(write_file_atomic(bad, buf, n / 2, err, sizeof err) == 0);
    CHECK(image_load(bad, &back, 0, err, sizeof err) == -1);
    CHECK_STR_HAS(err, "corrupt JPEG");
    free(buf);   // tjFree is free() in libjpeg-turbo
    CHECK(write_file_atomic(bad, "hello", 5, err, sizeof err) == 0);
    CHECK(image_load(bad, &back, 0, err, sizeof err) == -1);
    CHECK_STR_HAS(err, "not a JPEG or PNG image");
    CHECK(image_load("/nonexistent/x.png", &back, 0, err, sizeof err) == -1);
    CHECK_STR_HAS(err, "cannot open /nonexistent/x.png");
    CHECK(image_save("/nonexistent/x.png", &im, 90, err, sizeof err) == -1);
    CHECK(image_save(png, &im, 90, err, sizeof err) == 0);
    size_t pn;
    unsigned char *pb = read_file(png, &pn, err, sizeof err);
    CHECK(write_file_atomic(bad, pb, pn - 20, err, sizeof err) == 0);
    CHECK(image_load(bad, &back, 0, err, sizeof err) == -1);
    CHECK_STR_HAS(err, "corrupt PNG");
    free(pb);
    image_free(&im);

    // resize: a constant image stays constant; a 2x2 upscale interpolates
    Image flat, big;
    image_alloc(&flat, 10, 6, 1, 77);
    CHECK(image_resize(&flat, 33, 17, &big) == 0 && big.w == 33 && big.h == 17);
    int all77 = 1;
    for (int i = 0; i < 33 * 17; i++) all77 &= big.data[i] == 77;
    CHECK(all77);
    image_free(&big);
    Image two;
    image_alloc(&two, 2, 1, 1, 0);
    two.data[0] = 0; two.data[1] = 200;
    CHECK(image_resize(&two, 4, 1, &big) == 0);
    // centres at x = -0.25, 0.25, 0.75, 1.25 in source pixels: 0, 50, 150, 200
    CHECK(big.data[0] == 0 && big.data[1] == 50 && big.data[2] == 150 && big.data[3] == 200);
    image_free(&big);
    image_free(&two);

    // letterbox a 10x6 image into 20x20: scale 2, 20x12 centred, 4 px pad above and below
    Letterbox lb;
    CHECK(image_letterbox(&flat, 20, 20, 114, &big, &lb) == 0);
    CHECK_NEAR(lb.scale_x, 2.0, 0); CHECK_NEAR(lb.scale_y, 2.0, 0);
    CHECK_NEAR(lb.pad_x, 0, 0); CHECK_NEAR(lb.pad_y, 4, 0);
    CHECK(big.data[0] == 114 && big.data[3 * 20] == 114 && big.data[4 * 20] == 77 && big.data[15 * 20] == 77);
    CHECK(big.data[16 * 20] == 114);
    image_free(&big);
    image_free(&flat);

    unlink(png); unlink(jpg); unlink(bad);
    rmdir(dir);
    free(png); free(jpg); free(bad);
    return check_report("image");
}
