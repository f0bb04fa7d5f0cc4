// The team of threads that runs the CPU network's parallel regions, sized by measuring.
//
// A batch is always split into Net.threads shares (images b0..b1 of share t), and the
// weight gradients and batch-norm sums are added share by share, so the results are the
// same bit for bit whatever team runs the shares: a team of k threads runs shares t, t+k,
// t+2k, ... on thread t. Only the speed differs. Alone on the machine, one thread per share
// is fastest. When another process holds a core, a full team waits at every barrier for
// the thread that lost its core (measured: 30% of the solo speed), and a smaller team
// does better.
//
// TeamTuner picks the size: it keeps the fastest of the candidates (the divisors of the
// share count, so that every thread runs as many shares), timing every step at the
// current size and now and then one step at each other size. It probes every 16 steps at
// first, and backs off to every 256 while the current size stays the fastest.
#ifndef MAD_TEAM_H
#define MAD_TEAM_H

#define TEAM_MAX_CANDIDATES 16

typedef struct {
    int shares;                          // Net.threads
    int n_cand;
    int cand[TEAM_MAX_CANDIDATES];       // team sizes, largest first
    double sec[TEAM_MAX_CANDIDATES];     // smoothed seconds per step at each (0: not timed)
    int cur;                             // index of the size in use
    int probe;                           // index being probed this step, or -1
    int next_probe;                      // the candidate the next probe times
    long until_probe;                    // steps left before the next probe
    long period;                         // steps between probes
    int fixed;                           // a size forced by MAD_CPU_TEAM (0: none)
} TeamTuner;

// Starts with one thread per share. MAD_CPU_TEAM=k in the environment (a divisor of
// shares) fixes the team at k, for tests and measurements.
void team_tuner_init(TeamTuner *tu, int shares);
// The team size for the next step.
int team_tuner_next(TeamTuner *tu);
// That step took `seconds`.
void team_tuner_record(TeamTuner *tu, double seconds);

#endif
