#include "tests/ocr/corpus.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <opencv2/freetype.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace vigil::ocr::testing {
namespace {

using namespace std::chrono_literals;

// Six window slots on a 1280x800 screen: two columns, three rows.
int slotX(std::size_t i) { return 40 + static_cast<int>(i % 2) * 640; }
int slotY(std::size_t i) { return 60 + static_cast<int>(i / 2) * 250; }

template <class T>
const T& pick(std::mt19937& rng, const std::vector<T>& v) {
  return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
}

const std::vector<std::string> kApps = {
    "Administrator: Command Prompt", "Registry Editor", "Windows PowerShell",
    "Administrator: Windows PowerShell", "Event Viewer", "Task Manager", "Services",
    "Computer Management", "Server Manager", "Remote Desktop Connection", "Device Manager",
    "Active Directory Users and Computers", "DNS Manager", "Group Policy Management",
    "Windows Firewall with Advanced Security", "Internet Information Services (IIS) Manager",
    "SQL Server Management Studio", "System Properties", "Disk Management", "Task Scheduler",
    "Performance Monitor", "Local Security Policy", "Hyper-V Manager", "Control Panel",
    "File Explorer", "Network Connections", "Certificates - Local Computer", "Run"};
const std::vector<std::string> kDirs = {
    "C:\\Windows\\System32",  "C:\\Users\\Administrator\\Desktop", "D:\\Finance\\2026",
    "C:\\inetpub\\wwwroot",   "E:\\Backups\\SQL",                   "C:\\Program Files\\Vendor",
    "\\\\fs01\\share\\HR",    "C:\\Temp",                           "D:\\Exports\\Q3",
    "C:\\ProgramData\\Agent", "\\\\nas02\\payroll",                 "C:\\Scripts"};
const std::vector<std::string> kFiles = {
    "payroll.xlsx", "hosts", "web.config", "install.log", "users_export.csv", "backup.ps1",
    "notes.txt", "invoice_0423.pdf", "salaries_2026.xlsx", "firewall_rules.txt",
    "deploy.bat", "contract_v2.docx", "audit_report.pdf", "passwords_old.kdbx",
    "error.log", "settings.ini"};
const std::vector<std::string> kEditors = {"Notepad", "Excel", "Word", "Notepad++",
                                           "Visual Studio Code", "WordPad", "Adobe Acrobat Reader"};
const std::vector<std::string> kHosts = {"db01", "web-03", "dc01", "app02", "backup-srv",
                                         "jump01", "mail", "build7"};
const std::vector<std::string> kUsers = {"root", "admin", "deploy", "oracle", "postgres", "ops"};
const std::vector<std::string> kUnixPaths = {"/var/log/nginx", "~/deploy", "/etc/ssh",
                                             "/opt/app/releases", "/srv/data", "~",
                                             "/home/admin/scripts", "/etc/nginx/sites-enabled"};
const std::vector<std::string> kAccents = {
    "Résumé_José.docx - Word",         "Müller GmbH – Rechnung 2026.pdf",
    "Señor Núñez: presupuesto.xlsx",   "Café Crème – Menu.docx",
    "Zürich Büro: Übersicht.xlsx",     "Gérard Dupré - Notepad",
    "Año fiscal 2026: señales.csv",    "Björn Sørensen: Lønninger.xlsx",
    "Ärzte München – Dienstplan.xlsx", "Québec: employés.csv",
    "François Pérez – Contrat.pdf",    "Jürgen Groß - Berichte",
    "Peña Muñoz: Facturación.xlsx",    "Crème brûlée – Recette.docx",
    "Élodie Lefèvre: Congés.xlsx",     "São Paulo – Relatório.pdf"};

std::string makeOne(std::mt19937& rng) {
  switch (std::uniform_int_distribution<int>(0, 6)(rng)) {
    case 0: return pick(rng, kApps);
    case 1: return pick(rng, kDirs) + "\\" + pick(rng, kFiles) + " - " + pick(rng, kEditors);
    case 2: return pick(rng, kFiles) + " - " + pick(rng, kEditors);
    case 3: return pick(rng, kUsers) + "@" + pick(rng, kHosts) + ": " + pick(rng, kUnixPaths);
    case 4: return pick(rng, kAccents);
    case 5: return pick(rng, kDirs);
    default: return "Administrator: " + pick(rng, kDirs) + "\\" + pick(rng, kFiles);
  }
}


std::u32string toU32(const std::string& s) {
  std::u32string out;
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    char32_t cp = c;
    int n = 1;
    if (c >= 0xF0) { cp = c & 0x07; n = 4; }
    else if (c >= 0xE0) { cp = c & 0x0F; n = 3; }
    else if (c >= 0xC0) { cp = c & 0x1F; n = 2; }
    for (int k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (s[i + k] & 0x3F);
    out.push_back(cp);
    i += n;
  }
  return out;
}

std::string fromU32(const std::u32string& s) {
  std::string out;
  for (char32_t c : s) {
    if (c < 0x80) out.push_back(static_cast<char>(c));
    else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

int lev(const std::u32string& a, const std::u32string& b) {
  std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = static_cast<int>(j);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = static_cast<int>(i);
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// ---- Windows-style rendering ----------------------------------------------

struct WinStyle {
  int caption_h;
  cv::Scalar bg_active, bg_inactive, text_active, text_inactive, border_active, border_inactive;
  bool gradient;  // Windows 7 Aero basic
};

WinStyle styleFor(const std::string& s) {
  // Colours as BGR.
  if (s == "win10-dark")
    return {31, {32, 32, 32}, {43, 43, 43}, {255, 255, 255}, {128, 128, 128},
            {60, 60, 60}, {60, 60, 60}, false};
  if (s == "win10-accent")
    return {31, {215, 120, 0}, {255, 255, 255}, {255, 255, 255}, {153, 153, 153},
            {215, 120, 0}, {170, 170, 170}, false};
  if (s == "win11-light")
    return {30, {243, 243, 243}, {243, 243, 243}, {0, 0, 0}, {140, 140, 140},
            {160, 160, 160}, {200, 200, 200}, false};
  if (s == "win7")
    return {30, {227, 205, 168}, {236, 224, 205}, {0, 0, 0}, {70, 70, 70},
            {150, 120, 90}, {170, 160, 150}, true};
  return {31, {255, 255, 255}, {255, 255, 255}, {0, 0, 0}, {153, 153, 153},  // win10-light
          {215, 120, 0}, {170, 170, 170}, false};
}

class Painter {
 public:
  Painter() : ft_(cv::freetype::createFreeType2()) {
    ft_->loadFontData("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0);
  }
  int width(const std::string& t, int px) {
    int base = 0;
    return ft_->getTextSize(t, px, -1, &base).width;
  }
  void text(cv::Mat& img, const std::string& t, cv::Point baseline, int px, cv::Scalar c) {
    ft_->putText(img, t, baseline, px, c, -1, cv::LINE_AA, true);
  }

  // Draws a window whose caption bar is at `bar`; returns the shown title.
  std::string window(cv::Mat& img, const std::string& style, cv::Rect bar, int client_h,
                     const std::string& title, bool active) {
    const WinStyle st = styleFor(style);
    const cv::Scalar bg = active ? st.bg_active : st.bg_inactive;
    const cv::Scalar fg = active ? st.text_active : st.text_inactive;
    const bool w7 = st.gradient;
    const int frame = w7 ? 6 : 1;
    cv::Rect outer(bar.x - frame, bar.y - (w7 ? 1 : 1), bar.width + 2 * frame,
                   bar.height + client_h + frame + 1);
    cv::rectangle(img, outer, active ? st.border_active : st.border_inactive, cv::FILLED);
    if (w7) {
      // Aero basic: a vertical gradient over caption and frame.
      for (int y = outer.y; y < bar.y + bar.height; ++y) {
        const double k = static_cast<double>(y - outer.y) / (bar.y + bar.height - outer.y);
        const cv::Scalar top = bg * 1.06, bottom = bg * 0.90;
        cv::line(img, {outer.x + 1, y}, {outer.x + outer.width - 2, y},
                 top * (1 - k) + bottom * k);
      }
      cv::rectangle(img, {outer.x + 1, bar.y + bar.height, outer.width - 2, client_h + frame},
                    bg * 0.9, cv::FILLED);
    } else {
      cv::rectangle(img, bar, bg, cv::FILLED);
    }
    // Client area: a menu bar and some content.
    cv::Rect client(bar.x, bar.y + bar.height, bar.width, client_h);
    cv::rectangle(img, client, {255, 255, 255}, cv::FILLED);
    text(img, "File   Edit   View   Help", {client.x + 8, client.y + 15}, 12, {0, 0, 0});
    for (int i = 0; i < 3 && 40 + i * 18 < client_h; ++i)
      text(img, "The quick brown fox jumps over the lazy dog " + std::to_string(i),
           {client.x + 8, client.y + 40 + i * 18}, 12, {40, 40, 40});

    // Icon: a small coloured document.
    const int icon = 16;
    const cv::Rect ir(bar.x + 8, bar.y + (bar.height - icon) / 2, icon, icon);
    cv::rectangle(img, ir, {200, 120, 40}, cv::FILLED);
    cv::rectangle(img, {ir.x + 3, ir.y + 3, 10, 10}, {255, 255, 255}, cv::FILLED);
    cv::line(img, {ir.x + 5, ir.y + 6}, {ir.x + 11, ir.y + 6}, {200, 120, 40});
    cv::line(img, {ir.x + 5, ir.y + 9}, {ir.x + 11, ir.y + 9}, {200, 120, 40});

    // Caption buttons.
    int buttons_x;
    if (w7) {
      const int bh = 18, top = bar.y;
      const cv::Rect close(bar.x + bar.width - 47, top, 43, bh);
      const cv::Rect max(close.x - 26, top, 26, bh), min(max.x - 26, top, 26, bh);
      for (const cv::Rect& r : {min, max}) {
        cv::rectangle(img, r, active ? cv::Scalar(220, 190, 150) : cv::Scalar(225, 215, 200),
                      cv::FILLED);
        cv::rectangle(img, r, {120, 90, 60});
      }
      cv::rectangle(img, close, active ? cv::Scalar(60, 80, 200) : cv::Scalar(200, 190, 180),
                    cv::FILLED);
      cv::rectangle(img, close, {60, 50, 120});
      const cv::Point c(close.x + close.width / 2, close.y + bh / 2);
      cv::line(img, c + cv::Point(-4, -4), c + cv::Point(4, 4), {255, 255, 255}, 2, cv::LINE_AA);
      cv::line(img, c + cv::Point(-4, 4), c + cv::Point(4, -4), {255, 255, 255}, 2, cv::LINE_AA);
      cv::line(img, {min.x + 9, top + 12}, {min.x + 17, top + 12}, {255, 255, 255}, 2);
      cv::rectangle(img, {max.x + 8, top + 5, 10, 8}, {255, 255, 255}, 1);
      buttons_x = min.x;
    } else {
      const int cy = bar.y + bar.height / 2;
      const int cx_close = bar.x + bar.width - 23, cx_max = cx_close - 46, cx_min = cx_max - 46;
      cv::line(img, {cx_close - 5, cy - 5}, {cx_close + 5, cy + 5}, fg, 1, cv::LINE_AA);
      cv::line(img, {cx_close - 5, cy + 5}, {cx_close + 5, cy - 5}, fg, 1, cv::LINE_AA);
      cv::rectangle(img, {cx_max - 5, cy - 5, 10, 10}, fg, 1);
      cv::line(img, {cx_min - 5, cy}, {cx_min + 5, cy}, fg, 1);
      buttons_x = cx_min - 23;
    }

    // Title, cut with an ellipsis where it does not fit (as DrawText's
    // DT_END_ELLIPSIS does).
    const int px = 12;
    const int tx = bar.x + 30, avail = buttons_x - tx - 8;
    std::string shown = title;
    if (width(shown, px) > avail) {
      std::u32string u = toU32(title);
      while (!u.empty() && width(fromU32(u) + "\xE2\x80\xA6", px) > avail) u.pop_back();
      while (!u.empty() && u.back() == U' ') u.pop_back();
      shown = fromU32(u) + "\xE2\x80\xA6";
    }
    const int baseline = bar.y + bar.height / 2 + 4;
    if (w7 && active) {
      // Aero's glow behind caption text.
      cv::Mat glow = cv::Mat::zeros(img.size(), CV_8UC3);
      text(glow, shown, {tx, baseline}, px, {255, 255, 255});
      cv::GaussianBlur(glow, glow, {0, 0}, 3);
      cv::Mat roi = img(bar);
      cv::max(roi, glow(bar) * 2.0, roi);
    }
    text(img, shown, {tx, baseline}, px, fg);
    return shown;
  }

 private:
  cv::Ptr<cv::freetype::FreeType2> ft_;
};

}  // namespace

std::vector<std::string> makeTitles(int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (int guard = 0; static_cast<int>(out.size()) < n && guard < n * 50; ++guard) {
    std::string t = makeOne(rng);
    if (seen.insert(t).second) out.push_back(t);
  }
  return out;
}

std::vector<std::string> makeLongTitles(int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    switch (i % 3) {
      case 0:
        out.push_back(pick(rng, kDirs) + "\\Reports\\Quarterly\\" + pick(rng, kFiles) +
                      " - " + pick(rng, kEditors) + " (Read-Only)");
        break;
      case 1:
        out.push_back(pick(rng, kAccents) + " – " + pick(rng, kApps) + " – " + pick(rng, kApps));
        break;
      default:
        out.push_back(pick(rng, kUsers) + "@" + pick(rng, kHosts) + ": " +
                      pick(rng, kUnixPaths) + "/releases/2026-11-22/config/production");
    }
  }
  return out;
}

Frame renderWindowsScreen(const std::string& style, const std::string& front_title,
                          const std::string& back_title, Rect* front_bar, std::string* shown,
                          int front_x, int front_w) {
  Painter painter;
  const WinStyle st = styleFor(style);
  cv::Mat img(640, 1024, CV_8UC3, cv::Scalar(120, 80, 20));
  painter.window(img, style, cv::Rect(300, 40, 560, st.caption_h), 200, back_title, false);
  const cv::Rect front(front_x, 260, front_w, st.caption_h);
  const std::string s = painter.window(img, style, front, 220, front_title, true);
  if (shown) *shown = s;
  if (front_bar) *front_bar = Rect{front.x, front.y, front.width, front.height};
  return fromMat(img);
}

double threadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

Frame fromMat(const cv::Mat& bgr) {
  Frame f(bgr.cols, bgr.rows);
  for (int y = 0; y < bgr.rows; ++y) {
    const cv::Vec3b* r = bgr.ptr<cv::Vec3b>(y);
    std::uint8_t* o = f.row(y);
    for (int x = 0; x < bgr.cols; ++x) {
      o[4 * x] = r[x][0];
      o[4 * x + 1] = r[x][1];
      o[4 * x + 2] = r[x][2];
      o[4 * x + 3] = 0;
    }
  }
  return f;
}

Frame loadPng(const std::string& path) {
  const cv::Mat m = cv::imread(path, cv::IMREAD_COLOR);
  if (m.empty()) return {};
  return fromMat(m);
}

void savePng(const Frame& f, Rect r, const std::string& path) {
  r = r.intersect(f.bounds());
  if (r.empty()) return;
  const cv::Mat src(f.height(), f.width(), CV_8UC4, const_cast<std::uint8_t*>(f.data()),
                    static_cast<std::size_t>(f.stride()));
  cv::Mat bgr;
  cv::cvtColor(src(cv::Rect(r.x, r.y, r.w, r.h)), bgr, cv::COLOR_BGRA2BGR);
  cv::imwrite(path, bgr);
}

int editDistance(const std::string& a, const std::string& b) { return lev(toU32(a), toU32(b)); }

int titleDistance(const Sample& s, const std::string& read, std::string* truth) {
  const std::u32string r = toU32(read), full = toU32(s.expected);
  int best = lev(r, full);
  std::u32string best_truth = full;
  auto consider = [&](const std::u32string& cand) {
    const int d = lev(r, cand);
    if (d < best) {
      best = d;
      best_truth = cand;
    }
  };
  if (s.cut == Sample::Cut::Ellipsis && read.find("\xE2\x80\xA6") != std::string::npos) {
    for (std::size_t k = 1; k < full.size(); ++k) {
      std::u32string head = full.substr(0, k);
      while (!head.empty() && head.back() == U' ') head.pop_back();
      head.push_back(U'\u2026');
      for (std::size_t j = full.size(); j > k; --j) consider(head + full.substr(j));
    }
  } else if (s.cut == Sample::Cut::Clip) {
    for (std::size_t k = 1; k < full.size(); ++k) consider(full.substr(0, k));
  }
  if (truth) *truth = fromU32(best_truth);
  return best;
}

namespace {

// The window manager repaints captions after a focus change in its own
// time, longer on a loaded machine than any fixed sleep: wait until two
// grabs 100 ms apart agree.
Status waitForStillScreen(const std::vector<std::string>& env) {
  std::string before, now;
  for (int i = 0; i < 50; ++i) {
    if (runCommand({"import", "-window", "root", "ppm:-"}, env, &now, 15000) != 0)
      return Status::Error("import -window root failed");
    if (!before.empty() && now == before) return Status::Ok();
    before = std::move(now);
    std::this_thread::sleep_for(100ms);
  }
  return Status::Error("the screen was still changing 5 s after a focus change");
}

}  // namespace

Result<std::vector<Sample>> captureReal(XDesktop& desktop, const WmSpec& wm,
                                        const std::vector<std::string>& titles,
                                        const std::vector<std::string>& long_titles,
                                        const std::string& dir) {
  struct Item {
    std::string title;
    bool narrow;
  };
  std::vector<Item> items;
  for (const std::string& t : titles) items.push_back({t, false});
  // Interleave the long ones so every batch has a narrow window or two.
  for (std::size_t i = 0; i < long_titles.size(); ++i)
    items.insert(items.begin() + std::min(items.size(), i * 6 + 2), {long_titles[i], true});

  std::vector<Sample> out;
  const auto env = desktop.env();
  constexpr int kBatch = 6;
  std::string label = wm.label;
  std::replace(label.begin(), label.end(), '/', '_');
  for (std::size_t b = 0; b < items.size(); b += kBatch) {
    const std::size_t n = std::min<std::size_t>(kBatch, items.size() - b);
    std::vector<Child> xterms;
    for (std::size_t i = 0; i < n; ++i) {
      const Item& it = items[b + i];
      const std::string geo = std::string(it.narrow ? "40" : "90") + "x3+" +
                              std::to_string(slotX(i)) + "+" + std::to_string(slotY(i));
      auto c = Child::spawn({"xterm", "-T", it.title, "-geometry", geo}, env);
      if (!c) return c.status();
      xterms.push_back(std::move(*c));
    }
    // Wait until all are mapped and titled.
    std::vector<std::string> ids;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string o;
      runCommand({"xdotool", "search", "--onlyvisible", "--class", "xterm"}, env, &o, 5000);
      std::istringstream is(o);
      ids.clear();
      for (std::string id; is >> id;) ids.push_back(id);
      if (ids.size() >= n) break;
      std::this_thread::sleep_for(100ms);
    }
    if (ids.size() < n)
      return Status::Error(wm.label + ": only " + std::to_string(ids.size()) + " of " +
                           std::to_string(n) + " xterm windows appeared");
    std::this_thread::sleep_for(300ms);  // let the WM finish decorating
    for (const std::string& id : ids) {
      // Which slot (hence which title) this window is: the nearest requested
      // position. xdotool's reported position is off by the decorations under
      // some WMs, but slots are hundreds of pixels apart.
      std::string geo;
      runCommand({"xdotool", "getwindowgeometry", id}, env, &geo, 5000);
      int x = 0, y = 0;
      const auto p = geo.find("Position: ");
      if (p == std::string::npos || std::sscanf(geo.c_str() + p, "Position: %d,%d", &x, &y) != 2)
        return Status::Error("cannot parse xdotool geometry: " + geo);
      std::size_t slot = 0;
      long best = -1;
      for (std::size_t i = 0; i < n; ++i) {
        const long dx = x - slotX(i), dy = y - slotY(i);
        if (best < 0 || dx * dx + dy * dy < best) {
          best = dx * dx + dy * dy;
          slot = i;
        }
      }
      const Item& it = items[b + slot];
      // Applications name their windows in UTF-8 (_NET_WM_NAME). xterm -T
      // sets only WM_NAME, as Latin-1 when the title fits in it, which icewm
      // decodes as UTF-8 and cuts at the first accent ("Résumé" shows "R").
      if (runCommand({"xprop", "-id", id, "-f", "_NET_WM_NAME", "8u", "-set", "_NET_WM_NAME", it.title}, env,
                     nullptr, 5000) != 0)
        return Status::Error("xprop could not set the window name of " + id);
      runCommand({"xdotool", "windowactivate", "--sync", id}, env, nullptr, 5000);
      if (Status still = waitForStillScreen(env); !still.ok()) return still;
      const std::string png = dir + "/" + label + "_" + std::to_string(out.size()) + ".png";
      if (runCommand({"import", "-window", "root", "-quality", "10", png}, env, nullptr, 15000) != 0)
        return Status::Error("import -window root failed on " + desktop.display());
      // Where the frame was asked to go; its caption starts there.
      // Long titles in narrow windows are cut; icewm, whose buttons leave
      // the least room, cuts some of the others too. xfwm4 clips without a
      // mark. icewm draws the text so low that the bar clips descenders: an
      // underscore is not on the screen at all (checked on its captures).
      std::string shown = it.title;
      if (wm.wm == Wm::Icewm) std::replace(shown.begin(), shown.end(), '_', ' ');
      Sample::Cut cut = Sample::Cut::None;
      if (it.narrow) cut = wm.wm == Wm::Xfwm4 ? Sample::Cut::Clip : Sample::Cut::Ellipsis;
      else if (wm.wm == Wm::Icewm) cut = Sample::Cut::Ellipsis;
      out.push_back({png, wm.label, Rect{slotX(slot), slotY(slot), it.narrow ? 240 : 540, 0},
                     shown, cut});
    }
  }
  return out;
}

std::vector<Sample> renderWindows(const std::string& style, const std::vector<std::string>& titles,
                                  const std::vector<std::string>& long_titles,
                                  const std::string& dir, unsigned seed) {
  std::mt19937 rng(seed);
  Painter painter;
  std::vector<Sample> out;
  std::vector<std::pair<std::string, bool>> all;
  for (const auto& t : titles) all.push_back({t, false});
  for (const auto& t : long_titles) all.push_back({t, true});
  const WinStyle st = styleFor(style);
  for (std::size_t i = 0; i < all.size(); ++i) {
    cv::Mat img(640, 1024, CV_8UC3, cv::Scalar(120, 80, 20));  // a blue desktop
    // An inactive window behind, partly covered.
    const cv::Rect back(std::uniform_int_distribution<int>(20, 400)(rng), 40, 560, st.caption_h);
    painter.window(img, style, back, 200, all[(i + 7) % all.size()].first, false);
    const int w = all[i].second ? 330 : std::uniform_int_distribution<int>(640, 900)(rng);
    const cv::Rect front(std::uniform_int_distribution<int>(10, 1010 - w)(rng),
                         std::uniform_int_distribution<int>(160, 360)(rng), w, st.caption_h);
    const std::string shown = painter.window(img, style, front, 220, all[i].first, true);
    const std::string png = dir + "/" + style + "_" + std::to_string(i) + ".png";
    cv::imwrite(png, img);
    // The truth is exactly what was drawn (cut titles included).
    out.push_back({png, style, Rect{front.x, front.y, front.width, front.height}, shown,
                   Sample::Cut::None});
  }
  return out;
}

}  // namespace vigil::ocr::testing
