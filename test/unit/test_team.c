// The team tuner against simulated machines: it finds the faster team size, follows a
// change of load, probes rarely once settled, and obeys MAD_CPU_TEAM.
#include <stdlib.h>

#include "check.h"
#include "team.h"

// Runs n steps on a machine whose step time at team size k is sec[k]; counts the steps run
// at each size into used[].
static void run(TeamTuner *tu, const double *sec, int n, long *used) {
    for (int s = 0; s < n; s++) {
        int k = team_tuner_next(tu);
        used[k]++;
        team_tuner_record(tu, sec[k]);
    }
}

int main(void) {
    unsetenv("MAD_CPU_TEAM");
    TeamTuner tu;
    team_tuner_init(&tu, 6);
    CHECK(tu.n_cand == 4 && tu.cand[0] == 6 && tu.cand[1] == 3 && tu.cand[2] == 2 && tu.cand[3] == 1);

    // alone: 2 threads at 0.11 s a step, 1 thread at 0.15 s
    team_tuner_init(&tu, 2);
    double solo[3] = { 0, 0.15, 0.11 };
    long used[3] = { 0 };
    run(&tu, solo, 1000, used);
    CHECK(team_tuner_next(&tu) == 2);
    CHECK(used[1] <= 1000 / 64 + 4);   // the probes: about one step in 64 once settled
    // another process takes a core: 2 threads now 0.38 s (waiting at barriers), 1 thread 0.16 s
    double busy[3] = { 0, 0.16, 0.38 };
    long u2[3] = { 0 };
    run(&tu, busy, 200, u2);
    CHECK(team_tuner_next(&tu) == 1);
    CHECK(u2[2] <= 64 + 4);            // found within one probe period
    // and back when it ends
    long u3[3] = { 0 };
    run(&tu, solo, 200, u3);
    CHECK(team_tuner_next(&tu) == 2);
    CHECK(u3[1] <= 64 + 4);
    // noise below 5% does not make it switch
    team_tuner_init(&tu, 2);
    double close[3] = { 0, 0.106, 0.11 };
    long u4[3] = { 0 };
    run(&tu, close, 500, u4);
    CHECK(team_tuner_next(&tu) == 2);

    // forced by the environment: a divisor of the shares, else ignored
    setenv("MAD_CPU_TEAM", "1", 1);
    team_tuner_init(&tu, 2);
    long u5[3] = { 0 };
    run(&tu, solo, 100, u5);
    CHECK(u5[1] == 100);
    setenv("MAD_CPU_TEAM", "3", 1);
    team_tuner_init(&tu, 4);
    CHECK(tu.fixed == 0 && team_tuner_next(&tu) == 4);
    unsetenv("MAD_CPU_TEAM");
    return check_report("team");
}
