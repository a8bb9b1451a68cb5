// The table of each level and the CPU check that says which may run.
#include "internal.h"

int ps_cpu_supports(ps_kernel_path path) {
    switch (path) {
    case PS_PATH_PORTABLE:
        return 1;
#if defined(__x86_64__)
    case PS_PATH_AVX2:
        // __builtin_cpu_supports also checks that the OS saves the YMM state.
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    default:
        return 0;
    }
}

const ps_kernels *ps_kernels_of(ps_kernel_path path) {
    switch (path) {
#if defined(__x86_64__)
    case PS_PATH_AVX2:
        return &ps_avx2_kernels;
#endif
    default:
        return &ps_portable_kernels;
    }
}
