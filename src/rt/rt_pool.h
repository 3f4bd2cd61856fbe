/* The CPU thread pool: one worker per core, started on first use and reused by every launch.
 * Part of src/rt (runtime). Knows nothing of LLVM or kernels: it runs numbered chunks of work. */
#ifndef HELUA_RT_POOL_H
#define HELUA_RT_POOL_H

#include <stdbool.h>

#include "base/diag.h"

typedef void (*RtTask)(void *ctx, int chunk);

/* Cores this process may run on (its CPU affinity). */
int rt_pool_cores(void);
/* Runs task(ctx, c) for c = 0..nchunks-1 on at most `threads` threads and returns when all are
 * done. With caller_helps the calling thread is one of them; otherwise only pool workers run
 * chunks (their stacks are 64 MiB, for programs with big tile buffers). Launches from several
 * threads take turns. */
int rt_pool_run(int nchunks, RtTask task, void *ctx, int threads, bool caller_helps, Diag *d);

#endif
