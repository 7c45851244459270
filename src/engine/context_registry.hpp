//
// src/engine/context_registry.hpp — an execution-context service that tells every engine
// holding work for the context when the context shuts down.
//
// An engine is registered with its own context when it is made, and with the context of
// every socket or acceptor on another context that starts an operation on it. Shutdown
// runs before the services of the engine's UDP socket and timer shut down (services shut
// down in reverse order of creation, and this one is created after them).
//
#ifndef UTP_SRC_ENGINE_CONTEXT_REGISTRY_HPP
#define UTP_SRC_ENGINE_CONTEXT_REGISTRY_HPP

#include <boost/asio/execution_context.hpp>

#include <memory>
#include <mutex>
#include <vector>

namespace utp::detail {

class engine;

class context_registry final : public boost::asio::execution_context::service {
public:
    using key_type = context_registry;
    static inline boost::asio::execution_context::id id;

    explicit context_registry(boost::asio::execution_context& ctx);
    /// Tell `e` when this context shuts down.
    void add(const std::shared_ptr<engine>& e);

private:
    void shutdown() override;

    boost::asio::execution_context& context_;
    std::mutex mutex_;
    // Weak: the registry must not keep an engine alive; expired entries are pruned on add.
    std::vector<std::weak_ptr<engine>> engines_;
};

context_registry& registry_of(boost::asio::execution_context& ctx);

} // namespace utp::detail

#endif
