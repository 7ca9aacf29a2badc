// One stage (or pipeline) being measured: counted in flight from construction, its duration and
// outcome recorded by finish(), and the observer told at both ends. Lives in the coroutine frame
// of the stage it measures: a frame destroyed without finishing (its io_context went away)
// still leaves the in-flight gauge right. It shares the ownership of the client's registry and
// observer, because such a frame may be destroyed after the client (an io_context stopped with
// pipelines in flight and destroyed last). The client's side of the metrics: the model it feeds
// knows no client. Internal.
#ifndef KIEMIDI_SRC_CLIENT_STAGE_SPAN_HPP
#define KIEMIDI_SRC_CLIENT_STAGE_SPAN_HPP

#include <kiemidi/callback_hub.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/metrics/model.hpp>

#include "operations.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

namespace kiemidi::detail {

inline std::string_view metrics_kind_name(callback_kind k) noexcept { return k == callback_kind::separation ? "separation" : "midi"; }

class stage_span
{
public:
    /// A stage of a paid task.
    stage_span(client& c, metrics::stage s, callback_kind k, std::uint64_t parent_id, std::string_view task_id = {}) noexcept
        : registry_(client_access::metrics(c)), m_(&registry_->of(s, k)), obs_(client_access::observer(c)),
          name_(metrics::to_string(s)), kind_(metrics_kind_name(k)), parent_(parent_id)
    {
        begin(c, task_id);
    }
    /// A whole pipeline.
    explicit stage_span(client& c) noexcept
        : registry_(client_access::metrics(c)), m_(&registry_->pipelines), obs_(client_access::observer(c)), name_("pipeline")
    {
        begin(c, {});
    }
    stage_span(const stage_span&) = delete;
    stage_span& operator=(const stage_span&) = delete;
    ~stage_span()
    {
        if (m_) m_->in_flight.sub();
    }

    std::uint64_t id() const noexcept { return id_; }

    /// Records how the stage ended (once; later calls do nothing).
    void finish(const error_code& ec, std::string_view task_id = {}) noexcept
    {
        if (!m_) return;
        const auto d = std::chrono::steady_clock::now() - start_;
        const auto o = metrics::outcome_of(ec);
        m_->in_flight.sub();
        m_->duration.observe(d);
        m_->finished[static_cast<std::size_t>(o)].inc();
        m_ = nullptr;
        if (obs_)
            obs_->stage_finished(metrics::stage_event{.id = id_,
                                                      .parent_id = parent_,
                                                      .name = name_,
                                                      .kind = kind_,
                                                      .task_id = task_id,
                                                      .duration = d,
                                                      .ec = ec,
                                                      .result = o});
    }

private:
    void begin(client&, std::string_view task_id) noexcept
    {
        m_->in_flight.add();
        start_ = std::chrono::steady_clock::now();
        if (obs_)
        {
            id_ = registry_->next_id();
            obs_->stage_started(
                metrics::stage_event{.id = id_, .parent_id = parent_, .name = name_, .kind = kind_, .task_id = task_id});
        }
    }

    std::shared_ptr<metrics::registry> registry_;  // keeps m_ valid
    metrics::stage_metrics* m_;
    std::shared_ptr<metrics::observer> obs_;
    std::string_view name_;
    std::string_view kind_;
    std::uint64_t parent_ = 0;
    std::uint64_t id_ = 0;
    std::chrono::steady_clock::time_point start_;
};

}  // namespace kiemidi::detail

#endif
