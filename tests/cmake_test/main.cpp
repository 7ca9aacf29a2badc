// Proves the installed package is usable: headers found, library linked, categories work.
#include <kiemidi/diagnostics.hpp>
#include <kiemidi/error.hpp>

#include <iostream>

int main()
{
    kiemidi::error_code ec = kiemidi::api_errc::insufficient_credits;
    kiemidi::diagnostics diag;
    diag.set_server_message("Insufficient credits");
    if (ec.value() != 402 || diag.to_string().find("Insufficient") == std::string::npos)
    {
        std::cerr << "kiemidi consumer: unexpected error mapping\n";
        return 1;
    }
    std::cout << "kiemidi consumer OK: " << ec.message() << '\n';
    return 0;
}
