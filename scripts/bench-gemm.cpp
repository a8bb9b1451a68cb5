// photosearch's matrix kernels against oneDNN's matmul (Debian's libdnnl-dev,
// the library PyTorch uses on CPU), on the products of a ViT-B/32 image
// tower at batch 8 (400 token rows): float32 and int8, weights prepacked by
// each library in its own layout before timing, all cores.
//
//   bash scripts/bench-gemm.sh            (builds this file, then runs it)
//
// The int8 figures are not quite like for like, in oneDNN's favour: ours
// include quantising the float activations row by row (as the encoder runs
// them) and a per-row scale in the epilogue; oneDNN's start from int8
// activations and scale by column only (oneDNN 2.6 has no per-row scale).
// Prints one line per product and the totals; the last line is JSON.
// PHOTOSEARCH_KERNELS picks our level, DNNL_MAX_CPU_ISA caps oneDNN's.
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <functional>
#include <vector>

extern "C" {
#include "CKernels.h"
}

using Clock = std::chrono::steady_clock;

struct Shape {
    const char *name;
    int rows, inputs, outputs;
};

// Seconds per call of `body`, the median of runs of at least `seconds`/5 each.
template <typename Body> static double time_per_call(Body body, double seconds) {
    body();
    std::vector<double> samples;
    for (int run = 0; run < 5; run++) {
        int calls = 0;
        auto start = Clock::now();
        double elapsed = 0;
        do {
            body();
            calls++;
            elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        } while (elapsed < seconds / 5);
        samples.push_back(elapsed / calls);
    }
    std::sort(samples.begin(), samples.end());
    return samples[2];
}

static const ps_kernels *our_kernels(std::string &name) {
    const char *names[PS_PATH_COUNT] = {"portable", "avx2", "avx512", "avx512vnni", "avx512bf16"};
    const char *forced = getenv("PHOTOSEARCH_KERNELS");
    int best = 0;
    for (int path = 0; path < PS_PATH_COUNT; path++) {
        if (!ps_cpu_supports((ps_kernel_path)path)) continue;
        if (forced && *forced) {
            if (std::string(forced) == names[path]) best = path;
        } else {
            best = path;
        }
    }
    name = names[best];
    return ps_kernels_of((ps_kernel_path)best);
}

// A pool of spinning workers, as the OpenMP runtime oneDNN uses keeps: no
// thread is started per call (photosearch's Parallel.run hands parts to
// libdispatch's pool).
class Pool {
  public:
    explicit Pool(int threads) : threads_(threads) {
        for (int t = 1; t < threads; t++) {
            workers_.emplace_back([this, t] {
                unsigned seen = 0;
                while (true) {
                    // Spin a little (a run follows a run), then sleep: an idle
                    // pool must not slow down the other library's threads.
                    for (int spin = 0; spin < 200000 && generation_.load(std::memory_order_acquire) == seen; spin++) {}
                    if (generation_.load(std::memory_order_acquire) == seen) {
                        std::unique_lock<std::mutex> lock(mutex_);
                        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
                    }
                    seen = generation_.load(std::memory_order_acquire);
                    if (stop_) return;
                    (*task_)(t);
                    done_.fetch_add(1, std::memory_order_acq_rel);
                }
            });
        }
    }
    ~Pool() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
            generation_.fetch_add(1, std::memory_order_acq_rel);
        }
        wake_.notify_all();
        for (auto &worker : workers_) worker.join();
    }
    int threads() const { return threads_; }
    void run(const std::function<void(int)> &task) {
        task_ = &task;
        done_.store(0, std::memory_order_release);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            generation_.fetch_add(1, std::memory_order_acq_rel);
        }
        wake_.notify_all();
        task(0);
        while (done_.load(std::memory_order_acquire) < threads_ - 1) {}
    }

  private:
    int threads_;
    std::vector<std::thread> workers_;
    std::atomic<unsigned> generation_{0};
    std::atomic<int> done_{0};
    const std::function<void(int)> *task_ = nullptr;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
};

// Output panels split between the threads, as photosearch's Parallel.run does.
static void on_all_cores(Pool &pool, size_t outputs, const std::function<void(size_t, size_t)> &part) {
    size_t panels = (outputs + PS_PANEL - 1) / PS_PANEL;
    size_t per = (panels + pool.threads() - 1) / pool.threads() * PS_PANEL;
    pool.run([&](int t) {
        if (t * per < outputs) part(t * per, per);
    });
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    int threads = (int)std::thread::hardware_concurrency();
    std::string level;
    const ps_kernels *kernels = our_kernels(level);
    Pool pool(threads);
    // Rows: ViT-B/32 at batch 8 (8 × 50 tokens) unless given, e.g. 1568 for
    // SigLIP 2 B/16 at 224 px (8 × 196 patches) or 64 for its text tower.
    const int m = argc > 2 ? atoi(argv[2]) : 400;
    const Shape shapes[] = {
        {"attention in (q, k, v)", m, 768, 2304},
        {"attention out", m, 768, 768},
        {"mlp fc", m, 768, 3072},
        {"mlp proj", m, 3072, 768},
    };
    dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(engine);
    std::mt19937 generator(7);
    std::normal_distribution<float> normal(0, 1);

    double ours_f32 = 0, dnnl_f32 = 0, ours_s8 = 0, dnnl_s8 = 0, macs = 0;
    printf("our level: %s, threads: %d, oneDNN %d.%d.%d\n", level.c_str(), threads, dnnl_version()->major,
           dnnl_version()->minor, dnnl_version()->patch);
    for (const Shape &shape : shapes) {
        const int m = shape.rows, k = shape.inputs, n = shape.outputs;
        std::vector<float> a((size_t)m * k), w((size_t)n * k), bias(n), c((size_t)m * n);
        for (auto &x : a) x = normal(generator);
        for (auto &x : w) x = normal(generator) / std::sqrt((float)k);
        for (auto &x : bias) x = 0.1f * normal(generator);

        // Ours, float32: weights packed once.
        std::vector<float> packed(ps_packed_count(n, k));
        ps_pack_weights(w.data(), n, k, packed.data(), 0, (n + PS_PANEL - 1) / PS_PANEL);
        double f32 = time_per_call([&] {
            on_all_cores(pool, n, [&](size_t first, size_t count) {
                kernels->linear_packed(a.data(), k, packed.data(), k, c.data(), n, n, m, first, count, bias.data(), 0);
            });
        }, seconds);

        // Ours, int8: weights quantised and packed once; activations per call.
        size_t padded = ps_q8_padded_inputs(k), panels = (n + PS_PANEL - 1) / PS_PANEL;
        std::vector<int8_t> q8(ps_q8_packed_bytes(n, k));
        std::vector<float> column_scales(panels * PS_PANEL, 1.0f), row_scales(m);
        std::vector<int32_t> sums(panels * PS_PANEL, 0), row_offsets(m);
        std::vector<uint8_t> rows((size_t)m * padded);
        ps_pack_q8(w.data(), n, k, q8.data(), column_scales.data(), sums.data(), 0, panels);
        double quantise = time_per_call([&] {
            // Rows split between the threads, as QuantizedMatrix does.
            size_t per = (m + pool.threads() - 1) / pool.threads();
            pool.run([&](int t) {
                size_t first = t * per, count = first < (size_t)m ? std::min(per, m - first) : 0;
                if (count) kernels->quantize_rows(a.data() + first * k, k, count, k, padded, rows.data() + first * padded,
                                                  row_scales.data() + first, row_offsets.data() + first);
            });
        }, seconds / 4);
        double s8 = quantise + time_per_call([&] {
            on_all_cores(pool, n, [&](size_t first, size_t count) {
                kernels->linear_q8(rows.data(), row_scales.data(), row_offsets.data(), m, padded, q8.data(), column_scales.data(), sums.data(),
                                   c.data(), n, n, first, count, bias.data(), 0);
            });
        }, seconds);

        // oneDNN: the same products, its weights in the layout it chooses.
        using tag = dnnl::memory::format_tag;
        using dt = dnnl::memory::data_type;
        auto timed = [&](dt source_type, dt weight_type, const void *source, const void *weights, bool scaled) {
            dnnl::memory::desc src_md({m, k}, source_type, tag::ab), dst_md({m, n}, dt::f32, tag::ab);
            dnnl::memory::desc any_w({k, n}, weight_type, tag::any), plain_w({k, n}, weight_type, tag::ba);
            dnnl::memory::desc bias_md({1, n}, dt::f32, tag::ab);
            dnnl::primitive_attr attr;
            if (scaled) attr.set_output_scales(1 << 1, std::vector<float>(column_scales.begin(), column_scales.begin() + n));
            dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, any_w, bias_md, dst_md), attr, engine);
            dnnl::memory src(src_md, engine, const_cast<void *>(source)), plain(plain_w, engine, const_cast<void *>(weights));
            dnnl::memory prepacked(pd.weights_desc(), engine), b(bias_md, engine, bias.data()), dst(dst_md, engine, c.data());
            dnnl::reorder(plain, prepacked).execute(stream, plain, prepacked);
            stream.wait();
            dnnl::matmul product(pd);
            return time_per_call([&] {
                product.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, prepacked}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, dst}});
                stream.wait();
            }, seconds);
        };
        double dnnl_float = timed(dt::f32, dt::f32, a.data(), w.data(), false);
        // int8 inputs for oneDNN: our quantised rows as signed bytes, our weights as nn.Linear rows.
        std::vector<int8_t> signed_rows((size_t)m * k), signed_weights((size_t)n * k);
        for (int r = 0; r < m; r++) {
            for (int i = 0; i < k; i++) {
                float x = a[(size_t)r * k + i] / row_scales[r];
                signed_rows[(size_t)r * k + i] = (int8_t)std::max(-127.0f, std::min(127.0f, std::nearbyint(x)));
            }
        }
        for (int o = 0; o < n; o++) {
            for (int i = 0; i < k; i++) {
                float x = w[(size_t)o * k + i] / column_scales[o];
                signed_weights[(size_t)o * k + i] = (int8_t)std::max(-127.0f, std::min(127.0f, std::nearbyint(x)));
            }
        }
        double dnnl_int8 = timed(dt::s8, dt::s8, signed_rows.data(), signed_weights.data(), true);

        double work = (double)m * k * n;
        macs += work;
        ours_f32 += f32, dnnl_f32 += dnnl_float, ours_s8 += s8, dnnl_s8 += dnnl_int8;
        printf("%-24s %4d x %4d x %4d  float32: ours %6.1f GMAC/s, oneDNN %6.1f (ours/oneDNN %.2f)  "
               "int8: ours %6.1f (%.0f%% quantising), oneDNN %6.1f (%.2f)\n",
               shape.name, m, k, n, work / f32 / 1e9, work / dnnl_float / 1e9, dnnl_float / f32, work / s8 / 1e9,
               100 * quantise / s8, work / dnnl_int8 / 1e9, dnnl_int8 / s8);
    }
    printf("all four, per image-tower layer: float32 ours %.1f GMAC/s, oneDNN %.1f; int8 ours %.1f, oneDNN %.1f\n",
           macs / ours_f32 / 1e9, macs / dnnl_f32 / 1e9, macs / ours_s8 / 1e9, macs / dnnl_s8 / 1e9);
    printf("{\"level\":\"%s\",\"threads\":%d,\"ours_f32_gmacs\":%.1f,\"onednn_f32_gmacs\":%.1f,\"ratio_f32\":%.3f,"
           "\"ours_int8_gmacs\":%.1f,\"onednn_int8_gmacs\":%.1f,\"ratio_int8\":%.3f}\n",
           level.c_str(), threads, macs / ours_f32 / 1e9, macs / dnnl_f32 / 1e9, dnnl_f32 / ours_f32, macs / ours_s8 / 1e9,
           macs / dnnl_s8 / 1e9, dnnl_s8 / ours_s8);
    return 0;
}
