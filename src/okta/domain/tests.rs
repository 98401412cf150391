use super::*;

fn strict() -> DomainPolicy {
    DomainPolicy::default()
}

fn sim() -> DomainPolicy {
    DomainPolicy {
        allow_loopback: true,
        custom_domains: vec!["login.acme.com".into()],
    }
}

fn ok(input: &str) -> String {
    match OktaDomain::parse(input, &sim()) {
        Ok(d) => d.as_str().to_string(),
        Err(e) => panic!("{input:?} rejected: {e}"),
    }
}

#[test]
fn accepts_org_names_domains_and_urls() {
    let cases = [
        ("acme", "acme.okta.com"),
        ("ACME", "acme.okta.com"),
        ("acme.okta.com", "acme.okta.com"),
        (" acme.okta.com ", "acme.okta.com"),
        ("https://acme.okta.com", "acme.okta.com"),
        ("https://acme.okta.com/", "acme.okta.com"),
        ("HTTPS://Acme.Okta.COM/", "acme.okta.com"),
        ("acme-admin.okta.com", "acme.okta.com"),
        (
            "https://acme-admin.oktapreview.com/",
            "acme.oktapreview.com",
        ),
        ("dev-123456.okta.com", "dev-123456.okta.com"),
        ("acme.oktapreview.com", "acme.oktapreview.com"),
        ("acme.okta-emea.com", "acme.okta-emea.com"),
        ("acme.okta-gov.com", "acme.okta-gov.com"),
        ("acme.okta.mil", "acme.okta.mil"),
        ("login.acme.com", "login.acme.com"),
        ("https://LOGIN.acme.com/", "login.acme.com"),
        ("http://127.0.0.1:8081", "127.0.0.1:8081"),
        ("http://127.0.0.1:8081/", "127.0.0.1:8081"),
    ];
    for (input, want) in cases {
        assert_eq!(ok(input), want, "{input:?}");
    }
}

#[test]
fn accessors() {
    let d = OktaDomain::parse("https://acme-admin.okta-emea.com/", &strict()).unwrap();
    assert_eq!(d.org_name(), "acme");
    assert_eq!(d.base_url().as_str(), "https://acme.okta-emea.com/");
    assert_eq!(
        d.install_url(),
        "https://acme-admin.okta-emea.com/admin/apps/add-app"
    );
    assert!(d.same_origin(&Url::parse("https://acme.okta-emea.com/api/v1/logs?a=b").unwrap()));
    assert!(!d.same_origin(&Url::parse("https://evil.com/api/v1/logs").unwrap()));
    assert!(!d.same_origin(&Url::parse("http://acme.okta-emea.com/api/v1/logs").unwrap()));
    assert_eq!(serde_json::to_string(&d).unwrap(), "\"acme.okta-emea.com\"");

    let sim = OktaDomain::parse("http://127.0.0.1:9000", &sim()).unwrap();
    assert_eq!(sim.base_url().as_str(), "http://127.0.0.1:9000/");
    assert_eq!(
        sim.install_url(),
        "http://127.0.0.1:9000/admin/apps/add-app"
    );
    assert!(sim.is_loopback());
}

#[test]
fn hostile_inputs_are_rejected_with_their_own_reason() {
    use DomainError::*;
    let long_label = format!("{}.okta.com", "a".repeat(64));
    let long_input = "a".repeat(600);
    let long_host = format!("{}.okta.com", vec!["a".repeat(60); 5].join("."));
    let cases: Vec<(&str, DomainError)> = vec![
        ("", Empty),
        ("   ", Empty),
        ("https://", Empty),
        (&long_input, TooLong),
        (&long_host, TooLong),
        ("acme .okta.com", Whitespace),
        ("acme.okta.com\n", Whitespace),
        ("acme.okta.com\r\nHost: evil", Whitespace),
        ("acme\t.okta.com", Whitespace),
        ("acme\0.okta.com", Whitespace),
        ("acmé.okta.com", NonAscii),
        ("аcme.okta.com", NonAscii), // Cyrillic а
        ("acme.okta.com\u{200b}", NonAscii),
        ("acme。okta.com", NonAscii),
        ("xn--80ak6aa92e.okta.com", Punycode),
        ("acme.xn--okta-com.com", Punycode),
        ("http://acme.okta.com", NotHttps),
        ("ftp://acme.okta.com", UnsupportedScheme),
        ("file:///etc/passwd", UnsupportedScheme),
        ("javascript://acme.okta.com", UnsupportedScheme),
        ("gopher://127.0.0.1:25", UnsupportedScheme),
        ("https://user@acme.okta.com", Userinfo),
        ("https://acme.okta.com@evil.com", Userinfo),
        ("https://user:pw@acme.okta.com/", Userinfo),
        ("https://acme.okta.com:443", Port),
        ("acme.okta.com:8443", Port),
        ("https://acme.okta.com/admin", Path),
        ("https://acme.okta.com//", Path),
        ("https://acme.okta.com/api/v1/users", Path),
        ("https://acme.okta.com?x=1", QueryOrFragment),
        ("https://acme.okta.com/#frag", QueryOrFragment),
        ("https://acme.okta.com\\@evil.com", InvalidCharacter('\\')),
        ("127.0.0.1", PrivateAddress),
        ("https://10.0.0.1", PrivateAddress),
        ("192.168.1.1", PrivateAddress),
        ("169.254.169.254", PrivateAddress),
        ("0.0.0.0", PrivateAddress),
        ("8.8.8.8", IpAddress),
        ("2130706433", IpAddress),
        ("0x7f000001", IpAddress),
        ("0x7f.0x0.0x0.0x1", IpAddress),
        ("0177.0.0.1", IpAddress),
        ("127.1", IpAddress),
        ("[::1]", IpAddress),
        ("https://[::ffff:127.0.0.1]/", IpAddress),
        ("https://[fe80::1]/", IpAddress),
        ("localhost", Localhost),
        ("https://localhost", Localhost),
        ("evil.localhost", Localhost),
        ("http://127.0.0.1:8080", NotHttps), // loopback not allowed by the strict policy
        ("acme_corp.okta.com", InvalidCharacter('_')),
        ("acme.okta.com%2f", InvalidCharacter('%')),
        ("acme..okta.com", EmptyLabel),
        (".okta.com", EmptyLabel),
        ("acme.okta.com.", EmptyLabel),
        (&long_label, LabelTooLong),
        ("-acme.okta.com", Hyphen),
        ("acme-.okta.com", Hyphen),
        ("okta.com", BareSuffix("okta.com")),
        ("https://oktapreview.com/", BareSuffix("oktapreview.com")),
        ("okta.mil", BareSuffix("okta.mil")),
        ("okta.com.evil.com", NotOkta("okta.com.evil.com".into())),
        (
            "acme.okta.com.evil.com",
            NotOkta("acme.okta.com.evil.com".into()),
        ),
        ("evilokta.com", NotOkta("evilokta.com".into())),
        ("acme.evilokta.com", NotOkta("acme.evilokta.com".into())),
        ("acme.okta.co", NotOkta("acme.okta.co".into())),
        (
            "acme.okta.com-evil.com",
            NotOkta("acme.okta.com-evil.com".into()),
        ),
        ("https://acme", NotOkta("acme".into())),
        ("login.acme.com", NotOkta("login.acme.com".into())), // not configured in strict
        ("a.b.okta.com", NestedSubdomain("a.b.okta.com".into())),
        (
            "evil.com.acme.okta.com",
            NestedSubdomain("evil.com.acme.okta.com".into()),
        ),
        ("//acme.okta.com", Path),
    ];
    assert!(cases.len() >= 40);
    for (input, want) in cases {
        let got = OktaDomain::parse(input, &strict());
        assert_eq!(got.as_ref().err(), Some(&want), "{input:?} → {got:?}");
        assert_eq!(want.code(), "invalid_domain");
    }
}

#[test]
fn stored_form_reads_back_the_same_domain() {
    let custom = DomainPolicy {
        allow_loopback: true,
        custom_domains: vec!["login.acme.example".into()],
    };
    for input in [
        "acme",
        "https://acme-admin.oktapreview.com/",
        "login.acme.example",
        "http://127.0.0.1:9000",
    ] {
        let domain = OktaDomain::parse(input, &custom).unwrap();
        assert_eq!(
            OktaDomain::from_stored(&domain.stored()).unwrap(),
            domain,
            "{input}"
        );
    }
}

#[test]
fn loopback_needs_the_flag_an_ip_and_a_port() {
    use DomainError::*;
    let policy = sim();
    let cases = [
        ("http://127.0.0.1", LoopbackPort),
        ("http://127.0.0.1:0", LoopbackPort),
        ("http://127.0.0.1:99999", LoopbackPort),
        ("http://127.0.0.1:80/x", Path),
        ("http://127.0.0.2:8080", NotHttps),
        ("http://10.0.0.1:8080", NotHttps),
        ("http://localhost:8080", NotHttps),
        ("http://acme.okta.com", NotHttps),
        ("https://127.0.0.1:8080", Port),
        ("http://user@127.0.0.1:8080", Userinfo),
    ];
    for (input, want) in cases {
        let got = OktaDomain::parse(input, &policy);
        assert_eq!(got.as_ref().err(), Some(&want), "{input:?} → {got:?}");
    }
}

#[test]
fn every_message_says_what_to_do() {
    let d = DomainError::NotOkta("evil.com".into()).to_string();
    assert!(d.contains("acme.okta.com"), "{d}");
    assert!(
        DomainError::BareSuffix("okta.com")
            .to_string()
            .contains("acme.okta.com")
    );
}

proptest::proptest! {
    #[test]
    fn parse_never_panics_and_results_are_allow_listed(input in "\\PC{0,80}") {
        if let Ok(d) = OktaDomain::parse(&input, &strict()) {
            let host = d.host();
            let allowed = OKTA_SUFFIXES.iter().any(|s| host.ends_with(&format!(".{s}")));
            proptest::prop_assert!(allowed);
            let base = d.base_url();
            proptest::prop_assert_eq!(base.scheme(), "https");
            proptest::prop_assert_eq!(base.host_str(), Some(host));
        }
    }

    #[test]
    fn any_org_label_round_trips(org in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?") {
        let d = OktaDomain::parse(&org, &strict());
        // Purely numeric labels read as IP addresses; everything else is an org name.
        if looks_numeric(&org) || org.starts_with("xn--") {
            proptest::prop_assert!(d.is_err());
        } else {
            let d = d.map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            proptest::prop_assert_eq!(d.org_name(), strip_admin(&org));
        }
    }
}
