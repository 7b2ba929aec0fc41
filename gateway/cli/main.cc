// vigil: the gateway and its operator commands.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "codecs/ffmpeg_log.h"
#include "gateway/cli/cli.h"

int main(int argc, char** argv) {
  using namespace vigil::cli;
  // Logs go to stderr so that stdout stays the command's output (--json);
  // operator commands are quiet unless something is wrong. `serve` sets its
  // own level from the config.
  spdlog::set_default_logger(spdlog::stderr_color_mt("vigil"));
  spdlog::set_level(spdlog::level::warn);
  vigil::codecs::routeFfmpegLogsToSpdlog();
  CLI::App app{"Vigil: a recording gateway for privileged RDP and VNC sessions"};
  app.require_subcommand(1);
  Common common;
  app.add_option("--config", common.config_path, "config file")->capture_default_str();
  app.add_flag("--json", common.json, "machine-readable output");
  auto withCommon = [&](CLI::App* sub) {
    sub->add_option("--config", common.config_path, "config file");
    sub->add_flag("--json", common.json, "machine-readable output");
  };

  int rc = 0;
  auto* serve_cmd = app.add_subcommand("serve", "run the gateway: RDP and VNC listeners, recorder, web UI and API");
  withCommon(serve_cmd);
  serve_cmd->callback([&] { rc = serve(common); });

  auto* hash_cmd = app.add_subcommand("hash-password", "read a password on stdin, print its hash for the config");
  withCommon(hash_cmd);
  hash_cmd->callback([&] { rc = hashPassword(common); });

  std::string user, target, ttl = "30m";
  auto* grant_cmd = app.add_subcommand("grant", "print a one-time access code for USER on TARGET");
  withCommon(grant_cmd);
  grant_cmd->add_option("--user", user, "user name")->required();
  grant_cmd->add_option("--target", target, "target name")->required();
  grant_cmd->add_option("--ttl", ttl, "validity, e.g. 30m, 2h, 1d")->capture_default_str();
  grant_cmd->callback([&] { rc = grant(common, user, target, ttl); });

  bool live = false, refused = false;
  std::size_t limit = 50;
  auto* sessions_cmd = app.add_subcommand("sessions", "list sessions, newest first");
  withCommon(sessions_cmd);
  auto* live_flag = sessions_cmd->add_flag("--live", live, "only live sessions");
  sessions_cmd->add_flag("--refused", refused,
                         "refused connections instead (one record per refusal, or per "
                         "throttled address and 10 minutes)")
      ->excludes(live_flag);
  sessions_cmd->add_option("--user", user, "only this user");
  sessions_cmd->add_option("--target", target, "only this target");
  sessions_cmd->add_option("--limit", limit, "at most this many")->check(CLI::Range(1, 10000));
  sessions_cmd->callback([&] { rc = sessions(common, live, refused, user, target, limit); });

  std::string session, kinds;
  auto* events_cmd = app.add_subcommand("events", "a session's events in time order");
  withCommon(events_cmd);
  events_cmd->add_option("SESSION", session, "session id")->required();
  events_cmd->add_option("--kind", kinds, "only these kinds: key,title,clipboard,alert,lifecycle");
  events_cmd->callback([&] { rc = events(common, session, kinds); });

  std::string query;
  auto* search_cmd = app.add_subcommand("search", "search every session's events");
  withCommon(search_cmd);
  search_cmd->add_option("QUERY", query, "words and \"quoted phrases\"")->required();
  search_cmd->add_option("--user", user, "only this user");
  search_cmd->add_option("--target", target, "only this target");
  search_cmd->add_option("--limit", limit, "at most this many hits")->check(CLI::Range(1, 10000));
  search_cmd->callback([&] { rc = search(common, query, user, target, limit); });

  std::string since;
  std::size_t alerts_limit = 50;
  auto* alerts_cmd = app.add_subcommand("alerts", "recent alerts raised by rules, newest first");
  withCommon(alerts_cmd);
  alerts_cmd->add_option("--since", since,
                         "only alerts since this time (RFC 3339) or this long ago (30m, 2h, 1d)");
  alerts_cmd->add_option("--limit", alerts_limit, "at most this many")->check(CLI::Range(1, 10000));
  alerts_cmd->callback([&] { rc = alerts(common, since, alerts_limit); });

  std::string out;
  auto* export_cmd = app.add_subcommand("export", "write a standard MP4 that any player opens");
  withCommon(export_cmd);
  export_cmd->add_option("SESSION", session, "session id")->required();
  export_cmd->add_option("OUT", out, "output file, e.g. session.mp4")->required();
  export_cmd->callback([&] { rc = exportVideo(common, session, out); });

  auto* terminate_cmd = app.add_subcommand("terminate", "end a live session, on whichever node holds it");
  withCommon(terminate_cmd);
  terminate_cmd->add_option("SESSION", session, "session id")->required();
  terminate_cmd->callback([&] { rc = terminate(common, session); });

  std::string verify_what, pubkey_file;
  auto* verify_cmd = app.add_subcommand(
      "verify", "check a session (or a bundle, offline) against its signed hash chain");
  withCommon(verify_cmd);
  verify_cmd->add_option("SESSION_OR_BUNDLE", verify_what, "session id, or an evidence bundle .zip")->required();
  verify_cmd->add_option("--pubkey", pubkey_file, "PEM of the expected signing key (from `vigil pubkey`)");
  verify_cmd->callback([&] { rc = verify(common, verify_what, pubkey_file); });

  auto* bundle_cmd = app.add_subcommand("bundle", "write an evidence bundle (zip) of a session");
  withCommon(bundle_cmd);
  bundle_cmd->add_option("SESSION", session, "session id")->required();
  bundle_cmd->add_option("OUT", out, "output file, e.g. evidence.zip")->required();
  bundle_cmd->callback([&] { rc = bundle(common, session, out); });

  auto* pubkey_cmd = app.add_subcommand("pubkey", "print the signing public key (PEM)");
  withCommon(pubkey_cmd);
  pubkey_cmd->callback([&] { rc = pubkey(common); });

  std::string trust_name;
  bool trust_yes = false;
  auto* trust_cmd = app.add_subcommand(
      "trust-target", "show an RDP target's TLS certificate and, on confirmation, trust it");
  withCommon(trust_cmd);
  trust_cmd->add_option("NAME", trust_name, "target name")->required();
  trust_cmd->add_flag("--yes", trust_yes, "trust without asking (scripts); never replaces a "
                      "certificate trusted before");
  trust_cmd->callback([&] { rc = trustTarget(common, trust_name, trust_yes); });

  auto* rotate_cmd = app.add_subcommand(
      "rotate-recording-key", "make a new recording key current for new sessions (old ones kept)");
  withCommon(rotate_cmd);
  rotate_cmd->callback([&] { rc = rotateRecordingKey(common); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "vigil: " << e.what() << "\n";
    return 1;
  }
  return rc;
}
