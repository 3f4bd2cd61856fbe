/* The CPU thread pool. Part of src/rt (runtime).
 *
 * One worker per core, created on the first launch. A launch publishes a job (a generation
 * number and a pointer); workers spin briefly on the generation before sleeping on a condition
 * variable, so back-to-back launches (a tuning loop, a benchmark) wake them in microseconds.
 * Chunks are claimed with an atomic counter; the caller waits until every chunk ran and every
 * worker has let go of the job (the job lives on the caller's stack). After fork() the child
 * starts with no pool and makes a new one when it first launches. */
#include "rt/rt_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define WORKER_STACK ((size_t)64 << 20)
#define SPIN_ROUNDS  4000 /* ~0.2 ms of pause instructions before sleeping */

typedef struct Job {
  RtTask task;
  void *ctx;
  int nchunks;
  int workers;        /* pool workers that take part (index < workers) */
  atomic_int next;    /* next chunk to claim */
  atomic_int pending; /* chunks not finished */
} Job;

static struct {
  pthread_mutex_t mu;     /* guards sleeping and the done signal */
  pthread_cond_t wake;    /* a new job was published */
  pthread_cond_t done;    /* a job's last chunk finished */
  pthread_mutex_t run_mu; /* one launch at a time */
  atomic_ulong gen;
  _Atomic(Job *) job;
  atomic_int inside;       /* workers that may be looking at `job` */
  unsigned long start_gen; /* the generation when the workers were made: the first they wait past */
  int nworkers;
  bool started;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER,
          .run_mu = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void child_after_fork(void) {
  /* the workers did not survive fork(): forget them (a new pool starts on demand) */
  pthread_mutex_init(&pool.mu, NULL);
  pthread_mutex_init(&pool.run_mu, NULL);
  pthread_cond_init(&pool.wake, NULL);
  pthread_cond_init(&pool.done, NULL);
  pool.started = false;
  pool.nworkers = 0;
  atomic_store(&pool.job, NULL);
}

static void register_atfork(void) {
  pthread_atfork(NULL, NULL, child_after_fork);
}

int rt_pool_cores(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static void run_chunks(Job *j) {
  for (;;) {
    int c = atomic_fetch_add(&j->next, 1);
    if (c >= j->nchunks) return;
    j->task(j->ctx, c);
    if (atomic_fetch_sub(&j->pending, 1) == 1) {
      pthread_mutex_lock(&pool.mu);
      pthread_cond_broadcast(&pool.done);
      pthread_mutex_unlock(&pool.mu);
    }
  }
}

static void *worker(void *arg) {
  int index = (int)(intptr_t)arg;
  unsigned long seen = pool.start_gen; /* not the current one: a job may be out already */
  for (;;) {
    unsigned long g = atomic_load(&pool.gen);
    for (int i = 0; g == seen && i < SPIN_ROUNDS; i++) {
      cpu_relax();
      g = atomic_load(&pool.gen);
    }
    if (g == seen) {
      pthread_mutex_lock(&pool.mu);
      while ((g = atomic_load(&pool.gen)) == seen)
        pthread_cond_wait(&pool.wake, &pool.mu);
      pthread_mutex_unlock(&pool.mu);
    }
    seen = g;
    /* announce first, then look: the launcher clears `job` and waits for `inside` to drop to
     * 0 before its job (on its stack) goes away */
    atomic_fetch_add(&pool.inside, 1);
    Job *j = atomic_load(&pool.job);
    if (j && index < j->workers) run_chunks(j);
    atomic_fetch_sub(&pool.inside, 1);
  }
  return NULL;
}

static int start(Diag *d) {
  pthread_once(&atfork_once, register_atfork);
  int n = rt_pool_cores();
  pool.start_gen = atomic_load(&pool.gen);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, WORKER_STACK);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int made = 0;
  for (int i = 0; i < n; i++) {
    pthread_t t;
    if (pthread_create(&t, &attr, worker, (void *)(intptr_t)i) != 0) break;
    made++;
  }
  pthread_attr_destroy(&attr);
  if (made == 0) return diag_set(d, "could not start the CPU thread pool (pthread_create failed)");
  pool.nworkers = made;
  pool.started = true;
  return HL_OK;
}

int rt_pool_run(int nchunks, RtTask task, void *ctx, int threads, bool caller_helps, Diag *d) {
  if (nchunks <= 0) return HL_OK;
  if (threads <= 1 && caller_helps) {
    for (int c = 0; c < nchunks; c++)
      task(ctx, c);
    return HL_OK;
  }
  pthread_mutex_lock(&pool.run_mu);
  if (!pool.started && start(d)) {
    pthread_mutex_unlock(&pool.run_mu);
    return HL_ERR;
  }
  Job j = {.task = task, .ctx = ctx, .nchunks = nchunks};
  int workers = threads - (caller_helps ? 1 : 0);
  j.workers = workers < pool.nworkers ? workers : pool.nworkers;
  if (j.workers < 1 && !caller_helps) j.workers = 1;
  atomic_init(&j.next, 0);
  atomic_init(&j.pending, nchunks);
  atomic_store(&pool.job, &j);
  pthread_mutex_lock(&pool.mu);
  atomic_fetch_add(&pool.gen, 1);
  pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.mu);
  if (caller_helps) run_chunks(&j);
  for (int i = 0; atomic_load(&j.pending) > 0 && i < SPIN_ROUNDS; i++)
    cpu_relax();
  if (atomic_load(&j.pending) > 0) {
    pthread_mutex_lock(&pool.mu);
    while (atomic_load(&j.pending) > 0)
      pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
  }
  atomic_store(&pool.job, NULL);
  while (atomic_load(&pool.inside) > 0)
    cpu_relax();
  pthread_mutex_unlock(&pool.run_mu);
  return HL_OK;
}
