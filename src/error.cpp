#include <utp/error.hpp>

#include <string>

namespace utp {
namespace {

class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "utp"; }
    std::string message(int ev) const override {
        switch (static_cast<error>(ev)) {
        case error::no_connection_id:
            return "no free connection id for this peer";
        case error::operation_in_progress:
            return "an operation of this kind is already pending";
        case error::multiplexer_closed:
            return "the multiplexer was closed";
        case error::address_family_mismatch:
            return "the endpoint's address family does not match the multiplexer's socket";
        }
        return "unknown utp error";
    }
};

} // namespace

const boost::system::error_category& error_category() noexcept {
    static const category c;
    return c;
}

} // namespace utp
