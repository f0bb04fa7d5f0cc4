// split: reproducible train/val/test parts and cross-validation folds by a hash of "id",
// and the per-annotator view of a record set.
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fsutil.h"
#include "record.h"

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

typedef struct {
    char *text;        // the line to write (no newline)
    double u;          // hash position in [0,1)
    long stratum;
    int part;
} Item;

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

static int by_stratum_then_u(const void *a, const void *b) {
    const Item *x = *(Item *const *)a, *y = *(Item *const *)b;
    if (x->stratum != y->stratum) return x->stratum < y->stratum ? -1 : 1;
    if (x->u != y->u) return x->u < y->u ? -1 : 1;
    return 0;
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
    RecordReader rd;
    record_reader_init(&rd, stdin, REC_ID | (annotator ? REC_ANNOTATORS | REC_ANNOTATIONS : 0), BOX_LENIENT);
    Item *items = NULL;
    long n = 0, cap = 0, dropped = 0;
    json_t *ids = json_object(), *label_counts = json_object();
    json_t **label_sets = NULL;   // per item: its labels (for --stratify)
    char err[1024];
    for (;;) {
        Record rec;
        int rc = record_read(&rd, &rec, err, sizeof err);
        if (rc == 0) break;
        if (rc < 0) cli_die(TOOL, EXIT_DATA, "%s", err);
        long first = record_id_seen(ids, rec.id, strlen(rec.id), rec.line);
        if (first) cli_die(TOOL, EXIT_DATA, "line %ld: duplicate id \"%s\" (first on line %ld)", rec.line, rec.id, first);
        if (annotator && !annotator_view(&rec, annotator)) { dropped++; record_free(&rec); continue; }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            items = realloc(items, sizeof *items * (size_t)cap);
            label_sets = realloc(label_sets, sizeof *label_sets * (size_t)cap);
            if (!items || !label_sets) cli_die(TOOL, EXIT_DATA, "out of memory");
        }
        Item *it = &items[n];
        if (annotator) {
            it->text = json_dumps(rec.json, RECORD_DUMP_FLAGS);
        } else {
            size_t len = strlen(rd.buf);
            while (len && (rd.buf[len - 1] == '\n' || rd.buf[len - 1] == '\r')) len--;
            it->text = strndup(rd.buf, len);
        }
        if (!it->text) cli_die(TOOL, EXIT_DATA, "out of memory");
        it->u = id_position(rec.id, seed);
        it->stratum = -1;
        label_sets[n] = NULL;
        if (stratify) {
            json_t *set = json_object(), *arr = label_array(rec.json, label_field), *e;
            size_t i;
            json_array_foreach(arr, i, e) {
                const char *l = json_string_value(json_object_get(e, "label"));
                if (l && !json_object_get(set, l)) {
                    json_object_set_new(set, l, json_true());
                    json_t *cnt = json_object_get(label_counts, l);
                    json_object_set_new(label_counts, l, json_integer(cnt ? json_integer_value(cnt) + 1 : 1));
                }
            }
            label_sets[n] = set;
        }
        n++;
        record_free(&rec);
    }
    free(rd.buf);
    if (n == 0 && dropped == 0) cli_die(TOOL, EXIT_DATA, "no records on stdin");

    if (to_stdout) {
        for (long i = 0; i < n; i++) {
            fputs(items[i].text, stdout);
            fputc('\n', stdout);
            free(items[i].text);
            json_decref(label_sets[i]);
        }
        if (fflush(stdout) != 0) cli_die(TOOL, EXIT_DATA, "cannot write to stdout");
        if (!quiet) fprintf(stderr, "%s: %ld records in %s's view, %ld not read by %s\n", TOOL, n, annotator, dropped, annotator);
        free(items);
        free(label_sets);
        json_decref(ids);
        json_decref(label_counts);
        return 0;
    }

    if (stratify) {
        // Iterative stratification (after Sechidis et al., 2011): records are taken by the
        // rarity of their rarest label, then by hash; each goes to the part that still
        // wants that label most (then the part that wants most records), and counts
        // against that part's wants for every label it holds.
        size_t n_labels = json_object_size(label_counts);
        json_t *label_index = json_object();
        double *want = calloc((size_t)n_parts * (n_labels ? n_labels : 1), sizeof *want), want_total[64];
        const char *l;
        json_t *cnt;
        size_t li = 0;
        json_object_foreach(label_counts, l, cnt) {
            json_object_set_new(label_index, l, json_integer((json_int_t)li));
            for (int k = 0; k < n_parts; k++) want[(size_t)k * n_labels + li] = ratios[k] * (double)json_integer_value(cnt);
            li++;
        }
        for (int k = 0; k < n_parts; k++) want_total[k] = ratios[k] * (double)n;
        for (long i = 0; i < n; i++) {
            long rarest = -1;
            json_t *unused;
            json_object_foreach(label_sets[i], l, unused) {
                long c2 = (long)json_integer_value(json_object_get(label_counts, l));
                if (rarest < 0 || c2 < rarest) { rarest = c2; items[i].stratum = (int)json_integer_value(json_object_get(label_index, l)); }
            }
            if (rarest < 0) items[i].stratum = (int)n_labels;   // records without labels come last
        }
        Item **order = malloc(sizeof *order * (size_t)(n ? n : 1));
        for (long i = 0; i < n; i++) order[i] = &items[i];
        // rarer stratum first: sort strata by their label's count via a rank table
        long *rank = calloc(n_labels + 1, sizeof *rank);
        li = 0;
        json_object_foreach(label_counts, l, cnt) rank[li++] = (long)json_integer_value(cnt);
        rank[n_labels] = n + 1;
        for (long i = 0; i < n; i++) items[i].stratum = rank[items[i].stratum] * (long)(n_labels + 1) + items[i].stratum;
        if (n > 1) qsort(order, (size_t)n, sizeof *order, by_stratum_then_u);
        for (long r = 0; r < n; r++) {
            Item *it = order[r];
            long label = it->stratum % (long)(n_labels + 1);
            int best = 0;
            for (int k = 1; k < n_parts; k++) {
                double wk = label < (long)n_labels ? want[(size_t)k * n_labels + label] : 0;
                double wb = label < (long)n_labels ? want[(size_t)best * n_labels + label] : 0;
                if (wk > wb || (wk == wb && want_total[k] > want_total[best])) best = k;
            }
            it->part = best;
            want_total[best] -= 1;
            json_t *unused;
            json_object_foreach(label_sets[it - items], l, unused)
                want[(size_t)best * n_labels + (size_t)json_integer_value(json_object_get(label_index, l))] -= 1;
        }
        for (long i = 0; i < n; i++) json_decref(label_sets[i]);
        free(order);
        free(rank);
        free(want);
        json_decref(label_index);
    } else {
        for (long i = 0; i < n; i++) items[i].part = part_of(items[i].u, cum, n_parts);
    }
    free(label_sets);

    // All parts go to temporary files first; they replace the old parts as one set, only when
    // every one is written (see atomic_commit_set).
    if (prefix[strlen(prefix) - 1] == '/' && make_dirs(prefix, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
    AtomicFile *files = calloc((size_t)n_parts, sizeof *files);
    long counts[64] = { 0 };
    for (int k = 0; k < n_parts; k++) {
        size_t len = strlen(prefix) + strlen(names[k]) + 8;
        char *path = malloc(len);
        snprintf(path, len, "%s%s.jsonl", prefix, names[k]);
        remove_stale_temps(path);   // what a killed run left
        if (atomic_open(&files[k], path, err, sizeof err) != 0) {
            for (int j = 0; j < k; j++) atomic_abort(&files[j]);
            cli_die(TOOL, EXIT_DATA, "%s", err);
        }
        free(path);
    }
    for (long i = 0; i < n; i++) {
        fputs(items[i].text, files[items[i].part].fp);
        fputc('\n', files[items[i].part].fp);
        counts[items[i].part]++;
        free(items[i].text);
    }
    for (int k = 0; k < n_parts; k++)
        if (ferror(files[k].fp)) {
            for (int j = 0; j < n_parts; j++) atomic_abort(&files[j]);
            cli_die(TOOL, EXIT_DATA, "cannot write %s%s.jsonl", prefix, names[k]);
        }
    if (atomic_commit_set(files, n_parts, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
    if (!quiet) {
        fprintf(stderr, "%s: %ld records ->", TOOL, n);
        for (int k = 0; k < n_parts; k++) fprintf(stderr, " %s %ld", names[k], counts[k]);
        if (annotator) fprintf(stderr, " (%s's view; %ld records not read by %s)", annotator, dropped, annotator);
        fputc('\n', stderr);
    }
    for (int k = 0; k < n_parts; k++) free(names[k]);
    free(files);
    free(items);
    json_decref(ids);
    json_decref(label_counts);
    return 0;
}
