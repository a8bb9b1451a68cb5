// The table of each level and the CPU check that says which may run.
#include "internal.h"

int ps_cpu_supports(ps_kernel_path path) {
    switch (path) {
    case PS_PATH_PORTABLE:
        return 1;
#if defined(__x86_64__)
    // __builtin_cpu_supports also checks that the OS saves the YMM/ZMM state.
    case PS_PATH_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case PS_PATH_AVX512:
        __builtin_cpu_init();
        return ps_cpu_supports(PS_PATH_AVX2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    case PS_PATH_AVX512_VNNI:
        __builtin_cpu_init();
        return ps_cpu_supports(PS_PATH_AVX512) && __builtin_cpu_supports("avx512vnni");
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
    case PS_PATH_AVX512:
        return &ps_avx512_kernels;
    case PS_PATH_AVX512_VNNI:
        return &ps_avx512_vnni_kernels;
#endif
    default:
        return &ps_portable_kernels;
    }
}
