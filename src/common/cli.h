// Command-line helpers shared by the tools: errors with the right exit codes, number and
// list parsing for getopt_long arguments, and progress on stderr.
//
// Exit codes: 0 success, 1 data error, 2 usage error.
#ifndef MAD_CLI_H
#define MAD_CLI_H

#include <stdbool.h>
#include <stdint.h>

enum { EXIT_DATA = 1, EXIT_USAGE = 2 };

// Prints "tool: message" on stderr and exits with code.
_Noreturn void cli_die(const char *tool, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
// Prints "tool: message" on stderr.
void cli_warn(const char *tool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// A usage error: "tool: message" and "Try 'tool --help'.", exit 2.
_Noreturn void cli_usage_error(const char *tool, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

// Parsers return 0 on success, -1 when the text is not a number in [lo, hi].
int cli_parse_long(const char *s, long lo, long hi, long *out);
int cli_parse_u64(const char *s, uint64_t *out);
int cli_parse_double(const char *s, double lo, double hi, double *out);
// "A:B" (or "A", meaning A:A) with lo <= A <= B <= hi.
int cli_parse_long_range(const char *s, long lo, long hi, long *a, long *b);
int cli_parse_double_range(const char *s, double lo, double hi, double *a, double *b);
// Comma list of up to max numbers in [lo, hi]; returns the count, or -1.
int cli_parse_double_list(const char *s, double lo, double hi, double *out, int max);

// Progress on stderr: a self-updating line when stderr is a terminal, nothing otherwise.
typedef struct {
    const char *tool;
    const char *unit;
    long total;
    bool live;        // stderr is a terminal and not --quiet
    double t0;        // start, seconds
    double last;      // last redraw, seconds
} Progress;

double cli_now(void);   // monotonic seconds
void progress_start(Progress *p, const char *tool, const char *unit, long total, bool quiet);
void progress_update(Progress *p, long done);
// Clears the live line; the tool prints its own one-line summary after it.
void progress_end(Progress *p);

#endif
