// split: reproducible train/val/test parts and cross-validation folds by a hash of "id",
// and the per-annotator view of a record set.
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fsutil.h"
#include "record.h"
#include "stratify.h"

static const char *TOOL = "split";

static void usage(void) {
    printf(
        "Usage: split --ratios R1,R2,... [--names N1,N2,...] --prefix OUT/ [options] < records.jsonl\n"
        "       split --folds K [--names ...] --prefix OUT/ [options] < records.jsonl\n"
        "       split --annotator NAME < records.jsonl > view.jsonl\n"
        "\n"
        "Writes every record to exactly one part, PREFIX<name>.jsonl, in input order. A record's\n"
        "part depends only on its \"id\" and the seed (a 64-bit hash mapped to [0,1)), so adding\n"
        "records never moves the ones already there.\n"
        "\n"
        "  --ratios LIST      part sizes, summing to 1 [with 3 parts: names train,val,test]\n"
        "  --folds K          K cross-validation folds instead (names fold0..foldK-1)\n"
        "  --names LIST       part names, one per ratio or fold\n"
        "  --prefix P         output path prefix; a trailing '/' makes it a folder (created)\n"
        "  --seed S           hash seed [0]\n"
        "  --stratify         balance the labels across parts (iterative stratification); a\n"
        "                     record's part then also depends on the other records\n"
        "  --label-field F    labels for --stratify [the first of truth, objects, annotations]\n"
        "  --annotator NAME   keep only NAME's annotations and set \"annotators\" to [NAME];\n"
        "                     records NAME did not read are left out. Without --ratios or\n"
        "                     --folds the view goes to stdout.\n"
        "  --quiet            no summary line\n"
        "  -h, --help         show this help\n");
}

// The records read, in input order, as parallel arrays.
typedef struct {
    long n, cap;
    char **text;           // the line to write (no newline)
    double *u;             // hash position in [0,1)
    int *part;             // the part it goes to
    // --stratify: record i's label ids are labels[label_start[i] .. label_start[i+1]-1]
    size_t *label_start, *labels, n_listed, cap_listed;
    json_t *label_ids;     // label string -> id, numbered in order of first appearance
} RecordSet;

// FNV-1a over the id, seeded, then the splitmix64 finaliser; the top 53 bits as [0,1).
static double id_position(const char *id, uint64_t seed) {
    uint64_t h = 1469598103934665603ULL ^ (seed * 0x9e3779b97f4a7c15ULL);
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    h ^= h >> 30; h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27; h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

static int part_of(double u, const double *cum, int n) {
    for (int k = 0; k < n - 1; k++)
        if (u < cum[k]) return k;
    return n - 1;
}

// The labels of a record for --stratify.
static json_t *label_array(json_t *rec, const char *field) {
    if (field) return json_object_get(rec, field);
    static const char *fields[] = { "truth", "objects", "annotations" };
    for (int i = 0; i < 3; i++) {
        json_t *a = json_object_get(rec, fields[i]);
        if (json_is_array(a)) return a;
    }
    return NULL;
}

// The per-annotator view: NAME's annotations only, "annotators": [NAME]. Returns 0 when
// NAME did not read the record.
static int annotator_view(Record *rec, const char *name) {
    int found = 0;
    for (int t = 0; t < rec->n_annotators; t++) found |= strcmp(rec->annotators[t], name) == 0;
    if (!found) return 0;
    json_t *keep = json_array(), *all = json_object_get(rec->json, "annotations");
    size_t i;
    json_t *a;
    json_array_foreach(all, i, a)
        if (strcmp(json_string_value(json_object_get(a, "annotator")), name) == 0) json_array_append(keep, a);
    json_object_set_new(rec->json, "annotations", keep);
    json_object_set_new(rec->json, "annotators", json_pack("[s]", name));
    return 1;
}

// Makes room for one more record (and its row of labels).
static void grow_records(RecordSet *s) {
    if (s->n < s->cap) return;
    s->cap = s->cap ? s->cap * 2 : 1024;
    s->text = realloc(s->text, sizeof *s->text * (size_t)s->cap);
    s->u = realloc(s->u, sizeof *s->u * (size_t)s->cap);
    s->part = realloc(s->part, sizeof *s->part * (size_t)s->cap);
    s->label_start = realloc(s->label_start, sizeof *s->label_start * (size_t)(s->cap + 1));
    if (!s->text || !s->u || !s->part || !s->label_start) cli_die(TOOL, EXIT_DATA, "out of memory");
    if (s->n == 0) s->label_start[0] = 0;
}

// Appends the row of the record being read (record s->n) for --stratify: the ids of the
// "label" strings of its label array, in order; a label seen for the first time takes the
// next id, so equally rare labels rank by first appearance in the input.
static void append_label_row(RecordSet *s, json_t *rec, const char *field) {
    json_t *arr = label_array(rec, field), *e;
    size_t i;
    json_array_foreach(arr, i, e) {
        const char *l = json_string_value(json_object_get(e, "label"));
        if (!l) continue;
        json_t *id = json_object_get(s->label_ids, l);
        if (!id) {
            id = json_integer((json_int_t)json_object_size(s->label_ids));
            if (!id || json_object_set_new(s->label_ids, l, id) != 0) cli_die(TOOL, EXIT_DATA, "out of memory");
        }
        if (s->n_listed == s->cap_listed) {
            s->cap_listed = s->cap_listed ? s->cap_listed * 2 : 4096;
            s->labels = realloc(s->labels, sizeof *s->labels * s->cap_listed);
            if (!s->labels) cli_die(TOOL, EXIT_DATA, "out of memory");
        }
        s->labels[s->n_listed++] = (size_t)json_integer_value(id);
    }
    s->label_start[s->n + 1] = s->n_listed;
}

// Reads the records of stdin into s, in input order: each one's line to write (NAME's
// view of it with --annotator), its hash position and, for --stratify, its row of label
// ids. Stops the tool on a bad record or a repeated id. Returns how many records
// --annotator left out.
static long read_records(RecordSet *s, const char *annotator, uint64_t seed, int stratify, const char *label_field) {
    RecordReader rd;
    record_reader_init(&rd, stdin, REC_ID | (annotator ? REC_ANNOTATORS | REC_ANNOTATIONS : 0), BOX_LENIENT);
    long dropped = 0;
    json_t *ids = json_object();   // id -> its line, for record_id_seen
    s->label_ids = json_object();
    char err[1024];
    for (;;) {
        Record rec;
        int rc = record_read_unique(&rd, ids, &rec, err, sizeof err);
        if (rc == 0) break;
        if (rc < 0) cli_die(TOOL, EXIT_DATA, "%s", err);
        if (annotator && !annotator_view(&rec, annotator)) { dropped++; record_free(&rec); continue; }
        grow_records(s);
        char *text;
        if (annotator) {
            text = json_dumps(rec.json, RECORD_DUMP_FLAGS);
        } else {
            size_t len = strlen(rd.buf);
            while (len && (rd.buf[len - 1] == '\n' || rd.buf[len - 1] == '\r')) len--;
            text = strndup(rd.buf, len);
        }
        if (!text) cli_die(TOOL, EXIT_DATA, "out of memory");
        s->text[s->n] = text;
        s->u[s->n] = id_position(rec.id, seed);
        if (stratify) append_label_row(s, rec.json, label_field);
        s->n++;
        record_free(&rec);
    }
    free(rd.buf);
    json_decref(ids);
    return dropped;
}

// Writes each record to PREFIX<name of its part>.jsonl, in input order, and the summary
// line. All parts go to temporary files first; they replace the old parts as one set, only
// when every one is written (see atomic_commit_set).
static void write_parts(const RecordSet *s, const char *prefix, char *const *names, int n_parts, int quiet,
                        const char *annotator, long dropped) {
    char err[1024];
    if (prefix[strlen(prefix) - 1] == '/' && make_dirs(prefix, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
    AtomicFile *files = calloc((size_t)n_parts, sizeof *files);
    if (!files) cli_die(TOOL, EXIT_DATA, "out of memory");
    long counts[64] = { 0 };
    for (int k = 0; k < n_parts; k++) {
        size_t len = strlen(prefix) + strlen(names[k]) + 8;
        char *path = malloc(len);
        if (!path) cli_die(TOOL, EXIT_DATA, "out of memory");
        snprintf(path, len, "%s%s.jsonl", prefix, names[k]);
        remove_stale_temps(path);   // what a killed run left
        if (atomic_open(&files[k], path, err, sizeof err) != 0) {
            for (int j = 0; j < k; j++) atomic_abort(&files[j]);
            cli_die(TOOL, EXIT_DATA, "%s", err);
        }
        free(path);
    }
    for (long i = 0; i < s->n; i++) {
        fputs(s->text[i], files[s->part[i]].fp);
        fputc('\n', files[s->part[i]].fp);
        counts[s->part[i]]++;
        free(s->text[i]);
    }
    for (int k = 0; k < n_parts; k++)
        if (ferror(files[k].fp)) {
            for (int j = 0; j < n_parts; j++) atomic_abort(&files[j]);
            cli_die(TOOL, EXIT_DATA, "cannot write %s%s.jsonl", prefix, names[k]);
        }
    if (atomic_commit_set(files, n_parts, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
    if (!quiet) {
        fprintf(stderr, "%s: %ld records ->", TOOL, s->n);
        for (int k = 0; k < n_parts; k++) fprintf(stderr, " %s %ld", names[k], counts[k]);
        if (annotator) fprintf(stderr, " (%s's view; %ld records not read by %s)", annotator, dropped, annotator);
        fputc('\n', stderr);
    }
    free(files);
}

int main(int argc, char **argv) {
    double ratios[64], cum[64];
    int n_parts = 0, folds = 0, stratify = 0, quiet = 0;
    char *names[64] = { 0 };
    int n_names = 0;
    const char *prefix = NULL, *annotator = NULL, *label_field = NULL;
    uint64_t seed = 0;
    enum { O_RATIOS = 256, O_FOLDS, O_NAMES, O_PREFIX, O_SEED, O_STRAT, O_LABEL, O_ANN, O_QUIET };
    static const struct option opts[] = {
        { "ratios", required_argument, 0, O_RATIOS }, { "folds", required_argument, 0, O_FOLDS },
        { "names", required_argument, 0, O_NAMES }, { "prefix", required_argument, 0, O_PREFIX },
        { "seed", required_argument, 0, O_SEED }, { "stratify", no_argument, 0, O_STRAT },
        { "label-field", required_argument, 0, O_LABEL }, { "annotator", required_argument, 0, O_ANN },
        { "quiet", no_argument, 0, O_QUIET }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    int c;
    long v;
    char *names_arg = NULL;
    argv[0] = (char *)TOOL;   // getopt's own messages then start with the tool's name
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_RATIOS:
            n_parts = cli_parse_double_list(optarg, 0, 1, ratios, 64);
            if (n_parts < 1) cli_usage_error(TOOL, "--ratios needs numbers in [0,1], got '%s'", optarg);
            break;
        case O_FOLDS:
            if (cli_parse_long(optarg, 2, 64, &v)) cli_usage_error(TOOL, "--folds needs 2..64, got '%s'", optarg);
            folds = (int)v;
            break;
        case O_NAMES: names_arg = optarg; break;
        case O_PREFIX: prefix = optarg; break;
        case O_SEED: if (cli_parse_u64(optarg, &seed)) cli_usage_error(TOOL, "--seed needs an integer >= 0, got '%s'", optarg); break;
        case O_STRAT: stratify = 1; break;
        case O_LABEL: label_field = optarg; break;
        case O_ANN: annotator = optarg; break;
        case O_QUIET: quiet = 1; break;
        case 'h': usage(); return 0;
        default: fprintf(stderr, "Try '%s --help'.\n", TOOL); return EXIT_USAGE;
        }
    }
    if (optind < argc) cli_usage_error(TOOL, "unexpected argument '%s' (records come on stdin)", argv[optind]);
    if (n_parts && folds) cli_usage_error(TOOL, "give --ratios or --folds, not both");
    if (folds) {
        n_parts = folds;
        for (int k = 0; k < folds; k++) ratios[k] = 1.0 / folds;
    }
    int to_stdout = n_parts == 0;
    if (to_stdout && !annotator) cli_usage_error(TOOL, "--ratios, --folds or --annotator is required");
    if (!to_stdout) {
        double sum = 0;
        for (int k = 0; k < n_parts; k++) sum += ratios[k];
        if (fabs(sum - 1.0) > 1e-9) cli_usage_error(TOOL, "--ratios must sum to 1, they sum to %g", sum);
        if (!prefix) cli_usage_error(TOOL, "--prefix is required");
        double acc = 0;
        for (int k = 0; k < n_parts; k++) { acc += ratios[k]; cum[k] = acc; }
        if (names_arg) {
            char *copy = strdup(names_arg), *save = NULL;
            for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (n_names == 64) cli_usage_error(TOOL, "--names: too many names");
                for (int j = 0; j < n_names; j++)
                    if (strcmp(names[j], tok) == 0) cli_usage_error(TOOL, "--names: '%s' is given twice", tok);
                if (strchr(tok, '/')) cli_usage_error(TOOL, "--names: '%s' contains '/'", tok);
                names[n_names++] = strdup(tok);
            }
            free(copy);
            if (n_names != n_parts) cli_usage_error(TOOL, "--names gives %d names for %d parts", n_names, n_parts);
        } else if (folds) {
            for (int k = 0; k < folds; k++) { char b[16]; snprintf(b, sizeof b, "fold%d", k); names[k] = strdup(b); }
        } else if (n_parts == 3) {
            names[0] = strdup("train"); names[1] = strdup("val"); names[2] = strdup("test");
        } else {
            cli_usage_error(TOOL, "--names is required with %d parts", n_parts);
        }
    }

    // Read everything: parts are written only once all records are known to be good.
    RecordSet s = { 0 };
    long dropped = read_records(&s, annotator, seed, stratify, label_field);
    long n = s.n;
    if (n == 0 && dropped == 0) cli_die(TOOL, EXIT_DATA, "no records on stdin");

    if (to_stdout) {
        for (long i = 0; i < n; i++) {
            fputs(s.text[i], stdout);
            fputc('\n', stdout);
            free(s.text[i]);
        }
        if (fflush(stdout) != 0) cli_die(TOOL, EXIT_DATA, "cannot write to stdout");
        if (!quiet) fprintf(stderr, "%s: %ld records in %s's view, %ld not read by %s\n", TOOL, n, annotator, dropped, annotator);
    } else {
        if (stratify) {
            // the label ids are valid by construction: the only failure is memory
            if (stratify_assign((size_t)n, s.label_start, s.labels, json_object_size(s.label_ids), ratios, n_parts, s.u, s.part) != 0)
                cli_die(TOOL, EXIT_DATA, "out of memory");
        } else {
            for (long i = 0; i < n; i++) s.part[i] = part_of(s.u[i], cum, n_parts);
        }
        write_parts(&s, prefix, names, n_parts, quiet, annotator, dropped);
    }
    free(s.text);
    free(s.u);
    free(s.part);
    free(s.label_start);
    free(s.labels);
    json_decref(s.label_ids);
    for (int k = 0; k < n_parts; k++) free(names[k]);
    return 0;
}
