// The table of each level and the CPU check that says which may run.
#include "internal.h"

#include <pthread.h>

int ps_cpu_supports(ps_kernel_path path) {
    switch (path) {
    case PS_PATH_PORTABLE:
        return 1;
#if defined(__x86_64__)
    // __builtin_cpu_supports also checks that the OS saves the YMM/ZMM state.
    case PS_PATH_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case PS_PATH_AVX512:
        __builtin_cpu_init();
        return ps_cpu_supports(PS_PATH_AVX2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    case PS_PATH_AVX512_VNNI:
        __builtin_cpu_init();
        return ps_cpu_supports(PS_PATH_AVX512) && __builtin_cpu_supports("avx512vnni");
    case PS_PATH_AVX512_BF16:
        __builtin_cpu_init();
        return ps_cpu_supports(PS_PATH_AVX512_VNNI) && __builtin_cpu_supports("avx512bf16");
#endif
    default:
        return 0;
    }
}

#if defined(__x86_64__)
static ps_kernels bf16_table;

static void fill_bf16_table(void) {
    bf16_table = ps_avx512_vnni_kernels;
    bf16_table.attention_head_reduced = ps_avx512bf16_attention_head;
}
#endif

const ps_kernels *ps_kernels_of(ps_kernel_path path) {
    switch (path) {
#if defined(__x86_64__)
    case PS_PATH_AVX2:
        return &ps_avx2_kernels;
    case PS_PATH_AVX512:
        return &ps_avx512_kernels;
    case PS_PATH_AVX512_VNNI:
        return &ps_avx512_vnni_kernels;
    case PS_PATH_AVX512_BF16: {
        // The VNNI table with the bfloat16 attention for int8 towers.
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, fill_bf16_table);
        return &bf16_table;
    }
#endif
    default:
        return &ps_portable_kernels;
    }
}
