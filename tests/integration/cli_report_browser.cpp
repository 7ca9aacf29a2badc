// The batch report in a real browser: a small batch against the embedded emulator, its
// index.html screenshotted by headless Chromium (bounded: the browser's process group is killed
// after 60 s), and the PNG decoded (zlib) to check that the page is not blank and that the first
// piano roll's first instrument colour is on screen. Skipped only when Chromium is not installed
// (scripts/install-deps.sh browser installs it).
#if defined(KIEMIDI_CLI_PATH) && defined(KIEMIDI_HAVE_ZLIB)
#include "common/child_process.hpp"
#include "common/cli_fixture.hpp"
#include "common/temp_dir.hpp"

#include <boost/test/unit_test.hpp>

#include <zlib.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::optional<fs::path> find_chromium()
{
    // KIEMIDI_CHROMIUM names another browser binary (or, when not executable, none).
    if (const char* p = std::getenv("KIEMIDI_CHROMIUM"); p && *p)
        return ::access(p, X_OK) == 0 ? std::optional<fs::path>(p) : std::nullopt;
    for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/snap/bin/chromium"})
        if (::access(p, X_OK) == 0) return fs::path(p);
    return std::nullopt;
}

struct chromium_installed
{
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const
    {
        boost::test_tools::assertion_result r(find_chromium().has_value());
        r.message() << "skipped: Chromium is not installed (scripts/install-deps.sh browser installs it)";
        return r;
    }
};

using kiemidi::test::read_file;

/// Runs `exe args...` in its own process group, output to `log`; after `limit` the whole group
/// (the browser and every helper process it started) is killed. Returns the exit code, or
/// nullopt when it had to be killed.
std::optional<int> run_group_bounded(const std::string& exe, const std::vector<std::string>& args, const fs::path& log,
                                     std::chrono::milliseconds limit)
{
    const pid_t pid = kiemidi::test::spawn_logged(exe, args, log, environ, true);

    std::optional<int> code;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;)
    {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid)
        {
            code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        if (std::chrono::steady_clock::now() >= deadline)
        {
            ::kill(-pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(50ms);
    }
    ::kill(-pid, SIGKILL);  // helpers the browser left behind, if any (its group only)
    return code;
}

/// An 8-bit RGB(A) PNG, decoded: width × height pixels of 3 bytes (alpha dropped).
struct image
{
    std::uint32_t width = 0, height = 0;
    std::vector<std::uint8_t> rgb;
};

std::uint32_t be32(const std::string& s, std::size_t at)
{
    return (std::uint32_t(std::uint8_t(s[at])) << 24) | (std::uint32_t(std::uint8_t(s[at + 1])) << 16) |
           (std::uint32_t(std::uint8_t(s[at + 2])) << 8) | std::uint32_t(std::uint8_t(s[at + 3]));
}

/// A minimal PNG reader (non-interlaced, 8-bit RGB or RGBA: what Chromium writes); throws otherwise.
image decode_png(const std::string& png)
{
    static const std::string signature("\x89PNG\r\n\x1a\n", 8);
    if (png.size() < 8 || png.compare(0, 8, signature) != 0) throw std::runtime_error("not a PNG");
    image img;
    int channels = 0;
    std::string idat;
    for (std::size_t at = 8; at + 12 <= png.size();)
    {
        const auto len = be32(png, at);
        const auto type = png.substr(at + 4, 4);
        if (at + 12 + len > png.size()) throw std::runtime_error("truncated chunk");
        const auto data = png.substr(at + 8, len);
        if (type == "IHDR")
        {
            img.width = be32(data, 0);
            img.height = be32(data, 4);
            const int depth = std::uint8_t(data[8]), colour = std::uint8_t(data[9]), interlace = std::uint8_t(data[12]);
            if (depth != 8 || (colour != 2 && colour != 6) || interlace != 0) throw std::runtime_error("unsupported PNG format");
            channels = colour == 6 ? 4 : 3;
        }
        else if (type == "IDAT") idat += data;
        else if (type == "IEND") break;
        at += 12 + len;
    }
    if (channels == 0 || img.width == 0 || img.height == 0) throw std::runtime_error("no IHDR");
    const std::size_t stride = std::size_t(img.width) * channels;
    std::vector<std::uint8_t> raw((stride + 1) * img.height);
    uLongf raw_len = static_cast<uLongf>(raw.size());
    if (::uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()), static_cast<uLong>(idat.size())) != Z_OK ||
        raw_len != raw.size())
        throw std::runtime_error("bad image data");
    // Undo the per-row filters (PNG spec, section 9).
    std::vector<std::uint8_t> cur(stride), prev(stride, 0);
    img.rgb.reserve(std::size_t(img.width) * img.height * 3);
    for (std::uint32_t y = 0; y < img.height; ++y)
    {
        const std::uint8_t* row = raw.data() + y * (stride + 1);
        const int filter = row[0];
        for (std::size_t x = 0; x < stride; ++x)
        {
            const int a = x >= std::size_t(channels) ? cur[x - channels] : 0;
            const int b = prev[x];
            const int c = x >= std::size_t(channels) ? prev[x - channels] : 0;
            int v = row[1 + x];
            switch (filter)
            {
            case 0: break;
            case 1: v += a; break;
            case 2: v += b; break;
            case 3: v += (a + b) / 2; break;
            case 4:
            {
                const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
                v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
                break;
            }
            default: throw std::runtime_error("bad filter");
            }
            cur[x] = static_cast<std::uint8_t>(v);
        }
        for (std::uint32_t x = 0; x < img.width; ++x)
            for (int k = 0; k < 3; ++k) img.rgb.push_back(cur[std::size_t(x) * channels + k]);
        std::swap(cur, prev);
    }
    return img;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(report_browser)

BOOST_AUTO_TEST_CASE(the_report_renders_in_a_real_browser_with_its_piano_rolls,
                     *boost::unit_test::precondition(chromium_installed()))
{
    kiemidi::test::temp_dir dir("kiemidi-report-browser");
    const auto out = dir.path / "out";
    std::ofstream(dir.path / "tracks.csv") << "music-1,track-1,first\nmusic-2,track-2,second\n";
    {
        kiemidi::test::child_process batch(KIEMIDI_CLI_PATH, {"batch", (dir.path / "tracks.csv").string(), "-o", out.string()},
                                           dir.path / "batch.log");
        const auto code = batch.wait_for(60s);
        BOOST_TEST_REQUIRE(code.has_value(), read_file(dir.path / "batch.log"));
        BOOST_TEST_REQUIRE(*code == 0, read_file(dir.path / "batch.log"));
    }
    const auto html = read_file(out / "index.html");
    // The colour of the first roll's first instrument, as the page says it (its legend swatch).
    const std::string swatch = "class=\"swatch\"";
    const auto at = html.find(swatch);
    BOOST_TEST_REQUIRE(at != std::string::npos);
    const auto fill = html.find("fill=\"#", at);
    BOOST_TEST_REQUIRE(fill != std::string::npos);
    const auto hex = html.substr(fill + 7, 6);
    const std::array<int, 3> want{std::stoi(hex.substr(0, 2), nullptr, 16), std::stoi(hex.substr(2, 2), nullptr, 16),
                                  std::stoi(hex.substr(4, 2), nullptr, 16)};

    const auto png = dir.path / "report.png";
    const auto chromium = find_chromium()->string();
    const auto code = run_group_bounded(chromium,
                                        {"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-breakpad",
                                         "--disable-crash-reporter",
                                         "--user-data-dir=" + (dir.path / "profile").string(), "--screenshot=" + png.string(),
                                         "--window-size=1200,900", "file://" + (out / "index.html").string()},
                                        dir.path / "chromium.log", 60s);
    BOOST_TEST_REQUIRE(code.has_value(), "Chromium did not finish within 60 s: " << read_file(dir.path / "chromium.log"));
    BOOST_TEST_REQUIRE(fs::exists(png), "no screenshot; exit " << *code << ": " << read_file(dir.path / "chromium.log"));

    image img;
    try
    {
        img = decode_png(read_file(png));
    }
    catch (const std::exception& e)
    {
        BOOST_FAIL("the screenshot cannot be decoded: " << e.what());
    }
    BOOST_TEST(img.width == 1200u);
    BOOST_TEST(img.height == 900u);
    std::size_t coloured = 0, instrument = 0;
    std::set<std::uint32_t> colours;
    for (std::size_t i = 0; i + 2 < img.rgb.size(); i += 3)
    {
        const int r = img.rgb[i], g = img.rgb[i + 1], b = img.rgb[i + 2];
        if (r < 245 || g < 245 || b < 245) ++coloured;
        colours.insert(std::uint32_t(r) << 16 | std::uint32_t(g) << 8 | std::uint32_t(b));
        if (std::abs(r - want[0]) <= 4 && std::abs(g - want[1]) <= 4 && std::abs(b - want[2]) <= 4) ++instrument;
    }
    // Not blank: text, grid and notes cover a good part of the page, in many colours.
    BOOST_TEST(coloured > img.rgb.size() / 3 / 50, coloured << " non-white pixels");
    BOOST_TEST(colours.size() > 20u);
    // The first instrument's swatch (about 12 × 12 px) and full-velocity notes are on screen.
    BOOST_TEST(instrument >= 60u, instrument << " pixels of #" << hex);
}

BOOST_AUTO_TEST_SUITE_END()

#endif
