#!/bin/sh
# A test-only DDS Security keystore made with the openssl CLI, for dds_security_test: one CA
# (identity and permissions CA alike, as SROS2 does), identities "master", "n1" and "n2"
# (subjects CN=coedge-test-<name>), "n3" revoked in the CA's CRL (crl.pem), a second CA with an identity "stranger" it signed, a
# governance document (unauthenticated participants refused, discovery, liveliness and
# every topic's data encrypted) and one permissions document per identity, both signed
# with `openssl smime -sign -text`. Not the product's keystore (`coedge keys` makes that):
# only enough to check that src/net configures Cyclone's security plugins correctly.
#   usage: make_test_keystore.sh DIR
# Domain ids 0..230: Cyclone 0.10 refuses a governance or permissions document naming an id
# above 230 ("Can not parse governance file"), though the RTPS ports allow up to 232.
# Grants: master publishes the plan and commands and reads everything; nK publishes node
# reports and task claims only in partition coedge.node.nK and reads everything.
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
umask 077

ca() {  # name
  openssl ecparam -name prime256v1 -genkey -noout -out "$1.key.pem"
  openssl req -x509 -new -key "$1.key.pem" -subj "/CN=coedge-test-$1" -days 3650 \
    -out "$1.cert.pem" 2>/dev/null
}
identity() {  # name ca
  openssl ecparam -name prime256v1 -genkey -noout -out "$1.key.pem"
  openssl req -new -key "$1.key.pem" -subj "/CN=coedge-test-$1" -out "$1.csr.pem"
  openssl x509 -req -in "$1.csr.pem" -CA "$2.cert.pem" -CAkey "$2.key.pem" -CAcreateserial \
    -days 3650 -out "$1.cert.pem" 2>/dev/null
}
sign() {  # in out
  openssl smime -sign -in "$1" -text -out "$2" -signer ca.cert.pem -inkey ca.key.pem
}

ca ca
ca otherca
identity master ca
identity n1 ca
identity n2 ca
identity n3 ca
identity stranger otherca

cat > governance.xml <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<dds xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://www.omg.org/spec/DDS-Security/20170801/omg_shared_ca_governance.xsd">
  <domain_access_rules>
    <domain_rule>
      <domains><id_range><min>0</min><max>230</max></id_range></domains>
      <allow_unauthenticated_participants>false</allow_unauthenticated_participants>
      <enable_join_access_control>true</enable_join_access_control>
      <discovery_protection_kind>ENCRYPT</discovery_protection_kind>
      <liveliness_protection_kind>ENCRYPT</liveliness_protection_kind>
      <rtps_protection_kind>NONE</rtps_protection_kind>
      <topic_access_rules>
        <topic_rule>
          <topic_expression>*</topic_expression>
          <enable_discovery_protection>true</enable_discovery_protection>
          <enable_liveliness_protection>true</enable_liveliness_protection>
          <enable_read_access_control>true</enable_read_access_control>
          <enable_write_access_control>true</enable_write_access_control>
          <metadata_protection_kind>ENCRYPT</metadata_protection_kind>
          <data_protection_kind>ENCRYPT</data_protection_kind>
        </topic_rule>
      </topic_access_rules>
    </domain_rule>
  </domain_access_rules>
</dds>
XML
sign governance.xml governance.p7s

grant() {  # name publish-rules
  cat <<XML
    <grant name="$1">
      <subject_name>CN=coedge-test-$1</subject_name>
      <validity><not_before>2020-01-01T00:00:00</not_before><not_after>2100-01-01T00:00:00</not_after></validity>
      <allow_rule>
        <domains><id_range><min>0</min><max>230</max></id_range></domains>
$2
        <subscribe>
          <topics><topic>*</topic></topics>
          <partitions><partition></partition><partition>coedge.node.*</partition><partition>coedge.camera.*</partition></partitions>
        </subscribe>
      </allow_rule>
      <default>DENY</default>
    </grant>
XML
}
permissions() {  # name publish-rules
  {
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<dds xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://www.omg.org/spec/DDS-Security/20170801/omg_shared_ca_permissions.xsd">'
    echo '  <permissions>'
    grant "$1" "$2"
    echo '  </permissions>'
    echo '</dds>'
  } > "$1.permissions.xml"
  sign "$1.permissions.xml" "$1.permissions.p7s"
}
permissions master '        <publish><topics><topic>rt/coedge/plan</topic><topic>rt/coedge/command</topic></topics></publish>'
for n in n1 n2 n3; do
  permissions $n "        <publish><topics><topic>rt/coedge/node_report</topic><topic>rt/coedge/task_ack</topic></topics><partitions><partition>coedge.node.$n</partition></partitions></publish>"
done
# The stranger's permissions are signed by the right CA: only its identity is foreign.
permissions stranger '        <publish><topics><topic>*</topic></topics></publish>'

# The CRL: n3 revoked.
: > index.txt
echo 01 > crlnumber
cat > ca.cnf <<'CNF'
[ ca ]
default_ca = test_ca
[ test_ca ]
database = index.txt
crlnumber = crlnumber
default_md = sha256
default_crl_days = 3650
CNF
openssl ca -config ca.cnf -keyfile ca.key.pem -cert ca.cert.pem -revoke n3.cert.pem 2>/dev/null
openssl ca -config ca.cnf -keyfile ca.key.pem -cert ca.cert.pem -gencrl -out crl.pem 2>/dev/null
