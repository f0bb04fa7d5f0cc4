#include "team.h"

#include <stdlib.h>

enum { FIRST_PERIOD = 16, LAST_PERIOD = 64, WARMUP_STEPS = 2 };

void team_tuner_init(TeamTuner *tu, int shares) {
    *tu = (TeamTuner){ .shares = shares > 0 ? shares : 1, .probe = -1, .period = FIRST_PERIOD };
    for (int k = tu->shares; k >= 1 && tu->n_cand < TEAM_MAX_CANDIDATES; k--)
        if (tu->shares % k == 0) tu->cand[tu->n_cand++] = k;
    tu->next_probe = tu->n_cand > 1 ? 1 : 0;
    tu->until_probe = WARMUP_STEPS + tu->period;
    const char *env = getenv("MAD_CPU_TEAM");
    if (env) {
        int k = atoi(env);
        if (k >= 1 && k <= tu->shares && tu->shares % k == 0) tu->fixed = k;
    }
}

int team_tuner_next(TeamTuner *tu) {
    if (tu->fixed) return tu->fixed;
    tu->probe = tu->n_cand > 1 && tu->until_probe <= 0 ? tu->next_probe : -1;
    return tu->cand[tu->probe >= 0 ? tu->probe : tu->cur];
}

// The candidate after k that is not the current one (cycling), so that each is probed in turn.
static int following_candidate(const TeamTuner *tu, int k) {
    for (int i = 1; i <= tu->n_cand; i++) {
        int c = (k + i) % tu->n_cand;
        if (c != tu->cur) return c;
    }
    return k;
}

void team_tuner_record(TeamTuner *tu, double seconds) {
    if (tu->fixed || tu->n_cand < 2 || !(seconds > 0)) return;
    if (tu->probe < 0) {
        tu->until_probe--;
        if (tu->until_probe >= tu->period) return;   // warm-up steps are not timed
        double *s = &tu->sec[tu->cur];
        *s = *s > 0 ? 0.8 * *s + 0.2 * seconds : seconds;
        return;
    }
    int p = tu->probe;
    tu->sec[p] = seconds;
    tu->probe = -1;
    if (tu->sec[tu->cur] > 0 && tu->sec[p] < 0.95 * tu->sec[tu->cur]) {
        tu->cur = p;                              // clearly faster: switch, and look again soon
        tu->period = FIRST_PERIOD;
    } else if (tu->period < LAST_PERIOD) {
        tu->period *= 2;                          // the current size holds: probe less often
    }
    tu->next_probe = following_candidate(tu, p);
    tu->until_probe = tu->period;
}
