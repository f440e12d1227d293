// C++ allocation through a preloaded malloc: libstdc++'s operator new / delete (plain, sized,
// array, aligned, nothrow) call malloc / aligned_alloc / free, so they must work unchanged,
// including a throwing new that fails (std::bad_alloc) and a nothrow new that fails (nullptr).
// Threads share containers and shared_ptrs so that objects die on other threads.
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

struct alignas(256) Wide {
    unsigned char bytes[300];
};

int main() {
    std::map<std::string, std::vector<int>> index;
    std::mutex lock;
    std::vector<std::shared_ptr<std::string>> shared;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++) {
        threads.emplace_back([&, t] {
            std::unordered_map<int, std::string> local;
            uint32_t x = 2654435761u * (t + 1);
            for (int i = 0; i < 200000; i++) {
                x ^= x << 13; x ^= x >> 17; x ^= x << 5;
                local[x % 5000] = std::string(x % 300, char('a' + t));
                if (i % 100 == 0) {
                    auto s = std::make_shared<std::string>(std::to_string(x));
                    std::lock_guard<std::mutex> g(lock);
                    index[*s].push_back(i);
                    shared.push_back(s);
                    if (shared.size() > 1000) shared.erase(shared.begin(), shared.begin() + 500);
                }
            }
            size_t total = 0;
            for (auto &kv : local) total += kv.second.size();
            std::lock_guard<std::mutex> g(lock);
            index["total" + std::to_string(t)].push_back(int(total));
        });
    }
    for (auto &th : threads) th.join();
    unsigned long long digest = 0;
    for (auto &kv : index) {
        for (char c : kv.first) digest = digest * 131 + (unsigned char)c;
        for (int v : kv.second) digest = digest * 31 + unsigned(v);
    }
    std::printf("index %zu keys, digest %llx, shared %zu\n", index.size(), digest, shared.size());

    std::vector<std::unique_ptr<Wide>> wides;
    for (int i = 0; i < 1000; i++) wides.emplace_back(new Wide());
    bool aligned = true;
    for (auto &w : wides) aligned &= reinterpret_cast<uintptr_t>(w.get()) % alignof(Wide) == 0;
    Wide *arr = new Wide[7];
    aligned &= reinterpret_cast<uintptr_t>(arr) % alignof(Wide) == 0;
    delete[] arr;
    std::printf("aligned new: %s\n", aligned ? "ok" : "MISALIGNED");

    size_t huge = SIZE_MAX / 4;
    char *p = new (std::nothrow) char[huge];
    std::printf("nothrow new of a huge array: %s\n", p ? "non-null" : "nullptr");
    try {
        std::vector<char> v;
        v.reserve(huge);
        std::printf("huge reserve: succeeded?\n");
    } catch (const std::bad_alloc &) {
        std::printf("huge reserve: std::bad_alloc\n");
    } catch (const std::length_error &) {
        std::printf("huge reserve: std::length_error\n");
    }
    try {
        char *q = new char[size_t(1) << 47];
        std::printf("new of 128 TiB: succeeded? %p\n", static_cast<void *>(q));
    } catch (const std::bad_alloc &) {
        std::printf("new of 128 TiB: std::bad_alloc\n");
    }
    return aligned ? 0 : 1;
}
