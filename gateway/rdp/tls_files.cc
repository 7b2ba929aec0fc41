#include "gateway/rdp/tls_files.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include <spdlog/spdlog.h>

namespace vigil::gateway::rdp {
namespace {

template <auto Fn>
struct Deleter {
  template <class T>
  void operator()(T* p) const { Fn(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using FilePtr = std::unique_ptr<FILE, Deleter<::fclose>>;

}  // namespace

Status makeSelfSignedPair(const std::string& cert_path, const std::string& key_path,
                          const std::string& common_name) {
  PkeyCtxPtr kctx(EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr));
  EVP_PKEY* raw_key = nullptr;
  if (!kctx || EVP_PKEY_keygen_init(kctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(kctx.get(), 2048) <= 0 ||
      EVP_PKEY_keygen(kctx.get(), &raw_key) <= 0) {
    return Status::Error("could not generate an RSA key for the RDP listener");
  }
  PkeyPtr key(raw_key);

  X509Ptr cert(X509_new());
  if (!cert) return Status::Error("out of memory making the RDP certificate");
  X509_set_version(cert.get(), 2);
  unsigned char serial[8];
  if (FILE* r = std::fopen("/dev/urandom", "rb")) {
    FilePtr f(r);
    if (std::fread(serial, 1, sizeof serial, f.get()) != sizeof serial) serial[0] = 1;
  }
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) {
    return Status::Error("could not sign the RDP certificate");
  }

  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(key_path).parent_path(), ec);
  std::filesystem::create_directories(std::filesystem::path(cert_path).parent_path(), ec);
  {
    // Create the key file private from the start.
    mode_t old = ::umask(077);
    FilePtr kf(std::fopen(key_path.c_str(), "wb"));
    ::umask(old);
    if (!kf) return Status::Error("cannot write " + key_path + ": check the state_dir permissions");
    if (PEM_write_PrivateKey(kf.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
      return Status::Error("cannot write " + key_path);
    }
  }
  FilePtr cf(std::fopen(cert_path.c_str(), "wb"));
  if (!cf || PEM_write_X509(cf.get(), cert.get()) != 1) {
    return Status::Error("cannot write " + cert_path + ": check the state_dir permissions");
  }
  return Status::Ok();
}

Result<TlsFiles> ensureTlsFiles(const Config& cfg) {
  if (!cfg.rdp_tls_cert.empty() || !cfg.rdp_tls_key.empty()) {
    if (cfg.rdp_tls_cert.empty() || cfg.rdp_tls_key.empty()) {
      return Status::Error("[rdp] needs both tls_cert and tls_key, or neither (self-signed)");
    }
    for (const auto* p : {&cfg.rdp_tls_cert, &cfg.rdp_tls_key}) {
      if (!std::filesystem::exists(*p)) {
        return Status::Error("[rdp] TLS file " + *p + " does not exist");
      }
    }
    return TlsFiles{cfg.rdp_tls_cert, cfg.rdp_tls_key};
  }
  const auto dir = std::filesystem::path(cfg.state_dir) / "rdp";
  TlsFiles files{(dir / "server.crt").string(), (dir / "server.key").string()};
  if (std::filesystem::exists(files.cert_pem_path) && std::filesystem::exists(files.key_pem_path)) {
    return files;
  }
  spdlog::info("rdp: making a self-signed TLS certificate cert={}", files.cert_pem_path);
  if (Status s = makeSelfSignedPair(files.cert_pem_path, files.key_pem_path, "vigil-gateway");
      !s.ok()) {
    return s;
  }
  return files;
}

Result<std::string> certificateFingerprint(const std::string& cert_pem) {
  BioPtr bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return Status::Error("not a PEM certificate");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &n) != 1) {
    return Status::Error("cannot hash the certificate");
  }
  std::string out;
  char buf[4];
  for (unsigned i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, i ? ":%02X" : "%02X", md[i]);
    out += buf;
  }
  return out;
}

Result<std::string> certificateSubject(const std::string& cert_pem) {
  BioPtr bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return Status::Error("not a PEM certificate");
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || X509_NAME_print_ex(out.get(), X509_get_subject_name(cert.get()), 0,
                                 XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    return Status::Error("cannot read the certificate's subject");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(out.get(), &data);
  std::string subject;
  for (long i = 0; i < len && subject.size() < 512; ++i) {
    const unsigned char c = static_cast<unsigned char>(data[i]);
    subject += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  return subject;
}

}  // namespace vigil::gateway::rdp
