// simulate: MED-MNIST, multi-annotator digit detection data (Le et al., IEEE Access 2023).
// Writes JPEG canvases into --out and one record per image on stdout.
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fsutil.h"
#include "simulate.h"

static const char *TOOL = "simulate";

static void usage(void) {
    printf(
        "Usage: simulate --out DIR [options] > records.jsonl\n"
        "\n"
        "Pastes MNIST digits on black canvases (JPEG files in DIR) and simulates expert\n"
        "annotators who mislabel, miss and misplace them. Writes one JSON record per image\n"
        "with the annotators' boxes (\"annotations\") and the true boxes (\"truth\").\n"
        "\n"
        "Data\n"
        "  --mnist FILE          IDX images (plain or .gz) [data/mnist/images-idx3-ubyte]\n"
        "  --mnist-labels FILE   IDX labels [FILE with images-idx3 -> labels-idx1]\n"
        "  --digits FROM:TO      use digits FROM..TO-1 of the file only [all]\n"
        "  --n N                 number of images [1000]\n"
        "  --first K             index of the first image: ids and random draws start there,\n"
        "                        so splits made with one seed share experts, not canvases [0]\n"
        "  --out DIR             folder for the images (created if missing)\n"
        "  --prefix STR          record ids are STR-000000, ... [med]\n"
        "  --seed S              random seed [0]\n"
        "  --quality Q           JPEG quality 1..100 [95]\n"
        "\n"
        "Canvases\n"
        "  --preset NAME         default | paper (320x320, 55%% empty, 1-9 digits of 7-75 px,\n"
        "                        IoU up to 0.55); later options override the preset\n"
        "  --canvas N            canvas side in pixels [128]\n"
        "  --count MIN:MAX       digits per non-empty image [1:4]\n"
        "  --size MIN:MAX        longer side of a digit's tight box, pixels [12:40]\n"
        "  --max-iou X           largest IoU between two digits [0.2]\n"
        "  --empty F             fraction of images with no digit [0]\n"
        "\n"
        "Annotators\n"
        "  --experts R           number of experts, named R1..RR [3]\n"
        "  --proficiency P[,..]  proficiency p, one value or one per expert [0.8]\n"
        "  --sigma S             spread of the diagonal draws N(p, S) [0.5]\n"
        "  --zeta Z              floor of the diagonal [0.05]\n"
        "  --jitter J            box corner noise, as a fraction of the side [0.1]\n"
        "  --fp-rate L           mean false-positive boxes per expert and image [0]\n"
        "  --matrices FILE       write the experts' transition matrices as JSON\n"
        "\n"
        "  --quiet               no progress and no summary\n"
        "  -h, --help            show this help\n"
        "\n"
        "The same options and seed give byte-identical records and images.\n");
}

enum {
    O_MNIST = 256, O_LABELS, O_DIGITS, O_N, O_OUT, O_PREFIX, O_SEED, O_QUALITY, O_PRESET,
    O_CANVAS, O_COUNT, O_SIZE, O_MAXIOU, O_EMPTY, O_EXPERTS, O_PROF, O_SIGMA, O_ZETA, O_JITTER,
    O_FP, O_MATRICES, O_QUIET, O_FIRST,
};

// Applies the preset to every canvas option the user did not give.
static void apply_preset(SimParams *sp, const char *name, const unsigned char *given) {
    int paper = strcmp(name, "paper") == 0;
    if (!paper && strcmp(name, "default") != 0) cli_usage_error(TOOL, "unknown --preset '%s' (default, paper)", name);
    CanvasParams *c = &sp->canvas;
    if (!given[O_CANVAS - 256]) c->width = c->height = paper ? 320 : 128;
    if (!given[O_COUNT - 256]) { c->count_min = 1; c->count_max = paper ? 9 : 4; }
    if (!given[O_SIZE - 256]) { c->size_min = paper ? 7 : 12; c->size_max = paper ? 75 : 40; }
    if (!given[O_MAXIOU - 256]) c->max_iou = paper ? 0.55 : 0.2;
    if (!given[O_EMPTY - 256]) c->empty = paper ? 0.55 : 0.0;
}

int main(int argc, char **argv) {
    SimParams sp;
    sim_params_default(&sp);
    const char *preset = "default", *mnist = "data/mnist/images-idx3-ubyte", *labels = NULL;
    const char *prof = NULL;
    unsigned char given[32] = { 0 };
    bool quiet = false;
    static const struct option opts[] = {
        { "mnist", required_argument, 0, O_MNIST }, { "mnist-labels", required_argument, 0, O_LABELS },
        { "digits", required_argument, 0, O_DIGITS }, { "n", required_argument, 0, O_N },
        { "out", required_argument, 0, O_OUT }, { "prefix", required_argument, 0, O_PREFIX },
        { "seed", required_argument, 0, O_SEED }, { "quality", required_argument, 0, O_QUALITY },
        { "preset", required_argument, 0, O_PRESET }, { "canvas", required_argument, 0, O_CANVAS },
        { "count", required_argument, 0, O_COUNT }, { "size", required_argument, 0, O_SIZE },
        { "max-iou", required_argument, 0, O_MAXIOU }, { "empty", required_argument, 0, O_EMPTY },
        { "experts", required_argument, 0, O_EXPERTS }, { "proficiency", required_argument, 0, O_PROF },
        { "sigma", required_argument, 0, O_SIGMA }, { "zeta", required_argument, 0, O_ZETA },
        { "jitter", required_argument, 0, O_JITTER }, { "fp-rate", required_argument, 0, O_FP },
        { "matrices", required_argument, 0, O_MATRICES }, { "quiet", no_argument, 0, O_QUIET },
        { "first", required_argument, 0, O_FIRST },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    long a, b;
    double x, y;
    int c;
    argv[0] = (char *)TOOL;   // getopt's own messages then start with the tool's name
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c >= 256) given[c - 256] = 1;
        switch (c) {
        case O_MNIST: mnist = optarg; break;
        case O_LABELS: labels = optarg; break;
        case O_DIGITS:
            if (cli_parse_long_range(optarg, 0, 100000000, &a, &b) || a == b)
                cli_usage_error(TOOL, "--digits needs FROM:TO with FROM < TO, got '%s'", optarg);
            sp.canvas.from = (int)a; sp.canvas.to = (int)b;
            break;
        case O_N:
            if (cli_parse_long(optarg, 0, 100000000, &a)) cli_usage_error(TOOL, "--n needs a count >= 0, got '%s'", optarg);
            sp.n = (int)a;
            break;
        case O_FIRST:
            if (cli_parse_long(optarg, 0, 999999999, &a)) cli_usage_error(TOOL, "--first needs an index >= 0, got '%s'", optarg);
            sp.first = a;
            break;
        case O_OUT: sp.out = optarg; break;
        case O_PREFIX:
            if (!*optarg || strchr(optarg, '/')) cli_usage_error(TOOL, "--prefix must be non-empty and have no '/'");
            sp.prefix = optarg;
            break;
        case O_SEED: if (cli_parse_u64(optarg, &sp.seed)) cli_usage_error(TOOL, "--seed needs an integer >= 0, got '%s'", optarg); break;
        case O_QUALITY:
            if (cli_parse_long(optarg, 1, 100, &a)) cli_usage_error(TOOL, "--quality needs 1..100, got '%s'", optarg);
            sp.quality = (int)a;
            break;
        case O_PRESET: preset = optarg; break;
        case O_CANVAS:
            if (cli_parse_long(optarg, 8, 8192, &a)) cli_usage_error(TOOL, "--canvas needs 8..8192, got '%s'", optarg);
            sp.canvas.width = sp.canvas.height = (int)a;
            break;
        case O_COUNT:
            if (cli_parse_long_range(optarg, 0, 1000, &a, &b)) cli_usage_error(TOOL, "--count needs MIN:MAX in 0..1000, got '%s'", optarg);
            sp.canvas.count_min = (int)a; sp.canvas.count_max = (int)b;
            break;
        case O_SIZE:
            if (cli_parse_long_range(optarg, 2, 8192, &a, &b)) cli_usage_error(TOOL, "--size needs MIN:MAX in 2..8192, got '%s'", optarg);
            sp.canvas.size_min = (int)a; sp.canvas.size_max = (int)b;
            break;
        case O_MAXIOU: if (cli_parse_double(optarg, 0, 1, &sp.canvas.max_iou)) cli_usage_error(TOOL, "--max-iou needs a number in [0,1], got '%s'", optarg); break;
        case O_EMPTY: if (cli_parse_double(optarg, 0, 1, &sp.canvas.empty)) cli_usage_error(TOOL, "--empty needs a number in [0,1], got '%s'", optarg); break;
        case O_EXPERTS:
            if (cli_parse_long(optarg, 1, SIM_MAX_EXPERTS, &a)) cli_usage_error(TOOL, "--experts needs 1..%d, got '%s'", SIM_MAX_EXPERTS, optarg);
            sp.n_experts = (int)a;
            break;
        case O_PROF: prof = optarg; break;
        case O_SIGMA: if (cli_parse_double(optarg, 0, 100, &x)) cli_usage_error(TOOL, "--sigma needs a number >= 0, got '%s'", optarg); sp.sigma = x; break;
        case O_ZETA: if (cli_parse_double(optarg, 0, 1, &x)) cli_usage_error(TOOL, "--zeta needs a number in [0,1], got '%s'", optarg); sp.zeta = x; break;
        case O_JITTER: if (cli_parse_double(optarg, 0, 10, &x)) cli_usage_error(TOOL, "--jitter needs a number in [0,10], got '%s'", optarg); sp.jitter = x; break;
        case O_FP: if (cli_parse_double(optarg, 0, 50, &y)) cli_usage_error(TOOL, "--fp-rate needs a number in [0,50], got '%s'", optarg); sp.fp_rate = y; break;
        case O_MATRICES: sp.matrices = optarg; break;
        case O_QUIET: quiet = true; break;
        case 'h': usage(); return 0;
        default: fprintf(stderr, "Try '%s --help'.\n", TOOL); return EXIT_USAGE;
        }
    }
    if (optind < argc) cli_usage_error(TOOL, "unexpected argument '%s'", argv[optind]);
    if (!sp.out) cli_usage_error(TOOL, "--out DIR is required");
    apply_preset(&sp, preset, given);
    if (prof) {
        double p[SIM_MAX_EXPERTS];
        int k = cli_parse_double_list(prof, 1e-9, 1, p, SIM_MAX_EXPERTS);
        if (k < 0) cli_usage_error(TOOL, "--proficiency needs numbers in (0,1], got '%s'", prof);
        if (k != 1 && k != sp.n_experts)
            cli_usage_error(TOOL, "--proficiency gives %d values for %d experts", k, sp.n_experts);
        for (int i = 0; i < sp.n_experts; i++) sp.proficiency[i] = p[k == 1 ? 0 : i];
    }
    if (sp.canvas.size_max > sp.canvas.width)
        cli_usage_error(TOOL, "--size %d:%d does not fit a %d px canvas", sp.canvas.size_min, sp.canvas.size_max, sp.canvas.width);

    char err[1024];
    Digits d;
    char *derived = NULL;
    if (!labels) {
        derived = idx_labels_path_for(mnist);
        if (!derived)
            cli_usage_error(TOOL, "cannot derive the labels file from '%s'; give --mnist-labels", mnist);
        labels = derived;
    }
    if (idx_read_digits(mnist, labels, &d, err, sizeof err) != 0) {
        if (access(mnist, F_OK) != 0 && strcmp(mnist, "data/mnist/images-idx3-ubyte") == 0)
            cli_die(TOOL, EXIT_DATA, "%s (run 'make data' to fetch the MNIST digits)", err);
        cli_die(TOOL, EXIT_DATA, "%s", err);
    }
    if (sp.canvas.to == 0) sp.canvas.to = d.n;
    if (sp.canvas.to > d.n)
        cli_usage_error(TOOL, "--digits %d:%d reaches past the %d digits of %s", sp.canvas.from, sp.canvas.to, d.n, mnist);
    if (make_dirs(sp.out, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
    if (access(sp.out, W_OK) != 0) cli_die(TOOL, EXIT_DATA, "cannot write into %s: permission denied", sp.out);

    Progress pr;
    progress_start(&pr, TOOL, "images", sp.n, quiet);
    SimSummary sum;
    int rc = simulate_run(&sp, &d, stdout, &pr, &sum, err, sizeof err);
    progress_end(&pr);
    if (rc != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
    if (!quiet)
        fprintf(stderr, "%s: %d images (%d empty), %ld digits, %ld annotations by %d experts, in %.1f s -> %s\n",
                TOOL, sp.n, sum.empty, sum.digits, sum.annotations, sp.n_experts, cli_now() - pr.t0, sp.out);
    idx_free_digits(&d);
    free(derived);
    return 0;
}
