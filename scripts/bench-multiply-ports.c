// How many vector multiply-adds an AVX2 core issues per second, by kind:
// what bounds photosearch's int8 and float32 products on a CPU without
// AVX-512. 12 independent chains per kind, so that latency does not bound
// the rate. An int8 product of 32 pairs takes a vpmaddubsw and a vpmaddwd
// (no vpdpbusd before AVX-512 VNNI or AVX-VNNI); a float32 one of 8, one
// vfmadd231ps. Where the two int8 instructions share one port (AMD Zen 1-3),
// int8 products run no faster than float32 ones. Where the CPU has AVX-512
// VNNI (and BF16), also vpdpbusd's rate (64 int8 multiply-adds each) and
// vdpbf16ps's (32 bfloat16 ones): the ceiling of photosearch's int8 products
// and of its int8 towers' attention there.
//   clang -O2 -mavx2 -mfma scripts/bench-multiply-ports.c -o /tmp/ports && /tmp/ports
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define ROUNDS 100000000L
#define CHAIN(op, r) __asm__ volatile(op " %1, %0, %0" : "+x"(r) : "x"(b))
#define TWELVE(op0, op1)                                                                              \
    CHAIN(op0, x[0]); CHAIN(op1, x[1]); CHAIN(op0, x[2]); CHAIN(op1, x[3]); CHAIN(op0, x[4]); CHAIN(op1, x[5]); \
    CHAIN(op0, x[6]); CHAIN(op1, x[7]); CHAIN(op0, x[8]); CHAIN(op1, x[9]); CHAIN(op0, x[10]); CHAIN(op1, x[11])

static double rate_int(int kind) {
    __m256i b = _mm256_set1_epi8(3), x[12];
    for (int i = 0; i < 12; i++) x[i] = _mm256_set1_epi8((char)i);
    double start = now();
    for (long i = 0; i < ROUNDS; i++) {
        if (kind == 0) { TWELVE("vpmaddubsw", "vpmaddubsw"); }
        else if (kind == 1) { TWELVE("vpmaddwd", "vpmaddwd"); }
        else { TWELVE("vpmaddubsw", "vpmaddwd"); }
    }
    return 12.0 * ROUNDS / (now() - start) / 1e9;
}

static double rate_fma(void) {
    __m256 b = _mm256_set1_ps(0.5f), x[12];
    for (int i = 0; i < 12; i++) x[i] = _mm256_set1_ps((float)i);
    double start = now();
    for (long i = 0; i < ROUNDS; i++) {
        __asm__ volatile("vfmadd231ps %1, %1, %0" : "+x"(x[0]) : "x"(b)); __asm__ volatile("vfmadd231ps %1, %1, %0" : "+x"(x[1]) : "x"(b));
        __asm__ volatile("vfmadd231ps %1, %1, %0" : "+x"(x[2]) : "x"(b)); __asm__ volatile("vfmadd231ps %1, %1, %0" : "+x"(x[3]) : "x"(b));
        __asm__ volatile("vfmadd231ps %1, %1, %0" : "+x"(x[4]) : "x"(b)); __asm__ volatile("vfmadd231ps %1, %1, %0" : "+x"(x[5]) : "x"(b));
        __asm__ volatile("vfmadd231ps %1, %1, %0" : "+x"(x[6]) : "x"(b)); __asm__ volatile("vfmadd231ps %1, %1, %0" : "+x"(x[7]) : "x"(b));
        __asm__ volatile("vfmadd231ps %1, %1, %0" : "+x"(x[8]) : "x"(b)); __asm__ volatile("vfmadd231ps %1, %1, %0" : "+x"(x[9]) : "x"(b));
        __asm__ volatile("vfmadd231ps %1, %1, %0" : "+x"(x[10]) : "x"(b)); __asm__ volatile("vfmadd231ps %1, %1, %0" : "+x"(x[11]) : "x"(b));
    }
    return 12.0 * ROUNDS / (now() - start) / 1e9;
}

#define TWELVE_ZMM(op)                                                                                                 \
    for (long i = 0; i < ROUNDS; i++) {                                                                                \
        for (int k = 0; k < 12; k++) __asm__ volatile(op " %1, %2, %0" : "+v"(x[k]) : "v"(b), "v"(a));                \
    }

__attribute__((target("avx512f,avx512vnni"))) static double rate_vnni(void) {
    __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(3), x[12];
    for (int i = 0; i < 12; i++) x[i] = _mm512_set1_epi32(i);
    double start = now();
    TWELVE_ZMM("vpdpbusd");
    return 12.0 * ROUNDS / (now() - start) / 1e9;
}

__attribute__((target("avx512f,avx512bf16"))) static double rate_bf16(void) {
    __m512 a = _mm512_set1_ps(1), b = _mm512_set1_ps(0.5f), x[12];
    for (int i = 0; i < 12; i++) x[i] = _mm512_set1_ps((float)i);
    double start = now();
    TWELVE_ZMM("vdpbf16ps");
    return 12.0 * ROUNDS / (now() - start) / 1e9;
}

int main(void) {
    double maddubs = rate_int(0), maddwd = rate_int(1), both = rate_int(2), fma = rate_fma();
    printf("vpmaddubsw alone: %.2f G/s; vpmaddwd alone: %.2f G/s; the two interleaved: %.2f G/s; vfmadd231ps: %.2f G/s\n",
           maddubs, maddwd, both, fma);
    // int8: 32 multiply-adds per pair of instructions; float32: 8 per FMA.
    double int8 = 32.0 * both / 2, float32 = 8.0 * fma;
    printf("one core's products at most: int8 %.1f GMAC/s, float32 %.1f GMAC/s (int8 / float32 %.2f)\n", int8, float32, int8 / float32);
    double vnni = 0, bf16 = 0;
    if (__builtin_cpu_supports("avx512vnni")) {
        vnni = 64.0 * rate_vnni();
        printf("AVX-512 VNNI: vpdpbusd (zmm) %.1f GMAC/s on one core\n", vnni);
    }
    if (__builtin_cpu_supports("avx512bf16")) {
        bf16 = 32.0 * rate_bf16();
        printf("AVX-512 BF16: vdpbf16ps (zmm) %.1f GMAC/s on one core\n", bf16);
    }
    printf("{\"int8_gmacs\":%.1f,\"float32_gmacs\":%.1f,\"ratio\":%.3f,\"vnni_gmacs\":%.1f,\"bf16_gmacs\":%.1f}\n", int8,
           float32, int8 / float32, vnni, bf16);
    return 0;
}
