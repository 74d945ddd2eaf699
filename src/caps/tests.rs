//! Every example of XEP-0115 (§5.2, §5.3) and XEP-0390 (§4.3, both), with its hash input and
//! its hashes, and each rule of XEP-0115 §5.4.

use super::*;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use xmpp_parsers::disco::DiscoInfoResult;
use xmpp_parsers::minidom::Element;

fn query(xml: &str) -> Element {
    xml.parse().expect("valid XML")
}

fn info(xml: &str) -> CapsInfo {
    CapsInfo::from_query(&query(xml)).expect("a well-formed answer")
}

#[test]
fn xep_0115_simple_example() {
    let caps = info(
        "<query xmlns='http://jabber.org/protocol/disco#info'>\
         <identity category='client' name='Exodus 0.9.1' type='pc'/>\
         <feature var='http://jabber.org/protocol/caps'/>\
         <feature var='http://jabber.org/protocol/disco#info'/>\
         <feature var='http://jabber.org/protocol/disco#items'/>\
         <feature var='http://jabber.org/protocol/muc'/></query>",
    );
    assert_eq!(
        caps.legacy_input(),
        "client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<\
         http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<"
    );
    assert_eq!(caps.legacy_ver(), "QgayPKawpkPSDYmwT/WM94uAlu0=");
}

const PSI: &str = "<query xmlns='http://jabber.org/protocol/disco#info' \
    node='http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w='>\
    <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>\
    <identity xml:lang='el' category='client' name='Ψ 0.11' type='pc'/>\
    <feature var='http://jabber.org/protocol/caps'/>\
    <feature var='http://jabber.org/protocol/disco#info'/>\
    <feature var='http://jabber.org/protocol/disco#items'/>\
    <feature var='http://jabber.org/protocol/muc'/>\
    <x xmlns='jabber:x:data' type='result'>\
      <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>\
      <field var='ip_version' type='text-multi'><value>ipv4</value><value>ipv6</value></field>\
      <field var='os'><value>Mac</value></field>\
      <field var='os_version'><value>10.5.1</value></field>\
      <field var='software'><value>Psi</value></field>\
      <field var='software_version'><value>0.11</value></field>\
    </x></query>";

#[test]
fn xep_0115_complex_example() {
    let caps = info(PSI);
    assert_eq!(
        caps.legacy_input(),
        "client/pc/el/Ψ 0.11<client/pc/en/Psi 0.11<http://jabber.org/protocol/caps<\
         http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<\
         http://jabber.org/protocol/muc<urn:xmpp:dataforms:softwareinfo<\
         ip_version<ipv4<ipv6<os<Mac<os_version<10.5.1<software<Psi<software_version<0.11<"
    );
    assert_eq!(caps.legacy_ver(), "q07IKJEyjvHSyhy//CH0CxmKi8w=");
}

#[test]
fn xep_0115_fields_and_values_are_sorted_whatever_the_document_order() {
    // The same form as PSI's, its fields and values shuffled: the same hash (xmpp-parsers'
    // own `caps` function leaves fields in document order).
    let shuffled = PSI
        .replace(
            "<field var='ip_version' type='text-multi'><value>ipv4</value><value>ipv6</value></field>",
            "",
        )
        .replace(
            "<field var='software_version'><value>0.11</value></field>",
            "<field var='software_version'><value>0.11</value></field>\
             <field var='ip_version' type='text-multi'><value>ipv6</value><value>ipv4</value></field>",
        );
    assert_ne!(shuffled, PSI);
    assert_eq!(info(&shuffled).legacy_ver(), "q07IKJEyjvHSyhy//CH0CxmKi8w=");
}

const BOMBUS: &str = r#"<query xmlns="http://jabber.org/protocol/disco#info">
  <identity category="client" name="BombusMod" type="mobile"/>
  <feature var="http://jabber.org/protocol/si"/>
  <feature var="http://jabber.org/protocol/bytestreams"/>
  <feature var="http://jabber.org/protocol/chatstates"/>
  <feature var="http://jabber.org/protocol/disco#info"/>
  <feature var="http://jabber.org/protocol/disco#items"/>
  <feature var="urn:xmpp:ping"/>
  <feature var="jabber:iq:time"/>
  <feature var="jabber:iq:privacy"/>
  <feature var="jabber:iq:version"/>
  <feature var="http://jabber.org/protocol/rosterx"/>
  <feature var="urn:xmpp:time"/>
  <feature var="jabber:x:oob"/>
  <feature var="http://jabber.org/protocol/ibb"/>
  <feature var="http://jabber.org/protocol/si/profile/file-transfer"/>
  <feature var="urn:xmpp:receipts"/>
  <feature var="jabber:iq:roster"/>
  <feature var="jabber:iq:last"/>
</query>"#;

#[test]
fn xep_0390_simple_example() {
    let caps = info(BOMBUS);
    // The input, as XEP-0390's hexdump shows it.
    let features = [
        "http://jabber.org/protocol/bytestreams",
        "http://jabber.org/protocol/chatstates",
        "http://jabber.org/protocol/disco#info",
        "http://jabber.org/protocol/disco#items",
        "http://jabber.org/protocol/ibb",
        "http://jabber.org/protocol/rosterx",
        "http://jabber.org/protocol/si",
        "http://jabber.org/protocol/si/profile/file-transfer",
        "jabber:iq:last",
        "jabber:iq:privacy",
        "jabber:iq:roster",
        "jabber:iq:time",
        "jabber:iq:version",
        "jabber:x:oob",
        "urn:xmpp:ping",
        "urn:xmpp:receipts",
        "urn:xmpp:time",
    ];
    let mut expected = Vec::new();
    for feature in features {
        expected.extend_from_slice(feature.as_bytes());
        expected.push(0x1f);
    }
    expected.push(0x1c);
    expected.extend_from_slice(b"client\x1fmobile\x1f\x1fBombusMod\x1f\x1e\x1c\x1c");
    assert_eq!(expected.len(), 0x1d9, "the hexdump's length");
    assert_eq!(caps.input().expect("an input"), expected);
    assert_eq!(
        caps.hash(Algorithm::Sha256).expect("a hash"),
        "kzBZbkqJ3ADrj7v08reD1qcWUwNGHaidNUgD7nHpiw8="
    );
    assert_eq!(
        caps.hash(Algorithm::Sha3_256).expect("a hash"),
        "79mdYAfU9rEdTOcWDO7UEAt6E56SUzk/g6TnqUeuD9Q="
    );
}

const TKABBER: &str = r#"<query xmlns="http://jabber.org/protocol/disco#info">
  <identity category="client" name="Tkabber" type="pc" xml:lang="en"/>
  <identity category="client" name="Ткаббер" type="pc" xml:lang="ru"/>
  <feature var="games:board"/>
  <feature var="http://jabber.org/protocol/activity"/>
  <feature var="http://jabber.org/protocol/activity+notify"/>
  <feature var="http://jabber.org/protocol/bytestreams"/>
  <feature var="http://jabber.org/protocol/chatstates"/>
  <feature var="http://jabber.org/protocol/commands"/>
  <feature var="http://jabber.org/protocol/disco#info"/>
  <feature var="http://jabber.org/protocol/disco#items"/>
  <feature var="http://jabber.org/protocol/evil"/>
  <feature var="http://jabber.org/protocol/feature-neg"/>
  <feature var="http://jabber.org/protocol/geoloc"/>
  <feature var="http://jabber.org/protocol/geoloc+notify"/>
  <feature var="http://jabber.org/protocol/ibb"/>
  <feature var="http://jabber.org/protocol/iqibb"/>
  <feature var="http://jabber.org/protocol/mood"/>
  <feature var="http://jabber.org/protocol/mood+notify"/>
  <feature var="http://jabber.org/protocol/rosterx"/>
  <feature var="http://jabber.org/protocol/si"/>
  <feature var="http://jabber.org/protocol/si/profile/file-transfer"/>
  <feature var="http://jabber.org/protocol/tune"/>
  <feature var="http://www.facebook.com/xmpp/messages"/>
  <feature var="http://www.xmpp.org/extensions/xep-0084.html#ns-metadata+notify"/>
  <feature var="jabber:iq:avatar"/>
  <feature var="jabber:iq:browse"/>
  <feature var="jabber:iq:dtcp"/>
  <feature var="jabber:iq:filexfer"/>
  <feature var="jabber:iq:ibb"/>
  <feature var="jabber:iq:inband"/>
  <feature var="jabber:iq:jidlink"/>
  <feature var="jabber:iq:last"/>
  <feature var="jabber:iq:oob"/>
  <feature var="jabber:iq:privacy"/>
  <feature var="jabber:iq:roster"/>
  <feature var="jabber:iq:time"/>
  <feature var="jabber:iq:version"/>
  <feature var="jabber:x:data"/>
  <feature var="jabber:x:event"/>
  <feature var="jabber:x:oob"/>
  <feature var="urn:xmpp:avatar:metadata+notify"/>
  <feature var="urn:xmpp:ping"/>
  <feature var="urn:xmpp:receipts"/>
  <feature var="urn:xmpp:time"/>
  <x xmlns="jabber:x:data" type="result">
    <field type="hidden" var="FORM_TYPE">
      <value>urn:xmpp:dataforms:softwareinfo</value>
    </field>
    <field var="software">
      <value>Tkabber</value>
    </field>
    <field var="software_version">
      <value>0.11.1-svn-20111216-mod (Tcl/Tk 8.6b2)</value>
    </field>
    <field var="os">
      <value>Windows</value>
    </field>
    <field var="os_version">
      <value>XP</value>
    </field>
  </x>
</query>"#;

#[test]
fn xep_0390_complex_example() {
    let caps = info(TKABBER);
    let input = caps.input().expect("an input");
    // XEP-0390 gives the Features String in Base64: the input starts with it.
    let features = BASE64
        .decode(
            "Z2FtZXM6Ym9hcmQfaHR0cDovL2phYmJlci5vcmcvcHJvdG9jb2wvYWN0aXZpdHkfaHR0cDovL2ph\
             YmJlci5vcmcvcHJvdG9jb2wvYWN0aXZpdHkrbm90aWZ5H2h0dHA6Ly9qYWJiZXIub3JnL3Byb3Rv\
             Y29sL2J5dGVzdHJlYW1zH2h0dHA6Ly9qYWJiZXIub3JnL3Byb3RvY29sL2NoYXRzdGF0ZXMfaHR0\
             cDovL2phYmJlci5vcmcvcHJvdG9jb2wvY29tbWFuZHMfaHR0cDovL2phYmJlci5vcmcvcHJvdG9j\
             b2wvZGlzY28jaW5mbx9odHRwOi8vamFiYmVyLm9yZy9wcm90b2NvbC9kaXNjbyNpdGVtcx9odHRw\
             Oi8vamFiYmVyLm9yZy9wcm90b2NvbC9ldmlsH2h0dHA6Ly9qYWJiZXIub3JnL3Byb3RvY29sL2Zl\
             YXR1cmUtbmVnH2h0dHA6Ly9qYWJiZXIub3JnL3Byb3RvY29sL2dlb2xvYx9odHRwOi8vamFiYmVy\
             Lm9yZy9wcm90b2NvbC9nZW9sb2Mrbm90aWZ5H2h0dHA6Ly9qYWJiZXIub3JnL3Byb3RvY29sL2li\
             Yh9odHRwOi8vamFiYmVyLm9yZy9wcm90b2NvbC9pcWliYh9odHRwOi8vamFiYmVyLm9yZy9wcm90\
             b2NvbC9tb29kH2h0dHA6Ly9qYWJiZXIub3JnL3Byb3RvY29sL21vb2Qrbm90aWZ5H2h0dHA6Ly9q\
             YWJiZXIub3JnL3Byb3RvY29sL3Jvc3RlcngfaHR0cDovL2phYmJlci5vcmcvcHJvdG9jb2wvc2kf\
             aHR0cDovL2phYmJlci5vcmcvcHJvdG9jb2wvc2kvcHJvZmlsZS9maWxlLXRyYW5zZmVyH2h0dHA6\
             Ly9qYWJiZXIub3JnL3Byb3RvY29sL3R1bmUfaHR0cDovL3d3dy5mYWNlYm9vay5jb20veG1wcC9t\
             ZXNzYWdlcx9odHRwOi8vd3d3LnhtcHAub3JnL2V4dGVuc2lvbnMveGVwLTAwODQuaHRtbCNucy1t\
             ZXRhZGF0YStub3RpZnkfamFiYmVyOmlxOmF2YXRhch9qYWJiZXI6aXE6YnJvd3NlH2phYmJlcjpp\
             cTpkdGNwH2phYmJlcjppcTpmaWxleGZlch9qYWJiZXI6aXE6aWJiH2phYmJlcjppcTppbmJhbmQf\
             amFiYmVyOmlxOmppZGxpbmsfamFiYmVyOmlxOmxhc3QfamFiYmVyOmlxOm9vYh9qYWJiZXI6aXE6\
             cHJpdmFjeR9qYWJiZXI6aXE6cm9zdGVyH2phYmJlcjppcTp0aW1lH2phYmJlcjppcTp2ZXJzaW9u\
             H2phYmJlcjp4OmRhdGEfamFiYmVyOng6ZXZlbnQfamFiYmVyOng6b29iH3Vybjp4bXBwOmF2YXRh\
             cjptZXRhZGF0YStub3RpZnkfdXJuOnhtcHA6cGluZx91cm46eG1wcDpyZWNlaXB0cx91cm46eG1w\
             cDp0aW1lHxw=",
        )
        .expect("Base64");
    assert!(
        input.starts_with(&features),
        "the Features String comes first"
    );
    // The form: FORM_TYPE sorts first among its fields, then os (XEP-0390's note).
    let form = b"FORM_TYPE\x1furn:xmpp:dataforms:softwareinfo\x1f\x1eos\x1fWindows\x1f\x1e";
    assert!(input.windows(form.len()).any(|window| window == form));
    assert_eq!(
        caps.hash(Algorithm::Sha256).expect("a hash"),
        "u79ZroNJbdSWhdSp311mddz44oHHPsEBntQ5b1jqBSY="
    );
    assert_eq!(
        caps.hash(Algorithm::Sha3_256).expect("a hash"),
        "XpUJzLAc93258sMECZ3FJpebkzuyNXDzRNwQog8eycg="
    );
}

#[test]
fn the_own_info_hashes_as_its_answer_does() {
    let parsed = DiscoInfoResult::try_from(query(PSI)).expect("a valid answer");
    let own = CapsInfo::from_info(&parsed).expect("well-formed");
    assert_eq!(own.legacy_ver(), "q07IKJEyjvHSyhy//CH0CxmKi8w=");
    let parsed = DiscoInfoResult::try_from(query(TKABBER)).expect("a valid answer");
    let own = CapsInfo::from_info(&parsed).expect("well-formed");
    assert_eq!(
        own.hash(Algorithm::Sha256).expect("a hash"),
        "u79ZroNJbdSWhdSp311mddz44oHHPsEBntQ5b1jqBSY="
    );
}

fn refused(xml: &str) -> CapsError {
    info(xml)
        .legacy_check()
        .expect_err("an answer XEP-0115 §5.4 calls ill-formed")
}

const OPEN: &str = "<query xmlns='http://jabber.org/protocol/disco#info'>";

fn form(form_type: &str, type_: &str) -> String {
    format!(
        "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='{type_}'>\
         <value>{form_type}</value></field></x>"
    )
}

#[test]
fn ill_formed_answers_are_refused_in_the_order_of_section_5_4() {
    let identity = "<identity category='client' type='pc' name='A'/>";
    assert!(matches!(
        refused(&format!("{OPEN}{identity}{identity}</query>")),
        CapsError::DuplicateIdentity { .. }
    ));
    assert_eq!(
        refused(&format!(
            "{OPEN}{identity}<feature var='f'/><feature var='f'/></query>"
        )),
        CapsError::DuplicateFeature("f".into())
    );
    assert_eq!(
        refused(&format!(
            "{OPEN}{identity}{}{}</query>",
            form("t", "hidden"),
            form("t", "hidden")
        )),
        CapsError::DuplicateFormType("t".into())
    );
    assert_eq!(
        refused(&format!(
            "{OPEN}{identity}<x xmlns='jabber:x:data' type='result'>\
             <field var='FORM_TYPE' type='hidden'><value>a</value><value>b</value></field></x></query>"
        )),
        CapsError::FormTypeValues
    );
    // Step 5 before step 6: a FORM_TYPE that is not hidden still counts.
    assert_eq!(
        refused(&format!(
            "{OPEN}{identity}<x xmlns='jabber:x:data' type='result'>\
             <field var='FORM_TYPE'><value>a</value><value>b</value></field></x></query>"
        )),
        CapsError::FormTypeValues
    );
    assert_eq!(
        refused(&format!(
            "{OPEN}{identity}{}{}</query>",
            form("t", "hidden"),
            form("t", "text-single")
        )),
        CapsError::DuplicateFormType("t".into())
    );
    // Steps in order: the duplicate identity is named, not the duplicate feature after it.
    assert!(matches!(
        refused(&format!(
            "{OPEN}<feature var='f'/><feature var='f'/>{identity}{identity}</query>"
        )),
        CapsError::DuplicateIdentity { .. }
    ));
    // The same identity in two languages is two identities; so is one under two names.
    for pair in [
        "<identity category='client' type='pc' xml:lang='en'/>\
         <identity category='client' type='pc' xml:lang='de'/>",
        "<identity category='client' type='pc' name='A'/>\
         <identity category='client' type='pc' name='B'/>",
    ] {
        assert_eq!(
            info(&format!("{OPEN}{pair}</query>")).legacy_check(),
            Ok(())
        );
    }
}

#[test]
fn xep_0390_hashes_an_answer_with_duplicates_as_its_section_4_1_says() {
    let twice = info(&format!(
        "{OPEN}<identity category='client' type='pc'/><feature var='f'/><feature var='f'/></query>"
    ));
    assert!(twice.legacy_check().is_err());
    let mut expected = b"f\x1ff\x1f\x1c".to_vec();
    expected.extend(b"client\x1fpc\x1f\x1f\x1f\x1e\x1c\x1c");
    assert_eq!(twice.input().expect("XEP-0390 does not abort"), expected);
}

#[test]
fn identities_sort_field_by_field() {
    // Joined, "client/pc/en-GB/" sorts before "client/pc/en/" ('-' < '/'); XEP-0115 §5.1
    // sorts by category, then type, then language.
    let caps = info(&format!(
        "{OPEN}<identity category='client' type='pc' xml:lang='en-GB' name='Colour'/>\
         <identity category='client' type='pc' xml:lang='en' name='Color'/>\
         <identity category='client' type='pc-x' name='Z'/></query>"
    ));
    assert_eq!(
        caps.legacy_input(),
        "client/pc/en/Color<client/pc/en-GB/Colour<client/pc-x//Z<"
    );
}

/// Why an answer body is not shared under its XEP-0115 hash, if it is not.
fn unshared(inner: &str) -> Option<Unshared> {
    info(&format!("{OPEN}{inner}</query>"))
        .legacy_shareable()
        .err()
}

const ORCHARD: &str = "<identity category='client' type='pc' name='Orchard'/>\
    <feature var='http://jabber.org/protocol/caps'/>\
    <feature var='http://jabber.org/protocol/disco#info'/>\
    <feature var='urn:xmpp:jingle:1'/>\
    <feature var='urn:xmpp:receipts'/>";

/// An answer and a forged twin of it: both hash alike, the answer is shared, the twin is not.
fn twin(honest: &str, forged: &str) {
    let (honest, forged) = (
        info(&format!("{OPEN}{honest}</query>")),
        info(&format!("{OPEN}{forged}</query>")),
    );
    assert_ne!(honest, forged);
    assert_eq!(honest.legacy_input(), forged.legacy_input(), "a twin");
    assert!(honest.legacy_shareable().is_ok(), "{honest:?}");
    assert_eq!(
        forged.legacy_shareable().err(),
        Some(Unshared::OtherReading),
        "{forged:?}"
    );
}

#[test]
fn the_examples_of_xep_0115_are_shared() {
    let psi = info(PSI).legacy_shareable().expect("shared");
    assert_eq!(psi.to_string(), info(PSI).legacy_input());
    assert_eq!(unshared(ORCHARD), None);
}

#[test]
fn forged_twins_are_not_shared() {
    // Two features joined by a '<' inside one.
    twin(
        ORCHARD,
        "<identity category='client' type='pc' name='Orchard'/>\
         <feature var='http://jabber.org/protocol/caps'/>\
         <feature var='http://jabber.org/protocol/disco#info&lt;urn:xmpp:jingle:1'/>\
         <feature var='urn:xmpp:receipts'/>",
    );
    // An identity's name swallowing the first feature.
    twin(
        ORCHARD,
        "<identity category='client' type='pc' name='Orchard&lt;http://jabber.org/protocol/caps'/>\
         <feature var='http://jabber.org/protocol/disco#info'/>\
         <feature var='urn:xmpp:jingle:1'/>\
         <feature var='urn:xmpp:receipts'/>",
    );
    // A name's slash moved into the type (a '/' in a name is harmless: the name comes last).
    twin(
        "<identity category='client' type='pc' name='en/O'/><feature var='f'/>",
        "<identity category='client' type='pc/' xml:lang='en' name='O'/><feature var='f'/>",
    );
    // The last features hidden in a form.
    twin(
        ORCHARD,
        "<identity category='client' type='pc' name='Orchard'/>\
         <feature var='http://jabber.org/protocol/caps'/>\
         <x xmlns='jabber:x:data' type='result'>\
         <field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/disco#info</value></field>\
         <field var='urn:xmpp:jingle:1'><value>urn:xmpp:receipts</value></field></x>",
    );
    // A second identity moved among the features.
    twin(
        "<identity category='client' type='pc' name='Orchard'/>\
         <identity category='client' type='web' name='Orchard web'/>\
         <feature var='http://jabber.org/protocol/caps'/>",
        "<identity category='client' type='pc' name='Orchard'/>\
         <feature var='client/web//Orchard web'/>\
         <feature var='http://jabber.org/protocol/caps'/>",
    );
    // A field's values split into a field of their own.
    let software = |fields: &str| {
        format!(
            "<identity category='client' type='pc' name='Psi'/><feature var='urn:xmpp:receipts'/>\
             <x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'>\
             <value>urn:xmpp:dataforms:softwareinfo</value></field>{fields}</x>"
        )
    };
    twin(
        &software("<field var='ip_version'><value>ipv4</value><value>ipv6</value></field>"),
        &software("<field var='ip_version'><value>ipv4</value></field><field var='ipv6'/>"),
    );
    // A field merged into the one before as its values.
    twin(
        &software(
            "<field var='os'><value>Windows</value></field>\
             <field var='os_version'><value>xp</value></field>",
        ),
        &software(
            "<field var='os'><value>Windows</value><value>os_version</value><value>xp</value>\
             </field>",
        ),
    );
    // Leading features read as identities: no category and type, no language tag.
    assert_eq!(
        unshared(
            "<identity category='client' type='pc' name='x'/>\
             <identity category='http:' type='' xml:lang='jabber.org' name='protocol/jingle'/>"
        ),
        Some(Unshared::OtherReading)
    );
}

#[test]
fn an_answer_with_a_feature_twice_leaves_its_string_without_a_reading() {
    // A careless verifier's hash of an answer listing a feature twice: no answer is shared
    // under it, neither the ill-formed one nor any reading a forger could build.
    let s = "client/pc//Tkabber<http://jabber.org/protocol/chatstates<\
             http://jabber.org/protocol/commands<http://jabber.org/protocol/commands<\
             http://jabber.org/protocol/disco#info<urn:xmpp:dataforms:softwareinfo<\
             os<Linux<software<Tkabber<";
    assert_eq!(Reading::parse(s).map_err(|e| e.position()), Err(3));
}

#[test]
fn fields_without_values_are_read_as_fields() {
    // A server's contact addresses, most of them unconfigured (Prosody's serverinfo form).
    let serverinfo = "<identity category='server' type='im' name='Prosody'/>\
        <feature var='http://jabber.org/protocol/disco#info'/><feature var='urn:xmpp:ping'/>\
        <x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'>\
        <value>http://jabber.org/network/serverinfo</value></field>\
        <field var='abuse-addresses'><value>mailto:abuse@localhost</value></field>\
        <field var='admin-addresses'><value>xmpp:admin@localhost</value>\
        <value>mailto:admin@localhost</value></field>\
        <field var='feedback-addresses'/><field var='sales-addresses'/>\
        <field var='support-addresses'/></x>";
    assert_eq!(unshared(serverinfo), None);
}

#[test]
fn a_form_the_legacy_hash_does_not_cover_is_never_shared() {
    for form in [
        form("t", "text-single"),
        "<x xmlns='jabber:x:data' type='result'/>".into(),
    ] {
        assert_eq!(
            unshared(&format!("{ORCHARD}{form}")),
            Some(Unshared::UncoveredForm)
        );
    }
}

#[test]
fn what_is_shared_is_what_the_hash_covers() {
    // Field types, labels and the order of the XML are not in S: two answers differing only
    // there are shared as one.
    let typed = info(PSI).legacy_shareable().expect("shared").to_info();
    let plain = PSI.replace(" type='text-multi'", "").replace(
        "<field var='os'>",
        "<field var='os' type='list-single' label='OS'>",
    );
    let plain = info(&plain).legacy_shareable().expect("shared").to_info();
    assert_eq!(format!("{typed:?}"), format!("{plain:?}"));
}

#[test]
fn a_form_without_a_hidden_form_type_is_ignored_by_xep_0115_and_refused_by_xep_0390() {
    let plain = info(&format!(
        "{OPEN}<identity category='client' type='pc'/><feature var='f'/></query>"
    ));
    for form in [
        "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'><value>t</value></field>\
         <field var='a'><value>1</value></field></x>",
        "<x xmlns='jabber:x:data' type='result'><field var='a'><value>1</value></field></x>",
    ] {
        let with = info(&format!(
            "{OPEN}<identity category='client' type='pc'/><feature var='f'/>{form}</query>"
        ));
        assert_eq!(with.legacy_ver(), plain.legacy_ver(), "{form}");
        assert_eq!(with.input(), Err(CapsError::FormWithoutFormType), "{form}");
    }
}

#[test]
fn what_xep_0390_refuses_beyond_xep_0115() {
    let other = info(&format!(
        "{OPEN}<identity category='client' type='pc'/><other xmlns='urn:example'/></query>"
    ));
    assert_eq!(
        other.input(),
        Err(CapsError::UnexpectedChild("other".into()))
    );
    let items = info(&format!(
        "{OPEN}<identity category='client' type='pc'/><x xmlns='jabber:x:data' type='result'>\
         <field var='FORM_TYPE' type='hidden'><value>t</value></field>\
         <reported><field var='a'/></reported></x></query>"
    ));
    assert_eq!(items.input(), Err(CapsError::FormWithItems));
}

#[test]
fn algorithms_are_named_as_xep_0300_names_them() {
    for algorithm in [
        Algorithm::Sha256,
        Algorithm::Sha3_256,
        Algorithm::Blake2b256,
    ] {
        assert_eq!(Algorithm::from_name(algorithm.name()), Some(algorithm));
        assert_eq!(algorithm.digest(b"").len(), 32);
    }
    assert_eq!(Algorithm::from_name("sha-1"), None);
    // BLAKE2b-256 of the empty string (RFC 7693's construction, 32-byte output).
    assert_eq!(
        BASE64.encode(Algorithm::Blake2b256.digest(b"")),
        "DldRwCblQ7Loqy6wYJnaodHl30d3j3eH+qtFzfEv46g="
    );
}
