//
// example/common/args.hpp — the command line of the TLS / Beast examples (https_server,
// https_client, websocket_echo): positional arguments plus the few options they share, so
// that every program spells and checks them the same way.
//
#ifndef UTP_EXAMPLE_ARGS_HPP
#define UTP_EXAMPLE_ARGS_HPP

#include <algorithm>
#include <charconv>
#include <chrono>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace utp_example {

/// What a usage error says; main() prints it with the usage text and exits with 2.
struct usage_error : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

struct command_line {
    std::vector<std::string> args; ///< the positional arguments, in order

    std::string cert;                 ///< --cert FILE: the server's certificate chain (PEM)
    std::string key;                  ///< --key FILE: its private key (PEM)
    std::string write_cert;           ///< --write-cert FILE: save the throw-away certificate here
    std::string ca;                   ///< --ca FILE: the certificate(s) a client trusts (PEM)
    std::string host;                 ///< --host NAME: the name a client asks for and verifies
    bool insecure = false;            ///< --insecure: a client verifies nothing
    bool tls = false;                 ///< --tls
    bool binary = false;              ///< --binary
    std::chrono::seconds timeout{30}; ///< --timeout SECONDS: a client's whole run
};

inline unsigned long parse_number(std::string_view text, const char* what) {
    unsigned long n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end != text.data() + text.size())
        throw usage_error(std::string(what) + ": not a number: " + std::string(text));
    return n;
}

inline unsigned short parse_port(std::string_view text) {
    const unsigned long n = parse_number(text, "port");
    if (n > 65535) throw usage_error("port out of range: " + std::string(text));
    return static_cast<unsigned short>(n);
}

/** Parse `argv[first..argc)`. `allowed` lists the options this program accepts; any other
    argument starting with "--" is an error, as are contradictory options. */
inline command_line parse_command_line(int argc, char** argv, int first,
                                       std::initializer_list<std::string_view> allowed) {
    command_line cl;
    for (int i = first; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (!arg.starts_with("--")) {
            cl.args.emplace_back(arg);
            continue;
        }
        if (std::find(allowed.begin(), allowed.end(), arg) == allowed.end())
            throw usage_error("unknown option " + std::string(arg));
        if (arg == "--insecure") {
            cl.insecure = true;
        } else if (arg == "--tls") {
            cl.tls = true;
        } else if (arg == "--binary") {
            cl.binary = true;
        } else {
            if (i + 1 == argc) throw usage_error(std::string(arg) + " needs a value");
            const std::string value = argv[++i];
            if (arg == "--cert")
                cl.cert = value;
            else if (arg == "--key")
                cl.key = value;
            else if (arg == "--write-cert")
                cl.write_cert = value;
            else if (arg == "--ca")
                cl.ca = value;
            else if (arg == "--host")
                cl.host = value;
            else if (arg == "--timeout")
                cl.timeout = std::chrono::seconds(parse_number(value, "--timeout"));
        }
    }
    if (cl.cert.empty() != cl.key.empty()) throw usage_error("--cert and --key go together");
    if (!cl.cert.empty() && !cl.write_cert.empty())
        throw usage_error("--write-cert is for the throw-away identity, not with --cert");
    if (cl.insecure && !cl.ca.empty()) throw usage_error("--ca and --insecure contradict");
    return cl;
}

} // namespace utp_example

#endif
