// The keystore on disk (security/keystore.h), checked with the `openssl` command line as
// an outside verifier: the identities chain to the CA, the signed documents verify and
// give back their XML, the CRL is CA-signed and lists a revoked serial; and the refusals
// (modes, names, twice the same identity, a revoked identity).
#include "security/keystore.h"
#include "security/crypto.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace coedge::security {
namespace {
namespace fs = std::filesystem;

struct Output {
  int status = -1;
  std::string out;  // standard output and error
};

Output run(const std::string& command) {
  Output r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  // Text-mode S/MIME canonicalises line ends to CRLF; the comparisons want the XML as written.
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    for (size_t i = 0; i < n; ++i)
      if (buf[i] != '\r') r.out += buf[i];
  const int status = ::pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

mode_t mode_of(const fs::path& path) {
  struct stat st{};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class KeystoreTest : public ::testing::Test {
 protected:
  // `openssl smime -verify -text`: its status, and the verified content (CRs dropped: text
  // mode canonicalises line ends to CRLF) or its messages when it failed.
  Output verify_smime(const std::string& signed_file) {
    const fs::path content = root_ / "verified.txt";
    fs::remove(content);
    Output r = run("openssl smime -verify -text -CAfile " + dir_ + "/public/ca.cert.pem -in " + signed_file +
                   " -out " + content.string());
    if (r.status == 0) {
      r.out.clear();
      for (char c : slurp(content))
        if (c != '\r') r.out += c;
    }
    return r;
  }

  void SetUp() override {
    char tmpl[] = "/tmp/coedge-keystore-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = (root_ / "ks").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  void make(TopicProtection images = TopicProtection::kSign) {
    auto s = create_keystore(dir_, KeystoreOptions{.images = images, .validity_days = 30});
    ASSERT_TRUE(s.ok()) << s.error().message;
  }
  fs::path enclave(const std::string& sub) const { return fs::path(dir_) / "enclaves" / "coedge" / sub; }

  fs::path root_;
  std::string dir_;
};

TEST_F(KeystoreTest, LayoutAndModesAsSros2) {
  make();
  ASSERT_TRUE(add_identity(dir_, Role::kMaster, "").ok());
  ASSERT_TRUE(add_identity(dir_, Role::kNode, "n1").ok());
  const fs::path d = dir_;
  for (const char* f : {"public/ca.cert.pem", "public/identity_ca.cert.pem", "public/permissions_ca.cert.pem",
                        "public/crl.pem", "private/ca.key.pem", "enclaves/governance.xml", "enclaves/governance.p7s",
                        // what SROS2 checks before `ros2 security create_enclave` (is_valid_keystore)
                        "private/identity_ca.key.pem", "private/permissions_ca.key.pem"})
    EXPECT_TRUE(fs::exists(d / f)) << f;
  EXPECT_EQ(mode_of(d / "private"), 0700u);
  EXPECT_EQ(mode_of(d / "private/ca.key.pem"), 0600u);
  for (const fs::path& e : {enclave("master"), enclave("node/n1")}) {
    SCOPED_TRACE(e);
    EXPECT_EQ(mode_of(e), 0700u);
    EXPECT_EQ(mode_of(e / "key.pem"), 0600u);
    for (const char* f : {"cert.pem", "permissions.xml", "permissions.p7s"}) EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(e / f))) << f;
    for (const char* f : {"identity_ca.cert.pem", "permissions_ca.cert.pem", "governance.p7s", "crl.pem"}) {
      EXPECT_TRUE(fs::is_symlink(fs::symlink_status(e / f))) << f;
      EXPECT_TRUE(fs::exists(e / f)) << f << " links to a missing file";
    }
  }
  // Nothing half-written left behind.
  for (const auto& entry : fs::recursive_directory_iterator(d))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

TEST_F(KeystoreTest, OpensslVerifiesCertificatesDocumentsAndCrl) {
  make();
  ASSERT_TRUE(add_identity(dir_, Role::kNode, "n1").ok());
  ASSERT_TRUE(add_identity(dir_, Role::kCamera, "n1").ok());
  const std::string ca = dir_ + "/public/ca.cert.pem";

  Output r = run("openssl x509 -in " + ca + " -noout -subject -ext basicConstraints,keyUsage");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("CN = CoEdge cluster CA"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CA:TRUE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Certificate Sign, CRL Sign"), std::string::npos) << r.out;
  r = run("openssl x509 -in " + ca + " -noout -text");
  EXPECT_NE(r.out.find("prime256v1"), std::string::npos) << r.out;

  for (const char* sub : {"node/n1", "camera/n1"}) {
    SCOPED_TRACE(sub);
    const std::string e = enclave(sub).string();
    r = run("openssl verify -CAfile " + ca + " " + e + "/cert.pem");
    EXPECT_EQ(r.status, 0) << r.out;
    r = run("openssl x509 -in " + e + "/cert.pem -noout -subject -nameopt RFC2253");
    EXPECT_EQ(r.out, "subject=CN=/coedge/" + std::string(sub) + "\n");
    // The key belongs to the certificate.
    EXPECT_EQ(run("openssl pkey -in " + e + "/key.pem -pubout").out,
              run("openssl x509 -in " + e + "/cert.pem -noout -pubkey").out);
    r = verify_smime(e + "/permissions.p7s");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out, slurp(e + "/permissions.xml"));
    EXPECT_NE(r.out.find("<subject_name>CN=/coedge/" + std::string(sub) + "</subject_name>"), std::string::npos);
  }
  r = verify_smime(dir_ + "/enclaves/governance.p7s");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, slurp(dir_ + "/enclaves/governance.xml"));

  // A document changed after signing does not verify.
  std::string signed_text = slurp(enclave("node/n1") / "permissions.p7s");
  const size_t at = signed_text.find("coedge.node.n1");
  ASSERT_NE(at, std::string::npos);
  signed_text.replace(at, 14, "coedge.node.n2");
  std::ofstream(root_ / "tampered.p7s") << signed_text;
  r = verify_smime((root_ / "tampered.p7s").string());
  EXPECT_NE(r.status, 0) << r.out;

  // A serial is unique: two identities never share one.
  EXPECT_NE(run("openssl x509 -noout -serial -in " + enclave("node/n1").string() + "/cert.pem").out,
            run("openssl x509 -noout -serial -in " + enclave("camera/n1").string() + "/cert.pem").out);

  // The CRL: empty at first, CA-signed; then the revoked serial is listed.
  const std::string crl = dir_ + "/public/crl.pem";
  r = run("openssl crl -in " + crl + " -CAfile " + ca + " -noout -text");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("verify OK"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("No Revoked Certificates"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Next Update"), std::string::npos) << r.out;
  const std::string serial = run("openssl x509 -noout -serial -in " + enclave("node/n1").string() + "/cert.pem").out;
  ASSERT_EQ(serial.rfind("serial=", 0), 0u);
  ASSERT_TRUE(revoke_identity(dir_, Role::kNode, "n1").ok());
  r = run("openssl crl -in " + crl + " -CAfile " + ca + " -noout -text");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("verify OK"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Serial Number: " + serial.substr(7, serial.size() - 8)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CRL v2") == std::string::npos ? r.out.find("Version 2") : 0, std::string::npos) << r.out;
  // openssl verify with the CRL now refuses the revoked certificate, accepts the other.
  r = run("openssl verify -crl_check -CAfile " + ca + " -CRLfile " + crl + " " + enclave("node/n1").string() + "/cert.pem");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("revoked"), std::string::npos) << r.out;
  r = run("openssl verify -crl_check -CAfile " + ca + " -CRLfile " + crl + " " + enclave("camera/n1").string() + "/cert.pem");
  EXPECT_EQ(r.status, 0) << r.out;
}

// A host whose clock lags the issuer's (here by a minute) still accepts the identities and
// the CRL: the CRL's lastUpdate is backdated as the certificates are, so it is not "not yet
// valid" there. Both after init (empty CRL) and after a revocation (re-signed CRL).
TEST_F(KeystoreTest, CrlIsValidOnAHostWhoseClockLags) {
  make();
  ASSERT_TRUE(add_identity(dir_, Role::kNode, "n1").ok());
  ASSERT_TRUE(add_identity(dir_, Role::kNode, "n2").ok());
  const std::string ca = dir_ + "/public/ca.cert.pem", crl = dir_ + "/public/crl.pem";
  const auto verify_lagging = [&](const std::string& who) {
    return run("openssl verify -crl_check -attime " + std::to_string(std::time(nullptr) - 60) + " -CAfile " + ca +
               " -CRLfile " + crl + " " + enclave(who).string() + "/cert.pem");
  };
  Output r = verify_lagging("node/n1");
  EXPECT_EQ(r.status, 0) << r.out;
  ASSERT_TRUE(revoke_identity(dir_, Role::kNode, "n2").ok());
  r = verify_lagging("node/n1");
  EXPECT_EQ(r.status, 0) << r.out;
  r = verify_lagging("node/n2");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("revoked"), std::string::npos) << r.out;
}

// Revocations at once (two operators, or a script revoking in parallel): each one reads the
// CRL, adds its serial and re-signs; without the keystore's lock one would overwrite another's
// and a revoked identity would silently stay valid. Every one must be listed.
TEST_F(KeystoreTest, ConcurrentRevocationsAreAllListed) {
  make();
  constexpr int kNodes = 8;
  for (int i = 0; i < kNodes; ++i) ASSERT_TRUE(add_identity(dir_, Role::kNode, "n" + std::to_string(i)).ok());
  std::atomic<int> ready{0};
  std::vector<std::string> errors(kNodes);
  std::vector<std::thread> threads;
  for (int i = 0; i < kNodes; ++i) {
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < kNodes) std::this_thread::yield();
      auto s = revoke_identity(dir_, Role::kNode, "n" + std::to_string(i));
      if (!s.ok()) errors[i] = s.error().message;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kNodes; ++i) EXPECT_EQ(errors[i], "") << "n" << i;
  auto list = list_identities(dir_);
  ASSERT_TRUE(list.ok()) << list.error().message;
  ASSERT_EQ(list->size(), static_cast<size_t>(kNodes));
  for (const IdentityInfo& i : *list) EXPECT_TRUE(i.revoked) << i.name << " is missing from the CRL";
  const Output r = run("openssl crl -in " + dir_ + "/public/crl.pem -CAfile " + dir_ + "/public/ca.cert.pem -noout -text");
  EXPECT_NE(r.out.find("verify OK"), std::string::npos) << r.out;
}

// The CRL number grows with every re-signing, even within one second or when the clock is
// behind the previous number (here a CRL numbered an hour ahead, as a clock stepped back
// would leave): one more than the previous, never the time again.
TEST_F(KeystoreTest, CrlNumberGrowsWithEveryRevocation) {
  make();
  for (const char* n : {"n1", "n2", "n3"}) ASSERT_TRUE(add_identity(dir_, Role::kNode, n).ok());
  const fs::path crl_path = fs::path(dir_) / "public" / "crl.pem";
  const auto number = [&]() -> int64_t {
    auto crl = internal::read_crl_pem(slurp(crl_path), crl_path.string());
    return crl.ok() ? internal::crl_number(crl->get()) : -2;
  };
  const int64_t first = number();
  EXPECT_GE(first, static_cast<int64_t>(std::time(nullptr)) - 5);
  ASSERT_TRUE(revoke_identity(dir_, Role::kNode, "n1").ok());
  ASSERT_TRUE(revoke_identity(dir_, Role::kNode, "n2").ok());  // most likely in the same second
  const int64_t second = number();
  EXPECT_GE(second, first + 2);

  // A CRL numbered an hour ahead, signed by the CA.
  auto ca_cert = internal::read_cert_pem(slurp(fs::path(dir_) / "public/ca.cert.pem"), "ca");
  auto ca_key = internal::read_key_pem(slurp(fs::path(dir_) / "private/ca.key.pem"), "ca key");
  ASSERT_TRUE(ca_cert.ok() && ca_key.ok());
  auto old = internal::read_crl_pem(slurp(crl_path), crl_path.string());
  ASSERT_TRUE(old.ok());
  const std::time_t now = std::time(nullptr);
  const int64_t ahead = static_cast<int64_t>(now) + 3600;
  auto forged = internal::make_crl(ca_cert->get(), ca_key->get(), internal::revoked_of(old->get()), now - 3600,
                                   now + 86400, ahead);
  ASSERT_TRUE(forged.ok()) << forged.error().message;
  auto pem = internal::crl_pem(forged->get());
  ASSERT_TRUE(pem.ok());
  std::ofstream(crl_path, std::ios::trunc) << *pem;
  ASSERT_EQ(number(), ahead);
  ASSERT_TRUE(revoke_identity(dir_, Role::kNode, "n3").ok());
  EXPECT_EQ(number(), ahead + 1);
}

// A folder the operator tightened stays as tight when an identity is added into it.
TEST_F(KeystoreTest, AddLeavesExistingFoldersModesAlone) {
  make();
  ASSERT_TRUE(add_identity(dir_, Role::kNode, "n1").ok());
  const fs::path nodes = enclave("node");
  EXPECT_EQ(mode_of(dir_), 0755u);  // made by mkdtemp (0700), then opened
  EXPECT_EQ(mode_of(nodes), 0755u);
  ASSERT_EQ(::chmod(nodes.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(enclave("").c_str(), 0711), 0);
  ASSERT_TRUE(add_identity(dir_, Role::kNode, "n2").ok());
  ASSERT_TRUE(add_identity(dir_, Role::kCamera, "n2").ok());
  EXPECT_EQ(mode_of(nodes), 0700u);
  EXPECT_EQ(mode_of(enclave("")), 0711u);
  EXPECT_EQ(mode_of(enclave("camera")), 0755u);  // created now
  EXPECT_EQ(mode_of(enclave("node/n2")), 0700u);
  EXPECT_TRUE(identity_files(dir_, Role::kNode, "n2").ok());
}

TEST_F(KeystoreTest, GovernanceFollowsTheImagesOption) {
  make(TopicProtection::kEncrypt);
  const std::string xml = slurp(fs::path(dir_) / "enclaves/governance.xml");
  EXPECT_EQ(xml.find("SIGN"), std::string::npos);
}

TEST_F(KeystoreTest, IdentityFilesAreTheEnclavesFiles) {
  make();
  ASSERT_TRUE(add_identity(dir_, Role::kNode, "n1").ok());
  auto files = identity_files(dir_, Role::kNode, "n1");
  ASSERT_TRUE(files.ok()) << files.error().message;
  const fs::path e = enclave("node/n1");
  EXPECT_EQ(files->certificate, (e / "cert.pem").string());
  EXPECT_EQ(files->private_key, (e / "key.pem").string());
  EXPECT_EQ(files->permissions, (e / "permissions.p7s").string());
  EXPECT_EQ(files->governance, (e / "governance.p7s").string());
  EXPECT_EQ(files->identity_ca, (e / "identity_ca.cert.pem").string());
  EXPECT_EQ(files->permissions_ca, (e / "permissions_ca.cert.pem").string());
  EXPECT_EQ(files->crl, (e / "crl.pem").string());
  EXPECT_TRUE(fs::path(files->certificate).is_absolute());
  // A host that holds only its own enclave and public/ (no CA key) is fine.
  fs::remove_all(fs::path(dir_) / "private");
  EXPECT_TRUE(identity_files(dir_, Role::kNode, "n1").ok());
}

TEST_F(KeystoreTest, RefusesPrivateFilesOthersCanAccess) {
  make();
  ASSERT_TRUE(add_identity(dir_, Role::kNode, "n1").ok());
  struct Case {
    fs::path path;
    mode_t bad_mode;
    const char* fix;
  };
  const fs::path d = dir_;
  for (const Case& c : {Case{enclave("node/n1") / "key.pem", 0640, "chmod 600"},
                        Case{enclave("node/n1") / "key.pem", 0602, "chmod 600"},
                        Case{enclave("node/n1"), 0750, "chmod 700"},
                        Case{d / "private" / "ca.key.pem", 0644, "chmod 600"},
                        Case{d / "private", 0705, "chmod 700"}}) {
    SCOPED_TRACE(c.path);
    const mode_t good = mode_of(c.path);
    ASSERT_EQ(::chmod(c.path.c_str(), c.bad_mode), 0);
    auto files = identity_files(dir_, Role::kNode, "n1");
    ASSERT_FALSE(files.ok());
    EXPECT_EQ(files.error().code, ErrorCode::kInvalidInput);
    const std::string& m = files.error().message;
    EXPECT_NE(m.find(c.path.string()), std::string::npos) << m;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(c.bad_mode));
    EXPECT_NE(m.find(mode), std::string::npos) << m;
    EXPECT_NE(m.find(std::string(c.fix) + " " + c.path.string()), std::string::npos) << m;
    ASSERT_EQ(::chmod(c.path.c_str(), good), 0);
    EXPECT_TRUE(identity_files(dir_, Role::kNode, "n1").ok());
  }
}

// A local user who may write the CA, the CRL, or a folder on the way to them (or to what a
// link points at) could swap them: refused, naming the path, its mode and the fix.
TEST_F(KeystoreTest, RefusesPublicFilesAndFoldersOthersCanChange) {
  make();
  ASSERT_TRUE(add_identity(dir_, Role::kNode, "n1").ok());
  ASSERT_TRUE(identity_files(dir_, Role::kNode, "n1").ok());
  const fs::path d = dir_;
  struct Case {
    fs::path path;
    mode_t bad_mode;
  };
  for (const Case& c : {Case{d, 0775}, Case{d / "public", 0757}, Case{d / "public" / "crl.pem", 0646},
                        Case{d / "public" / "ca.cert.pem", 0664}, Case{d / "enclaves", 0777},
                        Case{d / "enclaves" / "coedge", 0775}, Case{d / "enclaves" / "coedge" / "node", 0757},
                        Case{d / "enclaves" / "governance.p7s", 0666}, Case{enclave("node/n1") / "cert.pem", 0602}}) {
    SCOPED_TRACE(c.path);
    const mode_t good = mode_of(c.path);
    ASSERT_EQ(::chmod(c.path.c_str(), c.bad_mode), 0);
    auto files = identity_files(dir_, Role::kNode, "n1");
    ASSERT_FALSE(files.ok());
    EXPECT_EQ(files.error().code, ErrorCode::kInvalidInput);
    const std::string& m = files.error().message;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(c.bad_mode));
    EXPECT_NE(m.find(std::string(mode)), std::string::npos) << m;
    EXPECT_NE(m.find("chmod go-w " + c.path.string()), std::string::npos) << m;
    ASSERT_EQ(::chmod(c.path.c_str(), good), 0);
    EXPECT_TRUE(identity_files(dir_, Role::kNode, "n1").ok());
  }

  // The enclave's crl.pem linked to a copy in a folder anyone may write: refused; in a
  // folder like /tmp (root's, sticky) with a file of this user: accepted.
  const fs::path link = enclave("node/n1") / "crl.pem";
  const fs::path open_dir = root_ / "open";
  fs::create_directory(open_dir);
  ASSERT_EQ(::chmod(open_dir.c_str(), 0777), 0);
  fs::copy_file(d / "public" / "crl.pem", open_dir / "crl.pem");
  fs::remove(link);
  fs::create_symlink(open_dir / "crl.pem", link);
  auto files = identity_files(dir_, Role::kNode, "n1");
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.error().message.find("the folder " + open_dir.string() + " has mode 0777"), std::string::npos)
      << files.error().message;
  ASSERT_EQ(::chmod(open_dir.c_str(), 01777), 0);
  if (::geteuid() == 0) {  // a sticky folder passes when root owns it
    files = identity_files(dir_, Role::kNode, "n1");
    EXPECT_TRUE(files.ok()) << files.error().message;
  }
  fs::remove(link);
  fs::create_symlink("../../../../public/crl.pem", link);
  ASSERT_TRUE(identity_files(dir_, Role::kNode, "n1").ok());

  // The key must be the file itself, not a link.
  const fs::path key = enclave("node/n1") / "key.pem";
  fs::rename(key, root_ / "key.pem");
  fs::create_symlink(root_ / "key.pem", key);
  files = identity_files(dir_, Role::kNode, "n1");
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.error().message.find("not a regular file"), std::string::npos) << files.error().message;
  fs::remove(key);
  fs::rename(root_ / "key.pem", key);
  ASSERT_TRUE(identity_files(dir_, Role::kNode, "n1").ok());

  // Another user's file or folder (only root can make one here).
  if (::geteuid() == 0) {
    for (const fs::path& p : {d / "public" / "crl.pem", d / "public"}) {
      SCOPED_TRACE(p);
      ASSERT_EQ(::chown(p.c_str(), 65534, static_cast<gid_t>(-1)), 0);
      files = identity_files(dir_, Role::kNode, "n1");
      ASSERT_FALSE(files.ok());
      EXPECT_NE(files.error().message.find(p.string() + " belongs to uid 65534"), std::string::npos)
          << files.error().message;
      ASSERT_EQ(::chown(p.c_str(), 0, static_cast<gid_t>(-1)), 0);
    }
    EXPECT_TRUE(identity_files(dir_, Role::kNode, "n1").ok());
  }
}

TEST_F(KeystoreTest, RefusesBadNames) {
  make();
  for (const std::string& name : {std::string(""), std::string("a*"), std::string("n?"), std::string("a/b"),
                                  std::string("a.b"), std::string(".."), std::string("n 1"), std::string(50, 'x')}) {
    SCOPED_TRACE(name);
    auto s = add_identity(dir_, Role::kNode, name);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidInput);
    EXPECT_NE(s.error().message.find("name"), std::string::npos) << s.error().message;
    EXPECT_FALSE(identity_files(dir_, Role::kCamera, name).ok());
  }
  EXPECT_TRUE(add_identity(dir_, Role::kCamera, std::string(49, 'x')).ok());
  EXPECT_TRUE(add_identity(dir_, Role::kCamera, "Cam_1-b").ok());
  auto s = add_identity(dir_, Role::kMaster, "m");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("no name"), std::string::npos) << s.error().message;
}

TEST_F(KeystoreTest, RefusesAKeystoreTwiceAndAnIdentityTwiceUntilRevoked) {
  make();
  auto again = create_keystore(dir_, KeystoreOptions{});
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("not empty"), std::string::npos) << again.error().message;
  // An empty folder is fine.
  const std::string empty = (root_ / "empty").string();
  fs::create_directory(empty);
  EXPECT_TRUE(create_keystore(empty, KeystoreOptions{}).ok());

  ASSERT_TRUE(add_identity(dir_, Role::kNode, "n1").ok());
  const std::string first_cert = slurp(enclave("node/n1") / "cert.pem");
  auto twice = add_identity(dir_, Role::kNode, "n1");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message.find("revoke it first"), std::string::npos) << twice.error().message;
  EXPECT_EQ(slurp(enclave("node/n1") / "cert.pem"), first_cert);  // untouched
  // The same name in another role is another identity.
  EXPECT_TRUE(add_identity(dir_, Role::kCamera, "n1").ok());

  ASSERT_TRUE(revoke_identity(dir_, Role::kNode, "n1").ok());
  EXPECT_FALSE(fs::exists(enclave("node/n1") / "key.pem"));
  auto files = identity_files(dir_, Role::kNode, "n1");
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.error().message.find("revoked"), std::string::npos) << files.error().message;
  auto revoked_twice = revoke_identity(dir_, Role::kNode, "n1");
  ASSERT_FALSE(revoked_twice.ok());
  EXPECT_NE(revoked_twice.error().message.find("already revoked"), std::string::npos);

  // Re-issued after revocation: a new certificate, usable again; the old serial stays revoked.
  ASSERT_TRUE(add_identity(dir_, Role::kNode, "n1").ok());
  EXPECT_NE(slurp(enclave("node/n1") / "cert.pem"), first_cert);
  EXPECT_TRUE(identity_files(dir_, Role::kNode, "n1").ok());
  EXPECT_NE(run("openssl crl -in " + dir_ + "/public/crl.pem -noout -text").out.find("Serial Number"), std::string::npos);
}

TEST_F(KeystoreTest, MissingThingsAreNamed) {
  auto no_ca = add_identity(dir_, Role::kMaster, "");
  ASSERT_FALSE(no_ca.ok());
  EXPECT_NE(no_ca.error().message.find("coedge keys init"), std::string::npos) << no_ca.error().message;
  make();
  auto none = identity_files(dir_, Role::kMaster, "");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("coedge keys add"), std::string::npos) << none.error().message;
  ASSERT_TRUE(add_identity(dir_, Role::kMaster, "").ok());
  fs::remove(enclave("master") / "permissions.p7s");
  auto missing = identity_files(dir_, Role::kMaster, "");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("permissions.p7s is missing"), std::string::npos) << missing.error().message;
  EXPECT_FALSE(revoke_identity(dir_, Role::kCamera, "nobody").ok());
  EXPECT_FALSE(list_identities((root_ / "nothing").string()).ok());
}

TEST_F(KeystoreTest, ListsEveryIdentity) {
  make();
  ASSERT_TRUE(add_identity(dir_, Role::kNode, "n2").ok());
  ASSERT_TRUE(add_identity(dir_, Role::kMaster, "").ok());
  ASSERT_TRUE(add_identity(dir_, Role::kNode, "n1").ok());
  ASSERT_TRUE(add_identity(dir_, Role::kCamera, "n1").ok());
  ASSERT_TRUE(revoke_identity(dir_, Role::kNode, "n2").ok());
  auto list = list_identities(dir_);
  ASSERT_TRUE(list.ok()) << list.error().message;
  ASSERT_EQ(list->size(), 4u);
  const auto& l = *list;
  EXPECT_EQ(l[0].role, Role::kMaster);
  EXPECT_EQ(l[0].subject, "CN=/coedge/master");
  EXPECT_EQ(l[1].role, Role::kNode);
  EXPECT_EQ(l[1].name, "n1");
  EXPECT_FALSE(l[1].revoked);
  EXPECT_EQ(l[2].name, "n2");
  EXPECT_EQ(l[2].subject, "CN=/coedge/node/n2");
  EXPECT_TRUE(l[2].revoked);
  EXPECT_EQ(l[3].role, Role::kCamera);
  EXPECT_EQ(l[3].subject, "CN=/coedge/camera/n1");
  // Not after: about 30 days from now (the CA's validity), as ISO 8601 UTC.
  EXPECT_EQ(l[0].not_after.size(), 20u) << l[0].not_after;
  EXPECT_EQ(l[0].not_after.back(), 'Z');
  const Output ca_end = run("openssl x509 -in " + dir_ + "/public/ca.cert.pem -noout -enddate -dateopt iso_8601");
  EXPECT_NE(ca_end.out.find(l[0].not_after.substr(0, 10)), std::string::npos) << ca_end.out;
}

}  // namespace
}  // namespace coedge::security
