// devices: says which compute device the GPU-capable tools (train, predict) will use.
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "device.h"

static const char *TOOL = "devices";

static void usage(void) {
    printf(
        "Usage: devices [--require]\n"
        "\n"
        "Prints one line: the GPU that train and predict will use, or why they will run on\n"
        "the CPU (no GPU, no driver, or a CPU-only build).\n"
        "\n"
        "  --require    exit 1 when no GPU is usable\n"
        "  -h, --help   show this help\n");
}

int main(int argc, char **argv) {
    int require = 0, c;
    static const struct option opts[] = {
        { "require", no_argument, 0, 'r' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    argv[0] = (char *)TOOL;   // getopt's own messages then start with the tool's name
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': require = 1; break;
        case 'h': usage(); return 0;
        default: fprintf(stderr, "Try '%s --help'.\n", TOOL); return EXIT_USAGE;
        }
    }
    if (optind < argc) cli_usage_error(TOOL, "unexpected argument '%s'", argv[optind]);
    char desc[256];
    int n = gpu_probe(desc, sizeof desc);
    if (n > 0) printf("gpu: %s\n", desc);
    else printf("cpu: %s; using the CPU\n", desc);
    return (require && n == 0) ? EXIT_DATA : 0;
}
