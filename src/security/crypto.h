// The OpenSSL (libcrypto) operations a keystore needs, behind small RAII wrappers: ECDSA
// P-256 keys (as SROS2 makes them), X.509 certificates (a self-signed CA, identities it
// signs), a v2 CRL, and S/MIME detached text signatures (`openssl smime -sign -text`, which
// Cyclone's access control reads with SMIME_read_PKCS7 + PKCS7_verify(PKCS7_TEXT)). Internal
// to src/security. Every OpenSSL failure is Error{kIo, "<what> failed: <OpenSSL's reason>"}.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/result.h"

namespace coedge::security::internal {

struct EvpPkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct X509Free { void operator()(X509* p) const { X509_free(p); } };
struct X509CrlFree { void operator()(X509_CRL* p) const { X509_CRL_free(p); } };
using Key = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Crl = std::unique_ptr<X509_CRL, X509CrlFree>;

// "<what> failed: <the reasons on OpenSSL's error queue>" (the queue is emptied).
Error openssl_error(const std::string& what);

Result<Key> generate_key();  // ECDSA prime256v1
Result<std::string> key_pem(EVP_PKEY* key);  // PKCS#8, unencrypted (as SROS2)
Result<Key> read_key_pem(const std::string& pem, const std::string& where);

// A certificate valid from `not_before` for `days` days, with a random positive 128-bit
// serial. `issuer`/`issuer_key` null: self-signed. `ca`: basicConstraints CA:TRUE and
// keyUsage keyCertSign,cRLSign,digitalSignature (it signs the documents too); else CA:FALSE
// and digitalSignature. Signed with SHA-256.
struct CertRequest {
  std::string common_name;
  EVP_PKEY* key = nullptr;  // the subject's key (its public half is certified)
  X509* issuer = nullptr;
  EVP_PKEY* issuer_key = nullptr;
  bool ca = false;
  std::time_t not_before = 0;
  int days = 0;
  long seconds = 0;  // valid for days + seconds
};
Result<Cert> make_certificate(const CertRequest& request);
Result<std::string> cert_pem(X509* cert);
Result<Cert> read_cert_pem(const std::string& pem, const std::string& where);

// The subject as Cyclone's access control compares it with a grant's subject_name
// (X509_NAME_print_ex, XN_FLAG_RFC2253), e.g. "CN=/coedge/node/n1".
Result<std::string> subject_rfc2253(X509* cert);
std::string serial_hex(X509* cert);                  // upper-case hex, no separators
std::string iso8601(const ASN1_TIME* time);          // "2036-11-30T10:00:00Z"; "" if unreadable
std::string iso8601(std::time_t time);

// A CRL of `issuer` listing `revoked` (serial, revocation time), lastUpdate `last_update`,
// nextUpdate `next_update`, signed by `issuer_key`. The caller backdates lastUpdate as it
// backdates certificates: a verifier refuses a CRL whose lastUpdate is in its future
// (X509_V_ERR_CRL_NOT_YET_VALID), so a host whose clock lags by a second would refuse every
// identity.
struct Revoked {
  std::string serial_hex;
  std::time_t when = 0;
};
// `number` is its CRL number (RFC 5280 5.2.3), which must grow with every re-signing.
Result<Crl> make_crl(X509* issuer, EVP_PKEY* issuer_key, const std::vector<Revoked>& revoked,
                     std::time_t last_update, std::time_t next_update, int64_t number);
// The CRL number of `crl`; -1 if it has none (or an unreadable one).
int64_t crl_number(X509_CRL* crl);
Result<std::string> crl_pem(X509_CRL* crl);
Result<Crl> read_crl_pem(const std::string& pem, const std::string& where);
std::vector<Revoked> revoked_of(X509_CRL* crl);

// `data` signed by (cert, key) as S/MIME, detached, text mode: `openssl smime -sign -text`.
Result<std::string> smime_sign(const std::string& data, X509* cert, EVP_PKEY* key);

}  // namespace coedge::security::internal
