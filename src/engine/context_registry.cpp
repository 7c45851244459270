#include "context_registry.hpp"

#include "engine.hpp"

#include <algorithm>

namespace utp::detail {

context_registry::context_registry(boost::asio::execution_context& ctx)
    : service(ctx), context_(ctx) {}

void context_registry::add(const std::shared_ptr<engine>& e) {
    std::lock_guard lock(mutex_);
    std::erase_if(engines_, [](const std::weak_ptr<engine>& w) { return w.expired(); });
    engines_.push_back(e);
}

void context_registry::shutdown() {
    std::vector<std::weak_ptr<engine>> engines;
    {
        std::lock_guard lock(mutex_);
        engines.swap(engines_);
    }
    // Not under the registry's lock: an engine's shutdown destroys handlers, which may
    // destroy sockets, whose engines may register here.
    for (auto& w : engines)
        if (auto e = w.lock()) e->on_context_shutdown(context_);
}

context_registry& registry_of(boost::asio::execution_context& ctx) {
    return boost::asio::use_service<context_registry>(ctx);
}

} // namespace utp::detail
