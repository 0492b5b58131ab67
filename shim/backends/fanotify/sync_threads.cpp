// The monitor's exit syncs side by side. Its log and pcrs files are five
// files, each flushed to the disk by its own fsync or fdatasync: one after
// another they cost five device flushes (0.3-0.7 ms each on an idle disk,
// 3-8 ms while others write), and delete waits for them. Run concurrently,
// the filesystem can serve them with fewer journal commits. The threads are
// started before the seccomp filter, which allows no new ones.
#include <condition_variable>
#include <mutex>
#include <thread>

#include "monitor_internal.hpp"

namespace imashim::backends::fanotify {
namespace {

class SyncThreads {
 public:
  SyncThreads(unsigned n, void (*first)()) {
    for (unsigned i = 0; i < n; ++i)
      threads_.emplace_back([this, first] {
        if (first) first();
        serve();
      });
  }
  ~SyncThreads() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    work_.notify_all();
    for (auto& t : threads_) t.join();
  }
  // Runs every job: all but the first on the threads, the first on the caller's.
  Result<void> run(std::vector<SyncJob>& jobs) {
    if (jobs.empty()) return {};
    std::vector<Result<void>> results(jobs.size());
    {
      std::lock_guard lock(mu_);
      jobs_ = &jobs;
      results_ = &results;
      next_ = 1;
      left_ = jobs.size() - 1;
    }
    work_.notify_all();
    results[0] = jobs[0]();
    std::unique_lock lock(mu_);
    // Jobs no thread took yet (fewer threads than jobs) run here.
    while (next_ < jobs.size()) {
      std::size_t i = next_++;
      lock.unlock();
      results[i] = jobs[i]();
      lock.lock();
      --left_;
    }
    done_.wait(lock, [&] { return left_ == 0; });
    jobs_ = nullptr;
    results_ = nullptr;
    for (auto& r : results)
      if (!r) return r;
    return {};
  }

 private:
  void serve() {
    std::unique_lock lock(mu_);
    for (;;) {
      work_.wait(lock, [&] { return stopping_ || (jobs_ && next_ < jobs_->size()); });
      if (stopping_) return;
      std::size_t i = next_++;
      auto* jobs = jobs_;
      auto* results = results_;
      lock.unlock();
      (*results)[i] = (*jobs)[i]();
      lock.lock();
      if (--left_ == 0) done_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable work_, done_;
  std::vector<std::thread> threads_;
  std::vector<SyncJob>* jobs_ = nullptr;
  std::vector<Result<void>>* results_ = nullptr;
  std::size_t next_ = 0, left_ = 0;
  bool stopping_ = false;
};

std::unique_ptr<SyncThreads>& pool() {
  static std::unique_ptr<SyncThreads> p;
  return p;
}

}  // namespace

void start_sync_threads(unsigned n, void (*first)()) {
  if (!pool()) pool() = std::make_unique<SyncThreads>(n, first);
}

void stop_sync_threads() { pool().reset(); }

Result<void> run_syncs(std::vector<SyncJob> jobs) {
  if (pool()) return pool()->run(jobs);
  for (auto& j : jobs) IMASHIM_TRY_VOID(j());
  return {};
}

}  // namespace imashim::backends::fanotify
