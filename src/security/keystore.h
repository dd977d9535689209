// A cluster's DDS Security keystore (`coedge keys`): one certificate authority that signs
// every identity and every document, and one identity (certificate + private key + signed
// permissions) per participant: the master, each node, each node's camera process. Laid
// out as SROS2 lays out a keystore, so that a ROS 2 peer can use it with SROS2's own
// commands (docs/SECURITY.md):
//
//   DIR/public/{ca,identity_ca,permissions_ca}.cert.pem   the CA (one CA plays both roles)
//   DIR/public/crl.pem                                    revoked certificates, CA-signed
//   DIR/private/ca.key.pem                                the CA's key (mode 0600)
//   DIR/enclaves/governance.{xml,p7s}                     the domain's rules, CA-signed
//   DIR/enclaves/coedge/<role>/<name>/                    one identity ("master": no name):
//       cert.pem key.pem (0600) permissions.{xml,p7s} and links to the CA files and the
//       governance, as SROS2's enclaves have
//
// What each role may do (permissions; docs/SECURITY.md has the table): only the master
// writes the plan and command topics; a node writes reports and task claims only in its
// own partition (net::node_partition) and result topics; a camera writes only its own
// image topics and source statistics in its own partition (net::camera_partition);
// everyone reads what they need. Governance: no unauthenticated participant, discovery
// and liveliness encrypted, control topics encrypted, the other topics (images, results)
// signed or encrypted as KeystoreOptions::images says.
//
// Private keys are created 0600 in 0700 folders; identity_files() refuses a keystore whose
// private files or folders are readable or writable by others, and one where another local
// user could change what DDS Security reads: a file (through its links) or a folder on the
// way to it, from the keystore's root, owned by another user or writable by group/others.
// add_identity and revoke_identity hold an exclusive flock on DIR/.lock. Errors are
// Error{kInvalidInput} naming the file or name and why, or Error{kIo} for the file system
// or OpenSSL (with OpenSSL's own reason).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "net/dds.h"

namespace coedge::security {

enum class Role { kMaster, kNode, kCamera };
std::string_view role_name(Role role);  // "master", "node", "camera"

// Protection of every topic that is not a control topic (images and results).
enum class TopicProtection { kSign, kEncrypt };

struct KeystoreOptions {
  TopicProtection images = TopicProtection::kEncrypt;  // as SROS2's default governance
  int validity_days = 3650;  // of the CA and of every identity issued
};

// Creates a keystore in `dir` (which must not exist, or be empty): the CA, the CRL (empty)
// and the signed governance. No identity yet.
Status create_keystore(const std::string& dir, const KeystoreOptions& options);

// Whether (role, name) can have an identity (the name rules of add_identity below), without
// touching any keystore: `coedge keys init --scenario` checks every name before it creates
// anything. Error{kInvalidInput} saying what is wrong with the name.
Status check_identity(Role role, const std::string& name);

// Issues the identity of (role, name); `name` is "" for the master and a node's name
// otherwise ([A-Za-z0-9_-], 1..49 characters: it becomes a partition and part of topic
// names, so no wildcard characters, and "/coedge/camera/<name>" must fit the 64 characters
// of a certificate's common name). Errors: it exists (revoke it first), a bad name.
Status add_identity(const std::string& dir, Role role, const std::string& name);

// Adds the identity's certificate to the CRL (re-signed) and deletes its private key. A
// participant reads the CRL when it starts: the others refuse the revoked identity once
// they have restarted (docs/SECURITY.md, Revocation).
Status revoke_identity(const std::string& dir, Role role, const std::string& name);

struct IdentityInfo {
  Role role = Role::kNode;
  std::string name;
  std::string subject;    // the certificate's subject, e.g. "CN=/coedge/node/n1"
  std::string not_after;  // ISO 8601, UTC
  bool revoked = false;
};
Result<std::vector<IdentityInfo>> list_identities(const std::string& dir);

// The files a participant of (role, name) hands to DDS Security, after checking the
// keystore: the files exist, no private file or folder is accessible to others, the
// identity is not revoked.
Result<net::DdsSecurityFiles> identity_files(const std::string& dir, Role role, const std::string& name);

}  // namespace coedge::security
