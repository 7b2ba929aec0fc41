// The compatibility matrix (issue 19, docs/compatibility.md): real VNC and
// RDP clients as users run them, each on its own X display, through
// `vigil serve` to real targets. Each row checks what a user would: the viewer
// shows the target's screen (PSNR against the target's own screenshot), a line
// typed into the viewer runs on the target and is searchable, and the
// session's export is clean under `ffmpeg -v error` and loses no frame when
// ffmpeg re-encodes it with its defaults.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <utility>
#include <vector>

#include "tests/integration/gateway_fixture.h"

namespace vigil::integration {
namespace {

using namespace std::chrono_literals;

// A viewer is started by `argv` (with {PORT}, {DISPLAY} and {PASSWD}
// replaced: the gateway's port, that port - 5900, and a tigervncpasswd file
// holding the code); if it asks for
// the password in a dialog instead, `dialog_title` names that window.
enum class Target {
  kX11vnc,  // desk-vnc: the fixture's desktop served by x11vnc
  kXvnc,    // desk-xvnc: TigerVNC's Xvnc with its own desktop
  kShadow,  // desk-rdp: the fixture's desktop served by freerdp-shadow (NLA)
  kXrdp,    // desk-xrdp: xrdp, TLS only, its own Xvnc session per logon
};

struct Row {
  std::string name;
  std::vector<std::string> argv;
  std::string window_class;  // xdotool --class of the viewer's main window
  std::string dialog_title;  // "" when the password comes from the file or profile
  Target target = Target::kX11vnc;
  std::string profile;       // Remmina: the .remmina file, written to {PROFILE}
};

// Remmina as users run it: a profile, a private HOME, its own D-Bus session.
std::vector<std::string> remmina() {
  return {"env", "HOME={HOME}", "XDG_CONFIG_HOME={HOME}/c", "XDG_DATA_HOME={HOME}/d",
          "XDG_CACHE_HOME={HOME}/k", "XDG_RUNTIME_DIR={HOME}", "dbus-run-session", "--", "remmina", "-c",
          "{PROFILE}"};
}
// The window is big enough for the 1280x800 desktop at 1:1 beside the toolbar.
constexpr char kRemminaWindow[] = "window_width=1400\nwindow_height=900\nviewmode=1\nscale=0\n";

// Remmina RDP logs on with the password in its profile (sealed as Remmina
// seals it) and TLS security: Vigil offers no NLA to clients.
std::string remminaRdp(const std::string& target, const std::string& extra) {
  return std::string("[remmina]\nname=vigil-rdp\nprotocol=RDP\nserver=127.0.0.1:{PORT}\nusername=vendor1#") +
         target + "\npassword={SEALED}\nsecurity=tls\ncert_ignore=1\n" + extra + kRemminaWindow;
}

std::vector<Row> rows() {
  const std::vector<std::string> tiger_zrle = {"xtigervncviewer", "-passwd", "{PASSWD}", "-PreferredEncoding=ZRLE",
                                               "-AutoSelect=0", "127.0.0.1::{PORT}"};
  // gvncviewer takes a display number only: port 5900 + N.
  const std::vector<std::string> gvnc = {"gvncviewer", "127.0.0.1:{DISPLAY}"};
  // Remmina asks for a VNC password inside its main window.
  const std::string remmina_vnc = std::string("[remmina]\nname=vigil-vnc\nprotocol=VNC\nserver=127.0.0.1:{PORT}\n"
                                              "colordepth=32\nquality=9\ndisablepasswordstoring=1\n") +
                                  kRemminaWindow;
  return {
      {"xtigervncviewer (auto: Tight)", {"xtigervncviewer", "-passwd", "{PASSWD}", "127.0.0.1::{PORT}"},
       "TigerVNC Viewer", ""},
      {"xtigervncviewer ZRLE", tiger_zrle, "TigerVNC Viewer", ""},
      {"xtightvncviewer", {"xtightvncviewer", "-passwd", "{PASSWD}", "-encodings", "tight copyrect",
       "127.0.0.1::{PORT}"}, "Vncviewer", ""},
      {"gvncviewer", gvnc, "Gvncviewer", "Authentication required"},
      {"Remmina VNC", remmina(), "org.remmina.Remmina", "vigil-vnc", Target::kX11vnc, remmina_vnc},
      // TigerVNC's own server as the target (the pair where a typed line was
      // once recorded and not run).
      {"xtigervncviewer ZRLE to Xvnc", tiger_zrle, "TigerVNC Viewer", "", Target::kXvnc},
      {"gvncviewer to Xvnc", gvnc, "Gvncviewer", "Authentication required", Target::kXvnc},
      {"Remmina VNC to Xvnc", remmina(), "org.remmina.Remmina", "vigil-vnc", Target::kXvnc, remmina_vnc},
      {"Remmina RDP", remmina(), "org.remmina.Remmina", "", Target::kShadow, remminaRdp("desk-rdp", "")},
      {"Remmina RDP 32 bpp", remmina(), "org.remmina.Remmina", "", Target::kShadow,
       remminaRdp("desk-rdp", "colordepth=32\n")},
  };
}

std::vector<Row> xrdpRows() {
  const std::vector<std::string> xfreerdp = {"xfreerdp", "/v:127.0.0.1:{PORT}", "/u:vendor1#{TARGET}",
                                             "/p:{SECRET}", "/cert:ignore", "/size:1280x800", "-grab-keyboard"};
  return {
      {"xfreerdp to xrdp", xfreerdp, "xfreerdp", "", Target::kXrdp},
      {"Remmina RDP to xrdp", remmina(), "org.remmina.Remmina", "", Target::kXrdp, remminaRdp("desk-xrdp", "")},
  };
}

void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

struct Substitutions {
  int port = 0;
  std::string passwd, home, profile, sealed, target, secret;
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
                            {"{SEALED}", v.sealed},
                            {"{TARGET}", v.target},
                            {"{SECRET}", v.secret}})
    for (auto at = s.find(key); at != std::string::npos; at = s.find(key)) s.replace(at, key.size(), value);
  return s;
}

// The viewer's picture of the target lies somewhere in the client's screen
// (below a menu bar, beside a border). A sparse grid of the target's pixels
// shortlists offsets; every pixel decides among them. (The grid alone cannot:
// it matches 1-15 px shifts of a terminal's edges equally well, and one sample
// on a pointer the target paints into its pixels then chose a 2 px shift:
// 22-29 dB for a picture that is 45 dB where it belongs.)
double alignedPsnr(const Frame& client, const Frame& target, int max_dx, int max_dy) {
  auto px = [](const Frame& f, int x, int y) { return f.data() + y * f.stride() + x * 4; };
  // Sum of squared differences at (dx, dy) over every `step`th pixel, given
  // up once past `limit` (< 0: no limit).
  auto sse = [&](int dx, int dy, int step, long limit) {
    long sum = 0;
    for (int y = step / 5; y < target.height() && (limit < 0 || sum <= limit); y += step)
      for (int x = step / 3; x < target.width(); x += step) {
        const std::uint8_t *a = px(target, x, y), *b = px(client, x + dx, y + dy);
        for (int c = 0; c < 3; ++c) sum += (a[c] - b[c]) * (a[c] - b[c]);
      }
    return sum;
  };
  // A few wholly wrong samples (a pointer, a caret) keep an offset in the running.
  constexpr long kMargin = 8L * 3 * 255 * 255;
  constexpr std::size_t kMaxCandidates = 256;
  long best = -1;
  std::vector<std::pair<long, std::pair<int, int>>> scored;
  for (int dy = 0; dy <= max_dy && dy + target.height() <= client.height(); ++dy)
    for (int dx = 0; dx <= max_dx && dx + target.width() <= client.width(); ++dx) {
      const long s = sse(dx, dy, 16, best < 0 ? -1 : best + kMargin);
      if (best < 0 || s < best) best = s;
      if (s <= best + kMargin) scored.push_back({s, {dx, dy}});
    }
  if (best < 0) return 0;
  std::sort(scored.begin(), scored.end());
  long full = -1;
  for (std::size_t i = 0; i < scored.size() && i < kMaxCandidates && scored[i].first <= best + kMargin; ++i) {
    const long s = sse(scored[i].second.first, scored[i].second.second, 1, full);
    if (full < 0 || s < full) full = s;
  }
  if (full == 0) return INFINITY;
  const double mse = double(full) / (3.0 * target.width() * target.height());
  return 10.0 * std::log10(255.0 * 255.0 / mse);
}

int countFrames(const std::string& file) {
  std::string out;
  auto rc = testbed::run({"ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                          "stream=nb_read_frames", "-of", "csv=p=0", file},
                         {}, &out, 120s);
  return rc.ok() && *rc == 0 ? std::atoi(out.c_str()) : -1;
}

// The last `key=N` of ffmpeg's -progress output (-1 if absent).
long progressValue(const std::string& progress, const std::string& key) {
  long value = -1;
  std::istringstream in(progress);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + "=", 0) == 0) value = std::atol(line.c_str() + key.size() + 1);
  return value;
}

std::string firstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

// One gateway for all rows, with four targets: the fixture's desktop served
// by x11vnc (desk-vnc) and by freerdp-shadow (desk-rdp), a TigerVNC Xvnc
// desktop of its own (desk-xvnc), and xrdp (desk-xrdp).
class CompatMatrix : public ::testing::TestWithParam<Row> {
 protected:
  static constexpr const char* kXvncPassword = "xvnc-pw1";
  static constexpr const char* kXrdpUser = "vigilxrdp";
  static constexpr const char* kXrdpPassword = "Xrdp-pass-7";

  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/vigil-compat-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // The xrdp session's shell runs as its own user and writes the proof files here.
    std::filesystem::permissions(dir_, std::filesystem::perms::all | std::filesystem::perms::sticky_bit);
    const std::string pw = dir_ + "/xvnc.passwd";
    auto rc = testbed::run({"sh", "-c", std::string("printf '%s\\n%s\\n' ") + kXvncPassword + " " + kXvncPassword +
                                            " | tigervncpasswd -f > '" + pw + "'"});
    ASSERT_TRUE(rc.ok() && *rc == 0) << "tigervncpasswd failed";
    const std::uint16_t rfb = testbed::freeTcpPort();
    auto xvnc = testbed::XDisplay::startXvnc(rfb, pw, 1280, 800, true);
    ASSERT_TRUE(xvnc.ok()) << xvnc.message();
    xvnc_ = xvnc->release();
    auto term = xvnc_->startXterm(GatewayFixture::kTerminalTitle, "100x30+60+60");
    ASSERT_TRUE(term.ok()) << term.message();
    xvnc_term_ = new testbed::Process(std::move(*term));
    xvnc_listen_ = testbed::freeTcpPort();
    auto xrdp = testbed::XrdpServer::start(dir_, testbed::freeTcpPort(), kXrdpUser, kXrdpPassword,
                                           GatewayFixture::kTerminalTitle);
    ASSERT_TRUE(xrdp.ok()) << xrdp.message();
    xrdp_ = xrdp->release();

    FixtureOptions o;
    o.rdp_target = true;
    std::ostringstream extra;
    extra << "[[targets]]\nname = \"desk-xvnc\"\nprotocol = \"vnc\"\nhost = \"127.0.0.1\"\nport = " << rfb
          << "\npassword = \"" << kXvncPassword << "\"\nvnc_listen = \"127.0.0.1:" << xvnc_listen_ << "\"\n"
          << "[[grants]]\nuser = \"vendor1\"\ntarget = \"desk-xvnc\"\n"
          << "[[targets]]\nname = \"desk-xrdp\"\nprotocol = \"rdp\"\nhost = \"127.0.0.1\"\nport = " << xrdp_->port()
          << "\nusername = \"" << kXrdpUser << "\"\npassword = \"" << kXrdpPassword << "\"\n"
          << "logon_confirmation = false\n"  // xrdp 0.9 never confirms (docs/compatibility.md)
          << "[[grants]]\nuser = \"vendor1\"\ntarget = \"desk-xrdp\"\n";
    o.extra_toml = extra.str();
    auto fx = GatewayFixture::start(o);
    ASSERT_TRUE(fx.ok()) << fx.message();
    fixture_ = std::move(*fx).release();
    // As an operator would, once: trust xrdp's certificate.
    VigilRun trust = fixture_->vigil({"trust-target", "desk-xrdp", "--yes"});
    ASSERT_EQ(trust.exit_code, 0) << trust.out;
  }
  static void TearDownTestSuite() {
    delete fixture_;
    delete xrdp_;
    delete xvnc_term_;
    delete xvnc_;
    fixture_ = nullptr;
    xrdp_ = nullptr;
    xvnc_term_ = nullptr;
    xvnc_ = nullptr;
    std::filesystem::remove_all(dir_);
  }

  static bool isRdp(Target t) { return t == Target::kShadow || t == Target::kXrdp; }
  static std::string targetName(Target t) {
    switch (t) {
      case Target::kX11vnc: return "desk-vnc";
      case Target::kXvnc: return "desk-xvnc";
      case Target::kShadow: return GatewayFixture::kRdpTarget;
      case Target::kXrdp: return "desk-xrdp";
    }
    return "";
  }
  static std::string serverName(Target t) {
    switch (t) {
      case Target::kX11vnc: return "x11vnc";
      case Target::kXvnc: return "Xvnc";
      case Target::kShadow: return "freerdp-shadow (NLA)";
      case Target::kXrdp: return "xrdp (TLS)";
    }
    return "";
  }
  // The gateway's port for the target (VNC: the target's vnc_listen).
  static int gatewayPort(Target t) {
    switch (t) {
      case Target::kX11vnc: return fixture_->vncPort();
      case Target::kXvnc: return xvnc_listen_;
      case Target::kShadow:
      case Target::kXrdp: return fixture_->rdpPort();
    }
    return 0;
  }
  // The environment reaching the target's own X display.
  static testbed::Env targetEnv(Target t) {
    switch (t) {
      case Target::kX11vnc:
      case Target::kShadow: return fixture_->display().env();
      case Target::kXvnc: return xvnc_->env();
      case Target::kXrdp: return xrdp_->sessionEnv();
    }
    return {};
  }
  static Result<Frame> targetScreen(Target t) {
    std::string out;
    auto rc = testbed::run({"import", "-silent", "-window", "root", "-depth", "8", "ppm:-"}, targetEnv(t), &out);
    if (!rc.ok()) return rc.status();
    if (*rc != 0) return Status::Error("import failed on the target's display");
    return testbed::parsePpm(out);
  }
  static void focusTerminal(Target t) {
    const testbed::Env env = targetEnv(t);
    std::string out;
    (void)testbed::run({"xdotool", "search", "--name", GatewayFixture::kTerminalTitle}, env, &out);
    const std::string win = out.substr(0, out.find('\n'));
    if (win.empty()) return;
    (void)testbed::run({"xdotool", "windowactivate", "--sync", win}, env);
    (void)testbed::run({"xdotool", "mousemove", "--window", win, "200", "200"}, env);
  }

  static GatewayFixture* fixture_;
  static testbed::XDisplay* xvnc_;
  static testbed::Process* xvnc_term_;
  static testbed::XrdpServer* xrdp_;
  static std::string dir_;
  static std::uint16_t xvnc_listen_;
};
GatewayFixture* CompatMatrix::fixture_ = nullptr;
testbed::XDisplay* CompatMatrix::xvnc_ = nullptr;
testbed::Process* CompatMatrix::xvnc_term_ = nullptr;
testbed::XrdpServer* CompatMatrix::xrdp_ = nullptr;
std::string CompatMatrix::dir_;
std::uint16_t CompatMatrix::xvnc_listen_ = 0;

TEST_P(CompatMatrix, ViewerShowsTheTargetLineRunsIsSearchableAndExportReencodesWhole) {
  ASSERT_NE(fixture_, nullptr);
  GatewayFixture& f = *fixture_;
  const Row& row = GetParam();

  auto display = testbed::XDisplay::start(1440, 960, false);
  ASSERT_TRUE(display.ok()) << display.message();
  const testbed::XDisplay& cd = **display;

  const std::string tag = f.dir() + "/viewer-" + std::to_string(cd.number());
  // RDP: vendor1's own password; VNC: a one-time code.
  const std::string secret =
      isRdp(row.target) ? std::string(GatewayFixture::kVendorPassword) : f.grantCode(targetName(row.target));
  Substitutions v{gatewayPort(row.target), tag + ".passwd", tag + "-home", tag + ".remmina", "",
                  targetName(row.target), secret};
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
  focusTerminal(row.target);
  std::this_thread::sleep_for(2s);
  auto target_shot = targetScreen(row.target);
  ASSERT_TRUE(target_shot.ok()) << target_shot.message();
  double screen_db = 0;
  testbed::waitFor([&] {
    auto shot = cd.screenshot();
    if (shot.ok()) screen_db = alignedPsnr(*shot, *target_shot, 160, 160);
    return screen_db >= 35.0;
  }, 10s, 500ms);
  if (screen_db < 35.0) {
    const std::string ppm = (std::filesystem::current_path() / ("compat-" + std::to_string(cd.number()) + "-target.ppm")).string();
    std::ofstream(ppm, std::ios::binary) << testbed::ppmBytes(*target_shot);
    ADD_FAILURE() << row.name << ": the viewer does not show the target's screen (" << screen_db
                  << " dB); the target's screen: " << ppm << "\n" << why();
  }

  // A line typed into the viewer runs on the target and is searchable.
  std::random_device rd;
  const std::string marker = "cm" + std::to_string(rd() % 900000 + 100000);
  const std::string proof = dir_ + "/" + marker + ".txt";
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
  std::string progress;
  rc = testbed::run({"ffmpeg", "-nostdin", "-v", "error", "-nostats", "-progress", "pipe:1", "-y", "-i", out, re}, {},
                    &progress, 180s);
  ASSERT_TRUE(rc.ok() && *rc == 0) << "ffmpeg could not re-encode the export";
  // ffmpeg's default for mp4 is a constant rate: it fills gaps with copies
  // (dup_frames) and must drop none of the recorded frames.
  const long dropped = progressValue(progress, "drop_frames"), dups = progressValue(progress, "dup_frames");
  const int frames = countFrames(out), re_frames = countFrames(re);
  EXPECT_GT(frames, 0);
  EXPECT_EQ(dropped, 0) << row.name << ": a re-encode with ffmpeg's defaults dropped frames\n" << progress;
  EXPECT_EQ(re_frames, frames + dups) << row.name << ": the re-encode lost frames (" << dups << " copies)";
  std::printf("[ matrix ] %s | %s | screen %.1f dB | line ran %s | searchable %s | export %d frames, "
              "re-encoded %d (%ld copies, %ld dropped)\n",
              row.name.c_str(), serverName(row.target).c_str(), screen_db, ran ? "yes" : "NO", found ? "yes" : "NO",
              frames, re_frames, dups, dropped);
}

std::string rowName(const ::testing::TestParamInfo<Row>& info) {
  std::string n;
  for (char c : info.param.name)
    if (std::isalnum(static_cast<unsigned char>(c))) n += c;
  return n;
}
INSTANTIATE_TEST_SUITE_P(Clients, CompatMatrix, ::testing::ValuesIn(rows()), rowName);
INSTANTIATE_TEST_SUITE_P(Xrdp, CompatMatrix, ::testing::ValuesIn(xrdpRows()), rowName);

}  // namespace
}  // namespace vigil::integration
