// `kiemidi batch` and `kiemidi status` (need the batch journal).
#include "commands.hpp"

#include <iostream>

namespace kiemidi::cli {

int batch_command(const kie_flags&, const batch_args&)
{
    std::cerr << "kiemidi batch: not available in this build\n";
    return exit_failed;
}

int status_command(const std::filesystem::path&)
{
    std::cerr << "kiemidi status: not available in this build\n";
    return exit_failed;
}

}  // namespace kiemidi::cli
