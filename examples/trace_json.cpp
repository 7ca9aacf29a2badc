// trace_json: the tracing observer bridged to structured JSON log lines, one per event.
//
// Shows: client_options::observer (kiemidi/metrics.hpp), whose hooks run inline on the
// operation's executor and so must not block: each event is formatted into a line and handed to
// a writer thread; the executor never waits for stdout. The same shape bridges to OpenTelemetry
// (a span per stage: started → finished, parent_id as the parent span) or any logger.
// Needs: nothing; it starts the embedded KIE emulator on 127.0.0.1.
#include <kiemidi/callback_listener.hpp>
#include <kiemidi/client.hpp>
#include <kiemidi/emulator.hpp>
#include <kiemidi/in_process_callback_hub.hpp>
#include <kiemidi/metrics.hpp>

#include <boost/asio/detached.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

namespace asio = boost::asio;
namespace metrics = kiemidi::metrics;

/// Writes lines on its own thread; push() only takes a short lock.
class line_writer
{
public:
    line_writer() : thread_([this] { run(); }) {}
    ~line_writer()
    {
        {
            std::lock_guard l(m_);
            done_ = true;
        }
        cv_.notify_one();
        thread_.join();
    }
    void push(std::string line)
    {
        {
            std::lock_guard l(m_);
            lines_.push_back(std::move(line));
        }
        cv_.notify_one();
    }

private:
    void run()
    {
        std::unique_lock l(m_);
        for (;;)
        {
            cv_.wait(l, [this] { return done_ || !lines_.empty(); });
            while (!lines_.empty())
            {
                auto line = std::move(lines_.front());
                lines_.pop_front();
                l.unlock();
                std::cout << line << '\n';
                l.lock();
            }
            if (done_) return;
        }
    }
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::string> lines_;
    bool done_ = false;
    std::thread thread_;
};

/// The observer: one JSON object per event.
class json_log_observer : public metrics::observer
{
public:
    explicit json_log_observer(line_writer& out) : out_(out) {}

    void stage_started(const metrics::stage_event& e) noexcept override { emit(stage("stage_started", e)); }
    void stage_finished(const metrics::stage_event& e) noexcept override
    {
        auto o = stage("stage_finished", e);
        o["duration_ms"] = std::chrono::duration<double, std::milli>(e.duration).count();
        o["outcome"] = std::string(metrics::to_string(e.result));
        if (e.ec) o["error"] = e.ec.message();
        ++finished_;
        emit(std::move(o));
    }
    void kie_answer(const metrics::kie_answer_event& e) noexcept override
    {
        boost::json::object o;
        o["event"] = "kie_answer";
        o["endpoint"] = std::string(e.endpoint);
        o["http_status"] = e.http_status;
        if (e.kie_code) o["code"] = *e.kie_code;
        o["latency_ms"] = std::chrono::duration<double, std::milli>(e.latency).count();
        emit(std::move(o));
    }
    void callback_received(const metrics::callback_event& e) noexcept override
    {
        boost::json::object o;
        o["event"] = "callback_received";
        o["kind"] = std::string(e.kind);
        o["task_id"] = std::string(e.task_id);
        o["code"] = e.code;
        emit(std::move(o));
    }

    /// Stages and pipelines that finished (read after the io_context stopped).
    int finished() const { return finished_; }

private:
    static boost::json::object stage(const char* event, const metrics::stage_event& e)
    {
        boost::json::object o;
        o["event"] = event;
        o["id"] = e.id;
        if (e.parent_id != 0) o["parent_id"] = e.parent_id;
        o["stage"] = std::string(e.name);
        if (!e.kind.empty()) o["kind"] = std::string(e.kind);
        if (!e.task_id.empty()) o["task_id"] = std::string(e.task_id);
        return o;
    }
    void emit(boost::json::object o) noexcept
    {
        try
        {
            out_.push(boost::json::serialize(o));
        }
        catch (...)
        {
            // A log line lost to a failed allocation must not end the operation.
        }
    }

    line_writer& out_;
    int finished_ = 0;
};

int main()
{
    try
    {
        line_writer lines;
        auto observer = std::make_shared<json_log_observer>(lines);

        asio::io_context ioc;
        kiemidi::emulator::server kie_emulator(ioc.get_executor());
        kie_emulator.start();
        kiemidi::in_process_callback_hub hub(ioc.get_executor());
        kiemidi::callback_listener listener(ioc.get_executor(), {}, hub);
        listener.start();

        kiemidi::client_options opts;
        opts.base_url = kie_emulator.https_base_url();
        opts.api_key = kie_emulator.api_key();
        opts.transport.tls.ca_pem = kie_emulator.ca_certificate_pem();
        opts.observer = observer;  // the tracing hooks
        kiemidi::client kie(ioc.get_executor(), std::move(opts));
        kie.attach_callbacks(hub, listener);

        std::exception_ptr failure;
        auto run = [&]() -> asio::awaitable<void> {
            kiemidi::midi_result midi = co_await kie.generate_midi("5c79****be8e", "e231****-****-****-****-****8cadc7dc");
            lines.push("{\"event\":\"done\",\"notes\":" + std::to_string(midi.note_count()) + "}");
        };
        asio::co_spawn(ioc, run(), [&](std::exception_ptr e) {
            failure = e;
            kie.close();
            listener.async_stop(asio::detached);  // graceful: completes once nothing of it runs
            kie_emulator.async_stop(asio::detached);
        });
        ioc.run();
        if (failure) std::rethrow_exception(failure);
        // The pipeline and its four stages (two paid submissions, two waits) were traced.
        if (observer->finished() != 5)
        {
            std::cerr << "trace_json: expected 5 finished stages, traced " << observer->finished() << '\n';
            return 1;
        }
        return 0;
    }
    catch (const std::exception& e)
    {
        std::cerr << "trace_json: " << e.what() << '\n';
        return 1;
    }
}
