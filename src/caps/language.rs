//! Whether a string is a well-formed language tag (RFC 5646 §2.1, the syntax `xml:lang` takes
//! its values from): what an identity's language in XEP-0115's string `S` must be for the
//! reading of `S` to take the string as an identity.
//!
//! Only the syntax is checked, not the registry: `en-GB` and `qaa-Qaaa-QM-x-southern` are
//! well-formed, and so is `zz`; `jabber.org`, `http:` and the empty string are not.

/// Whether `tag` is a well-formed language tag: a `langtag`, a `privateuse` tag or one of the
/// `grandfathered` tags, compared without regard to ASCII case.
pub(super) fn well_formed(tag: &str) -> bool {
    if tag.is_empty() || !tag.is_ascii() {
        return false;
    }
    if GRANDFATHERED
        .iter()
        .any(|grandfathered| grandfathered.eq_ignore_ascii_case(tag))
    {
        return true;
    }
    let subtags: Vec<&str> = tag.split('-').collect();
    match subtags.split_first() {
        Some((first, rest)) if first.eq_ignore_ascii_case("x") => private_use(rest),
        _ => langtag(&subtags),
    }
}

/// RFC 5646's `irregular` and `regular` grandfathered tags, which follow no other production.
const GRANDFATHERED: &[&str] = &[
    "en-GB-oed",
    "i-ami",
    "i-bnn",
    "i-default",
    "i-enochian",
    "i-hak",
    "i-klingon",
    "i-lux",
    "i-mingo",
    "i-navajo",
    "i-pwn",
    "i-tao",
    "i-tay",
    "i-tsu",
    "sgn-BE-FR",
    "sgn-BE-NL",
    "sgn-CH-DE",
    "art-lojban",
    "cel-gaulish",
    "no-bok",
    "no-nyn",
    "zh-guoyu",
    "zh-hakka",
    "zh-min",
    "zh-min-nan",
    "zh-xiang",
];

fn alpha(subtag: &str, lengths: std::ops::RangeInclusive<usize>) -> bool {
    lengths.contains(&subtag.len()) && subtag.bytes().all(|b| b.is_ascii_alphabetic())
}

fn alphanumeric(subtag: &str, lengths: std::ops::RangeInclusive<usize>) -> bool {
    lengths.contains(&subtag.len()) && subtag.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `privateuse` after its `x`: one or more subtags of one to eight letters or digits.
fn private_use(subtags: &[&str]) -> bool {
    !subtags.is_empty() && subtags.iter().all(|subtag| alphanumeric(subtag, 1..=8))
}

/// `langtag = language ["-" script] ["-" region] *("-" variant) *("-" extension)
/// ["-" privateuse]`, read subtag by subtag: each production is tried in its order, and a
/// subtag that fits none left is not well-formed.
fn langtag(subtags: &[&str]) -> bool {
    let Some((language, mut rest)) = subtags.split_first() else {
        return false;
    };
    if alpha(language, 2..=3) {
        // Up to three extended language subtags.
        let extlangs = rest
            .iter()
            .take(3)
            .take_while(|subtag| alpha(subtag, 3..=3))
            .count();
        rest = rest.get(extlangs..).unwrap_or_default();
    } else if !alpha(language, 4..=8) {
        return false;
    }
    let mut take = |fits: &dyn Fn(&str) -> bool| match rest.split_first() {
        Some((subtag, after)) if fits(subtag) => {
            rest = after;
            true
        }
        _ => false,
    };
    take(&|subtag| alpha(subtag, 4..=4));
    take(&|subtag| {
        alpha(subtag, 2..=2) || (subtag.len() == 3 && subtag.bytes().all(|b| b.is_ascii_digit()))
    });
    while take(&|subtag| {
        alphanumeric(subtag, 5..=8)
            || (alphanumeric(subtag, 4..=4)
                && subtag.as_bytes().first().is_some_and(u8::is_ascii_digit))
    }) {}
    extensions_and_private_use(rest)
}

/// `*("-" extension) ["-" privateuse]`: each extension a singleton (a letter or digit other
/// than `x`) followed by subtags of two to eight letters or digits.
fn extensions_and_private_use(mut rest: &[&str]) -> bool {
    loop {
        let Some((singleton, after)) = rest.split_first() else {
            return true;
        };
        if singleton.eq_ignore_ascii_case("x") {
            return private_use(after);
        }
        if !alphanumeric(singleton, 1..=1) {
            return false;
        }
        let count = after
            .iter()
            .take_while(|subtag| alphanumeric(subtag, 2..=8))
            .count();
        if count == 0 {
            return false;
        }
        rest = after.get(count..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::well_formed;

    #[test]
    fn the_tags_of_rfc_5646_appendix_a_are_well_formed() {
        for tag in [
            "de",
            "fr",
            "ja",
            "i-enochian",
            "zh-Hant",
            "zh-Hans",
            "sr-Cyrl",
            "sr-Latn",
            "zh-cmn-Hans-CN",
            "cmn-Hans-CN",
            "zh-yue-HK",
            "yue-HK",
            "zh-Hans-CN",
            "sr-Latn-RS",
            "sl-rozaj",
            "sl-rozaj-biske",
            "sl-nedis",
            "de-CH-1901",
            "sl-IT-nedis",
            "hy-Latn-IT-arevela",
            "de-DE",
            "en-US",
            "es-419",
            "de-CH-x-phonebk",
            "az-Arab-x-AZE-derbend",
            "x-whatever",
            "qaa-Qaaa-QM-x-southern",
            "de-Qaaa",
            "sr-Latn-QM",
            "sr-Qaaa-RS",
            "en-US-u-islamcal",
            "zh-CN-a-myext-x-private",
            "en-a-myext-b-another",
            "EN-gb",
            "en-GB-oed",
        ] {
            assert!(well_formed(tag), "{tag}");
        }
    }

    #[test]
    fn what_is_no_language_tag() {
        for tag in [
            "",
            "jabber.org",
            "http:",
            "a",
            "de-419-DE",
            "a-DE",
            "ar-a-aaa-b-bbb-a-ccc-",
            "en-",
            "-en",
            "en--GB",
            "x",
            "x-",
            "en-x",
            "toolongtag",
            "en-a",
            "ελ",
            "en GB",
            "en_GB",
        ] {
            assert!(!well_formed(tag), "{tag:?}");
        }
    }
}
