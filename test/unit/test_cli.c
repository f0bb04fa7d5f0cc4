// Option parsers.
#include "check.h"
#include "cli.h"

int main(void) {
    long a, b;
    double x, y, list[4];
    uint64_t u;
    CHECK(cli_parse_long("42", 0, 100, &a) == 0 && a == 42);
    CHECK(cli_parse_long("101", 0, 100, &a) == -1);
    CHECK(cli_parse_long("4x", 0, 100, &a) == -1);
    CHECK(cli_parse_long("", 0, 100, &a) == -1);
    CHECK(cli_parse_u64("18446744073709551615", &u) == 0 && u == UINT64_MAX);
    CHECK(cli_parse_u64("-1", &u) == -1);
    CHECK(cli_parse_double("0.25", 0, 1, &x) == 0 && x == 0.25);
    CHECK(cli_parse_double("nan", 0, 1, &x) == -1);
    CHECK(cli_parse_double("inf", 0, 1e300, &x) == -1);
    CHECK(cli_parse_double("1.5", 0, 1, &x) == -1);
    CHECK(cli_parse_long_range("3:9", 0, 10, &a, &b) == 0 && a == 3 && b == 9);
    CHECK(cli_parse_long_range("5", 0, 10, &a, &b) == 0 && a == 5 && b == 5);
    CHECK(cli_parse_long_range("9:3", 0, 10, &a, &b) == -1);
    CHECK(cli_parse_long_range("3:", 0, 10, &a, &b) == -1);
    CHECK(cli_parse_double_range("0.5:0.75", 0, 1, &x, &y) == 0 && x == 0.5 && y == 0.75);
    CHECK(cli_parse_double_list("0.8,0.7,0.9", 0, 1, list, 4) == 3 && list[1] == 0.7);
    CHECK(cli_parse_double_list("0.8", 0, 1, list, 4) == 1 && list[0] == 0.8);
    CHECK(cli_parse_double_list("0.8,,0.7", 0, 1, list, 4) == -1);
    CHECK(cli_parse_double_list("0.8,", 0, 1, list, 4) == -1);
    CHECK(cli_parse_double_list("1,1,1,1,1", 0, 1, list, 4) == -1);
    CHECK(cli_parse_double_list("0.8,2", 0, 1, list, 4) == -1);
    return check_report("cli");
}
