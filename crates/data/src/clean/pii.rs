//! PII anonymisation: e-mail addresses, phone numbers (Chinese mobile and landline numbers,
//! international and North American forms), Chinese resident ID numbers (checksum and birth
//! date verified), bank card numbers (Luhn verified) and IPv4/IPv6 addresses are replaced by
//! placeholders such as `<PHONE_1>`. One value gets one placeholder everywhere in a record, so
//! a number in the query and the same number in a tool call stay linked.

use std::collections::HashMap;

use regex::Regex;

/// The kinds of personal data recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PiiKind {
    /// An e-mail address.
    Email,
    /// A Chinese resident identity card number (18 characters, checksum verified).
    IdCard,
    /// A phone number.
    Phone,
    /// A payment card number (13-19 digits, Luhn verified).
    BankCard,
    /// An IPv4 or IPv6 address.
    Ip,
}

impl PiiKind {
    /// The placeholder label (`EMAIL`, `ID`, `PHONE`, `BANK_CARD`, `IP`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Email => "EMAIL",
            Self::IdCard => "ID",
            Self::Phone => "PHONE",
            Self::BankCard => "BANK_CARD",
            Self::Ip => "IP",
        }
    }

    /// The lowercase name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::IdCard => "id_card",
            Self::Phone => "phone",
            Self::BankCard => "bank_card",
            Self::Ip => "ip",
        }
    }
}

/// The compiled detectors. Build once, share between threads.
#[derive(Debug)]
pub struct PiiDetector {
    email: Regex,
    id_card: Regex,
    cn_mobile: Regex,
    card: Regex,
    ipv4: Regex,
    ipv6: Regex,
    phone_intl: Regex,
    phone_local: Regex,
}

/// Placeholders given so far within one record.
#[derive(Debug, Default)]
pub struct PiiState {
    assigned: HashMap<(PiiKind, String), usize>,
    next: HashMap<PiiKind, usize>,
    /// How many replacements were made, by kind.
    pub replaced: HashMap<PiiKind, usize>,
}

impl PiiState {
    fn placeholder(&mut self, kind: PiiKind, key: String) -> String {
        *self.replaced.entry(kind).or_default() += 1;
        let n = match self.assigned.get(&(kind, key.clone())) {
            Some(n) => *n,
            None => {
                let n = self.next.entry(kind).or_default();
                *n += 1;
                let n = *n;
                self.assigned.insert((kind, key), n);
                n
            }
        };
        format!("<{}_{n}>", kind.label())
    }
}

fn re(pattern: &str) -> Regex {
    // The patterns are constants checked by the tests; a failure here is a programming error.
    #[allow(clippy::unwrap_used)]
    Regex::new(pattern).unwrap()
}

impl Default for PiiDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl PiiDetector {
    /// Compiles the detectors.
    pub fn new() -> Self {
        Self {
            email: re(
                r"[a-zA-Z0-9][a-zA-Z0-9._%+\-]*@[a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?)*\.[a-zA-Z]{2,24}",
            ),
            id_card: re(r"[1-8][0-9]{16}[0-9Xx]"),
            cn_mobile: re(r"(?:\+86[ \-]?|0086[ \-]?)?1[3-9][0-9](?:[ \-]?[0-9]{4}){2}"),
            card: re(r"[0-9](?:[ \-]?[0-9]){12,18}"),
            ipv4: re(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}"),
            ipv6: re(r"[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}"),
            phone_intl: re(
                r"\+[0-9]{1,3}[ \-]?(?:\([0-9]{1,4}\)[ \-]?)?[0-9]{2,4}(?:[ \-]?[0-9]{2,4}){1,4}",
            ),
            phone_local: re(
                r"\([0-9]{3}\) ?[0-9]{3}-[0-9]{4}|[0-9]{3}-[0-9]{3}-[0-9]{4}|0[0-9]{2,3}-[0-9]{7,8}",
            ),
        }
    }

    /// Replaces every PII value in `text`, sharing placeholders through `state`. Returns
    /// whether anything changed.
    pub fn anonymize(&self, text: &mut String, state: &mut PiiState) -> bool {
        let before = state.replaced.values().sum::<usize>();
        self.pass(text, state, &self.email, PiiKind::Email, |s, _, _| {
            Some(s.to_ascii_lowercase())
        });
        self.pass(
            text,
            state,
            &self.id_card,
            PiiKind::IdCard,
            |s, prev, next| {
                (digit_boundary(prev, next)
                    && prev != Some('.')
                    && !next.is_some_and(|c| c.is_ascii_alphabetic())
                    && valid_id_card(s))
                .then(|| s.to_ascii_uppercase())
            },
        );
        self.pass(
            text,
            state,
            &self.cn_mobile,
            PiiKind::Phone,
            |s, prev, next| {
                // A run of digits after a decimal point is a fraction (`3.16227766017`).
                (digit_boundary(prev, next) && !matches!(prev, Some('+' | '.')))
                    .then(|| digits(s).trim_start_matches("86").to_owned())
            },
        );
        self.pass(
            text,
            state,
            &self.card,
            PiiKind::BankCard,
            |s, prev, next| {
                let d = digits(s);
                (digit_boundary(prev, next)
                    && !matches!(prev, Some('+' | '.' | '-'))
                    && next != Some('.')
                    && card_grouping(s)
                    && luhn(&d))
                .then_some(d)
            },
        );
        self.pass(text, state, &self.ipv4, PiiKind::Ip, |s, prev, next| {
            (digit_boundary(prev, next)
                && !matches!(prev, Some('.'))
                && !matches!(next, Some('.'))
                && valid_ipv4(s))
            .then(|| s.to_owned())
        });
        self.pass(text, state, &self.ipv6, PiiKind::Ip, |s, prev, next| {
            let hexish = |c: Option<char>| {
                c.is_some_and(|c| c.is_ascii_alphanumeric() || c == ':' || c == '_')
            };
            (!hexish(prev) && !hexish(next) && valid_ipv6(s)).then(|| s.to_ascii_lowercase())
        });
        self.pass(
            text,
            state,
            &self.phone_intl,
            PiiKind::Phone,
            |s, prev, next| {
                let d = digits(s);
                (digit_boundary(prev, next) && (8..=15).contains(&d.len())).then_some(d)
            },
        );
        self.pass(
            text,
            state,
            &self.phone_local,
            PiiKind::Phone,
            |s, prev, next| (digit_boundary(prev, next) && next != Some('-')).then(|| digits(s)),
        );
        state.replaced.values().sum::<usize>() > before
    }

    /// One detector over the text: `accept(match, char before, char after)` returns the key
    /// identifying the value (equal keys share a placeholder), or `None` for a look-alike.
    fn pass(
        &self,
        text: &mut String,
        state: &mut PiiState,
        re: &Regex,
        kind: PiiKind,
        accept: impl Fn(&str, Option<char>, Option<char>) -> Option<String>,
    ) {
        let mut out: Option<String> = None;
        let mut last = 0;
        for m in re.find_iter(text) {
            let prev = text[..m.start()].chars().next_back();
            let next = text[m.end()..].chars().next();
            if let Some(key) = accept(m.as_str(), prev, next) {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                o.push_str(&text[last..m.start()]);
                o.push_str(&state.placeholder(kind, key));
                last = m.end();
            }
        }
        if let Some(mut o) = out {
            o.push_str(&text[last..]);
            *text = o;
        }
    }
}

fn digit_boundary(prev: Option<char>, next: Option<char>) -> bool {
    !prev.is_some_and(|c| c.is_ascii_digit()) && !next.is_some_and(|c| c.is_ascii_digit())
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The checksum and birth date of an 18-character Chinese resident ID number (GB 11643).
pub fn valid_id_card(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = b[..17]
        .iter()
        .zip(W)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    if b[17].to_ascii_uppercase() != CHECK[(sum % 11) as usize] {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (num(6..10), num(10..12), num(12..14));
    (1900..=2100).contains(&year) && (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// The Luhn check of a digit string.
pub fn luhn(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(c - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// Card numbers are written either as one run of digits or in groups (4-4-4-4, 4-4-4-4-3,
/// 4-6-5, ...) separated by one kind of separator.
fn card_grouping(s: &str) -> bool {
    let seps: Vec<char> = s.chars().filter(|c| !c.is_ascii_digit()).collect();
    if seps.is_empty() {
        return true;
    }
    if seps.iter().any(|&c| c != seps[0]) {
        return false;
    }
    let groups: Vec<usize> = s.split(seps[0]).map(str::len).collect();
    let (last, head) = match groups.split_last() {
        Some(x) => x,
        None => return false,
    };
    (head.iter().all(|&g| g == 4) && (1..=4).contains(last))
        || groups == [4, 6, 5]
        || groups == [4, 6, 4]
}

fn valid_ipv4(s: &str) -> bool {
    s.split('.')
        .all(|o| (o == "0" || !o.starts_with('0')) && o.parse::<u16>().is_ok_and(|v| v <= 255))
}

fn valid_ipv6(s: &str) -> bool {
    let hex_digits = s.chars().filter(char::is_ascii_hexdigit).count();
    // "::" alone, times like 12:30:45 and short tokens are not addresses.
    hex_digits >= 3 && s.parse::<std::net::Ipv6Addr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anon(text: &str) -> (String, PiiState) {
        let d = PiiDetector::new();
        let mut s = PiiState::default();
        let mut t = text.to_owned();
        d.anonymize(&mut t, &mut s);
        (t, s)
    }

    #[test]
    fn emails() {
        assert_eq!(
            anon("mail li.wei+x@example.com.cn now").0,
            "mail <EMAIL_1> now"
        );
        assert_eq!(anon("联系我:zhang@qq.com谢谢").0, "联系我:<EMAIL_1>谢谢");
        for keep in ["user@localhost", "ping @weather_bot", "a@b", "price: 5@3"] {
            assert_eq!(anon(keep).0, keep);
        }
    }

    #[test]
    fn chinese_mobiles_and_other_phones() {
        assert_eq!(anon("电话13812345678,").0, "电话<PHONE_1>,");
        assert_eq!(anon("call +86 138 1234 5678").0, "call <PHONE_1>");
        assert_eq!(
            anon("call 138-1234-5678 or +1 415 555 2671").0,
            "call <PHONE_1> or <PHONE_2>"
        );
        assert_eq!(
            anon("office (415) 555-2671; 010-62345678").0,
            "office <PHONE_1>; <PHONE_2>"
        );
        for keep in [
            "order 12812345678 shipped", // 11 digits starting 12: not a mobile prefix
            "id 138123456789 is too long", // 12 digits
            "on 2024-01-15 at 10:30",
            "ISBN 978-3-16-148410-0",
            "version 1.2.3",
        ] {
            assert_eq!(anon(keep).0, keep);
        }
    }

    #[test]
    fn fractions_are_not_phone_numbers() {
        for text in [
            "sqrt(10) = 3.16227766017",
            "x = 0.13812345678",
            "结果是2.15912345678。",
        ] {
            assert_eq!(anon(text).0, text);
        }
        assert_eq!(anon("call 13812345678.").0, "call <PHONE_1>.");
    }

    #[test]
    fn chinese_id_numbers_need_a_valid_checksum() {
        // 11010519491231002X is the standard example with a correct check character.
        assert_eq!(anon("身份证11010519491231002X。").0, "身份证<ID_1>。");
        assert_eq!(anon("id 110105194912310021").0, "id 110105194912310021");
        assert!(valid_id_card("11010519491231002X"));
        assert!(!valid_id_card("110105194913310028")); // month 13
    }

    #[test]
    fn bank_cards_need_luhn() {
        assert_eq!(
            anon("card 4111 1111 1111 1111 ok").0,
            "card <BANK_CARD_1> ok"
        );
        assert_eq!(
            anon("卡号6222021234567890128").0.contains("BANK_CARD"),
            luhn("6222021234567890128")
        );
        assert_eq!(anon("card 4111111111111111").0, "card <BANK_CARD_1>");
        for keep in [
            "card 4111 1111 1111 1112",
            "tracking 1234567890123456",
            "pi 3.1415926535897932",
        ] {
            assert_eq!(anon(keep).0, keep);
        }
    }

    #[test]
    fn ip_addresses() {
        assert_eq!(anon("host 192.168.1.20 up").0, "host <IP_1> up");
        assert_eq!(
            anon("v6 2001:db8::8a2e:370:7334 and fe80::1").0,
            "v6 <IP_1> and <IP_2>"
        );
        for keep in [
            "version 1.2.3.4.5",
            "bad 256.1.1.1",
            "at 12:30:45",
            "use std::vec",
            "ratio 3:4",
        ] {
            assert_eq!(anon(keep).0, keep);
        }
    }

    #[test]
    fn placeholders_are_consistent_within_a_record() {
        let d = PiiDetector::new();
        let mut s = PiiState::default();
        let mut a = "call 13812345678 or mail A@x.org".to_owned();
        let mut b = "called +86 138-1234-5678; cc a@x.org, 13900001111".to_owned();
        d.anonymize(&mut a, &mut s);
        d.anonymize(&mut b, &mut s);
        assert_eq!(a, "call <PHONE_1> or mail <EMAIL_1>");
        assert_eq!(b, "called <PHONE_1>; cc <EMAIL_1>, <PHONE_2>");
        assert_eq!(s.replaced[&PiiKind::Phone], 3);
    }
}
