// Records what one callback_hub wait completed with: a handler for async_wait that counts its
// calls and keeps the last error and message, for tests that check a wait completes exactly once.
#ifndef KIEMIDI_TESTS_COMMON_CALLBACK_OUTCOME_HPP
#define KIEMIDI_TESTS_COMMON_CALLBACK_OUTCOME_HPP

#include <kiemidi/callback_hub.hpp>
#include <kiemidi/error.hpp>

#include <utility>

namespace kiemidi::test {

struct outcome
{
    int calls = 0;
    error_code ec;
    callback_message msg;

    /// The handler to pass to async_wait; `this` must outlive the wait.
    auto handler()
    {
        return [this](error_code e, callback_message m) {
            ++calls;
            ec = e;
            msg = std::move(m);
        };
    }
};

}  // namespace kiemidi::test

#endif
