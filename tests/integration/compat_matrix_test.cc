// The compatibility matrix (issue 19, docs/compatibility.md): real VNC and
// RDP clients as users run them, each on its own X display, through
// `vigil serve` to real targets. Each row checks what a user would: the viewer
// shows the target's screen (PSNR against the target's own screenshot), a line
// typed into the viewer runs on the target and is searchable, and the
// session's export is clean under `ffmpeg -v error` and keeps every frame when
// ffmpeg re-encodes it with its defaults.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "tests/integration/gateway_fixture.h"

namespace vigil::integration {
namespace {

using namespace std::chrono_literals;

// A viewer is started by `argv` (with {PORT}, {DISPLAY} and {PASSWD}
// replaced: the gateway's port, that port - 5900, and a tigervncpasswd file
// holding the code); if it asks for
// the password in a dialog instead, `dialog_title` names that window.
struct Row {
  std::string name;
  std::vector<std::string> argv;
  std::string window_class;  // xdotool --class of the viewer's main window
  std::string dialog_title;  // "" when the password comes from the file
  bool xvnc = false;         // target: TigerVNC's Xvnc (desk-xvnc) instead of x11vnc (desk-vnc)
  std::string profile;       // Remmina: the .remmina file, written to {PROFILE}
  bool rdp = false;          // through [rdp] listen to desk-rdp with vendor1's own password
};

// Remmina as users run it: a profile, a private HOME, its own D-Bus session.
std::vector<std::string> remmina() {
  return {"env", "HOME={HOME}", "XDG_CONFIG_HOME={HOME}/c", "XDG_DATA_HOME={HOME}/d",
          "XDG_CACHE_HOME={HOME}/k", "XDG_RUNTIME_DIR={HOME}", "dbus-run-session", "--", "remmina", "-c",
          "{PROFILE}"};
}
// The window is big enough for the 1280x800 desktop at 1:1 beside the toolbar.
constexpr char kRemminaWindow[] = "window_width=1400\nwindow_height=900\nviewmode=1\nscale=0\n";

std::vector<Row> rows() {
  return {
      {"xtigervncviewer (auto: Tight)", {"xtigervncviewer", "-passwd", "{PASSWD}", "127.0.0.1::{PORT}"},
       "TigerVNC Viewer", ""},
      {"xtigervncviewer ZRLE", {"xtigervncviewer", "-passwd", "{PASSWD}", "-PreferredEncoding=ZRLE",
       "-AutoSelect=0", "127.0.0.1::{PORT}"}, "TigerVNC Viewer", ""},
      {"xtightvncviewer", {"xtightvncviewer", "-passwd", "{PASSWD}", "-encodings", "tight copyrect",
       "127.0.0.1::{PORT}"}, "Vncviewer", ""},
      // gvncviewer takes a display number only: port 5900 + N.
      {"gvncviewer", {"gvncviewer", "127.0.0.1:{DISPLAY}"}, "Gvncviewer", "Authentication required"},
      // TigerVNC's own server as the target (the pair where a typed line was
      // once recorded and not run).
      {"xtigervncviewer ZRLE to Xvnc", {"xtigervncviewer", "-passwd", "{PASSWD}", "-PreferredEncoding=ZRLE",
       "-AutoSelect=0", "127.0.0.1::{PORT}"}, "TigerVNC Viewer", "", true},
      {"gvncviewer to Xvnc", {"gvncviewer", "127.0.0.1:{DISPLAY}"}, "Gvncviewer", "Authentication required",
       true},
      // Remmina asks for the password inside its main window.
      {"Remmina VNC", remmina(), "org.remmina.Remmina", "vigil-vnc", false,
       std::string("[remmina]\nname=vigil-vnc\nprotocol=VNC\nserver=127.0.0.1:{PORT}\ncolordepth=32\n"
                   "quality=9\ndisablepasswordstoring=1\n") + kRemminaWindow},
      // Remmina RDP logs on with the password in its profile (sealed as
      // Remmina seals it) and TLS security: Vigil offers no NLA to clients.
      {"Remmina RDP", remmina(), "org.remmina.Remmina", "", false,
       std::string("[remmina]\nname=vigil-rdp\nprotocol=RDP\nserver=127.0.0.1:{PORT}\n"
                   "username=vendor1#desk-rdp\npassword={SEALED}\nsecurity=tls\ncert_ignore=1\n") +
           kRemminaWindow,
       true},
      {"Remmina RDP 32 bpp", remmina(), "org.remmina.Remmina", "", false,
       std::string("[remmina]\nname=vigil-rdp\nprotocol=RDP\nserver=127.0.0.1:{PORT}\n"
                   "username=vendor1#desk-rdp\npassword={SEALED}\nsecurity=tls\ncert_ignore=1\ncolordepth=32\n") +
           kRemminaWindow,
       true},
      {"Remmina VNC to Xvnc", remmina(), "org.remmina.Remmina", "vigil-vnc", true,
       std::string("[remmina]\nname=vigil-vnc\nprotocol=VNC\nserver=127.0.0.1:{PORT}\ncolordepth=32\n"
                   "quality=9\ndisablepasswordstoring=1\n") + kRemminaWindow},
  };
}

void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

struct Substitutions {
  int port = 0;
  std::string passwd, home, profile, sealed;
};

// A password as Remmina keeps it in a profile when no keyring plugin is
// installed (CI installs none: --no-install-recommends): 3DES-CBC under the
// `secret` of its remmina.pref (24 key bytes, then 8 IV bytes), NUL-padded
// to 8 bytes, in base64. Writes that pref file, with a fixed secret, into
// the private HOME's config folder; "" on failure.
std::string remminaSealed(const std::string& home, const std::string& password) {
  const std::string key = "0123456789abcdef0123456789abcdef0123456789abcdef", iv = "0011223344556677";
  std::filesystem::create_directories(home + "/c/remmina");
  std::string secret_b64;
  auto rc = testbed::run({"sh", "-c", "printf '" + key + iv + "' | xxd -r -p | base64 -w0"}, {}, &secret_b64);
  if (!rc.ok() || *rc != 0 || secret_b64.empty()) return "";
  std::ofstream(home + "/c/remmina/remmina.pref") << "[remmina_pref]\nsecret=" << secret_b64 << "\n";
  std::string padded = password;
  padded.resize((password.size() / 8 + 1) * 8, '\0');
  const std::string plain = home + "/plain.bin";
  std::ofstream(plain, std::ios::binary) << padded;
  std::string out;
  rc = testbed::run({"sh", "-c", "openssl enc -des-ede3-cbc -nopad -K " + key + " -iv " + iv + " -in '" + plain +
                                     "' | base64 -w0"},
                    {}, &out);
  std::filesystem::remove(plain);
  return rc.ok() && *rc == 0 ? out : "";
}

std::string substitute(std::string s, const Substitutions& v) {
  for (auto [key, value] : {std::pair<std::string, std::string>{"{PORT}", std::to_string(v.port)},
                            {"{DISPLAY}", std::to_string(v.port - 5900)},
                            {"{PASSWD}", v.passwd},
                            {"{HOME}", v.home},
                            {"{PROFILE}", v.profile},
                            {"{SEALED}", v.sealed}})
    for (auto at = s.find(key); at != std::string::npos; at = s.find(key)) s.replace(at, key.size(), value);
  return s;
}

// The viewer's picture of the target lies somewhere in the client's screen
// (below a menu bar, beside a border). Finds the offset where a sparse grid of
// the target's pixels matches best, then measures PSNR over the whole picture.
double alignedPsnr(const Frame& client, const Frame& target, int max_dx, int max_dy) {
  auto px = [](const Frame& f, int x, int y) { return f.data() + y * f.stride() + x * 4; };
  long best = -1;
  int bx = 0, by = 0;
  for (int dy = 0; dy <= max_dy && dy + target.height() <= client.height(); ++dy)
    for (int dx = 0; dx <= max_dx && dx + target.width() <= client.width(); ++dx) {
      long sse = 0;
      for (int y = 3; y < target.height() && (best < 0 || sse < best); y += 16)
        for (int x = 5; x < target.width(); x += 16) {
          const std::uint8_t *a = px(target, x, y), *b = px(client, x + dx, y + dy);
          for (int c = 0; c < 3; ++c) sse += (a[c] - b[c]) * (a[c] - b[c]);
        }
      if (best < 0 || sse < best) best = sse, bx = dx, by = dy;
    }
  if (best < 0) return 0;
  Frame crop(target.width(), target.height());
  for (int y = 0; y < target.height(); ++y)
    std::memcpy(crop.data() + y * crop.stride(), px(client, bx, by + y), crop.stride());
  return testbed::psnr(crop, target);
}

int countFrames(const std::string& file) {
  std::string out;
  auto rc = testbed::run({"ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                          "stream=nb_read_frames", "-of", "csv=p=0", file},
                         {}, &out, 120s);
  return rc.ok() && *rc == 0 ? std::atoi(out.c_str()) : -1;
}

std::string firstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

// One gateway for all rows, with three targets: the fixture's desktop served
// by x11vnc (desk-vnc) and by freerdp-shadow (desk-rdp), and a TigerVNC
// Xvnc desktop of its own (desk-xvnc).
class CompatMatrix : public ::testing::TestWithParam<Row> {
 protected:
  static constexpr const char* kXvncTarget = "desk-xvnc";
  static constexpr const char* kXvncPassword = "xvnc-pw1";

  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/vigil-xvnc-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    xvnc_dir_ = tmpl;
    const std::string pw = xvnc_dir_ + "/passwd";
    auto rc = testbed::run({"sh", "-c", std::string("printf '%s\\n%s\\n' ") + kXvncPassword + " " + kXvncPassword +
                                            " | tigervncpasswd -f > '" + pw + "'"});
    ASSERT_TRUE(rc.ok() && *rc == 0) << "tigervncpasswd failed";
    const std::uint16_t rfb = testbed::freeTcpPort();
    auto xvnc = testbed::XDisplay::startXvnc(1280, 800, rfb, pw);
    ASSERT_TRUE(xvnc.ok()) << xvnc.message();
    xvnc_ = xvnc->release();
    auto term = xvnc_->startXterm(GatewayFixture::kTerminalTitle, "100x30+60+60");
    ASSERT_TRUE(term.ok()) << term.message();
    xvnc_term_ = new testbed::Process(std::move(*term));
    xvnc_listen_ = testbed::freeTcpPort();

    FixtureOptions o;
    o.rdp_target = true;
    std::ostringstream extra;
    extra << "[[targets]]\nname = \"" << kXvncTarget << "\"\nprotocol = \"vnc\"\nhost = \"127.0.0.1\"\nport = " << rfb
          << "\npassword = \"" << kXvncPassword << "\"\nvnc_listen = \"127.0.0.1:" << xvnc_listen_ << "\"\n"
          << "[[grants]]\nuser = \"vendor1\"\ntarget = \"" << kXvncTarget << "\"\n";
    o.extra_toml = extra.str();
    auto fx = GatewayFixture::start(o);
    ASSERT_TRUE(fx.ok()) << fx.message();
    fixture_ = std::move(*fx).release();
  }
  static void TearDownTestSuite() {
    delete fixture_;
    delete xvnc_term_;
    delete xvnc_;
    fixture_ = nullptr;
    xvnc_term_ = nullptr;
    xvnc_ = nullptr;
    std::filesystem::remove_all(xvnc_dir_);
  }
  // The target's desktop for a row, and the gateway port serving it.
  static const testbed::XDisplay& targetDisplay(const Row& row) {
    return row.xvnc ? *xvnc_ : fixture_->display();
  }
  static void focusTerminal(const Row& row) {
    const testbed::XDisplay& d = targetDisplay(row);
    std::string out;
    (void)d.run({"xdotool", "search", "--name", GatewayFixture::kTerminalTitle}, &out);
    const std::string win = out.substr(0, out.find('\n'));
    if (win.empty()) return;
    (void)d.run({"xdotool", "windowactivate", "--sync", win});
    (void)d.run({"xdotool", "mousemove", "--window", win, "200", "200"});
  }

  static GatewayFixture* fixture_;
  static testbed::XDisplay* xvnc_;
  static testbed::Process* xvnc_term_;
  static std::string xvnc_dir_;
  static std::uint16_t xvnc_listen_;
};
GatewayFixture* CompatMatrix::fixture_ = nullptr;
testbed::XDisplay* CompatMatrix::xvnc_ = nullptr;
testbed::Process* CompatMatrix::xvnc_term_ = nullptr;
std::string CompatMatrix::xvnc_dir_;
std::uint16_t CompatMatrix::xvnc_listen_ = 0;

TEST_P(CompatMatrix, ViewerShowsTheTargetLineRunsIsSearchableAndExportReencodesWhole) {
  ASSERT_NE(fixture_, nullptr);
  GatewayFixture& f = *fixture_;
  const Row& row = GetParam();

  auto display = testbed::XDisplay::start(1440, 960, false);
  ASSERT_TRUE(display.ok()) << display.message();
  const testbed::XDisplay& cd = **display;

  const std::string tag = f.dir() + "/viewer-" + std::to_string(cd.number());
  const std::string secret =
      row.rdp ? std::string(GatewayFixture::kVendorPassword) : f.grantCode(row.xvnc ? kXvncTarget : "desk-vnc");
  Substitutions v{row.rdp ? f.rdpPort() : row.xvnc ? xvnc_listen_ : f.vncPort(), tag + ".passwd", tag + "-home",
                  tag + ".remmina"};
  auto rc = testbed::run({"sh", "-c", "printf '%s\\n%s\\n' '" + secret + "' '" + secret +
                                          "' | tigervncpasswd -f > '" + v.passwd + "'"});
  ASSERT_TRUE(rc.ok() && *rc == 0) << "tigervncpasswd failed";
  std::filesystem::create_directories(v.home);
  if (!row.profile.empty()) {
    v.sealed = remminaSealed(v.home, secret);
    ASSERT_FALSE(v.sealed.empty()) << "could not seal the password as Remmina does";
    std::ofstream(v.profile) << substitute(row.profile, v);
  }
  std::vector<std::string> argv;
  for (const auto& a : row.argv) argv.push_back(substitute(a, v));
  const std::string log = tag + ".log";
  auto viewer = cd.spawn(argv, log);
  ASSERT_TRUE(viewer.ok()) << viewer.message();
  // On a failure: the viewer's screen as a PNG beside its log, and both logs.
  // (The fixture's folder goes with it; the PNG stays in the working folder.)
  auto why = [&] {
    const std::string png = (std::filesystem::current_path() / ("compat-" + std::to_string(cd.number()) + ".png")).string();
    (void)cd.run({"import", "-window", "root", png});
    return "viewer's screen: " + png + "\nviewer log:\n" + testbed::readFile(log) + "\ngateway log:\n" +
           f.gatewayLog();
  };

  if (!row.dialog_title.empty()) {
    std::string dlg;
    ASSERT_TRUE(testbed::waitFor([&] {
      dlg.clear();
      auto r = cd.run({"xdotool", "search", "--onlyvisible", "--name", row.dialog_title}, &dlg);
      return r.ok() && *r == 0 && !dlg.empty();
    }, 20s, 200ms)) << "no password dialog\n" << why();
    dlg = firstLine(dlg);
    (void)cd.run({"xdotool", "windowfocus", "--sync", dlg});
    std::this_thread::sleep_for(300ms);
    ASSERT_TRUE(cd.run({"xdotool", "type", "--delay", "30", secret}).ok());
    ASSERT_TRUE(cd.run({"xdotool", "key", "Return"}).ok());
  }

  std::string win;
  ASSERT_TRUE(testbed::waitFor([&] {
    win.clear();
    auto r = cd.run({"xdotool", "search", "--onlyvisible", "--class", row.window_class}, &win);
    return r.ok() && *r == 0 && !win.empty();
  }, 20s, 200ms)) << "no viewer window\n" << why();
  win = firstLine(win);

  // The session is live and the viewer shows the target's screen.
  std::string id;
  ASSERT_TRUE(testbed::waitFor([&] {
    nlohmann::json j = f.vigilJson({"sessions", "--live"});
    if (!j.is_object() || j["sessions"].empty()) return false;
    id = j["sessions"][0].value("id", "");
    return !id.empty();
  }, 20s, 250ms)) << "no live session\n" << why();
  focusTerminal(row);
  std::this_thread::sleep_for(2s);
  auto target_shot = targetDisplay(row).screenshot();
  ASSERT_TRUE(target_shot.ok()) << target_shot.message();
  double screen_db = 0;
  testbed::waitFor([&] {
    auto shot = cd.screenshot();
    if (shot.ok()) screen_db = alignedPsnr(*shot, *target_shot, 160, 160);
    return screen_db >= 35.0;
  }, 10s, 500ms);
  EXPECT_GE(screen_db, 35.0) << row.name << ": the viewer does not show the target's screen";

  // A line typed into the viewer runs on the target and is searchable.
  std::random_device rd;
  const std::string marker = "cm" + std::to_string(rd() % 900000 + 100000);
  const std::string proof = f.dir() + "/" + marker + ".txt";
  (void)cd.run({"xdotool", "windowfocus", "--sync", win});
  (void)cd.run({"xdotool", "mousemove", "--window", win, "300", "200"});
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(cd.run({"xdotool", "type", "--delay", "30", "echo " + marker + " > " + proof}).ok());
  ASSERT_TRUE(cd.run({"xdotool", "key", "Return"}).ok());
  const bool ran = testbed::waitFor([&] { return testbed::readFile(proof) == marker + "\n"; }, 15s);
  EXPECT_TRUE(ran) << row.name << ": the typed line did not run on the target\n" << why();
  bool found = false;
  testbed::waitFor([&] {
    nlohmann::json r = f.vigilJson({"search", marker});
    found = r.is_object() && !r["hits"].empty() && r["hits"][0].value("session_id", "") == id;
    return found;
  }, 5s, 250ms);
  EXPECT_TRUE(found) << row.name << ": the line is not searchable in session " << id;

  viewer->stop();
  ASSERT_TRUE(testbed::waitFor([&] {
    nlohmann::json j = f.vigilJson({"sessions", "--live"});
    return j.is_object() && j["sessions"].empty();
  }, 15s)) << "the session did not end when the viewer left\n" << why();

  // The export: clean for ffmpeg, and a re-encode with defaults keeps every frame.
  const std::string out = f.dir() + "/" + marker + ".mp4";
  VigilRun ex = f.vigil({"export", id, out});
  ASSERT_EQ(ex.exit_code, 0) << ex.out;
  std::string errors;
  rc = testbed::run({"sh", "-c", "ffmpeg -nostdin -v error -i '" + out + "' -f null - 2>&1"}, {}, &errors, 120s);
  EXPECT_TRUE(rc.ok() && *rc == 0 && errors.empty()) << row.name << ": ffmpeg says:\n" << errors;
  const std::string re = f.dir() + "/" + marker + "-re.mp4";
  rc = testbed::run({"ffmpeg", "-nostdin", "-v", "error", "-y", "-i", out, re}, {}, nullptr, 180s);
  ASSERT_TRUE(rc.ok() && *rc == 0) << "ffmpeg could not re-encode the export";
  const int frames = countFrames(out), re_frames = countFrames(re);
  EXPECT_GT(frames, 0);
  EXPECT_EQ(re_frames, frames) << row.name << ": a re-encode with ffmpeg's defaults changed the frame count";
  std::printf("[ matrix ] %s | %s | screen %.1f dB | line ran %s | searchable %s | export %d frames, re-encoded %d\n",
              row.name.c_str(), row.rdp ? "freerdp-shadow (NLA)" : row.xvnc ? "Xvnc" : "x11vnc", screen_db, ran ? "yes" : "NO", found ? "yes" : "NO", frames, re_frames);
}

INSTANTIATE_TEST_SUITE_P(Clients, CompatMatrix, ::testing::ValuesIn(rows()),
                         [](const ::testing::TestParamInfo<Row>& info) {
                           std::string n;
                           for (char c : info.param.name)
                             if (std::isalnum(static_cast<unsigned char>(c))) n += c;
                           return n;
                         });

}  // namespace
}  // namespace vigil::integration
