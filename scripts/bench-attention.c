// One attention head at the token counts photosearch's towers use (ViT-B/32's
// 50, SigLIP 2 B/16's 196, 256, 576 and 1 024), as a layer runs it: twelve
// heads of 64 over rows of q, k and v side by side, one thread. Prints
// milliseconds a layer and GFLOP/s (4·n²·64 a head) for the CPU's best level
// and the portable one, and the largest difference between them; where the
// level has its own head for int8 towers (bfloat16 products on AVX-512
// BF16), that one too. The last line is JSON. Built and run by
// scripts/bench-attention.sh.
#include "CKernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double layer_seconds(const ps_kernels *table, int reduced, const float *qkv, float *out, float *scratch,
                            size_t n, double seconds) {
    void (*head)(const float *, const float *, const float *, size_t, float *, size_t, size_t, size_t, size_t, float,
                 long, float *) = reduced ? table->attention_head_reduced : table->attention_head;
    const size_t width = 64, heads = 12, model = heads * width, stride = 3 * model;
    int runs = 0;
    double start = now();
    do {
        for (size_t h = 0; h < heads; h++)
            head(qkv + h * width, qkv + model + h * width, qkv + 2 * model + h * width, stride, out + h * width, model,
                 n, n, width, 0.125f, -1, scratch);
        runs++;
    } while (now() - start < seconds);
    return (now() - start) / runs;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1;
    ps_kernel_path best = PS_PATH_PORTABLE;
    for (int path = PS_PATH_AVX2; path < PS_PATH_COUNT; path++)
        if (ps_cpu_supports((ps_kernel_path)path)) best = (ps_kernel_path)path;
    static const char *names[] = {"portable", "avx2", "avx512", "avx512vnni", "avx512bf16"};
    const size_t sizes[] = {50, 196, 256, 576, 1024};
    char json[1024];
    int used = snprintf(json, sizeof json, "{\"level\":\"%s\"", names[best]);
    srand(7);
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s], model = 768;
        float *qkv = malloc(n * 3 * model * sizeof(float)), *out = malloc(n * model * sizeof(float)),
              *reference = malloc(n * model * sizeof(float)), *scratch = malloc(ps_attention_scratch(n, 64) * sizeof(float));
        for (size_t i = 0; i < n * 3 * model; i++) qkv[i] = (float)(rand() % 2001 - 1000) / 400.0f;
        const ps_kernels *table = ps_kernels_of(best);
        double fast = layer_seconds(table, 0, qkv, out, scratch, n, seconds);
        double portable = layer_seconds(ps_kernels_of(PS_PATH_PORTABLE), 0, qkv, reference, scratch, n, seconds / 4);
        double worst = 0;
        for (size_t i = 0; i < n * model; i++) worst = fmax(worst, fabs((double)out[i] - reference[i]));
        double flops = 12 * 4.0 * (double)n * (double)n * 64;
        printf("%4zu keys: %s %.2f ms a layer, %.1f GFLOP/s; portable %.1f GFLOP/s; largest difference %.1e\n", n,
               names[best], fast * 1e3, flops / fast / 1e9, flops / portable / 1e9, worst);
        used += snprintf(json + used, sizeof json - (size_t)used, ",\"gflops_%zu\":%.1f,\"ms_%zu\":%.3f", n,
                         flops / fast / 1e9, n, fast * 1e3);
        if (table->attention_head_reduced != table->attention_head) {
            double reduced = layer_seconds(table, 1, qkv, out, scratch, n, seconds);
            double worst_reduced = 0;
            for (size_t i = 0; i < n * model; i++) worst_reduced = fmax(worst_reduced, fabs((double)out[i] - reference[i]));
            printf("           int8 towers' head: %.2f ms a layer, %.1f GFLOP/s; largest difference %.1e\n",
                   reduced * 1e3, flops / reduced / 1e9, worst_reduced);
            used += snprintf(json + used, sizeof json - (size_t)used, ",\"reduced_gflops_%zu\":%.1f", n,
                             flops / reduced / 1e9);
        }
        free(qkv), free(out), free(reference), free(scratch);
    }
    printf("%s}\n", json);
    return 0;
}
