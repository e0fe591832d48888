//! WhatsApp JIDs (`user[:device]@server`) for people, groups, LIDs, broadcasts and newsletters.
//!
//! JIDs travel between the control plane, the instance node and webhook
//! consumers as plain strings, so this module gives them one canonical parse and
//! one canonical `Display`. The legacy `c.us` server is accepted on input and
//! normalized to `s.whatsapp.net`, which is what the reference shows in payloads.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ErrorBody;
use crate::phone::{PhoneError, PhoneNumber};

/// The `@server` part of a JID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JidServer {
    /// `s.whatsapp.net` (legacy `c.us` is accepted on parse): a person's phone-number JID.
    User,
    /// `g.us`: a group.
    Group,
    /// `lid`: a privacy-preserving "linked identity" that hides the phone number.
    Lid,
    /// `broadcast`: status updates (`status@broadcast`) and broadcast lists.
    Broadcast,
    /// `newsletter`: a channel.
    Newsletter,
}

impl JidServer {
    /// Every server, for iteration in tests and validators.
    pub const ALL: &'static [JidServer] = &[
        JidServer::User,
        JidServer::Group,
        JidServer::Lid,
        JidServer::Broadcast,
        JidServer::Newsletter,
    ];

    /// The canonical domain written after `@`.
    pub fn as_str(&self) -> &'static str {
        match self {
            JidServer::User => "s.whatsapp.net",
            JidServer::Group => "g.us",
            JidServer::Lid => "lid",
            JidServer::Broadcast => "broadcast",
            JidServer::Newsletter => "newsletter",
        }
    }

    /// Maps a domain to a server, accepting the legacy `c.us` alias.
    pub fn from_domain(domain: &str) -> Option<JidServer> {
        match domain {
            "s.whatsapp.net" | "c.us" => Some(JidServer::User),
            "g.us" => Some(JidServer::Group),
            "lid" => Some(JidServer::Lid),
            "broadcast" => Some(JidServer::Broadcast),
            "newsletter" => Some(JidServer::Newsletter),
            _ => None,
        }
    }

    /// Only person-like identities have multiple devices.
    fn allows_device(&self) -> bool {
        match self {
            JidServer::User | JidServer::Lid => true,
            JidServer::Group | JidServer::Broadcast | JidServer::Newsletter => false,
        }
    }

    /// Whether `user` is a well-formed user part for this server.
    fn accepts_user(&self, user: &str) -> bool {
        match self {
            JidServer::User | JidServer::Lid | JidServer::Newsletter => all_digits(user),
            // New groups are a single number; groups created before ~2021 are
            // `<creator phone>-<creation timestamp>`.
            JidServer::Group => match user.split_once('-') {
                Some((creator, created)) => all_digits(creator) && all_digits(created),
                None => all_digits(user),
            },
            JidServer::Broadcast => user == "status" || all_digits(user),
        }
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl fmt::Display for JidServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a valid JID (or recipient).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JidError {
    #[error("JID is empty")]
    Empty,
    #[error("JID {0:?} has no '@server' part")]
    MissingServer(String),
    #[error(
        "unknown JID server {0:?}; expected s.whatsapp.net, c.us, g.us, lid, broadcast or newsletter"
    )]
    UnknownServer(String),
    #[error("JID has an empty user part")]
    EmptyUser,
    #[error("invalid user part {user:?} for a {server} JID")]
    InvalidUser { user: String, server: JidServer },
    #[error("invalid device {0:?}; expected an integer between 0 and 65535")]
    InvalidDevice(String),
    #[error("{0} JIDs cannot have a device")]
    DeviceNotAllowed(JidServer),
    #[error("recipient is neither a JID nor a valid phone number: {0}")]
    Phone(#[from] PhoneError),
}

impl JidError {
    /// A `VALIDATION_ERROR` for `field` carrying this error's message.
    pub fn into_error_body(self, field: &str) -> ErrorBody {
        ErrorBody::validation(field, format!("The {field} field is invalid: {self}."))
    }
}

/// A parsed WhatsApp JID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Jid {
    user: String,
    device: Option<u16>,
    server: JidServer,
}

impl Jid {
    /// Builds a JID from parts, applying the same validation as [`Jid::parse`].
    pub fn new(
        user: impl Into<String>,
        device: Option<u16>,
        server: JidServer,
    ) -> Result<Jid, JidError> {
        let user = user.into();
        if user.is_empty() {
            return Err(JidError::EmptyUser);
        }
        if !server.accepts_user(&user) {
            return Err(JidError::InvalidUser { user, server });
        }
        if device.is_some() && !server.allows_device() {
            return Err(JidError::DeviceNotAllowed(server));
        }
        Ok(Jid {
            user,
            device,
            server,
        })
    }

    /// The personal-chat JID of a phone number; infallible because the number is already valid.
    pub fn from_phone(phone: &PhoneNumber) -> Jid {
        Jid {
            user: phone.as_str().to_owned(),
            device: None,
            server: JidServer::User,
        }
    }

    /// A group JID from its ID (`120363025246125486` or legacy `creator-timestamp`).
    pub fn group(id: &str) -> Result<Jid, JidError> {
        Jid::new(id, None, JidServer::Group)
    }

    /// `status@broadcast`, where status updates are posted.
    pub fn status_broadcast() -> Jid {
        Jid {
            user: "status".to_owned(),
            device: None,
            server: JidServer::Broadcast,
        }
    }

    /// Parses `user[:device]@server`.
    ///
    /// Parsing is strict (no trimming, exactly one `@`) because JIDs usually come
    /// from the engine or from earlier output of this type; use
    /// [`Jid::parse_recipient`] for human input.
    pub fn parse(s: &str) -> Result<Jid, JidError> {
        if s.is_empty() {
            return Err(JidError::Empty);
        }
        let Some((left, domain)) = s.split_once('@') else {
            return Err(JidError::MissingServer(s.to_owned()));
        };
        let server = JidServer::from_domain(domain)
            .ok_or_else(|| JidError::UnknownServer(domain.to_owned()))?;
        let (user, device) = match left.split_once(':') {
            Some((user, device)) => {
                if !server.allows_device() {
                    return Err(JidError::DeviceNotAllowed(server));
                }
                (user, Some(parse_device(device)?))
            }
            None => (left, None),
        };
        Jid::new(user, device, server)
    }

    /// Parses a message recipient given either as a JID or as a phone number.
    ///
    /// Input containing `@` is treated as a JID; anything else must be a phone
    /// number and becomes that number's user JID. Surrounding whitespace is
    /// ignored in both cases since this is meant for client-supplied fields.
    pub fn parse_recipient(s: &str) -> Result<Jid, JidError> {
        let s = s.trim();
        if s.contains('@') {
            Jid::parse(s)
        } else {
            Ok(PhoneNumber::parse(s)?.to_jid())
        }
    }

    /// The part before `:device` / `@`.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The device number, for multi-device user or LID JIDs.
    pub fn device(&self) -> Option<u16> {
        self.device
    }

    pub fn server(&self) -> JidServer {
        self.server
    }

    pub fn is_group(&self) -> bool {
        self.server == JidServer::Group
    }

    /// True for phone-number JIDs (`@s.whatsapp.net`).
    pub fn is_user(&self) -> bool {
        self.server == JidServer::User
    }

    pub fn is_lid(&self) -> bool {
        self.server == JidServer::Lid
    }

    pub fn is_broadcast(&self) -> bool {
        self.server == JidServer::Broadcast
    }

    pub fn is_newsletter(&self) -> bool {
        self.server == JidServer::Newsletter
    }

    /// The phone number of a user JID.
    ///
    /// `None` for other servers, and also for user JIDs whose user part is not a
    /// valid phone number (such as WhatsApp's own `0@s.whatsapp.net`).
    pub fn phone_number(&self) -> Option<PhoneNumber> {
        if self.is_user() {
            PhoneNumber::parse(&self.user).ok()
        } else {
            None
        }
    }

    /// The same identity without a device, which is the form chats are keyed by.
    pub fn without_device(&self) -> Jid {
        Jid {
            user: self.user.clone(),
            device: None,
            server: self.server,
        }
    }
}

fn parse_device(s: &str) -> Result<u16, JidError> {
    // `u16::from_str` accepts a leading `+`; a JID never contains one.
    if !all_digits(s) {
        return Err(JidError::InvalidDevice(s.to_owned()));
    }
    s.parse().map_err(|_| JidError::InvalidDevice(s.to_owned()))
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.device {
            Some(device) => write!(f, "{}:{}@{}", self.user, device, self.server),
            None => write!(f, "{}@{}", self.user, self.server),
        }
    }
}

impl FromStr for Jid {
    type Err = JidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Jid::parse(s)
    }
}

impl From<&PhoneNumber> for Jid {
    fn from(phone: &PhoneNumber) -> Self {
        Jid::from_phone(phone)
    }
}

impl PhoneNumber {
    /// The personal-chat JID for this number (`<digits>@s.whatsapp.net`). Here, not in
    /// `phone`, so that JIDs build on phone numbers and not the other way round.
    pub fn to_jid(&self) -> Jid {
        Jid::from_phone(self)
    }
}

impl Serialize for Jid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Jid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Jid::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn parses_user_jids() {
        let jid = Jid::parse("5511999999999@s.whatsapp.net").unwrap();
        assert_eq!(jid.user(), "5511999999999");
        assert_eq!(jid.device(), None);
        assert_eq!(jid.server(), JidServer::User);
        assert!(jid.is_user() && !jid.is_group() && !jid.is_lid());
        assert_eq!(jid.phone_number().unwrap().as_str(), "5511999999999");
        assert_eq!(jid.to_string(), "5511999999999@s.whatsapp.net");
    }

    #[test]
    fn parses_devices_and_strips_them() {
        let jid = Jid::parse("5511999999999:12@s.whatsapp.net").unwrap();
        assert_eq!(jid.device(), Some(12));
        assert_eq!(jid.to_string(), "5511999999999:12@s.whatsapp.net");
        assert_eq!(
            jid.without_device().to_string(),
            "5511999999999@s.whatsapp.net"
        );
        let lid = Jid::parse("123456789012345:3@lid").unwrap();
        assert!(lid.is_lid());
        assert_eq!(lid.device(), Some(3));
        assert_eq!(lid.phone_number(), None);
    }

    #[test]
    fn normalizes_legacy_c_us() {
        let jid = Jid::parse("5511999999999@c.us").unwrap();
        assert!(jid.is_user());
        assert_eq!(jid.to_string(), "5511999999999@s.whatsapp.net");
    }

    #[test]
    fn parses_groups_broadcasts_and_newsletters() {
        let g = Jid::parse("120363025246125486@g.us").unwrap();
        assert!(g.is_group());
        assert_eq!(g.phone_number(), None);
        let old = Jid::parse("5511999999999-1609459200@g.us").unwrap();
        assert_eq!(old.user(), "5511999999999-1609459200");
        assert_eq!(Jid::group("120363025246125486").unwrap(), g);
        let status = Jid::parse("status@broadcast").unwrap();
        assert_eq!(status, Jid::status_broadcast());
        assert!(status.is_broadcast());
        let n = Jid::parse("120363144038483540@newsletter").unwrap();
        assert!(n.is_newsletter());
    }

    #[test]
    fn rejects_malformed_jids() {
        let cases: &[(&str, JidError)] = &[
            ("", JidError::Empty),
            (
                "5511999999999",
                JidError::MissingServer("5511999999999".into()),
            ),
            (
                "551199@example.com",
                JidError::UnknownServer("example.com".into()),
            ),
            (
                "551199@s.whatsapp.net@g.us",
                JidError::UnknownServer("s.whatsapp.net@g.us".into()),
            ),
            ("@s.whatsapp.net", JidError::EmptyUser),
            (
                "55abc@s.whatsapp.net",
                JidError::InvalidUser {
                    user: "55abc".into(),
                    server: JidServer::User,
                },
            ),
            (
                "+5511999999999@s.whatsapp.net",
                JidError::InvalidUser {
                    user: "+5511999999999".into(),
                    server: JidServer::User,
                },
            ),
            (
                "1-2-3@g.us",
                JidError::InvalidUser {
                    user: "1-2-3".into(),
                    server: JidServer::Group,
                },
            ),
            (
                "-1@g.us",
                JidError::InvalidUser {
                    user: "-1".into(),
                    server: JidServer::Group,
                },
            ),
            (
                "status@lid",
                JidError::InvalidUser {
                    user: "status".into(),
                    server: JidServer::Lid,
                },
            ),
            ("55:x@s.whatsapp.net", JidError::InvalidDevice("x".into())),
            ("55:@s.whatsapp.net", JidError::InvalidDevice(String::new())),
            ("55:+1@s.whatsapp.net", JidError::InvalidDevice("+1".into())),
            (
                "55:65536@s.whatsapp.net",
                JidError::InvalidDevice("65536".into()),
            ),
            (
                "55:1:2@s.whatsapp.net",
                JidError::InvalidDevice("1:2".into()),
            ),
            ("1203:1@g.us", JidError::DeviceNotAllowed(JidServer::Group)),
            (
                "status:1@broadcast",
                JidError::DeviceNotAllowed(JidServer::Broadcast),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(&Jid::parse(input).unwrap_err(), expected, "{input:?}");
        }
        assert_eq!(
            Jid::new("1", Some(1), JidServer::Newsletter),
            Err(JidError::DeviceNotAllowed(JidServer::Newsletter))
        );
    }

    #[test]
    fn parse_recipient_accepts_jids_and_phones() {
        assert_eq!(
            Jid::parse_recipient(" +55 (11) 99999-9999 ")
                .unwrap()
                .to_string(),
            "5511999999999@s.whatsapp.net"
        );
        assert_eq!(
            Jid::parse_recipient("120363025246125486@g.us")
                .unwrap()
                .to_string(),
            "120363025246125486@g.us"
        );
        assert_eq!(
            Jid::parse_recipient("123"),
            Err(JidError::Phone(PhoneError::TooShort(3)))
        );
        let body = Jid::parse_recipient("abc")
            .unwrap_err()
            .into_error_body("to");
        assert_eq!(body.code, ErrorCode::ValidationError);
        assert!(body.message.contains("to"));
        assert!(body.details.get("to").is_some());
    }

    #[test]
    fn phone_number_is_none_for_non_phone_users() {
        assert_eq!(Jid::parse("0@s.whatsapp.net").unwrap().phone_number(), None);
    }

    #[test]
    fn serde_uses_the_string_form() {
        let jid = Jid::parse("5511999999999:2@s.whatsapp.net").unwrap();
        assert_eq!(
            serde_json::to_value(&jid).unwrap(),
            json!("5511999999999:2@s.whatsapp.net")
        );
        assert_eq!(
            serde_json::from_value::<Jid>(json!("5511999999999:2@s.whatsapp.net")).unwrap(),
            jid
        );
        assert!(serde_json::from_value::<Jid>(json!("nope")).is_err());
    }

    fn digits(max: usize) -> impl Strategy<Value = String> {
        proptest::string::string_regex(&format!("[0-9]{{1,{max}}}")).unwrap()
    }

    fn valid_jid() -> impl Strategy<Value = Jid> {
        prop_oneof![
            (digits(20), proptest::option::of(any::<u16>())).prop_map(|(u, d)| Jid::new(
                u,
                d,
                JidServer::User
            )
            .unwrap()),
            (digits(20), proptest::option::of(any::<u16>())).prop_map(|(u, d)| Jid::new(
                u,
                d,
                JidServer::Lid
            )
            .unwrap()),
            digits(20).prop_map(|u| Jid::new(u, None, JidServer::Group).unwrap()),
            (digits(15), digits(12)).prop_map(|(a, b)| Jid::new(
                format!("{a}-{b}"),
                None,
                JidServer::Group
            )
            .unwrap()),
            prop_oneof![Just("status".to_owned()), digits(20)].prop_map(|u| Jid::new(
                u,
                None,
                JidServer::Broadcast
            )
            .unwrap()),
            digits(20).prop_map(|u| Jid::new(u, None, JidServer::Newsletter).unwrap()),
        ]
    }

    proptest! {
        #[test]
        fn display_parse_round_trips(jid in valid_jid()) {
            let text = jid.to_string();
            let expected = match jid.device() {
                Some(d) => format!("{}:{}@{}", jid.user(), d, jid.server()),
                None => format!("{}@{}", jid.user(), jid.server()),
            };
            prop_assert_eq!(&text, &expected);
            prop_assert_eq!(Jid::parse(&text), Ok(jid.clone()));
            prop_assert_eq!(Jid::parse_recipient(&text), Ok(jid));
        }

        #[test]
        fn phone_recipients_become_user_jids(p in "[1-9][0-9]{7,14}") {
            let jid = Jid::parse_recipient(&p).unwrap();
            prop_assert!(jid.is_user());
            prop_assert_eq!(jid.user(), p.as_str());
            prop_assert_eq!(jid.phone_number().map(PhoneNumber::into_string), Some(p));
        }

        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let _ = Jid::parse(&s);
            let _ = Jid::parse_recipient(&s);
        }

        #[test]
        fn parse_never_panics_on_jid_like_input(s in "[0-9a-z:@.\\-+]{0,30}") {
            if let Ok(jid) = Jid::parse(&s) {
                prop_assert_eq!(Jid::parse(&jid.to_string()), Ok(jid));
            }
        }
    }
}
