// OpenSSL 3 libcrypto, used directly (crypto.h). Memory BIOs carry every PEM/S-MIME text, so
// that the file writes stay in keystore.cc (atomic, with their modes).
#include "security/crypto.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <cstdio>

namespace coedge::security::internal {
namespace {

struct BioFree { void operator()(BIO* p) const { BIO_free(p); } };
struct BnFree { void operator()(BIGNUM* p) const { BN_free(p); } };
struct Asn1IntFree { void operator()(ASN1_INTEGER* p) const { ASN1_INTEGER_free(p); } };
struct Asn1TimeFree { void operator()(ASN1_TIME* p) const { ASN1_TIME_free(p); } };
struct Pkcs7Free { void operator()(PKCS7* p) const { PKCS7_free(p); } };
struct ExtFree { void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); } };
struct RevokedFree { void operator()(X509_REVOKED* p) const { X509_REVOKED_free(p); } };
using Bio = std::unique_ptr<BIO, BioFree>;
using Bn = std::unique_ptr<BIGNUM, BnFree>;
using Asn1Int = std::unique_ptr<ASN1_INTEGER, Asn1IntFree>;
using Asn1Time = std::unique_ptr<ASN1_TIME, Asn1TimeFree>;

Bio mem_bio() { return Bio(BIO_new(BIO_s_mem())); }
Bio mem_bio(const std::string& text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}
std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

// A random positive 128-bit serial (RFC 5280 allows up to 20 octets; the top bit is cleared
// so that the DER integer stays 16 octets and positive, and a zero serial is impossible).
Result<Asn1Int> random_serial() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return openssl_error("drawing a certificate serial");
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);
  Bn bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  if (!bn) return openssl_error("BN_bin2bn");
  Asn1Int serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!serial) return openssl_error("BN_to_ASN1_INTEGER");
  return serial;
}

Status add_extension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  std::unique_ptr<X509_EXTENSION, ExtFree> ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext) return openssl_error(std::string("making the certificate extension ") + OBJ_nid2sn(nid));
  if (X509_add_ext(cert, ext.get(), -1) != 1) return openssl_error("X509_add_ext");
  return Ok{};
}

}  // namespace

Error openssl_error(const std::string& what) {
  std::string reasons;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    reasons += (reasons.empty() ? "" : "; ") + std::string(buf);
  }
  if (reasons.empty()) reasons = "no reason given by OpenSSL";
  return Error{ErrorCode::kIo, what + " failed: " + reasons};
}

Result<Key> generate_key() {
  Key key(EVP_EC_gen("prime256v1"));
  if (!key) return openssl_error("generating an ECDSA prime256v1 key");
  return key;
}

Result<std::string> key_pem(EVP_PKEY* key) {
  Bio bio = mem_bio();
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return openssl_error("writing a private key as PEM");
  return bio_text(bio.get());
}

Result<Key> read_key_pem(const std::string& pem, const std::string& where) {
  Bio bio = mem_bio(pem);
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return openssl_error("reading the private key " + where);
  return key;
}

Result<Cert> make_certificate(const CertRequest& r) {
  Cert cert(X509_new());
  if (!cert) return openssl_error("X509_new");
  auto serial = random_serial();
  if (!serial) return serial.error();
  X509_NAME* name = X509_get_subject_name(cert.get());
  std::time_t start = r.not_before;  // X509_time_adj_ex takes a non-const pointer
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(cert.get(), serial->get()) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(r.common_name.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), r.issuer ? X509_get_subject_name(r.issuer) : name) != 1 ||
      !X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, 0, &start) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert.get()), r.days, r.seconds, &start) ||
      X509_set_pubkey(cert.get(), r.key) != 1)
    return openssl_error("filling the certificate of " + r.common_name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, r.issuer ? r.issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  const bool ok =
      add_extension(cert.get(), &ctx, NID_basic_constraints, r.ca ? "critical,CA:TRUE" : "critical,CA:FALSE")
          .ok() &&
      add_extension(cert.get(), &ctx, NID_key_usage,
                    // The CA also signs the governance and permissions documents (S/MIME): PKCS7_verify,
                    // in Cyclone as in `openssl smime -verify`, checks the signer for the S/MIME
                    // signing purpose, which needs digitalSignature.
                    r.ca ? "critical,keyCertSign,cRLSign,digitalSignature" : "critical,digitalSignature")
          .ok() &&
      add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash").ok() &&
      add_extension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always").ok();
  if (!ok) return openssl_error("adding the extensions of the certificate of " + r.common_name);
  EVP_PKEY* signer = r.issuer_key ? r.issuer_key : r.key;
  if (X509_sign(cert.get(), signer, EVP_sha256()) <= 0)
    return openssl_error("signing the certificate of " + r.common_name);
  return cert;
}

Result<std::string> cert_pem(X509* cert) {
  Bio bio = mem_bio();
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return openssl_error("writing a certificate as PEM");
  return bio_text(bio.get());
}

Result<Cert> read_cert_pem(const std::string& pem, const std::string& where) {
  Bio bio = mem_bio(pem);
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return openssl_error("reading the certificate " + where);
  return cert;
}

Result<std::string> subject_rfc2253(X509* cert) {
  Bio bio = mem_bio();
  if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0)
    return openssl_error("printing a certificate's subject");
  return bio_text(bio.get());
}

std::string serial_hex(X509* cert) {
  Bn bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) return "";
  char* hex = BN_bn2hex(bn.get());
  std::string out = hex ? hex : "";
  OPENSSL_free(hex);
  return out;
}

std::string iso8601(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return "";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string iso8601(std::time_t time) {
  std::tm tm{};
  gmtime_r(&time, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<Crl> make_crl(X509* issuer, EVP_PKEY* issuer_key, const std::vector<Revoked>& revoked,
                     std::time_t last_update, std::time_t next_update, int64_t number_value) {
  Crl crl(X509_CRL_new());
  Asn1Time last(ASN1_TIME_set(nullptr, last_update));
  Asn1Time next(ASN1_TIME_set(nullptr, next_update));
  if (!crl || !last || !next || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer)) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1)
    return openssl_error("filling the CRL");
  for (const Revoked& r : revoked) {
    std::unique_ptr<X509_REVOKED, RevokedFree> entry(X509_REVOKED_new());
    BIGNUM* raw = nullptr;
    if (BN_hex2bn(&raw, r.serial_hex.c_str()) == 0) return openssl_error("reading the serial " + r.serial_hex);
    Bn bn(raw);
    Asn1Int serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
    Asn1Time when(ASN1_TIME_set(nullptr, r.when));
    if (!entry || !serial || !when || X509_REVOKED_set_serialNumber(entry.get(), serial.get()) != 1 ||
        X509_REVOKED_set_revocationDate(entry.get(), when.get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), entry.get()) != 1)
      return openssl_error("adding the serial " + r.serial_hex + " to the CRL");
    entry.release();  // owned by the CRL now
  }
  Asn1Int number(ASN1_INTEGER_new());
  if (!number || ASN1_INTEGER_set_int64(number.get(), number_value) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0) != 1)
    return openssl_error("adding the CRL number");
  if (X509_CRL_sort(crl.get()) != 1 || X509_CRL_sign(crl.get(), issuer_key, EVP_sha256()) <= 0)
    return openssl_error("signing the CRL");
  return crl;
}

int64_t crl_number(X509_CRL* crl) {
  Asn1Int number(static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, nullptr, nullptr)));
  int64_t value = -1;
  if (!number || ASN1_INTEGER_get_int64(&value, number.get()) != 1) return -1;
  return value;
}

Result<std::string> crl_pem(X509_CRL* crl) {
  Bio bio = mem_bio();
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl) != 1) return openssl_error("writing the CRL as PEM");
  return bio_text(bio.get());
}

Result<Crl> read_crl_pem(const std::string& pem, const std::string& where) {
  Bio bio = mem_bio(pem);
  Crl crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  if (!crl) return openssl_error("reading the CRL " + where);
  return crl;
}

std::vector<Revoked> revoked_of(X509_CRL* crl) {
  std::vector<Revoked> out;
  STACK_OF(X509_REVOKED)* list = X509_CRL_get_REVOKED(crl);
  for (int i = 0; i < sk_X509_REVOKED_num(list); ++i) {
    const X509_REVOKED* r = sk_X509_REVOKED_value(list, i);
    Bn bn(ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(r), nullptr));
    char* hex = bn ? BN_bn2hex(bn.get()) : nullptr;
    std::tm tm{};
    std::time_t when = 0;
    if (ASN1_TIME_to_tm(X509_REVOKED_get0_revocationDate(r), &tm) == 1) when = timegm(&tm);
    if (hex) out.push_back(Revoked{.serial_hex = hex, .when = when});
    OPENSSL_free(hex);
  }
  return out;
}

Result<std::string> smime_sign(const std::string& data, X509* cert, EVP_PKEY* key) {
  // As `openssl smime -sign -text` does: a streaming, detached signature whose signed
  // content is the data behind a "Content-Type: text/plain" header (PKCS7_TEXT), written
  // as multipart/signed. The signer's certificate is included (the verifier needs it; it
  // checks it against the permissions CA).
  const int flags = PKCS7_DETACHED | PKCS7_TEXT | PKCS7_STREAM;
  Bio in = mem_bio(data);
  std::unique_ptr<PKCS7, Pkcs7Free> p7(PKCS7_sign(cert, key, nullptr, in.get(), flags));
  if (!p7) return openssl_error("signing a document (PKCS7_sign)");
  Bio out = mem_bio();
  if (!out || SMIME_write_PKCS7(out.get(), p7.get(), in.get(), flags) != 1)
    return openssl_error("writing a signed document (SMIME_write_PKCS7)");
  return bio_text(out.get());
}

}  // namespace coedge::security::internal
