// A pool of worker threads that wait for work by spinning briefly before
// sleeping, as OpenMP runtimes do (KMP_BLOCKTIME): an encoder runs a
// hundred short parallel loops per text query, each a fraction of a
// millisecond, and waking a sleeping thread through the kernel for each
// (libdispatch's concurrentPerform) cost tens of microseconds a time — or
// the whole loop, when the caller finished every part before the worker
// woke.
//
// One job at a time: `ps_parallel_run` returns without running anything,
// -1 when another thread's job is under way (the caller runs the parts some
// other way), -2 when called from inside a job (one of the job's threads:
// the caller runs the parts itself, one after another).
//
// A job's parts are claimed through `ticket` (the job's number in the high
// 32 bits, its part count in the next 16, the next part in the low 16) by
// compare-and-swap, so a worker that wakes late can never claim a part of a
// later job, nor past the end of its own: while one of a job's parts is
// claimed but not done, the job cannot end and the next cannot be published,
// so the function and context it then reads are its job's.
#define _GNU_SOURCE
#include "CKernels.h"

#if defined(__linux__)
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define ps_relax() _mm_pause()
#else
#define ps_relax() ((void)0)
#endif

// About 100 µs of waiting on current x86 cores (a pause is 40-140 cycles).
#define PS_SPINS 4000

static struct {
    pthread_mutex_t start;
    int workers;                          // threads besides the caller
    _Atomic uint32_t generation;          // bumped per job; the futex word
    _Atomic int sleepers;
    _Atomic uint64_t ticket;
    _Atomic size_t done;
    _Atomic int busy;
    void (*task)(void *, size_t);
    void *context;
} pool = {.start = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local int in_job;

static void futex_wait(_Atomic uint32_t *word, uint32_t value) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *word) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

// Runs parts of job `job` until none are left.
static void claim_parts(uint32_t job) {
    for (;;) {
        uint64_t ticket = atomic_load_explicit(&pool.ticket, memory_order_acquire);
        if ((uint32_t)(ticket >> 32) != job) return;
        size_t part = (size_t)(ticket & 0xFFFF), parts = (size_t)((ticket >> 16) & 0xFFFF);
        if (part >= parts) return;
        if (!atomic_compare_exchange_weak_explicit(&pool.ticket, &ticket, ticket + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        pool.task(pool.context, part);
        atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
    }
}

static void *worker(void *unused) {
    (void)unused;
    in_job = 1;
    uint32_t seen = atomic_load_explicit(&pool.generation, memory_order_acquire);
    for (;;) {
        uint32_t now = seen;
        for (int spin = 0; spin < PS_SPINS && now == seen; spin++) {
            ps_relax();
            now = atomic_load_explicit(&pool.generation, memory_order_acquire);
        }
        while (now == seen) {
            atomic_fetch_add_explicit(&pool.sleepers, 1, memory_order_seq_cst);
            if (atomic_load_explicit(&pool.generation, memory_order_seq_cst) == seen) futex_wait(&pool.generation, seen);
            atomic_fetch_sub_explicit(&pool.sleepers, 1, memory_order_seq_cst);
            now = atomic_load_explicit(&pool.generation, memory_order_acquire);
        }
        seen = now;
        claim_parts(now);
    }
    return NULL;
}

// Starts the workers once; returns how many there are.
static int start_workers(int threads) {
    pthread_mutex_lock(&pool.start);
    while (pool.workers < threads - 1) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attributes, worker, NULL);
        pthread_attr_destroy(&attributes);
        if (failed) break;
        pool.workers++;
    }
    int workers = pool.workers;
    pthread_mutex_unlock(&pool.start);
    return workers;
}

int ps_parallel_run(int threads, size_t parts, void (*task)(void *context, size_t part), void *context) {
    if (in_job) return -2;
    if (parts > 0xFFFF) return -1;
    int expected = 0;
    if (!atomic_compare_exchange_strong_explicit(&pool.busy, &expected, 1, memory_order_acquire, memory_order_relaxed))
        return -1;
    if (start_workers(threads) == 0) {
        atomic_store_explicit(&pool.busy, 0, memory_order_release);
        return -1;
    }
    in_job = 1;
    pool.task = task;
    pool.context = context;
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    uint32_t job = atomic_load_explicit(&pool.generation, memory_order_relaxed) + 1;
    atomic_store_explicit(&pool.ticket, (uint64_t)job << 32 | (uint64_t)parts << 16, memory_order_release);
    atomic_store_explicit(&pool.generation, job, memory_order_seq_cst);
    if (atomic_load_explicit(&pool.sleepers, memory_order_seq_cst) > 0) futex_wake_all(&pool.generation);
    claim_parts(job);
    while (atomic_load_explicit(&pool.done, memory_order_acquire) < parts) ps_relax();
    in_job = 0;
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
    return 0;
}

void ps_ensure_thread_stacks(size_t bytes) {
    pthread_attr_t attributes;
    if (pthread_getattr_default_np(&attributes) != 0) return;
    size_t size = 0;
    if (pthread_attr_getstacksize(&attributes, &size) == 0 && size < bytes && pthread_attr_setstacksize(&attributes, bytes) == 0)
        pthread_setattr_default_np(&attributes);
    pthread_attr_destroy(&attributes);
}

#else

int ps_parallel_run(int threads, size_t parts, void (*task)(void *context, size_t part), void *context) {
    (void)threads, (void)parts, (void)task, (void)context;
    return -1;
}

void ps_ensure_thread_stacks(size_t bytes) { (void)bytes; }

#endif
