// The keystore on disk (keystore.h). Every file is written atomically (a temporary file in
// the same folder, fsync, rename) and a new keystore or enclave is built in a temporary
// folder renamed into place, so that an interrupted `coedge keys` leaves no half file: at
// worst a ".tmp" entry that every reader here skips.
#include "security/keystore.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <openssl/x509.h>

#include "security/crypto.h"
#include "security/dds_documents.h"

namespace coedge::security {
namespace fs = std::filesystem;
using namespace internal;

namespace {

constexpr mode_t kPrivateFile = 0600, kPrivateDir = 0700, kPublicFile = 0644, kPublicDir = 0755;
// Certificates, permissions and the CRL (its lastUpdate) start an hour in the past, so that a
// host whose clock is a little behind the one that issued them does not refuse them as "not
// yet valid".
constexpr std::time_t kBackdate = 3600;
// A certificate's common name has at most 64 characters (RFC 5280 ub-common-name; OpenSSL
// refuses more): "/coedge/camera/" leaves 49 for the name.
constexpr size_t kMaxNameLength = 49;

Error io_error(const std::string& what, int err) {
  return Error{ErrorCode::kIo, what + " failed: " + std::strerror(err)};
}
Error bad(const std::string& dir, const std::string& why) {
  return Error{ErrorCode::kInvalidInput, "keystore " + dir + ": " + why};
}

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

Result<std::string> read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("reading " + path.string(), errno);
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return io_error("reading " + path.string(), errno);
  return s.str();
}

Status set_mode(const fs::path& path, mode_t mode) {
  if (::chmod(path.c_str(), mode) != 0) return io_error("chmod " + path.string(), errno);
  return Ok{};
}

// Creates the folder with `mode` (not the umask's). A folder that exists is left as it is:
// its operator may have tightened it.
Status make_dir(const fs::path& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0) {
    const int err = errno;
    std::error_code ec;
    if (err == EEXIST && fs::is_directory(path, ec)) return Ok{};
    return io_error("creating the folder " + path.string(), err);
  }
  return set_mode(path, mode);
}

// Writes `content` to `path` with `mode`, atomically: a temporary file created 0600 in the
// same folder (so a key is never readable by others, even for a moment), then rename.
Status write_atomic(const fs::path& path, const std::string& content, mode_t mode) {
  std::string tmp = (path.parent_path() / ("." + path.filename().string() + ".tmpXXXXXX")).string();
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return io_error("creating a temporary file next to " + path.string(), errno);
  size_t done = 0;
  int err = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (err == 0 && ::fchmod(fd, mode) != 0) err = errno;
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    return io_error("writing " + path.string(), err);
  }
  return Ok{};
}

Status link_atomic(const std::string& target, const fs::path& path) {
  const std::string tmp = (path.parent_path() / ("." + path.filename().string() + ".tmp-link")).string();
  ::unlink(tmp.c_str());
  if (::symlink(target.c_str(), tmp.c_str()) != 0) return io_error("linking " + path.string(), errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return io_error("linking " + path.string(), err);
  }
  return Ok{};
}

// Runs `steps` in order and stops at the first that fails (a braced list of Status values
// would run every call before looking at any result).
Status in_order(std::initializer_list<std::function<Status()>> steps) {
  for (const auto& step : steps)
    if (Status s = step(); !s) return s;
  return Ok{};
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

Status check_identity_name(const std::string& dir, Role role, const std::string& name) {
  if (auto s = check_identity(role, name); !s) return bad(dir, s.error().message);
  return Ok{};
}

fs::path enclave_dir(const fs::path& dir, Role role, const std::string& name) {
  const fs::path base = dir / "enclaves" / "coedge";
  return role == Role::kMaster ? base / "master" : base / std::string(role_name(role)) / name;
}

// From an enclave folder back to the keystore root: "../../.." for the master, one more
// level for a node or camera.
std::string up_to_root(Role role) { return role == Role::kMaster ? "../../.." : "../../../.."; }

std::string who(Role role, const std::string& name) {
  return role == Role::kMaster ? "the master" : std::string(role_name(role)) + " '" + name + "'";
}

struct Ca {
  Cert cert;
  Key key;
};

Result<Ca> load_ca(const fs::path& dir) {
  const fs::path cert_path = dir / "public" / "ca.cert.pem", key_path = dir / "private" / "ca.key.pem";
  if (!fs::exists(cert_path) || !fs::exists(key_path)) {
    return bad(dir.string(), "no CA here (" + cert_path.string() + " and " + key_path.string() +
                                 "): create the keystore with `coedge keys init " + dir.string() +
                                 "`, or run this where the CA's private key is kept");
  }
  auto cert_text = read_text(cert_path);
  if (!cert_text) return cert_text.error();
  auto key_text = read_text(key_path);
  if (!key_text) return key_text.error();
  auto cert = read_cert_pem(*cert_text, cert_path.string());
  if (!cert) return cert.error();
  auto key = read_key_pem(*key_text, key_path.string());
  if (!key) return key.error();
  return Ca{.cert = std::move(*cert), .key = std::move(*key)};
}

Result<Crl> load_crl(const fs::path& dir) {
  const fs::path path = dir / "public" / "crl.pem";
  auto text = read_text(path);
  if (!text) return text.error();
  return read_crl_pem(*text, path.string());
}

Result<Cert> load_cert(const fs::path& path) {
  auto text = read_text(path);
  if (!text) return text.error();
  return read_cert_pem(*text, path.string());
}

bool is_revoked(X509_CRL* crl, X509* cert) {
  const std::string serial = serial_hex(cert);
  for (const Revoked& r : revoked_of(crl))
    if (r.serial_hex == serial) return true;
  return false;
}

// Time from `from` until the CA expires: an identity, and the CRL, expire with the CA.
struct Span {
  int days = 0;
  int seconds = 0;
};
Span until_ca_expires(X509* ca, std::time_t from) {
  Span s;
  struct Asn1TimeFree {
    void operator()(ASN1_TIME* p) const { ASN1_TIME_free(p); }
  };
  std::unique_ptr<ASN1_TIME, Asn1TimeFree> start(ASN1_TIME_set(nullptr, from));
  if (!start || ASN1_TIME_diff(&s.days, &s.seconds, start.get(), X509_get0_notAfter(ca)) != 1 || s.days < 0 ||
      s.seconds < 0)
    return Span{.days = 1, .seconds = 0};
  return s;
}

// `previous`: the CRL being replaced (null for the first one). The new CRL number is the time
// in seconds, or one more than the previous number when that is not more (two revocations in
// one second, or a clock stepped back): a verifier may keep the CRL with the higher number.
Status write_crl(const fs::path& dir, const Ca& ca, const std::vector<Revoked>& revoked, std::time_t now,
                 X509_CRL* previous) {
  const Span left = until_ca_expires(ca.cert.get(), now);
  const int64_t before = previous ? crl_number(previous) : -1;
  const int64_t number = std::max<int64_t>(static_cast<int64_t>(now), before + 1);
  auto crl = make_crl(ca.cert.get(), ca.key.get(), revoked, now - kBackdate,
                      now + static_cast<std::time_t>(left.days) * 86400 + left.seconds, number);
  if (!crl) return crl.error();
  auto pem = crl_pem(crl->get());
  if (!pem) return pem.error();
  return write_atomic(dir / "public" / "crl.pem", *pem, kPublicFile);
}

// The files of a new enclave, written into `out` (a fresh temporary folder).
Status write_enclave(const fs::path& out, const Ca& ca, Role role, const std::string& name) {
  const std::time_t now = std::time(nullptr);
  const std::time_t start = now - kBackdate;
  auto key = generate_key();
  if (!key) return key.error();
  const std::string enclave = enclave_name(role, name);
  auto cert = make_certificate(CertRequest{.common_name = enclave,
                                           .key = key->get(),
                                           .issuer = ca.cert.get(),
                                           .issuer_key = ca.key.get(),
                                           .ca = false,
                                           .not_before = start,
                                           .days = until_ca_expires(ca.cert.get(), start).days,
                                           .seconds = until_ca_expires(ca.cert.get(), start).seconds});
  if (!cert) return cert.error();
  auto subject = subject_rfc2253(cert->get());
  if (!subject) return subject.error();
  const std::string xml = permissions_xml({role_grant(role, name, *subject, iso8601(X509_get0_notBefore(cert->get())),
                                                      iso8601(X509_get0_notAfter(cert->get())))});
  auto p7s = smime_sign(xml, ca.cert.get(), ca.key.get());
  if (!p7s) return p7s.error();
  auto cert_text = cert_pem(cert->get());
  if (!cert_text) return cert_text.error();
  auto key_text = key_pem(key->get());
  if (!key_text) return key_text.error();
  const std::string root = up_to_root(role);
  return in_order({
      [&] { return write_atomic(out / "key.pem", *key_text, kPrivateFile); },
      [&] { return write_atomic(out / "cert.pem", *cert_text, kPublicFile); },
      [&] { return write_atomic(out / "permissions.xml", xml, kPublicFile); },
      [&] { return write_atomic(out / "permissions.p7s", *p7s, kPublicFile); },
      [&] { return link_atomic(root + "/public/identity_ca.cert.pem", out / "identity_ca.cert.pem"); },
      [&] { return link_atomic(root + "/public/permissions_ca.cert.pem", out / "permissions_ca.cert.pem"); },
      [&] { return link_atomic(root + "/public/crl.pem", out / "crl.pem"); },
      [&] { return link_atomic(root + "/enclaves/governance.p7s", out / "governance.p7s"); },
  });
}

Result<fs::path> make_temp_dir(const fs::path& parent, const std::string& stem) {
  std::string tmp = (parent / ("." + stem + ".tmpXXXXXX")).string();
  if (::mkdtemp(tmp.data()) == nullptr) return io_error("creating a temporary folder in " + parent.string(), errno);
  return fs::path(tmp);
}

// An exclusive flock(2) on DIR/.lock, held while a `coedge keys` reads, changes and writes the
// CRL or an enclave: two at once (add and revoke, or two revokes) would otherwise each re-sign
// the CRL they read, and one revocation would be lost. Released when destroyed (close).
class KeystoreLock {
 public:
  static Result<KeystoreLock> take(const fs::path& dir) {
    const fs::path path = dir / ".lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, kPrivateFile);
    if (fd < 0) return io_error("opening the lock file " + path.string(), errno);
    int rc;
    do rc = ::flock(fd, LOCK_EX);
    while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      const int err = errno;
      ::close(fd);
      return io_error("locking " + path.string(), err);
    }
    return KeystoreLock(fd);
  }
  KeystoreLock(KeystoreLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  KeystoreLock& operator=(KeystoreLock&&) = delete;
  KeystoreLock(const KeystoreLock&) = delete;
  ~KeystoreLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  explicit KeystoreLock(int fd) : fd_(fd) {}
  int fd_;
};

// Refuses a private file or folder that group or others may read, write or enter.
Status check_private(const std::string& dir, const fs::path& path, bool is_dir) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return io_error("checking " + path.string(), errno);
  if ((st.st_mode & 077) != 0) {
    return bad(dir, path.string() + " has mode " + mode_text(st.st_mode) +
                        ": it holds a private key, so group and others must have no access; fix it with "
                        "`chmod " +
                        (is_dir ? "700 " : "600 ") + path.string() + "`");
  }
  return Ok{};
}

// Who may change what a participant reads: the current user and root. Anyone else who owns,
// or may write, one of its files, or one of the folders in which their names are looked up,
// could swap the CA or the CRL (or a link to them).
Status check_owner(const std::string& dir, const fs::path& path, const struct stat& st) {
  if (st.st_uid == ::geteuid() || st.st_uid == 0) return Ok{};
  return bad(dir, path.string() + " belongs to uid " + std::to_string(st.st_uid) + ", not to this user (uid " +
                      std::to_string(::geteuid()) + ") or root: its owner could replace what DDS Security reads; fix "
                      "it with `chown " + std::to_string(::geteuid()) + " " + path.string() + "`");
}

// A folder in which a name is looked up: owned by this user or root, and not writable by
// group or others, unless it is root's and sticky (as /tmp: others cannot rename or delete
// what they do not own).
Status check_folder(const std::string& dir, const fs::path& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return io_error("checking " + path.string(), errno);
  if (auto s = check_owner(dir, path, st); !s) return s;
  const bool sticky_roots = st.st_uid == 0 && (st.st_mode & S_ISVTX) != 0;
  if ((st.st_mode & 022) != 0 && !sticky_roots) {
    return bad(dir, "the folder " + path.string() + " has mode " + mode_text(st.st_mode) +
                        ": group or others may write it, so they could replace the CA, the CRL or an identity "
                        "in it; fix it with `chmod go-w " + path.string() + "`");
  }
  return Ok{};
}

// Resolves `rel` (a path inside the keystore whose real path is `root`) one name at a time as
// the kernel would, checking every folder in which a name is looked up (from `root` on, and
// wherever a link leads), the owner of every link followed, and the file found: a regular
// file owned by this user or root, with no access for group and others if `private_file`,
// else not writable by them. Returns the file's real path.
Result<fs::path> resolve_checked(const std::string& dir, const fs::path& root, const fs::path& rel, bool private_file) {
  std::vector<std::string> todo;  // names still to look up, last first
  const auto push = [&todo](const fs::path& p) {
    std::vector<std::string> names;
    for (const auto& part : p.relative_path()) names.push_back(part.string());
    for (auto it = names.rbegin(); it != names.rend(); ++it) todo.push_back(*it);
  };
  push(rel);
  fs::path at = root;
  int links = 0;
  while (!todo.empty()) {
    const std::string name = todo.back();
    todo.pop_back();
    if (name.empty() || name == ".") continue;
    if (name == "..") {
      at = at.parent_path();
      continue;
    }
    if (auto s = check_folder(dir, at); !s) return s.error();
    const fs::path next = at / name;
    struct stat st{};
    if (::lstat(next.c_str(), &st) != 0) return io_error("checking " + next.string(), errno);
    if (S_ISLNK(st.st_mode)) {
      if (auto s = check_owner(dir, next, st); !s) return s.error();
      if (++links > 40) return bad(dir, (root / rel).string() + ": too many links on the way");
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      const ssize_t n = ::readlink(next.c_str(), target.data(), target.size());
      if (n < 0 || static_cast<size_t>(n) >= target.size()) return io_error("reading the link " + next.string(), errno);
      target.resize(static_cast<size_t>(n));
      if (fs::path(target).is_absolute()) at = "/";
      push(fs::path(target));
      continue;
    }
    if (S_ISDIR(st.st_mode) && !todo.empty()) {
      at = next;
      continue;
    }
    if (!todo.empty()) return bad(dir, (root / rel).string() + ": " + next.string() + " is not a folder");
    if (!S_ISREG(st.st_mode)) return bad(dir, (root / rel).string() + " leads to " + next.string() + ", which is not a regular file");
    if (auto s = check_owner(dir, next, st); !s) return s.error();
    if (private_file) {
      if (auto s = check_private(dir, next, false); !s) return s.error();
    } else if ((st.st_mode & 022) != 0) {
      return bad(dir, next.string() + " has mode " + mode_text(st.st_mode) +
                          ": group or others may write it, so they could replace what DDS Security trusts; fix "
                          "it with `chmod go-w " + next.string() + "`");
    }
    return next;
  }
  return bad(dir, (root / rel).string() + " names no file");
}

}  // namespace

Status check_identity(Role role, const std::string& name) {
  if (role == Role::kMaster) {
    if (!name.empty()) return Error{ErrorCode::kInvalidInput, "the master's identity has no name (got '" + name + "')"};
    return Ok{};
  }
  if (!valid_name(name)) {
    return Error{ErrorCode::kInvalidInput,
                 "bad " + std::string(role_name(role)) + " name '" + name + "': it must be 1 to " +
                     std::to_string(kMaxNameLength) +
                     " characters of A-Z, a-z, 0-9, '_' and '-' (it becomes a DDS partition and part of topic names, "
                     "where other characters are wildcards or separators)"};
  }
  return Ok{};
}

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kMaster: return "master";
    case Role::kNode: return "node";
    case Role::kCamera: return "camera";
  }
  return "?";
}

Status create_keystore(const std::string& dir_text, const KeystoreOptions& options) {
  if (options.validity_days < 1 || options.validity_days > 36500)
    return bad(dir_text, "validity of " + std::to_string(options.validity_days) + " days: it must be 1 to 36500");
  const fs::path dir = fs::absolute(dir_text).lexically_normal();
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) return bad(dir_text, "it exists and is not a folder");
    if (!fs::is_empty(dir, ec)) return bad(dir_text, "the folder exists and is not empty (a keystore is created in a new or empty folder)");
  }
  const fs::path parent = dir.has_filename() ? dir.parent_path() : dir.parent_path().parent_path();
  if (!fs::is_directory(parent, ec)) return bad(dir_text, "its parent folder " + parent.string() + " does not exist");
  auto tmp = make_temp_dir(parent, dir.filename().string());
  if (!tmp) return tmp.error();
  const fs::path t = *tmp;
  auto built = [&]() -> Status {
    if (Status s = in_order({
            [&] { return set_mode(t, kPublicDir); },  // mkdtemp made it 0700
            [&] { return make_dir(t / "public", kPublicDir); },
            [&] { return make_dir(t / "private", kPrivateDir); },
            [&] { return make_dir(t / "enclaves", kPublicDir); },
            [&] { return make_dir(t / "enclaves" / "coedge", kPublicDir); },
        });
        !s)
      return s;
    const std::time_t now = std::time(nullptr);
    auto key = generate_key();
    if (!key) return key.error();
    auto cert = make_certificate(CertRequest{.common_name = "CoEdge cluster CA",
                                             .key = key->get(),
                                             .issuer = nullptr,
                                             .issuer_key = nullptr,
                                             .ca = true,
                                             .not_before = now - kBackdate,
                                             .days = options.validity_days,
                                             .seconds = 0});
    if (!cert) return cert.error();
    auto cert_text = cert_pem(cert->get());
    if (!cert_text) return cert_text.error();
    auto key_text = key_pem(key->get());
    if (!key_text) return key_text.error();
    const std::string governance = governance_xml(options.images);
    auto governance_p7s = smime_sign(governance, cert->get(), key->get());
    if (!governance_p7s) return governance_p7s.error();
    // One CA plays both roles, as SROS2's keystore: identity_ca and permissions_ca link to it.
    if (Status s = in_order({
            [&] { return write_atomic(t / "private" / "ca.key.pem", *key_text, kPrivateFile); },
            [&] { return link_atomic("ca.key.pem", t / "private" / "identity_ca.key.pem"); },
            [&] { return link_atomic("ca.key.pem", t / "private" / "permissions_ca.key.pem"); },
            [&] { return write_atomic(t / "public" / "ca.cert.pem", *cert_text, kPublicFile); },
            [&] { return link_atomic("ca.cert.pem", t / "public" / "identity_ca.cert.pem"); },
            [&] { return link_atomic("ca.cert.pem", t / "public" / "permissions_ca.cert.pem"); },
            [&] { return write_atomic(t / "enclaves" / "governance.xml", governance, kPublicFile); },
            [&] { return write_atomic(t / "enclaves" / "governance.p7s", *governance_p7s, kPublicFile); },
        });
        !s)
      return s;
    return write_crl(t, Ca{.cert = std::move(*cert), .key = std::move(*key)}, {}, now, nullptr);
  }();
  // rename(2) replaces an empty folder, so "DIR exists and is empty" needs no special case.
  if (built.ok() && ::rename(t.c_str(), dir.c_str()) != 0) built = io_error("renaming " + t.string() + " to " + dir.string(), errno);
  if (!built.ok()) fs::remove_all(t, ec);
  return built;
}

namespace {

// What changing one identity needs: the keystore, its CA, the keystore's lock (held until
// this is destroyed) and the identity's enclave folder. Checks the name first.
struct IdentityChange {
  fs::path dir;
  Ca ca;
  KeystoreLock lock;
  fs::path enclave;
};
Result<IdentityChange> begin_identity_change(const std::string& dir_text, Role role, const std::string& name) {
  if (auto s = check_identity_name(dir_text, role, name); !s) return s.error();
  const fs::path dir = fs::absolute(dir_text).lexically_normal();
  auto ca = load_ca(dir);
  if (!ca) return ca.error();
  auto lock = KeystoreLock::take(dir);
  if (!lock) return lock.error();
  return IdentityChange{dir, std::move(*ca), std::move(*lock), enclave_dir(dir, role, name)};
}

}  // namespace

Status add_identity(const std::string& dir_text, Role role, const std::string& name) {
  auto change = begin_identity_change(dir_text, role, name);
  if (!change) return change.error();
  const fs::path& dir = change->dir;
  const Ca& ca = change->ca;
  const fs::path& enclave = change->enclave;
  const bool replacing = fs::exists(enclave);
  if (replacing) {
    auto crl = load_crl(dir);
    if (!crl) return crl.error();
    auto cert = load_cert(enclave / "cert.pem");
    if (!cert) {
      return bad(dir_text, "the identity of " + who(role, name) + " exists (" + enclave.string() +
                               ") but its certificate cannot be read: " + cert.error().message);
    }
    if (!is_revoked(crl->get(), cert->get())) {
      return bad(dir_text, "the identity of " + who(role, name) + " exists (" + enclave.string() +
                               "); to issue a new one, revoke it first (`coedge keys revoke`)");
    }
  }
  if (auto s = make_dir(enclave.parent_path(), kPublicDir); !s) return s;
  auto tmp = make_temp_dir(enclave.parent_path(), enclave.filename().string());
  if (!tmp) return tmp.error();
  std::error_code ec;
  Status built = write_enclave(*tmp, ca, role, name);
  if (built.ok()) built = set_mode(*tmp, kPrivateDir);  // it holds key.pem (mkdtemp made it 0700 already)
  fs::path old;
  if (built.ok() && replacing) {
    // The revoked identity's folder moves aside, then goes; its certificate stays in the CRL.
    auto aside = make_temp_dir(enclave.parent_path(), enclave.filename().string() + ".revoked");
    if (!aside) built = aside.error();
    else if (::rename(enclave.c_str(), aside->c_str()) != 0) built = io_error("moving " + enclave.string() + " aside", errno);
    else old = *aside;
  }
  if (built.ok() && ::rename(tmp->c_str(), enclave.c_str()) != 0) built = io_error("renaming " + tmp->string() + " to " + enclave.string(), errno);
  if (!built.ok()) fs::remove_all(*tmp, ec);
  if (!old.empty()) fs::remove_all(old, ec);
  return built;
}

Status revoke_identity(const std::string& dir_text, Role role, const std::string& name) {
  auto change = begin_identity_change(dir_text, role, name);
  if (!change) return change.error();
  const fs::path& dir = change->dir;
  const Ca& ca = change->ca;
  const fs::path& enclave = change->enclave;
  if (!fs::exists(enclave / "cert.pem"))
    return bad(dir_text, "no identity of " + who(role, name) + " (" + (enclave / "cert.pem").string() + " does not exist)");
  auto cert = load_cert(enclave / "cert.pem");
  if (!cert) return cert.error();
  auto crl = load_crl(dir);
  if (!crl) return crl.error();
  if (is_revoked(crl->get(), cert->get())) return bad(dir_text, "the identity of " + who(role, name) + " is already revoked");
  std::vector<Revoked> revoked = revoked_of(crl->get());
  const std::time_t now = std::time(nullptr);
  revoked.push_back(Revoked{.serial_hex = serial_hex(cert->get()), .when = now});
  if (auto s = write_crl(dir, ca, revoked, now, crl->get()); !s) return s;
  // Read back what is now on disk: the key is deleted only once its serial is surely listed.
  auto written = load_crl(dir);
  if (!written) return written.error();
  if (!is_revoked(written->get(), cert->get())) {
    return Error{ErrorCode::kIo, "keystore " + dir_text + ": " + (dir / "public" / "crl.pem").string() +
                                     " does not list the serial " + serial_hex(cert->get()) + " of " + who(role, name) +
                                     " after writing it (changed by another program?); the key is kept: revoke again"};
  }
  std::error_code ec;
  fs::remove(enclave / "key.pem", ec);
  if (ec) return io_error("deleting " + (enclave / "key.pem").string(), ec.value());
  return Ok{};
}

Result<std::vector<IdentityInfo>> list_identities(const std::string& dir_text) {
  const fs::path dir = fs::absolute(dir_text).lexically_normal();
  if (!fs::is_directory(dir / "enclaves" / "coedge"))
    return bad(dir_text, "not a CoEdge keystore (no " + (dir / "enclaves" / "coedge").string() + ")");
  auto crl = load_crl(dir);
  if (!crl) return crl.error();
  std::vector<std::pair<Role, std::string>> found;
  if (fs::exists(enclave_dir(dir, Role::kMaster, ""))) found.emplace_back(Role::kMaster, "");
  for (Role role : {Role::kNode, Role::kCamera}) {
    const fs::path folder = dir / "enclaves" / "coedge" / std::string(role_name(role));
    if (!fs::is_directory(folder)) continue;
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder)) {
      const std::string n = entry.path().filename().string();
      if (entry.is_directory() && valid_name(n)) names.push_back(n);  // skips ".tmp" leftovers
    }
    std::sort(names.begin(), names.end());
    for (auto& n : names) found.emplace_back(role, n);
  }
  std::vector<IdentityInfo> out;
  for (const auto& [role, name] : found) {
    auto cert = load_cert(enclave_dir(dir, role, name) / "cert.pem");
    if (!cert) return cert.error();
    auto subject = subject_rfc2253(cert->get());
    if (!subject) return subject.error();
    out.push_back(IdentityInfo{.role = role,
                               .name = name,
                               .subject = *subject,
                               .not_after = iso8601(X509_get0_notAfter(cert->get())),
                               .revoked = is_revoked(crl->get(), cert->get())});
  }
  return out;
}

Result<net::DdsSecurityFiles> identity_files(const std::string& dir_text, Role role, const std::string& name) {
  if (auto s = check_identity_name(dir_text, role, name); !s) return s.error();
  const fs::path dir = fs::absolute(dir_text).lexically_normal();
  const fs::path enclave = enclave_dir(dir, role, name);
  if (!fs::is_directory(enclave)) {
    return bad(dir_text, "no identity of " + who(role, name) + " (" + enclave.string() +
                             " does not exist; issue one with `coedge keys add`)");
  }
  // The CA's key need not be on a participant's host (it should not); when it is, it too
  // must be private.
  if (fs::exists(dir / "private")) {
    if (auto s = check_private(dir_text, dir / "private", true); !s) return s.error();
    if (fs::exists(dir / "private" / "ca.key.pem"))
      if (auto s = check_private(dir_text, dir / "private" / "ca.key.pem", false); !s) return s.error();
  }
  if (auto s = check_private(dir_text, enclave, true); !s) return s.error();
  net::DdsSecurityFiles files{.identity_ca = (enclave / "identity_ca.cert.pem").string(),
                              .certificate = (enclave / "cert.pem").string(),
                              .private_key = (enclave / "key.pem").string(),
                              .permissions_ca = (enclave / "permissions_ca.cert.pem").string(),
                              .governance = (enclave / "governance.p7s").string(),
                              .permissions = (enclave / "permissions.p7s").string(),
                              .crl = (enclave / "crl.pem").string()};
  for (const std::string* f : {&files.identity_ca, &files.certificate, &files.permissions_ca, &files.governance,
                               &files.permissions, &files.crl}) {
    if (!fs::exists(*f)) return bad(dir_text, *f + " is missing (or is a link to a missing file)");
  }
  auto cert = load_cert(files.certificate);
  if (!cert) return cert.error();
  auto crl_text = read_text(files.crl);
  if (!crl_text) return crl_text.error();
  auto crl = read_crl_pem(*crl_text, files.crl);
  if (!crl) return crl.error();
  if (is_revoked(crl->get(), cert->get()))
    return bad(dir_text, "the identity of " + who(role, name) + " is revoked (its serial is in " + files.crl + ")");
  // The key itself, not a link to it (a link would be one more name someone could swap).
  struct stat key_st{};
  if (::lstat(files.private_key.c_str(), &key_st) != 0) return bad(dir_text, files.private_key + " is missing");
  if (!S_ISREG(key_st.st_mode))
    return bad(dir_text, files.private_key + " is not a regular file (a link?): the private key must be the file itself");
  if (auto s = check_private(dir_text, files.private_key, false); !s) return s.error();
  // Nobody but this user and root may change what is read: every file (through its links)
  // and every folder on the way, from the keystore's root.
  char* real = ::realpath(dir.c_str(), nullptr);
  if (real == nullptr) return io_error("resolving " + dir.string(), errno);
  const fs::path root = real;
  std::free(real);
  for (const std::string* f : {&files.private_key, &files.identity_ca, &files.certificate, &files.permissions_ca,
                               &files.governance, &files.permissions, &files.crl}) {
    const fs::path rel = fs::path(*f).lexically_relative(dir);
    auto checked = resolve_checked(dir_text, root, rel, f == &files.private_key);
    if (!checked) return checked.error();
  }
  return files;
}

}  // namespace coedge::security
