// Batch options shared by the batch tests (journal and Redis): short waits so that a test's
// tracks finish in well under a second against the emulator.
#ifndef KIEMIDI_TESTS_COMMON_BATCH_FIXTURE_HPP
#define KIEMIDI_TESTS_COMMON_BATCH_FIXTURE_HPP

#include <kiemidi/batch.hpp>

#include <chrono>
#include <filesystem>

namespace kiemidi::test {

/// Options for a batch writing to `output_dir`, `concurrency` tracks at a time, waiting for KIE
/// by polling every `poll_interval` (backing off to `max_poll_interval`); each stage gives up
/// after `stage_timeout`.
inline batch_options polling_batch_options(const std::filesystem::path& output_dir, unsigned concurrency,
                                           std::chrono::milliseconds poll_interval,
                                           std::chrono::milliseconds max_poll_interval,
                                           std::chrono::seconds stage_timeout)
{
    batch_options o;
    o.output_dir = output_dir;
    o.concurrency = concurrency;
    o.pipeline.wait.strategy = wait_strategy::polling;
    o.pipeline.wait.poll_interval = poll_interval;
    o.pipeline.wait.max_poll_interval = max_poll_interval;
    o.pipeline.stage_timeout = stage_timeout;
    return o;
}

}  // namespace kiemidi::test

#endif
