// ingest: turns datasets into records (one JSON line per image).
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ingest.h"

static void usage(void) {
    printf(
        "Usage: ingest vindr --csv FILE --images DIR [options] > records.jsonl\n"
        "       ingest coco FILE.json [options] > records.jsonl\n"
        "\n"
        "  vindr   the VinDr-CXR / VinBigData CSV: one row per box and radiologist\n"
        "  coco    COCO detection JSON (annotators from attributes.annotator or annotator_id)\n"
        "\n"
        "'ingest vindr --help' and 'ingest coco --help' describe each.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage();
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "vindr") == 0) return ingest_vindr(argc - 1, argv + 1);
    if (strcmp(argv[1], "coco") == 0) return ingest_coco(argc - 1, argv + 1);
    cli_usage_error("ingest", "unknown format '%s' (vindr, coco)", argv[1]);
}
