// hiredis' event-loop adapter on Asio: hiredis says through its ev hooks when it wants to read or
// write; we wait for the descriptor to be ready on the strand and let hiredis do the I/O. When
// hiredis frees the context its cleanup hook tells us, and the generation counter turns the
// waits still pending for that context into no-ops.
#include "connection_impl.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

namespace asio = boost::asio;

namespace kiemidi::redis {

connection::impl::~impl()
{
    // Only reached when close() never ran (the io_context stopped first): free quietly.
    if (ac)
    {
        ac->data = nullptr;
        ac->ev.cleanup = nullptr;
        if (sd) sd->release();
        redisAsyncFree(ac);
    }
}

void connection::impl::ev_add_read(void* p)
{
    auto* self = static_cast<impl*>(p);
    self->want_read = true;
    self->arm_read();
}

void connection::impl::ev_del_read(void* p) { static_cast<impl*>(p)->want_read = false; }

void connection::impl::ev_add_write(void* p)
{
    auto* self = static_cast<impl*>(p);
    self->want_write = true;
    self->arm_write();
}

void connection::impl::ev_del_write(void* p) { static_cast<impl*>(p)->want_write = false; }

void connection::impl::ev_cleanup(void* p) { static_cast<impl*>(p)->context_freed(); }

void connection::impl::arm_read()
{
    if (!sd || read_armed) return;
    read_armed = true;
    sd->async_wait(asio::posix::stream_descriptor::wait_read,
                   asio::bind_executor(strand, [self = shared_from_this(), g = gen](error_code ec) {
                       if (g != self->gen) return;  // the context this wait was for is gone
                       self->read_armed = false;
                       if (ec || !self->ac) return;
                       if (self->want_read) redisAsyncHandleRead(self->ac);
                       if (g == self->gen && self->ac && self->want_read) self->arm_read();
                   }));
}

void connection::impl::arm_write()
{
    if (!sd || write_armed) return;
    write_armed = true;
    sd->async_wait(asio::posix::stream_descriptor::wait_write,
                   asio::bind_executor(strand, [self = shared_from_this(), g = gen](error_code ec) {
                       if (g != self->gen) return;
                       self->write_armed = false;
                       if (ec || !self->ac) return;
                       if (self->want_write) redisAsyncHandleWrite(self->ac);
                       if (g == self->gen && self->ac && self->want_write) self->arm_write();
                   }));
}

// hiredis is freeing the context (it closes the descriptor itself right after).
void connection::impl::context_freed()
{
    if (ac && ac->errstr && ac->err && attempt_error.empty()) attempt_error = ac->errstr;
    if (sd)
    {
        sd->release();  // hiredis owns the descriptor; outstanding waits end with operation_aborted
        sd.reset();
    }
    ac = nullptr;
    ++gen;
    want_read = want_write = read_armed = write_armed = false;
    // Not from inside hiredis: the state change runs as its own strand handler.
    asio::post(strand, [self = shared_from_this()] { self->after_context_gone(); });
}

}  // namespace kiemidi::redis
