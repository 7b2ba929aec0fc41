// CEF and JSON bodies, the RFC 5424 line and the framing, byte for byte.
#include "gateway/siem/formatter.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gateway/siem/framing.h"

namespace vigil::siem {
namespace {

SiemEvent alertEvent() {
  SiemEvent e;
  e.at = 1'733'587'200'123;  // 2024-12-07T16:00:00.123Z
  e.t_ms = 4200;
  e.kind = EventKind::Alert;
  e.text = "net-user: net user eve [masked] /add";
  e.session_id = "20261207T160000-abc123";
  e.user = "vendor1";
  e.target = "dc01";
  e.protocol = "rdp";
  e.client_addr = "10.0.0.7:51234";
  e.rule = "net-user";
  e.severity = Severity::High;
  e.action = "alert";
  return e;
}

TEST(CefFormatter, StandardKeysInOrder) {
  const std::string cef = CefFormatter("0.1.0").format(alertEvent());
  EXPECT_EQ(cef,
            "CEF:0|Vigil|Vigil|0.1.0|vigil:alert:net-user|rule net-user matched|8|rt=1733587200123 "
            "suser=vendor1 dhost=dc01 src=10.0.0.7 spt=51234 app=rdp act=alert "
            "cs1=20261207T160000-abc123 cs1Label=session cs2=net-user cs2Label=rule cn1=4200 cn1Label=t_ms "
            "cat=alert msg=net-user: net user eve [masked] /add");
}

TEST(CefFormatter, EscapesHeaderAndExtension) {
  EXPECT_EQ(cefHeaderField("a|b\\c\nd"), "a\\|b\\\\c d");
  EXPECT_EQ(cefValue("a=b\\c\nd\re|f"), "a\\=b\\\\c\\nd\\re|f");
  SiemEvent e = alertEvent();
  e.rule = "pipe|rule";
  e.text = "pipe|rule: x=1\ny\\z";
  const std::string cef = CefFormatter("0.1.0").format(e);
  EXPECT_NE(cef.find("|vigil:alert:pipe\\|rule|rule pipe\\|rule matched|8|"), std::string::npos) << cef;
  EXPECT_NE(cef.find(" cs2=pipe|rule "), std::string::npos) << cef;  // | needs no escape in values
  EXPECT_NE(cef.find(" msg=pipe|rule: x\\=1\\ny\\\\z"), std::string::npos) << cef;
  EXPECT_EQ(cef.find('\n'), std::string::npos);
}

TEST(CefFormatter, LifecycleAndRefusal) {
  SiemEvent e = alertEvent();
  e.kind = EventKind::Lifecycle;
  e.rule.clear();
  e.action.clear();
  e.text = "connect from 10.0.0.7:51234";
  std::string cef = CefFormatter("0.1.0").format(e);
  EXPECT_NE(cef.find("|vigil:lifecycle|session connect|3|"), std::string::npos) << cef;
  EXPECT_NE(cef.find(" act=lifecycle "), std::string::npos) << cef;
  EXPECT_EQ(cef.find("cs2="), std::string::npos) << cef;
  e.session_id.clear();
  e.text = "refused: wrong password";
  cef = CefFormatter("0.1.0").format(e);
  EXPECT_NE(cef.find("|session refused|5|"), std::string::npos) << cef;
  EXPECT_EQ(cef.find("cs1="), std::string::npos) << cef;  // no session was opened
}

TEST(CefFormatter, LongTextIsCutAtACharacter) {
  SiemEvent e = alertEvent();
  e.text = std::string(kMaxText, 'a') + "\xc3\xa9";
  const std::string cef = CefFormatter("0.1.0").format(e);
  EXPECT_LT(cef.size(), kMaxText + 400);
  EXPECT_EQ(cef.substr(cef.size() - 3), "...");
}

TEST(JsonFormatter, DocumentedFields) {
  const auto j = nlohmann::json::parse(JsonFormatter("0.1.0").format(alertEvent()));
  EXPECT_EQ(j["time"], 1733587200123);
  EXPECT_EQ(j["time_dt"], "2024-12-07T16:00:00.123Z");
  EXPECT_EQ(j["severity_id"], 4);
  EXPECT_EQ(j["severity"], "High");
  EXPECT_EQ(j["type_name"], "alert");
  EXPECT_EQ(j["message"], "net-user: net user eve [masked] /add");
  EXPECT_EQ(j["actor"]["user"]["name"], "vendor1");
  EXPECT_EQ(j["dst_endpoint"]["hostname"], "dc01");
  EXPECT_EQ(j["src_endpoint"]["ip"], "10.0.0.7");
  EXPECT_EQ(j["src_endpoint"]["port"], 51234);
  EXPECT_EQ(j["session"]["uid"], "20261207T160000-abc123");
  EXPECT_EQ(j["session"]["protocol"], "rdp");
  EXPECT_EQ(j["finding_info"]["title"], "net-user");
  EXPECT_EQ(j["vigil"]["t_ms"], 4200);
  EXPECT_EQ(j["metadata"]["product"]["name"], "Vigil");
}

TEST(JsonFormatter, InvalidUtf8DoesNotThrow) {
  SiemEvent e = alertEvent();
  e.text = "bad \xff\xfe bytes";
  EXPECT_NO_THROW(nlohmann::json::parse(JsonFormatter("0.1.0").format(e)));
}

TEST(SyslogHeader, Rfc5424) {
  SiemEvent e = alertEvent();
  SyslogHeader h(13, "gw 01", 42);  // spaces are not allowed in HOSTNAME
  EXPECT_EQ(h.message(e, "BODY"), "<107>1 2024-12-07T16:00:00.123Z gw01 vigil 42 alert - BODY");
  e.kind = EventKind::Lifecycle;
  EXPECT_EQ(h.message(e, "B").substr(0, 6), "<110>1");
}

TEST(Framing, OctetCountingAndDatagrams) {
  EXPECT_EQ(octetCounted("hello"), "5 hello");
  EXPECT_EQ(octetCounted("h\xc3\xa9"), "3 h\xc3\xa9");  // bytes, not characters
  const std::string big(kMaxDatagram + 10, 'x');
  EXPECT_EQ(datagram(big).size(), kMaxDatagram);
  const std::string utf = std::string(kMaxDatagram - 1, 'x') + "\xc3\xa9";
  EXPECT_EQ(datagram(utf).size(), kMaxDatagram - 1);  // never half a character
}

}  // namespace
}  // namespace vigil::siem
